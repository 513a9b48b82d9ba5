"""Bad input: one line naming the problem and the fix, exit status 2, no traceback, nothing lost."""
from __future__ import annotations

import io
import math
import os
import tarfile
from pathlib import Path

import pytest

from shared.config import ExperimentConfig
from shared.errors import UserError
from tests.conftest import fwbench, make_tiny_archive, one_stderr_line


def assert_user_error(proc, *needles: str) -> None:
    err = one_stderr_line(proc, 2)
    for n in needles:
        assert n in err, f"{n!r} not in {err!r}"


def assert_nothing_extracted(cache: Path) -> None:
    """A rejected archive leaves no folder (not even an empty one) under <cache>/archives."""
    archives = cache / "archives"
    left = [p.name for p in archives.iterdir() if p.is_dir()] if archives.is_dir() else []
    assert left == [], f"a rejected archive left {left} in {archives}"


@pytest.fixture
def good_archive(tmp_path) -> Path:
    return make_tiny_archive(tmp_path / "good.tar.gz")


def test_missing_archive(tmp_path):
    proc = fwbench("data", "--archive", str(tmp_path / "nope.tar.gz"), cache=tmp_path / "c")
    assert_user_error(proc, "does not exist", "--archive")


def test_missing_archive_from_environment(tmp_path):
    proc = fwbench("data", env_extra={"FWBENCH_ARCHIVE": str(tmp_path / "nope.tar.gz")}, cache=tmp_path / "c")
    assert_user_error(proc, "nope.tar.gz", "FWBENCH_ARCHIVE")


def test_truncated_archive(tmp_path, good_archive):
    bad = tmp_path / "truncated.tar.gz"
    bad.write_bytes(good_archive.read_bytes()[: good_archive.stat().st_size // 2])
    proc = fwbench("data", "--archive", str(bad), cache=tmp_path / "c")
    assert_user_error(proc, "truncated or not a gzip tar", "--archive")
    assert_nothing_extracted(tmp_path / "c")


def test_not_an_archive(tmp_path):
    bad = tmp_path / "text.tar.gz"
    bad.write_text("hello")
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "not a gzip tar")


def test_wrong_layout(tmp_path):
    bad = make_tiny_archive(tmp_path / "layout.tar.gz", top_folders=("train", "test"))
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"),
                      "lacks the folder(s) 20news-bydate-test, 20news-bydate-train")
    assert_nothing_extracted(tmp_path / "c")


def test_path_traversal_is_refused(tmp_path):
    evil = tarfile.TarInfo("20news-bydate-train/../../evil.txt")
    evil.size = 1
    bad = make_tiny_archive(tmp_path / "evil.tar.gz", extra_members=[evil])
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "outside the archive")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "c" / "evil.txt").exists()
    assert_nothing_extracted(tmp_path / "c")


def test_absolute_member_is_refused(tmp_path):
    target = tmp_path / "absolute-evil.txt"
    evil = tarfile.TarInfo(str(target))  # tarfile keeps the leading '/' of a name set this way
    evil.size = 1
    bad = make_tiny_archive(tmp_path / "abs.tar.gz", extra_members=[evil])
    with tarfile.open(bad) as tar:
        assert str(target) in tar.getnames()  # the archive really holds an absolute name
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "outside the archive", str(target))
    assert not target.exists()
    assert_nothing_extracted(tmp_path / "c")


def test_symlink_member_is_refused(tmp_path):
    link = tarfile.TarInfo("20news-bydate-train/sci.space/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    bad = make_tiny_archive(tmp_path / "link.tar.gz", extra_members=[link])
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "link")
    assert_nothing_extracted(tmp_path / "c")


def test_missing_newsgroup_folder(tmp_path):
    # Right top-level folders but only some groups: not the 20news-bydate archive.
    bad = tmp_path / "partial.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for top in ("20news-bydate-train", "20news-bydate-test"):
            info = tarfile.TarInfo(f"{top}/sci.space/1")
            info.size = 5
            tar.addfile(info, io.BytesIO(b"hello"))
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "20 newsgroup folders")
    assert_nothing_extracted(tmp_path / "c")


@pytest.mark.parametrize("args, needles", [
    (["--categories", "sci.spaec"], ["unknown category 'sci.spaec'", "sci.space"]),
    (["--categories", ","], ["no categories selected"]),
    (["--categories", "sci.space"], ["at least two"]),
    (["--batch-size", "0"], ["batch size must be a positive integer"]),
    (["--epochs", "-1"], ["epochs must be a positive integer"]),
    (["--hidden", "100,0"], ["hidden sizes must be positive"]),
    (["--hidden", "a,b"], ["comma-separated integers"]),
    (["--lr", "0"], ["learning rate must be positive", "--lr 0.01"]),
    (["--lr", "inf"], ["learning rate must be a finite number, got inf", "--lr 0.01"]),
    (["--lr=-inf"], ["learning rate must be a finite number, got -inf"]),  # '--lr -inf' reads as an option
    (["--lr", "nan"], ["learning rate must be a finite number, got nan"]),
    (["--threads", "0"], ["threads must be a positive integer"]),
    (["--batch-size", "37"], ["batch size 37 is larger than the 36 training posts"]),
    (["--vocab-size", "0"], ["vocabulary size must be a positive integer, got 0", "--vocab-size"]),
    (["--vocab-size", "-3"], ["vocabulary size must be a positive integer, got -3"]),
    # The tiny archive's tutorial vocabulary: its 16 words, 'caf\xe9\n', the 40 'post N\n\n...' lines
    # and the header words ('from:', 'user0@example.org\nsubject:', ...): V is only known once counted.
    (["--vocab-size", "100000"], ["vocabulary size 100000 is larger than the V = ", "choose --vocab-size <= "]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0].startswith("--") else None)
def test_bad_options(tmp_path, good_archive, args, needles):
    from shared.dataset import prepare
    from tests.conftest import TINY_CONFIG

    cache = tmp_path / "c"
    prepare(TINY_CONFIG, archive=good_archive, cache=cache)  # an earlier result, which must survive
    before = {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()}
    proc = fwbench("data", "--archive", str(good_archive), *args, cache=cache)
    assert_user_error(proc, *needles)
    assert all(p.read_bytes() == blob for p, blob in before.items()), "a rejected option changed the cache"


@pytest.mark.parametrize("field", ["learning_rate", "beta1", "beta2", "adam_eps"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_numbers_are_refused(field, value):
    """Every float of the configuration, not only those the CLI exposes (a manifest or a
    caller can set them): one UserError naming the field's value."""
    with pytest.raises(UserError, match="must be a finite number") as e:
        ExperimentConfig(**{field: value})
    assert len(str(e.value).splitlines()) == 1


@pytest.mark.parametrize("field, value", [("epochs", math.inf), ("batch_size", math.nan), ("seed", math.nan),
                                          ("eval_batch_size", 2.5), ("hidden", (100, math.inf)), ("vocab_size", 1.5),
                                          ("vocab_size", True)])
def test_non_integers_are_refused(field, value):
    # int(inf) raised OverflowError (a traceback) and nan slipped through "seed < 0".
    with pytest.raises(UserError, match="integer"):
        ExperimentConfig(**{field: value})


def test_unreadable_archive_is_named(tmp_path, good_archive, monkeypatch, capsys):
    """An archive that cannot be read is the archive's problem, said as such: never the CLI's
    generic 'check that the path is writable'. Simulated (tests may run as root, who reads
    anything): the archive's open() fails with EACCES."""
    import builtins
    import errno

    import shared.archive
    from benchmarks.cli import main_entry

    def deny(path, *args, **kwargs):
        if Path(path) == good_archive:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return builtins.open(path, *args, **kwargs)
    monkeypatch.setattr(shared.archive, "open", deny, raising=False)
    monkeypatch.setenv("FWBENCH_CACHE", str(tmp_path / "c"))
    assert main_entry(["data", "--archive", str(good_archive)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"archive {good_archive} cannot be read (Permission denied)" in err and "--archive" in err
    assert "writable" not in err
    assert_nothing_extracted(tmp_path / "c")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_unreadable_archive_for_real(tmp_path, good_archive):
    good_archive.chmod(0)
    try:
        assert_user_error(fwbench("data", "--archive", str(good_archive), cache=tmp_path / "c"),
                          "cannot be read", str(good_archive))
    finally:
        good_archive.chmod(0o644)


def test_no_archive_and_no_network(tmp_path):
    # scikit-learn's download fails without a network: the message must point at --archive.
    proc = fwbench("data", cache=tmp_path / "c",
                   env_extra={"SCIKIT_LEARN_DATA": str(tmp_path / "skl"), "HTTPS_PROXY": "http://127.0.0.1:9",
                              "https_proxy": "http://127.0.0.1:9"})
    assert_user_error(proc, "could not download", "--archive")


def test_good_archive_describes_dataset(tmp_path, good_archive):
    proc = fwbench("data", "--archive", str(good_archive), "--batch-size", "8", cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert "36 posts" in proc.stdout and "4 batches of 8" in proc.stdout
