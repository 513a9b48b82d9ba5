"""A/A calibration (`fwbench run --aa`): each case against an identical copy of itself, under a
distinct id, each copy compared with its own original."""
from __future__ import annotations

import pytest

from benchmarks.analysis import rundata, stats
from benchmarks.model import cases as cs
from shared.errors import UserError
from tests.runfolders import write_run


def test_a_copy_has_its_own_id_slug_and_label_and_round_trips():
    got, pairs = cs.aa_cases("torch:eager,tensorflow", ["cpu"])
    assert [c.id for c in got] == ["torch:eager@cpu", "torch:eager@cpu~aa",
                                   "tensorflow:graph@cpu", "tensorflow:graph@cpu~aa"]
    assert pairs == {"torch:eager@cpu~aa": "torch:eager@cpu", "tensorflow:graph@cpu~aa": "tensorflow:graph@cpu"}
    original, copy = got[0], got[1]
    assert copy.slug == "torch-eager-cpu_aa" and copy.slug != original.slug
    assert copy.label == "PyTorch (eager) (A/A copy)"
    assert cs.Case.from_dict(copy.to_dict()) == copy and cs.Case.from_dict(original.to_dict()) == original
    assert "copy" not in original.to_dict()  # ordinary cases keep their record's shape
    assert copy.config(__import__("shared.config").config.ExperimentConfig()) == \
        original.config(__import__("shared.config").config.ExperimentConfig())  # the same work
    with pytest.raises(UserError, match="cannot read case"):
        cs.parse_case(copy.id)  # a copy is never typed: no real case can be named like one
    with_overrides, _ = cs.aa_cases("torch[batch_size=300]", ["cpu"])
    assert with_overrides[1].id == "torch:eager@cpu[batch_size=300]~aa"


def test_aa_cases_on_every_device_unless_one_is_named():
    got, _ = cs.aa_cases("torch,tensorflow@gpu", ["cpu", "gpu"])
    assert [c.id for c in got] == ["torch:eager@cpu", "torch:eager@cpu~aa", "torch:eager@gpu", "torch:eager@gpu~aa",
                                   "tensorflow:graph@gpu", "tensorflow:graph@gpu~aa"]


def test_the_plan_of_an_aa_run():
    from benchmarks.cli import build_parser
    from benchmarks.commands.run import plan_from_args
    plan = plan_from_args(build_parser("run").parse_args(["run", "--devices", "cpu", "--aa", "torch:eager"]))
    assert [c.id for c in plan.cases] == ["torch:eager@cpu", "torch:eager@cpu~aa"]
    assert plan.pairs == {"torch:eager@cpu~aa": "torch:eager@cpu"}
    assert plan.kind == "aa" and "A/A calibration" in plan.label  # never "full": never results/latest


def test_each_copy_is_compared_with_its_own_original(tmp_path):
    r = {"train_epoch": [[0.20, 0.21, 0.20], [0.22, 0.21, 0.21]]}
    t = {"train_epoch": [[0.40, 0.41, 0.40], [0.42, 0.41, 0.41]]}
    run = rundata.load_run(write_run(
        tmp_path / "aa", {"torch:eager@cpu": r, "torch:eager@cpu~aa": r,
                          "tensorflow:graph@cpu": t, "tensorflow:graph@cpu~aa": t},
        kind="aa", aa_pairs={"torch:eager@cpu~aa": "torch:eager@cpu",
                             "tensorflow:graph@cpu~aa": "tensorflow:graph@cpu"}))
    frame = rundata.summary(run).set_index("case")
    assert frame.loc["torch:eager@cpu~aa", "baseline"] == "torch:eager@cpu"
    assert frame.loc["tensorflow:graph@cpu~aa", "baseline"] == "tensorflow:graph@cpu"
    # identical rounds: ratio exactly 1, no difference
    assert frame.loc["tensorflow:graph@cpu~aa", "speedup"] == pytest.approx(1.0, abs=1e-12)
    # two processes a side cannot bound 5%: identical rounds still give "inconclusive", never a winner
    assert frame.loc["tensorflow:graph@cpu~aa", "verdict"] == stats.INCONCLUSIVE
    # an original carries no comparison of its own (it would be a real one, in a run that is not)
    assert frame.loc["tensorflow:graph@cpu", "baseline"] == "tensorflow:graph@cpu"
    assert frame.loc["tensorflow:graph@cpu", "verdict"] == "baseline"
    assert "A/A calibration" in rundata.kind_banner(run)


def test_a_pair_naming_no_case_of_the_run_is_refused(tmp_path):
    folder = write_run(tmp_path / "aa", {"torch:eager@cpu": {"train_epoch": [[0.2], [0.2]]}},
                       aa_pairs={"torch:eager@cpu~aa": "torch:eager@cpu"})
    with pytest.raises(UserError, match="'aa_pairs' pairs 'torch:eager@cpu~aa'"):
        rundata.load_run(folder)


def test_the_report_counts_the_false_positives_pair_by_pair(tmp_path):
    from benchmarks.reports import calibration, report
    r = {"train_epoch": [[0.20, 0.21, 0.20], [0.22, 0.21, 0.21]]}
    t = {"train_epoch": [[0.40, 0.41, 0.40], [0.42, 0.41, 0.41]]}
    slow = {"train_epoch": [[0.50, 0.51, 0.50], [0.52, 0.51, 0.51]]}  # a copy 25% slower: a false positive
    run = rundata.load_run(write_run(
        tmp_path / "aa", {"torch:eager@cpu": r, "torch:eager@cpu~aa": r, "tensorflow:graph@cpu": t,
                          "tensorflow:graph@cpu~aa": slow},
        kind="aa", aa_pairs={"torch:eager@cpu~aa": "torch:eager@cpu",
                             "tensorflow:graph@cpu~aa": "tensorflow:graph@cpu"}))
    frame = rundata.summary(run)
    lines = report.headline(run, frame)
    assert lines[0].startswith("On CPU, PyTorch (eager) (A/A copy) vs PyTorch (eager), training an epoch: inconclusive")
    assert lines[1].startswith("On CPU, TensorFlow (graph) trains an epoch 1.25x faster than TensorFlow (graph) (A/A copy)")
    (head, text) = calibration.aa_section(run, frame)
    assert head == "## A/A calibration"
    assert text.startswith("1 of 2 copy-against-original comparisons") and "(TensorFlow (graph) (A/A copy))." in text
    assert calibration.aa_section(rundata.load_run(write_run(tmp_path / "plain", {"torch:eager@cpu": r})),
                                  frame) == []
