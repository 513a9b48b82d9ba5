"""Shared fixtures: the real archive (for corpus tests) and tiny generated archives (for unit tests)."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from shared.config import ALL_CATEGORIES, ExperimentConfig

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ARCHIVE = REPO.parent / "shared" / "data" / "20news-bydate.tar.gz"


def real_archive() -> Path | None:
    env = os.environ.get("FWBENCH_ARCHIVE")
    path = Path(env) if env else DEFAULT_ARCHIVE
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def archive_path() -> Path:
    """The real 20news-bydate archive. Skips where it is absent, except under
    FWBENCH_REQUIRE_CORPUS=1 (CI), where its absence is a failure."""
    path = real_archive()
    if path is None:
        msg = "the 20news-bydate archive is absent (set FWBENCH_ARCHIVE or put it at ../shared/data)"
        if os.environ.get("FWBENCH_REQUIRE_CORPUS") == "1":
            pytest.fail(msg + " and FWBENCH_REQUIRE_CORPUS=1 demands it")
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def corpus_cache(tmp_path_factory) -> Path:
    """One cache folder for the session's real-corpus tests (extracted once)."""
    return tmp_path_factory.mktemp("fwbench-cache")


@pytest.fixture(scope="session")
def tutorial_data(archive_path, corpus_cache):
    from shared.dataset import prepare
    return prepare(ExperimentConfig(), archive=archive_path, cache=corpus_cache)


WORDS = ("pixel render orbit launch pitcher inning shuttle polygon batter nasa vertex moon "
         "homer rocket shader league").split()


def make_tiny_archive(path: Path, posts_per_group: tuple[int, int] = (12, 8), seed: int = 0,
                      top_folders=("20news-bydate-train", "20news-bydate-test"),
                      extra_members: list[tarfile.TarInfo] | None = None) -> Path:
    """A gzip tar in the 20news-bydate layout: every one of the 20 groups, a few short posts
    each, words drawn so that each group prefers its own few words (learnable)."""
    rng = np.random.default_rng(seed)
    with tarfile.open(path, "w:gz") as tar:
        for top, n_posts in zip(top_folders, posts_per_group):
            for g, group in enumerate(ALL_CATEGORIES):
                for i in range(n_posts):
                    own = [WORDS[(g + k) % len(WORDS)] for k in range(3)]
                    words = list(rng.choice(own, size=8)) + list(rng.choice(WORDS, size=4))
                    text = f"From: user{i}@example.org\nSubject: post {i}\n\n" + " ".join(words) + " Caf\xe9\n"
                    blob = text.encode("latin1")
                    info = tarfile.TarInfo(f"{top}/{group}/{50000 + 100 * g + i}")
                    info.size = len(blob)
                    tar.addfile(info, io.BytesIO(blob))
        for member in extra_members or []:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return path


@pytest.fixture
def tiny_archive(tmp_path) -> Path:
    return make_tiny_archive(tmp_path / "tiny-20news.tar.gz")


# Small enough to train in a blink on the tiny archive: 36 train posts, batches of 8.
TINY_CONFIG = ExperimentConfig(batch_size=8, epochs=2, model={"hidden": (16, 16)}, eval_batch_size=16)


def fwbench(*args: str, cache: Path, env_extra: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`fwbench ARGS` in a fresh process with FWBENCH_CACHE=cache and no FWBENCH_ARCHIVE from
    the caller's environment (a test names its archive, or tests the absence of one)."""
    env = {**os.environ, "FWBENCH_CACHE": str(cache)}
    env.pop("FWBENCH_ARCHIVE", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "benchmarks.cli", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=timeout)


def one_stderr_line(proc: subprocess.CompletedProcess, status: int) -> str:
    """The single line a run must print on stderr, after checking its exit status and that no
    traceback came with it."""
    assert proc.returncode == status, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{proc.stderr}"
    return lines[0]
