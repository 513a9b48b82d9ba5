"""The noise study's figures: spreads, the false-positive rate and its interval, and the study
report read from synthetic A/A run folders (exact values from known inputs; nothing timed)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.analysis import noise, stats
from benchmarks.reports import noise_report
from shared.errors import UserError
from tests.runfolders import write_run

E = math.e


def test_between_and_within_spread_are_log_scale_standard_deviations():
    samples = [[1.0, 1.0, 1.0], [E ** 0.1] * 3, [E ** -0.1] * 3]
    assert noise.between_spread(samples) == pytest.approx(0.1, rel=1e-12)  # sd of 0, 0.1, -0.1
    assert noise.within_spread(samples) == 0.0
    rounds = [[1.0, E ** 0.2], [1.0, E ** 0.4], [1.0, E ** 0.6]]  # sd of (0, x) is x / sqrt(2)
    assert noise.within_spread(rounds) == pytest.approx(0.4 / math.sqrt(2), rel=1e-12)
    assert noise.between_spread([[1.0, 2.0]]) is None  # one process: no spread between processes


def test_the_false_positive_rate_has_an_exact_binomial_interval():
    r = noise.false_positive_rate([stats.FASTER, stats.EQUIVALENT, stats.INCONCLUSIVE, stats.SLOWER])
    assert (r.hits, r.n, r.value) == (2, 4, 0.5)
    zero = noise.clopper_pearson(0, 30)
    assert zero.low == 0.0 and zero.high == pytest.approx(1 - 0.025 ** (1 / 30), rel=1e-9)  # 11.57%
    all_ = noise.clopper_pearson(30, 30)
    assert all_.high == 1.0 and all_.low == pytest.approx(0.025 ** (1 / 30), rel=1e-9)
    one = noise.clopper_pearson(1, 30)  # the beta quantiles, checked against the binomial tails they invert
    from scipy import stats as st
    assert st.binom.sf(0, 30, one.low) == pytest.approx(0.025, rel=1e-6)
    assert st.binom.cdf(1, 30, one.high) == pytest.approx(0.025, rel=1e-6)
    with pytest.raises(ValueError):
        noise.clopper_pearson(3, 2)
    assert noise.half_width(1 / 1.1, 1.1) == pytest.approx(1.1)


def _aa_run(folder, copy_scale: float, n_proc: int = 4, seed: int = 0):
    """A sequential A/A run of torch:eager whose copy's processes are `copy_scale` times the original's."""
    rng = np.random.default_rng(seed)
    base = [0.2 * math.exp(x) for x in rng.normal(0, 0.02, n_proc)]
    orig = [[m, m, m] for m in base]
    copy = [[m * copy_scale] * 3 for m in base]
    return write_run(folder, {"torch:eager@cpu": {"train_epoch": orig}, "torch:eager@cpu~aa": {"train_epoch": copy}},
                     kind="aa", aa_pairs={"torch:eager@cpu~aa": "torch:eager@cpu"})


def test_the_study_report_counts_every_aa_comparison_and_leaves_other_runs_out(tmp_path):
    study = tmp_path / "study"
    _aa_run(study / "threads2" / "runs" / "r1", 1.0)  # identical: equivalent (the spread is 2%)
    _aa_run(study / "threads1" / "runs" / "r2", 1.30)  # a copy 30% slower: a false positive
    write_run(study / "stray" / "runs" / "r3", {"torch:eager@cpu": {"train_epoch": [[0.2], [0.21]]},
                                                "tensorflow:graph@cpu": {"train_epoch": [[0.1], [0.11]]}})
    entries, skipped = noise_report.find_runs(study)
    assert sorted(s for s, _ in entries) == ["threads1", "threads2"]
    assert len(skipped) == 1 and "not an A/A run" in skipped[0]
    comps = noise_report.comparisons(entries)
    by = {c.setting: c for c in comps}
    assert by["threads2"].verdict == stats.EQUIVALENT and by["threads2"].interval.value == pytest.approx(1.0)
    assert by["threads1"].verdict == stats.SLOWER  # the copy, 30% slower than its original
    assert by["threads1"].interval.value == pytest.approx(1 / 1.3)  # original over copy
    (cal,) = noise_report.calibration_rows(comps)
    assert (cal["mode"], cal["n"], cal["rate"].hits, cal["equivalent"], cal["inconclusive"]) == ("sequential", 2, 1, 1, 0)
    text = noise_report.build_markdown(study)
    assert "| sequential | 2 | 2 | 1 | 50.0% (1.3%-98.7%) | 1 | 0 |" in text
    rows = {r["setting"]: r for r in noise_report.spread_rows(entries)}
    # the copy's processes count in the spread: 8 processes; the 30% copy makes the spread large
    assert rows["threads2"]["processes"] == 8 and rows["threads1"]["processes"] == 8
    logs = np.log([0.2 * math.exp(x) for x in np.random.default_rng(0).normal(0, 0.02, 4)])
    assert rows["threads2"]["between"] == pytest.approx(float(np.concatenate([logs, logs]).std(ddof=1)))
    assert rows["threads1"]["between"] == pytest.approx(float(np.concatenate([logs, logs + math.log(1.3)]).std(ddof=1)))
    assert "stray" in text  # named as left out, never counted


def test_quick_aa_runs_are_left_out_of_the_rate(tmp_path):
    study = tmp_path / "study"
    _aa_run(study / "a" / "runs" / "r1", 1.0)
    folder = _aa_run(study / "b" / "runs" / "r2", 1.3)
    import json
    m = json.loads((folder / "manifest.json").read_text())
    m["quick"], m["kind"] = True, "aa"
    (folder / "manifest.json").write_text(json.dumps(m))
    entries, skipped = noise_report.find_runs(study)
    assert [s for s, _ in entries] == ["a"] and "quick" in skipped[0]


def test_a_study_report_needs_a_folder(tmp_path):
    from benchmarks.cli import main_entry
    assert main_entry(["noise", "--report", "--output", str(tmp_path / "nowhere")]) == 2
    assert main_entry(["noise", "--settings", "bogus", "--output", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def _spread_row(a: float, base: float = 0.2) -> list[list[float]]:
    """Three processes whose log medians are 0, a, -a around `base`: spread exactly a."""
    return [[base] * 3, [base * math.exp(a)] * 3, [base * math.exp(-a)] * 3]


def test_the_comparison_counts_the_rows_each_warning_rule_marks(tmp_path):
    from benchmarks.analysis import rundata
    from benchmarks.reports import compare
    phases = ("first_epoch", "train_epoch", "predict_all", "predict_one")
    torch = {p: _spread_row(0.12) for p in phases}
    tf = {"first_epoch": _spread_row(0.12), "train_epoch": _spread_row(0.12), "predict_all": _spread_row(0.5),
          "predict_one": _spread_row(0.01)}
    run = rundata.load_run(write_run(tmp_path / "r", {"torch:eager@cpu": torch, "tensorflow:graph@cpu": tf}))
    # six rows at 12% (the machine), one at 50% (unusual), one at 1%: the median estimate is the 12% rows'
    assert rundata.typical_spread(run) == pytest.approx(0.12 / math.sqrt(math.log(2)), rel=1e-9)
    assert compare.warning_counts(run) == [8, "14.4%", "1 (12%)", "7 (88%)"]
    frame = rundata.summary(run).set_index(["case", "phase"])
    assert "unusual for this run" in frame.loc[("tensorflow:graph@cpu", "predict_all"), "warnings"]
    assert frame.warnings.notna().sum() == 1
    text, _ = compare.comparison_markdown([run, rundata.load_run(write_run(tmp_path / "s", {
        "torch:eager@cpu": torch, "tensorflow:graph@cpu": tf}))], None)
    assert "Same verdict word in every run: 4 of 4 (case, phase) comparisons that every run measured." in text
    assert "| r | 8 | 14.4% | 1 (12%) | 7 (88%) |" in text


def test_the_answer_states_the_false_positive_rate_from_the_study(tmp_path):
    from benchmarks.reports import answer
    study = tmp_path / "results" / "noise-cpu"
    _aa_run(study / "threads2" / "runs" / "r1", 1.0)
    _aa_run(study / "threads1" / "runs" / "r2", 1.30)
    (f,) = answer.noise_findings(tmp_path / "results")
    (cal,) = noise_report.calibration_rows(noise_report.comparisons(noise_report.find_runs(study)[0]))
    assert f.text == ("How far to trust a verdict (A/A runs: each case against an identical copy of itself, on this "
                      "2-core machine): sequential: named a winner in 1 of 2 A/A comparisons (50.0%, 95% CI "
                      f"1.3%-98.7%; 1 equivalent, 0 inconclusive; median interval ±{cal['median_halfwidth'] - 1:.0%}).")
    with pytest.raises(UserError, match="no noise study"):
        answer.noise_findings(tmp_path / "elsewhere")
