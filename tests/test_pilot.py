"""Sizing from a pilot (benchmarks/analysis/pilot.py): the estimates and the choice of processes
and rounds, on known inputs with hand-checked answers."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks.analysis import pilot, rundata
from shared.errors import UserError
from tests.runfolders import write_run


def test_estimates_from_known_rounds():
    a = [np.exp([0.0, 0.1, -0.1]), np.exp([0.2, 0.3, 0.1])]  # log medians 0, 0.2: variance 0.02
    b = [np.exp([0.0, 0.0, 0.0]), np.exp([0.4, 0.4, 0.4])]  # log medians 0, 0.4: variance 0.08
    e = pilot.estimate_phase("train_epoch", [a, b], warmup=1)
    assert e.sigma2_p == pytest.approx(0.05, abs=1e-12)  # (0.02 + 0.08) / 2
    assert e.sigma2_r == pytest.approx(0.005, abs=1e-12)  # (0.02 + 0.02 + 0 + 0) / (4 processes x 2 df)
    assert e.c_r == pytest.approx(float(np.mean(np.concatenate(a + b))), abs=1e-12)
    assert e.warmup == 1


def test_too_little_pilot_data_is_bad_input():
    with pytest.raises(UserError, match="pilot measured too little of phase train_epoch"):
        pilot.estimate_phase("train_epoch", [[np.array([0.2, 0.3])]], warmup=0)


EST = pilot.PhaseEstimate("train_epoch", sigma2_p=0.0025, sigma2_r=0.01, c_r=0.02, warmup=1)
TWO_CASES = [["train_epoch"], ["train_epoch"]]


def test_rounds_and_processes_reach_the_target():
    # R* = sqrt(2 * 0.01 / (0.02 * 0.0025)) = 20; h(K) = t(2K-2) sqrt(2 (0.0025 + 0.01/20) / K):
    # K=3: 2.776 * sqrt(0.002) = 0.124 > log 1.1 = 0.0953; K=4: 2.447 * sqrt(0.0015) = 0.0948 <= 0.0953
    s = pilot.choose([EST], c_p=2.0, cases=TWO_CASES, available_s=100.0, target=0.10)
    assert (s.processes, s.phases[0].rounds, s.phases[0].processes_needed) == (4, 20, 4)
    assert s.reaches_target and s.phases[0].expected_halfwidth <= 0.10
    assert s.expected_s == pytest.approx(4 * 2 * (2.0 + 21 * 0.02), abs=1e-9)  # 19.36 s


def test_a_short_budget_takes_the_largest_k_that_fits_and_says_its_width():
    s = pilot.choose([EST], c_p=2.0, cases=TWO_CASES, available_s=15.0, target=0.10)
    assert s.processes == 3 and not s.reaches_target  # 3 x 2 x 2.42 = 14.52 s <= 15 < 19.36
    t = 2.7764451051977987  # t(0.975, 4)
    assert s.phases[0].expected_halfwidth == pytest.approx(math.expm1(t * math.sqrt(0.002)), rel=1e-9)
    assert "cannot reach the target" in pilot.describe(s) and "needs 4 processes" in pilot.describe(s)


def test_a_budget_below_two_processes_is_refused():
    with pytest.raises(UserError, match="--pilot budget too small: two processes per case need about 10 s"):
        pilot.choose([EST], c_p=2.0, cases=TWO_CASES, available_s=9.0)  # 2 x 2 x 2.42 = 9.68 s


def test_a_budget_below_r_star_falls_back_to_the_runs_own_rounds():
    # R* = 20 rounds: 2 x 2 x (2 + 21 x 0.02) = 9.68 s > 9 s; the run's own 4 rounds: K x 2 x (2 + 5 x 0.02)
    s = pilot.choose([EST], c_p=2.0, cases=TWO_CASES, available_s=9.0, fewest={"train_epoch": 4})
    assert (s.processes, s.phases[0].rounds) == (2, 4)  # 2 x 2 x 2.1 = 8.4 s <= 9 < 3 x 2 x 2.1
    assert s.expected_s == pytest.approx(2 * 2 * (2.0 + 5 * 0.02), abs=1e-9)
    with pytest.raises(UserError, match="two processes per case need about 8 s"):
        pilot.choose([EST], c_p=2.0, cases=TWO_CASES, available_s=8.0, fewest={"train_epoch": 4})


@pytest.mark.parametrize("target", [0.0, -0.1, math.nan])
def test_a_non_positive_target_is_refused(target):
    with pytest.raises(UserError, match="--target-width must be a positive percentage"):
        pilot.choose([EST], c_p=2.0, cases=TWO_CASES, available_s=100.0, target=target)


def test_rounds_are_clipped():
    assert pilot.best_rounds(0.001, EST) == pilot.MIN_ROUNDS  # sqrt(0.001*0.01/(0.02*0.0025)) = 0.45
    flat = pilot.PhaseEstimate("predict_one", 0.0, 0.01, 0.001, 0)
    assert pilot.best_rounds(2.0, flat) == pilot.MAX_ROUNDS  # processes never differ: rounds are cheap
    steady = pilot.PhaseEstimate("predict_one", 0.01, 0.0, 0.001, 0)
    assert pilot.best_rounds(2.0, steady) == pilot.MIN_ROUNDS  # rounds never vary


def test_estimates_and_process_cost_from_a_pilot_run_folder(tmp_path):
    from benchmarks.commands.pilot import estimates
    from benchmarks.harness.runner import Plan
    from shared.config import ExperimentConfig
    r = [[0.1, 0.1, 0.1], [0.2, 0.2, 0.2]]
    folder = write_run(tmp_path / "pilot", {"torch:eager@cpu": {"train_epoch": r},
                                            "tensorflow:graph@cpu": {"train_epoch": r}})
    m = json.loads((folder / "manifest.json").read_text())
    for w in m["workers"]:
        w["seconds"] = 5.0
    m["rounds"]["train_epoch"]["warmup"] = 1  # counted at the phase's mean round time, 0.15 s
    (folder / "manifest.json").write_text(json.dumps(m))
    plan = Plan(cfg=ExperimentConfig(), cases=[], phases=["train_epoch"])
    (e,), c_p = estimates(rundata.load_run(folder), plan)
    assert e.sigma2_p == pytest.approx(math.log(2) ** 2 / 2, abs=1e-12) and e.sigma2_r == pytest.approx(0, abs=1e-12)
    assert e.warmup == 1  # the real run's warm-up (train_epoch's default), not the pilot's
    # processes 0: 5 - 0.3 - 0.15; processes 1: 5 - 0.6 - 0.15
    assert c_p == pytest.approx(((5 - 0.45) + (5 - 0.75)) / 2, abs=1e-12)


def _pilot_world(tmp_path, monkeypatch, budget):
    """size_plan with the pilot's run replaced by a synthetic folder (each worker 5 s, rounds 0.1-0.2 s)."""
    import argparse
    from benchmarks.harness import runner
    from benchmarks.model.cases import parse_case
    from shared.config import ExperimentConfig
    made = []

    def fake_run_plan(plan, dest, clock=None, env=None, name=None):
        assert plan.processes == 2 and plan.rounds["train_epoch"].rounds >= 3 and plan.kind == "pilot"
        r = [[0.1, 0.12, 0.1], [0.2, 0.21, 0.2]]
        folder = write_run(dest / "pilot", {"torch:eager@cpu": {"train_epoch": r}})
        m = json.loads((folder / "manifest.json").read_text())
        for w in m["workers"]:
            w["seconds"] = 5.0
        (folder / "manifest.json").write_text(json.dumps(m))
        made.append(dest)
        return folder

    monkeypatch.setattr(runner, "run_plan", fake_run_plan)
    plan = runner.Plan(cfg=ExperimentConfig(), cases=[parse_case("torch:eager@cpu")], phases=["train_epoch"])
    args = argparse.Namespace(pilot=budget, target_width=None, output=str(tmp_path / "out"))
    return plan, args, made


def test_a_budget_too_small_after_the_pilot_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    from benchmarks.commands.pilot import size_plan
    from benchmarks.harness.runner import Clock
    plan, args, made = _pilot_world(tmp_path, monkeypatch, budget=5.0)
    with pytest.raises(UserError, match="--pilot budget too small: two processes per case need about"):
        size_plan(plan, args, Clock(quiet=True))
    assert made and not made[0].exists() and not (tmp_path / "out").exists()


def test_the_sized_plan_and_its_sizing_paragraph(tmp_path, monkeypatch):
    from benchmarks.commands.pilot import size_plan
    from benchmarks.harness.runner import Clock
    from benchmarks.reports.disturbance import sizing_section
    plan, args, made = _pilot_world(tmp_path, monkeypatch, budget=3600.0)
    sized = size_plan(plan, args, Clock(quiet=True))
    rec = sized.pilot
    (e,) = rec["estimates"]
    assert e["sigma2_p"] == pytest.approx(math.log(2) ** 2 / 2, abs=1e-12)
    k, r = rec["processes"], rec["phases"][0]["rounds"]
    assert sized.processes == k and sized.rounds["train_epoch"].rounds == r and sized.rounds["train_epoch"].warmup == 1
    # c_p = 5 s less the rounds (4.535 s), σ²_r = 0.00594, c_r = 0.155 s: R* = sqrt(4.535·0.00594 / (0.155·0.24))
    # = 0.85, clipped to 3; processes this far apart (σ²_p = 0.24) would need ~200 processes for ±10%: the
    # cap, 100, is taken (100 x (4.535 + 4 x 0.155) = 516 s fits) and the width it expects is said
    assert rec["c_p"] == pytest.approx(5 - (0.32 + 0.61) / 2, abs=1e-12)
    assert (k, r) == (pilot.MAX_PROCESSES, pilot.MIN_ROUNDS) and not rec["reaches_target"]
    assert rec["phases"][0]["processes_needed"] == pilot.MAX_PROCESSES + 1
    folder = write_run(tmp_path / "sized", {"torch:eager@cpu": {"train_epoch": [[0.2], [0.21]]}})
    m = json.loads((folder / "manifest.json").read_text())
    m["pilot"] = rec
    (folder / "manifest.json").write_text(json.dumps(m))
    text = "\n".join(sizing_section(rundata.load_run(folder)))
    assert text.startswith("## Sizing") and f"Chosen: {k} processes per case" in text
    assert "not even 100 processes reach the target" in text and "train_epoch: 3 rounds" in text
    assert "(needs more than 100 processes)" in text
