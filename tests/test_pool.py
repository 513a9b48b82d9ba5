"""`fwbench report --pool`: runs with the same fingerprint become one set of processes, and the
pooled interval is the suite's Welch interval over all of them (computed here by hand, not with
benchmarks/analysis/stats.py); a run that differs in any fingerprint field is refused in one line."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sst

from benchmarks.analysis import pool
from benchmarks.analysis import rundata
from benchmarks.cli import main_entry
from tests.runfolders import write_run

TORCH, TF = "torch:eager@cpu", "tensorflow:graph@cpu"
RUN_A = {TORCH: {"train_epoch": [[2.0, 2.2, 2.1], [2.4, 2.3, 2.5]]},
         TF: {"train_epoch": [[1.0, 1.1, 0.9], [1.3, 1.2, 1.25]]}}
RUN_B = {TORCH: {"train_epoch": [[1.8, 1.9, 1.85], [2.6, 2.7, 2.65], [2.2, 2.1, 2.15]]},
         TF: {"train_epoch": [[1.05, 1.0, 1.02], [1.4, 1.5, 1.45], [0.95, 0.97, 0.96]]}}


def welch_speedup(base, case):
    """Baseline over case from per-process medians, Welch's t on the logs, written out again."""
    lb = np.log([np.median(p) for p in base])
    lc = np.log([np.median(p) for p in case])
    va, vb = lb.var(ddof=1) / lb.size, lc.var(ddof=1) / lc.size
    df = (va + vb) ** 2 / (va ** 2 / (lb.size - 1) + vb ** 2 / (lc.size - 1))
    h = float(sst.t.ppf(0.975, df)) * math.sqrt(va + vb)
    d = lb.mean() - lc.mean()
    return math.exp(d), math.exp(d - h), math.exp(d + h)


def test_pooled_interval_is_the_welch_interval_over_all_processes(tmp_path, capsys):
    a, b = write_run(tmp_path / "runs" / "a", RUN_A), write_run(tmp_path / "runs" / "b", RUN_B)
    out = tmp_path / "pooled"
    assert main_entry(["report", "--pool", str(tmp_path / "runs"), "--output", str(out)]) == 0
    frame = rundata.summary(pool.load_pooled(out))
    row = frame[(frame.case == TF) & (frame.phase == "train_epoch")].iloc[0]
    want = welch_speedup(RUN_A[TORCH]["train_epoch"] + RUN_B[TORCH]["train_epoch"],
                         RUN_A[TF]["train_epoch"] + RUN_B[TF]["train_epoch"])
    assert (row.speedup, row.speedup_low, row.speedup_high) == pytest.approx(want, rel=1e-9)
    assert row.processes == 5
    # the pooled interval is not one run's: it is narrower than run A's alone
    alone = rundata.summary(rundata.load_run(a))
    ra = alone[(alone.case == TF) & (alone.phase == "train_epoch")].iloc[0]
    assert row.speedup_high - row.speedup_low < ra.speedup_high - ra.speedup_low
    text = (out / "report.md").read_text()
    assert "## Pooled evidence" in text and "2 runs with the same fingerprint" in text
    assert f"| train epoch (warm) | TensorFlow (graph) | CPU | {rundata.fmt_ratio(want[0])}x" in text
    assert "| 2 | 5 / 5 |" in text  # runs, processes (case / baseline) behind the verdict
    assert json.loads((out / "pooled.json").read_text())["runs"] == ["../runs/a", "../runs/b"]
    assert (out / "results.csv").is_file() and b.is_dir()


@pytest.mark.parametrize("field, change, needle", [
    ("config", lambda m: m["config"].update(batch_size=300), "configuration batch_size: 150 against 300"),
    ("packages", lambda m: m["environment"]["packages"].update(torch="2.4.0"),
     "package versions torch: '2.3.0' against '2.4.0'"),
    ("cpu", lambda m: m["environment"].update(cpu="Other CPU"), "CPU model: 'Synthetic CPU @ 3.0GHz' against"),
    ("threads", lambda m: m["threads"].update(intra_op=4), "thread budget intra_op: 2 against 4"),
])
def test_mismatched_fingerprint_is_refused_in_one_line(tmp_path, capfd, field, change, needle):
    a, b = write_run(tmp_path / "a", RUN_A), write_run(tmp_path / "b", RUN_B)
    m = json.loads((b / "manifest.json").read_text())
    change(m)
    (b / "manifest.json").write_text(json.dumps(m))
    out = tmp_path / "pooled"
    assert main_entry(["report", "--pool", str(a), str(b), "--output", str(out)]) == 2
    err = capfd.readouterr().err
    assert needle in err and "cannot pool" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (out / "report.md").exists()


def test_pool_needs_two_distinct_runs_and_an_output(tmp_path, capfd):
    a = write_run(tmp_path / "a", RUN_A)
    for argv, needle in ((["--pool", str(a), "--output", str(tmp_path / "o")], "at least two"),
                         (["--pool", str(a), str(a), "--output", str(tmp_path / "o")], "named twice"),
                         (["--pool", str(a), str(a)], "--output DIR")):
        assert main_entry(["report", *argv]) == 2
        assert needle in capfd.readouterr().err
