"""Bad input: one line naming the problem and the fix, exit status 2, no traceback, nothing lost."""
from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import make_tiny_archive


def fwbench(*args: str, env_extra: dict | None = None, cache: Path) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "FWBENCH_CACHE": str(cache), **(env_extra or {})}
    env.pop("FWBENCH_ARCHIVE", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "benchmarks.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def assert_user_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(err.splitlines()) == 1, f"expected one line, got:\n{err}"
    for n in needles:
        assert n in err, f"{n!r} not in {err!r}"


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
    assert not list((tmp_path / "c" / "archives").glob("*/20news-bydate-train")), "half an extraction was kept"


def test_not_an_archive(tmp_path):
    bad = tmp_path / "text.tar.gz"
    bad.write_text("hello")
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "not a gzip tar")


def test_wrong_layout(tmp_path):
    bad = make_tiny_archive(tmp_path / "layout.tar.gz", top_folders=("train", "test"))
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"),
                      "lacks the folder(s) 20news-bydate-test, 20news-bydate-train")


def test_path_traversal_is_refused(tmp_path):
    evil = tarfile.TarInfo("20news-bydate-train/../../evil.txt")
    evil.size = 1
    bad = make_tiny_archive(tmp_path / "evil.tar.gz", extra_members=[evil])
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "outside the archive")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "c" / "evil.txt").exists()


def test_symlink_member_is_refused(tmp_path):
    link = tarfile.TarInfo("20news-bydate-train/sci.space/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    bad = make_tiny_archive(tmp_path / "link.tar.gz", extra_members=[link])
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "link")


def test_missing_newsgroup_folder(tmp_path):
    # Right top-level folders but only some groups: not the 20news-bydate archive.
    bad = tmp_path / "partial.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for top in ("20news-bydate-train", "20news-bydate-test"):
            info = tarfile.TarInfo(f"{top}/sci.space/1")
            info.size = 5
            tar.addfile(info, io.BytesIO(b"hello"))
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "20 newsgroup folders")


@pytest.mark.parametrize("args, needles", [
    (["--categories", "sci.spaec"], ["unknown category 'sci.spaec'", "sci.space"]),
    (["--categories", ","], ["no categories selected"]),
    (["--categories", "sci.space"], ["at least two"]),
    (["--batch-size", "0"], ["batch size must be a positive integer"]),
    (["--epochs", "-1"], ["epochs must be a positive integer"]),
    (["--hidden", "100,0"], ["hidden sizes must be positive"]),
    (["--hidden", "a,b"], ["comma-separated integers"]),
    (["--lr", "0"], ["learning rate must be positive"]),
    (["--threads", "0"], ["threads must be a positive integer"]),
    (["--batch-size", "37"], ["batch size 37 is larger than the 36 training posts"]),
])
def test_bad_options(tmp_path, good_archive, args, needles):
    proc = fwbench("data", "--archive", str(good_archive), *args, cache=tmp_path / "c")
    assert_user_error(proc, *needles)


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
