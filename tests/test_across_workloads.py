"""The answer across workloads: the workload x phase table from one run per workload, with known
inputs (two workloads whose verdicts point opposite ways, files in no particular order)."""
from __future__ import annotations

import json
import sys

import pytest

from benchmarks.analysis import stats
from benchmarks.analysis.rundata import fmt_interval
from benchmarks.reports import across_workloads as aw
from shared import workloads
from shared.errors import UserError
from tests.runfolders import set_allocator_env, write_run
from tests.test_workloads import PROBE_WORKLOAD


@pytest.fixture
def probe_workload(tmp_path, monkeypatch):
    (tmp_path / "wl_probe").mkdir()
    (tmp_path / "wl_probe" / "__init__.py").write_text(PROBE_WORKLOAD)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(workloads.EXTRA_ENV, "probe=wl_probe")
    yield "probe"
    sys.modules.pop("wl_probe", None)


def _run(folder, workload: str, torch_s: float, tf_s: float, started: str, cpu: str = "Synthetic CPU @ 3.0GHz"):
    procs = lambda m: [[m * f] * 3 for f in (1.0, 1.02, 0.98)]  # noqa: E731 - three processes, exact medians
    write_run(folder, {"torch:eager@cpu": {"train_epoch": procs(torch_s), "predict_one": procs(torch_s / 100)},
                       "tensorflow:graph@cpu": {"train_epoch": procs(tf_s), "predict_one": procs(tf_s / 100)}})
    m = json.loads((folder / "manifest.json").read_text())
    m["config"]["workload"] = workload
    if workload != "mlp":
        m["config"]["model"] = {}
        m["config"].pop("hidden", None)
    m["started_utc"], m["environment"]["cpu"] = started, cpu
    (folder / "manifest.json").write_text(json.dumps(m))


def test_the_table_has_one_row_per_workload_phase_and_challenger(tmp_path, probe_workload):
    results = tmp_path / "results"
    # written out of order on purpose: the probe first, and an older mlp run that must be ignored
    _run(results / aw.WORKLOADS / "probe" / "runs" / "b", "probe", 1.0, 2.0, "2026-12-01T10:00:00Z")
    _run(results / aw.WORKLOADS / "mlp" / "runs" / "z-old", "mlp", 1.0, 1.0, "2026-11-01T10:00:00Z", cpu="Old CPU")
    _run(results / aw.WORKLOADS / "mlp" / "runs" / "a", "mlp", 1.0, 0.5, "2026-12-01T09:00:00Z")
    rows = aw.rows(results)
    got = {(r.workload, r.phase): r for r in rows}
    assert set(got) == {("MLP (bag of words)", "train_epoch"), ("MLP (bag of words)", "predict_one"),
                        ("logistic regression (probe)", "train_epoch"), ("logistic regression (probe)", "predict_one")}
    mlp = got[("MLP (bag of words)", "train_epoch")]
    assert mlp.speedup == pytest.approx(2.0) and mlp.verdict == stats.FASTER and mlp.winner == "TensorFlow (graph)"
    assert mlp.machine == "Synthetic CPU @ 3.0GHz, 2 threads a case" and mlp.date == "2026-12-01"  # the newest mlp run
    probe = got[("logistic regression (probe)", "train_epoch")]
    assert probe.speedup == pytest.approx(0.5) and probe.verdict == stats.SLOWER and probe.winner == "PyTorch (eager)"
    assert probe.low < 0.5 < probe.high
    text = aw.table(rows)
    head, cells = aw.table_cells(rows)
    assert head[2:] == ["MLP (bag of words)", "logistic regression (probe)"]
    assert cells[0][:2] == ["train epoch (warm)", "TensorFlow (graph)"]
    assert cells[0][2].startswith("2.00x (") and cells[0][2].endswith(" faster")
    assert cells[0][3].startswith("0.50x (") and cells[0][3].endswith(" slower")
    assert len(cells) == 2 and "Old CPU" not in text
    assert aw.machines(rows) == "Synthetic CPU @ 3.0GHz, 2 threads a case; 2026-12-01"
    assert [p.parent.name for _, p in aw.evidence(rows)] == ["a", "b"]
    said = aw.changes(rows)
    assert len(said) == 2 and all("changes with the workload" in s for s in said)
    assert "MLP (bag of words): faster (2.00x)" in said[0] and "logistic regression (probe): slower (0.50x)" in said[0]


def test_no_change_is_said_when_every_workload_agrees(tmp_path, probe_workload):
    results = tmp_path / "results"
    _run(results / aw.WORKLOADS / "x", "probe", 1.0, 0.5, "2026-12-01T10:00:00Z")
    _run(results / aw.WORKLOADS / "y", "mlp", 1.0, 0.4, "2026-12-01T09:00:00Z")
    assert aw.changes(aw.rows(results)) == []


def test_a_run_counts_for_the_workload_its_manifest_names_not_its_folder(tmp_path, probe_workload):
    results = tmp_path / "results"
    _run(results / aw.WORKLOADS / "mlp", "probe", 1.0, 0.5, "2026-12-01T10:00:00Z")
    assert list(aw.runs_by_workload(results)) == ["probe"]


def test_page_faults_per_round_are_said_where_the_defaults_differ(tmp_path):
    """Known inputs: predict one, PyTorch 16,000 faults over 3 rounds and 1 warm-up a process
    (4,000 a round), TensorFlow none; a warm epoch 800 against 640 (40 a round apart: not said)."""
    old = tmp_path / "old"
    _run(old / aw.WORKLOADS / "mlp" / "runs" / "a", "mlp", 1.0, 0.5, "2026-12-01T09:00:00Z")
    assert aw.fault_lines(old) == []  # no counts recorded (runs before 2026-12-07): nothing said

    def rec(faults):
        return [{"machine": {"wall_s": 1.0, "steal_s": 0.0, "other_cpu_s": 0.0, "own_cpu_s": 1.0, "note": None,
                             "minor_faults": faults}, "warmup_rounds": 1}] * 3
    procs = lambda m: [[m * f] * 3 for f in (1.0, 1.02, 0.98)]  # noqa: E731
    results = tmp_path / "results"
    write_run(results / aw.WORKLOADS / "mlp" / "runs" / "a",
              {"torch:eager@cpu": {"train_epoch": procs(1.0), "predict_one": procs(0.01)},
               "tensorflow:graph@cpu": {"train_epoch": procs(0.5), "predict_one": procs(0.005)}},
              extra_info={"torch:eager@cpu": {"predict_one": rec(16000), "train_epoch": rec(800)},
                          "tensorflow:graph@cpu": {"predict_one": rec(0), "train_epoch": rec(640)}})
    assert aw.fault_lines(results) == ["MLP (bag of words): predict one (batch of 1): PyTorch (eager) 4,000, "
                                       "TensorFlow (graph) 0."]
    from benchmarks.reports import answer
    line = answer.workloads_findings(results)[0].line
    assert "Minor page faults per round" in line and "PyTorch (eager) 4,000, TensorFlow (graph) 0." in line


RAISED = {"MALLOC_MMAP_THRESHOLD_": "134217728", "MALLOC_TRIM_THRESHOLD_": "268435456"}


def test_the_allocator_pairs_name_each_verdict_they_change(tmp_path, probe_workload):
    """Known inputs: the MLP as given, TF 2x faster; with the variables, TF 1.0x (equal times):
    the verdict moves and the sentence says so; the probe's verdict does not move."""
    results = tmp_path / "results"
    _run(results / aw.WORKLOADS / "mlp", "mlp", 1.0, 0.5, "2026-12-01T09:00:00Z")
    _run(results / aw.WORKLOADS / "probe", "probe", 1.0, 2.0, "2026-12-01T10:00:00Z")
    _run(results / aw.ALLOCATOR / "mlp", "mlp", 0.5, 0.5, "2026-12-01T11:00:00Z")
    _run(results / aw.ALLOCATOR / "probe", "probe", 1.0, 2.0, "2026-12-01T12:00:00Z")
    for folder, given in (("mlp", {}), ("probe", {})):
        set_allocator_env(results / aw.WORKLOADS / folder, given)
    for folder in ("mlp", "probe"):
        set_allocator_env(results / aw.ALLOCATOR / folder, RAISED)
    pairs = aw.allocator_rows(results)
    assert [(a.workload, a.phase) for a, _ in pairs] == [
        ("MLP (bag of words)", "train_epoch"), ("MLP (bag of words)", "predict_one"),
        ("logistic regression (probe)", "train_epoch"), ("logistic regression (probe)", "predict_one")]
    a, b = pairs[0]
    assert a.speedup == pytest.approx(2.0) and b.speedup == pytest.approx(1.0)
    said = aw.allocator_lines(pairs)
    assert said[0] == ("MLP (bag of words), TensorFlow (graph) against PyTorch (eager), train epoch (warm): faster "
                       f"(2.00x, {fmt_interval(a.low, a.high)}) as given, {b.verdict} (1.00x, "
                       f"{fmt_interval(b.low, b.high)}) with them.")
    assert len(said) == 2 and not any("probe" in s for s in said)  # train epoch and predict one of the MLP
    head, cells = aw.allocator_table_cells(pairs)
    assert head[3:] == ["allocator as given",
                        "allocator variables set (MALLOC_MMAP_THRESHOLD_=134217728, MALLOC_TRIM_THRESHOLD_=268435456)"]
    assert cells[0][:3] == ["MLP (bag of words)", "train epoch (warm)", "TensorFlow (graph)"]
    assert cells[0][3].startswith("2.00x (") and cells[0][4].startswith("1.00x (")
    from benchmarks.reports import answer
    (f,) = answer.allocator_findings(results)
    assert said[0] in f.text and len(f.evidence) == 4


@pytest.mark.parametrize("mine, theirs, cpu, needle", [
    ({}, {}, None, "records no allocator variables"),
    (None, {}, None, "records no allocator variables"),
    (RAISED, RAISED, None, "has the same allocator variables"),
    (RAISED, None, None, "records no allocator environment"),
    (RAISED, {}, "Other CPU", "has another machine or thread budget"),
])
def test_a_pair_that_does_not_isolate_the_allocator_is_refused(tmp_path, mine, theirs, cpu, needle):
    results = tmp_path / "results"
    _run(results / aw.WORKLOADS / "mlp", "mlp", 1.0, 0.5, "2026-12-01T09:00:00Z")
    _run(results / aw.ALLOCATOR / "mlp", "mlp", 0.5, 0.5, "2026-12-01T11:00:00Z", **({"cpu": cpu} if cpu else {}))
    set_allocator_env(results / aw.WORKLOADS / "mlp", theirs)
    set_allocator_env(results / aw.ALLOCATOR / "mlp", mine)
    with pytest.raises(UserError, match=needle):
        aw.allocator_rows(results)


def test_a_ratio_that_moves_beyond_its_interval_is_named_with_the_same_verdict():
    from pathlib import Path
    row = lambda s, lo, hi: aw.Row("W", "train_epoch", "TF", "PT", s, lo, hi, stats.FASTER, "m", "d", Path("r"))  # noqa: E731
    assert aw.allocator_lines([(row(1.83, 1.70, 1.97), row(1.23, 1.14, 1.32))]) == [
        "W, TF against PT, train epoch (warm): faster (1.83x, 1.70-1.97) as given, faster (1.23x, 1.14-1.32) with them."]
    assert aw.allocator_lines([(row(1.13, 1.10, 1.17), row(1.14, 1.10, 1.18))]) == []


def test_no_allocator_runs_no_finding(tmp_path):
    from benchmarks.reports import answer
    assert aw.allocator_rows(tmp_path) == [] and answer.allocator_findings(tmp_path) == []
