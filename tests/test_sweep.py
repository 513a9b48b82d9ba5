"""`fwbench sweep`: expansion, bad input, an impossible point among possible ones, resuming."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarks.commands import sweep as sw
from shared.config import ALL_CATEGORIES, TUTORIAL_CATEGORIES
from shared.errors import UserError
from tests.conftest import REPO, make_tiny_archive

TINY = ["--hidden", "16,16", "--epochs", "2", "--quick", "--devices", "cpu", "--frameworks", "torch",
        "--phases", "train_epoch,predict_one", "--processes", "2"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    return {"archive": make_tiny_archive(root / "tiny.tar.gz"), "cache": root / "cache", "out": root / "results"}


def fwbench(world, *args, env_extra=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FWBENCH_ARCHIVE"}
    env.update(FWBENCH_CACHE=str(world["cache"]), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "benchmarks.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def test_parameters_expand_to_configuration_overrides():
    assert sw.parameters("mlp")["hidden"].overrides(64) == {"model": {"hidden": (64, 64)}}
    assert sw.PARAMETERS["batch_size"].overrides(32) == {"batch_size": 32}
    assert sw.PARAMETERS["categories"].overrides(3) == {"categories": TUTORIAL_CATEGORIES}
    five = sw.PARAMETERS["categories"].overrides(5)["categories"]
    assert five[:3] == TUTORIAL_CATEGORIES and len(set(five)) == 5 and set(five) <= set(ALL_CATEGORIES)
    assert sw.PARAMETERS["categories"].overrides(20) == {"categories": None}  # all 20
    assert sw.parse_values("1024, 32,150") == [32, 150, 1024]


@pytest.mark.parametrize("text, needle", [
    ("", "empty"), ("32,abc", "not a number"), ("32,0", "positive integer"), ("1.5", "positive integer"),
    ("32,32", "twice"), ("nan", "positive integer"),
])
def test_bad_value_lists(text, needle):
    with pytest.raises(UserError, match=needle):
        sw.parse_values(text)


def test_presets_are_valid_requests():
    for name, p in sw.PRESETS.items():
        assert p.param in sw.PARAMETERS
        assert p.values == tuple(sorted(p.values))
        assert set(p.rounds) <= set(p.phases)


@pytest.mark.parametrize("args, needle", [
    (["sweep", "colour", "--values", "1,2"], "unknown sweep parameter 'colour'"),
    (["sweep", "batch_size", "--values", ""], "--values is empty"),
    (["sweep", "batch_size", "--values", "8,x"], "not a number"),
    (["sweep", "vocab_size", "--values", "0,10"], "positive integer"),
    (["sweep", "vocab_size", "--values", "10,100000"], "larger than the"),
    (["sweep"], "name the parameter"),
])
def test_bad_sweep_input_is_one_line(world, tmp_path, args, needle):
    proc = fwbench(world, *args, "--archive", str(world["archive"]), *TINY, "--output", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "o" / "sweeps").exists() or not any((tmp_path / "o" / "sweeps").rglob("manifest.json"))


def test_sweep_with_an_impossible_point_and_resume(world):
    args = ["sweep", "batch_size", "--values", "4,8,1000", "--archive", str(world["archive"]), *TINY,
            "--output", str(world["out"])]
    proc = fwbench(world, *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (folder,) = list((world["out"] / "sweeps").iterdir())
    assert "point 3/3 batch_size=1000: impossible" in proc.stdout and "larger than the 36 training posts" in proc.stdout
    for v in (4, 8):
        assert (folder / "points" / f"batch_size={v}" / "manifest.json").is_file()
    state = json.loads((folder / "sweep.json").read_text())
    assert "batch_size=1000" in state["impossible"]
    import pandas as pd
    table = pd.read_csv(folder / "sweep.csv")
    assert set(table.batch_size) == {4, 8} and set(table.phase) == {"train_epoch", "predict_one"}
    assert {"time_s", "time_low_s", "time_high_s", "peak_rss_mb", "speedup"} <= set(table.columns)
    report = (folder / "report.md").read_text()
    assert "Cost exponents" in report and "Crossovers" in report and "batch_size=1000: batch size 1000" in report
    assert (folder / "fig-time-train_epoch.png").is_file() and (folder / "fig-memory-train_epoch.png").is_file()

    # an interrupted sweep: one finished point lost, then resumed; the kept point is not rerun
    import shutil
    kept = (folder / "points" / "batch_size=4" / "manifest.json").read_bytes()
    shutil.rmtree(folder / "points" / "batch_size=8")
    proc = fwbench(world, "sweep", "--resume", str(folder))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "batch_size=4: done earlier, kept" in proc.stdout and "point 2/3 batch_size=8: done" in proc.stdout
    assert (folder / "points" / "batch_size=4" / "manifest.json").read_bytes() == kept
    assert (folder / "points" / "batch_size=8" / "manifest.json").is_file()


def test_resume_of_a_folder_that_is_not_a_sweep(world, tmp_path):
    proc = fwbench(world, "sweep", "--resume", str(tmp_path))
    assert proc.returncode == 2 and "not a sweep folder" in proc.stderr
