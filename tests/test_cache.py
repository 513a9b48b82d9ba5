"""The cache heals: every damaged cache file is said in one line and rebuilt, extracted posts
are checked against what was extracted, leftovers of killed runs are swept, cache write
errors name the user's cache folder."""
from __future__ import annotations

import errno
import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import shared.archive
import shared.atomic
from shared.archive import LISTING, TEST_FOLDER, TRAIN_FOLDER, extract
from shared.atomic import write_json
from shared.config import TUTORIAL_CATEGORIES
from shared.dataset import prepare
from tests.conftest import REPO, TINY_CONFIG, fwbench, make_tiny_archive, one_stderr_line

# TINY_CONFIG's data settings, spelled as options (batch 8: the tiny archive has 36 train posts).
TINY_ARGS = ("--batch-size", "8", "--json")


@pytest.fixture
def primed(tmp_path):
    """A tiny archive, a cache holding its extraction and two prepared datasets, and what the
    first run described (what every healed run must describe again)."""
    archive = make_tiny_archive(tmp_path / "tiny.tar.gz")
    cache = tmp_path / "cache"
    data = prepare(TINY_CONFIG, archive=archive, cache=cache)
    prepare(TINY_CONFIG.replace(vocab_mode="train"), archive=archive, cache=cache)  # an earlier result to keep
    (root,) = [p for p in (cache / "archives").iterdir() if p.is_dir()]
    return archive, cache, root, data


def snapshot(cache: Path, skip: Path | None = None) -> dict[str, bytes]:
    return {str(p.relative_to(cache)): p.read_bytes() for p in (cache / "prepared").glob("*.npz") if p != skip}


def a_post(root: Path, split: str = TRAIN_FOLDER, group: str = "sci.space") -> Path:
    return sorted((root / split / group).iterdir())[0]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# name -> (damage(cache, root, data) -> the damaged path, extra options). The extracted posts
# are checked when they are parsed, not on a warm start from the prepared .npz (its key names
# the archive's sha256 already), so those cases ask for --no-cache to make the run parse them.
DAMAGES = {
    "listing truncated": (lambda c, r, d: (truncate(r / LISTING), r / LISTING)[1], ["--no-cache"]),
    "listing of another shape": (lambda c, r, d: ((r / LISTING).write_text('{"20news-bydate-train": []}'),
                                                  r / LISTING)[1], ["--no-cache"]),
    "listing valid record, wrong shape": (lambda c, r, d: (write_json(r / LISTING, {TRAIN_FOLDER: {"x": 1}}),
                                                           r / LISTING)[1], ["--no-cache"]),
    "listing edited": (lambda c, r, d: _edit_listing(r), ["--no-cache"]),
    "digests as a list": (lambda c, r, d: ((c / "archives" / "digests.json").write_text("[]"),
                                           c / "archives" / "digests.json")[1], []),
    "digests of non-strings": (lambda c, r, d: ((c / "archives" / "digests.json").write_text('{"a": 1, "b": [2]}'),
                                                c / "archives" / "digests.json")[1], []),
    "digest not a sha256": (lambda c, r, d: _bad_memo_digest(c), []),
    "extracted post deleted": (lambda c, r, d: (a_post(r, TEST_FOLDER).unlink(), r / TEST_FOLDER / "sci.space")[1],
                               ["--no-cache"]),
    "extracted post edited": (lambda c, r, d: _edit_post(r), ["--no-cache"]),
    "stray file among posts": (lambda c, r, d: ((r / TRAIN_FOLDER / "sci.space" / "notes.txt").write_text("mine"),
                                                r / TRAIN_FOLDER / "sci.space")[1], ["--no-cache"]),
    "group digest record cut": (lambda c, r, d: (truncate(r / "contents" / TRAIN_FOLDER / "sci.space.json"),
                                                 r / TRAIN_FOLDER / "sci.space")[1], ["--no-cache"]),
    "prepared npz garbage": (lambda c, r, d: ((c / "prepared" / f"{d.key}.npz").write_bytes(b"not an npz"),
                                              c / "prepared" / f"{d.key}.npz")[1], []),
    "prepared npz truncated": (lambda c, r, d: (truncate(c / "prepared" / f"{d.key}.npz"),
                                                c / "prepared" / f"{d.key}.npz")[1], []),
}


def _edit_listing(root: Path) -> Path:
    """Still valid JSON of the right shape, one post name less: only the digest tells."""
    record = json.loads((root / LISTING).read_text())
    record["data"][TRAIN_FOLDER]["alt.atheism"].pop()
    (root / LISTING).write_text(json.dumps(record))
    return root / LISTING


def _bad_memo_digest(cache: Path) -> Path:
    path = cache / "archives" / "digests.json"
    memo = json.loads(path.read_text())["data"]
    for entry in memo.values():
        entry["sha256"] = "../../elsewhere"  # it names a folder: must never be used as one
    write_json(path, memo)
    return path


def _edit_post(root: Path) -> Path:
    post = a_post(root)
    post.write_bytes(post.read_bytes().replace(b"Subject", b"Subjekt").replace(b"post", b"edited post"))
    return root / TRAIN_FOLDER / "sci.space"


def check_heal(primed, case, capsys, monkeypatch, fresh_process: bool) -> None:
    archive, cache, root, data = primed
    damage, options = DAMAGES[case]
    damaged = damage(cache, root, data)
    keep = snapshot(cache, skip=damaged)
    args = ("data", "--archive", str(archive), *TINY_ARGS, *options)
    if fresh_process:
        proc = fwbench(*args, cache=cache)
    else:  # the CLI's own entry point, without paying a fresh interpreter's imports per case
        from benchmarks.cli import main_entry

        monkeypatch.setenv("FWBENCH_CACHE", str(cache))
        capsys.readouterr()
        status = main_entry(list(args))
        out, err = capsys.readouterr()
        proc = subprocess.CompletedProcess(args, status, out, err)
    line = one_stderr_line(proc, 0)
    assert line.startswith(f"fwbench: cache {damaged} was damaged (") and line.endswith("): rebuilt"), line
    # The data described is the archive's, as before the damage (an edited post is not used).
    summary = json.loads(proc.stdout)
    assert {k: v for k, v in summary.items() if k not in ("prepare_seconds", "vocab_size_limit",
                                                          "train_batches_per_epoch", "vocab_mode")} == data.summary()
    # Earlier results are intact, and the heal lasts: the next start has nothing to say.
    assert snapshot(cache, skip=damaged) == keep
    capsys.readouterr()
    again = prepare(TINY_CONFIG, archive=archive, cache=cache, use_cache="--no-cache" not in options)
    assert capsys.readouterr().err == ""
    assert (again.x_train != data.x_train).nnz == 0 and again.source == data.source
    assert not list(cache.rglob(".*-*")), "a temporary file was left behind"


@pytest.mark.parametrize("case", list(DAMAGES))
def test_damaged_cache_file_heals(primed, case, capsys, monkeypatch):
    check_heal(primed, case, capsys, monkeypatch, fresh_process=False)


@pytest.mark.parametrize("case", ["listing truncated", "extracted post edited", "prepared npz garbage"])
def test_damaged_cache_file_heals_in_a_fresh_process(primed, case, capsys, monkeypatch):
    """The same through `python -m benchmarks.cli`: exit status 0, the one line, no traceback."""
    check_heal(primed, case, capsys, monkeypatch, fresh_process=True)


def test_two_damaged_groups_heal_in_one_line(primed, capsys):
    archive, cache, root, data = primed
    _edit_post(root)
    a_post(root, TEST_FOLDER, "comp.graphics").unlink()
    again = prepare(TINY_CONFIG, archive=archive, cache=cache, use_cache=False)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"fwbench: cache {root} was damaged ("), err
    assert f"{TRAIN_FOLDER}/sci.space: a post's content differs" in err and f"{TEST_FOLDER}/comp.graphics: 1 post(s)" in err
    assert (again.x_train != data.x_train).nnz == 0 and (again.x_test != data.x_test).nnz == 0


def test_warm_start_does_not_rehash_the_posts(primed, monkeypatch):
    """The prepared .npz is keyed by the archive's sha256: reading it needs no look at the posts."""
    archive, cache, root, data = primed
    def no_check(*args):
        raise AssertionError("a warm start checked the extracted posts")
    monkeypatch.setattr(shared.archive, "_verify_group", no_check)
    assert prepare(TINY_CONFIG, archive=archive, cache=cache).key == data.key


def test_only_damaged_groups_are_rewritten(primed, capsys):
    archive, cache, root, data = primed
    intact = a_post(root, TRAIN_FOLDER, "comp.graphics")
    before = intact.stat().st_ino
    _edit_post(root)
    extract(archive, cache, groups=TUTORIAL_CATEGORIES)
    assert intact.stat().st_ino == before, "an intact group folder was extracted again"
    assert "sci.space" in capsys.readouterr().err


# --- leftovers of killed runs ----------------------------------------------------------------

def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def leftover(folder: Path, stem: str, pid: int, host: str = shared.atomic._HOST, age_s: float = 0,
             suffix: str = "", is_dir: bool = True) -> Path:
    path = folder / f".{stem}-{pid}-{host}-{secrets.token_hex(4)}{suffix}"
    if is_dir:
        (path / TRAIN_FOLDER).mkdir(parents=True)
        (path / TRAIN_FOLDER / "post").write_text("half")
    else:
        path.write_bytes(b"half an npz")
    if age_s:
        old = time.time() - age_s
        os.utime(path, (old, old))
    return path


def test_leftovers_are_swept_but_live_work_is_not(primed):
    archive, cache, root, data = primed
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone = [leftover(root, "extract", dead_pid()),
                leftover(root, "extract", live.pid, age_s=2 * 3600),  # pid reused long after the crash
                leftover(root, "extract", 12345, host="ffffffff", age_s=2 * 3600),
                leftover(root, "listing.json", dead_pid(), suffix=".tmp", is_dir=False)]
        kept = [leftover(root, "extract", live.pid),  # a concurrent run's staging, in use
                leftover(root, "extract", 12345, host="ffffffff")]  # another host's: its pid means nothing here
        extract(archive, cache, groups=TUTORIAL_CATEGORIES)
        assert [p.name for p in gone if p.exists()] == []
        assert [p.name for p in kept if not p.exists()] == []
        npz = leftover(cache / "prepared", f"{data.key}.npz", dead_pid(), suffix=".tmp", is_dir=False)
        prepare(TINY_CONFIG, archive=archive, cache=cache, use_cache=True)  # a warm start: no sweep needed
        prepare(TINY_CONFIG.replace(vocab_size=5), archive=archive, cache=cache)  # a miss: writes, so sweeps
        assert not npz.exists()
    finally:
        live.kill()
        live.wait()


def test_interrupted_extraction_cleans_up(tmp_path, monkeypatch):
    """Any BaseException (Ctrl-C, SIGTERM turned into an exception by the CLI) unwinds the
    extraction: no staging folder, no half-made archive folder."""
    archive = make_tiny_archive(tmp_path / "tiny.tar.gz")
    cache = tmp_path / "cache"
    written = []

    def write_then_interrupt(path, blob):
        written.append(path)
        path.write_bytes(blob)
        if len(written) == 5:
            raise KeyboardInterrupt
    monkeypatch.setattr(shared.archive, "_write_post", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        extract(archive, cache, groups=TUTORIAL_CATEGORIES)
    assert len(written) == 5 and not written[0].exists()
    assert list((cache / "archives").iterdir()) == [], "the interrupted extraction left a folder"


@pytest.mark.corpus
def test_sigterm_during_cold_extraction(archive_path, tmp_path):
    """SIGTERM while `fwbench data` extracts the real archive into an empty cache: the run
    stops (143 when the CLI turns the signal into an exception: 128 + SIGTERM), and after
    the next run no staging folder is left, whoever removed it."""
    cache = tmp_path / "cache"
    tiny = make_tiny_archive(tmp_path / "tiny.tar.gz")
    earlier = prepare(TINY_CONFIG, archive=tiny, cache=cache)
    keep = snapshot(cache)
    env = {**os.environ, "FWBENCH_CACHE": str(cache)}
    env.pop("FWBENCH_ARCHIVE", None)
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.cli", "data", "--archive", str(archive_path)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list((cache / "archives").glob("*/.extract-*")):
            assert proc.poll() is None, f"the run ended before extracting: {proc.communicate()}"
            assert time.monotonic() < deadline, "no extraction started within 60 s"
            time.sleep(0.02)
        time.sleep(0.1)  # into the stream (it lasts seconds), not merely its first folder
        assert proc.poll() is None, "the run ended before SIGTERM could interrupt it"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert proc.returncode == 143, (proc.returncode, err)
    assert not list(cache.rglob(".extract-*")), "the interrupted run left its staging folder"
    again = fwbench("data", "--archive", str(archive_path), "--json", cache=cache)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["n_train"] == 1774
    assert not list(cache.rglob(".extract-*")), "a staging folder outlived the next run"
    assert snapshot(cache).items() >= keep.items()
    assert prepare(TINY_CONFIG, archive=tiny, cache=cache).key == earlier.key


# --- permissions and write errors ------------------------------------------------------------

def test_cache_files_follow_the_umask(tmp_path):
    archive = make_tiny_archive(tmp_path / "tiny.tar.gz")
    old = os.umask(0o027)
    try:
        data = prepare(TINY_CONFIG, archive=archive, cache=tmp_path / "cache")
    finally:
        os.umask(old)
    cache = tmp_path / "cache"
    root = next(p for p in (cache / "archives").iterdir() if p.is_dir())
    for path in (cache / "prepared" / f"{data.key}.npz", cache / "archives" / "digests.json", root / LISTING,
                 a_post(root)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path  # 0o666 & ~0o027; mkstemp gave 0o600
    for path in (root, root / TRAIN_FOLDER / "sci.space"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o750, path


def run_data(archive: Path, cache: Path, monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """`fwbench data` in this process, so a failure can be injected; (status, stderr)."""
    from benchmarks.cli import main_entry

    monkeypatch.setenv("FWBENCH_CACHE", str(cache))
    status = main_entry(["data", "--archive", str(archive), "--batch-size", "8", *args])
    return status, capsys.readouterr().err.strip()


def test_disk_full_during_extraction(tmp_path, monkeypatch, capsys):
    archive, cache = make_tiny_archive(tmp_path / "tiny.tar.gz"), tmp_path / "cache"

    def full(path, blob):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    monkeypatch.setattr(shared.archive, "_write_post", full)
    status, err = run_data(archive, cache, monkeypatch, capsys)
    assert status == 2 and len(err.splitlines()) == 1, err
    assert f"the disk holding the cache {cache} is full" in err and "FWBENCH_CACHE" in err
    assert ".extract-" not in err
    assert not list(cache.rglob(".extract-*")) and not [p for p in (cache / "archives").iterdir() if p.is_dir()]


def test_disk_full_while_saving_the_prepared_data(tmp_path, monkeypatch, capsys):
    import shared.dataset

    archive, cache = make_tiny_archive(tmp_path / "tiny.tar.gz"), tmp_path / "cache"

    def full(path, content):
        raise OSError(errno.ENOSPC, "No space left on device", str(path.with_name(".x.npz-1-0-0.tmp")))
    monkeypatch.setattr(shared.dataset, "write_atomic", full)
    status, err = run_data(archive, cache, monkeypatch, capsys)
    assert status == 2 and len(err.splitlines()) == 1, err
    assert f"the disk holding the cache {cache} is full" in err
    assert not list((cache / "prepared").iterdir())


def test_read_only_cache_names_the_cache_folder(tmp_path, monkeypatch, capsys):
    """Simulated (root writes anywhere): the staging folder cannot be made. The message names
    the user's cache folder and the fix, not the internal folder that failed."""
    archive, cache = make_tiny_archive(tmp_path / "tiny.tar.gz"), tmp_path / "cache"

    def read_only(parent, stem):
        raise OSError(errno.EROFS, "Read-only file system", str(parent / f".{stem}-1-00000000-00000000"))
    monkeypatch.setattr(shared.archive, "make_temp_dir", read_only)
    status, err = run_data(archive, cache, monkeypatch, capsys)
    assert status == 2 and len(err.splitlines()) == 1, err
    assert f"cannot write to the cache {cache} (Read-only file system)" in err and "FWBENCH_CACHE" in err
    assert ".extract-" not in err and "writable folder" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_read_only_cache_for_real(tmp_path):
    archive, cache = make_tiny_archive(tmp_path / "tiny.tar.gz"), tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        proc = fwbench("data", "--archive", str(archive), *TINY_ARGS, cache=cache)
    finally:
        cache.chmod(0o755)
    err = one_stderr_line(proc, 2)
    assert f"cannot write to the cache {cache}" in err and "FWBENCH_CACHE" in err
