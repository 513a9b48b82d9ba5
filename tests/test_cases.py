"""Cases: ids, expansion, the interleaved schedule, baseline pairing, and the phase registry
driving the worker and the report."""
from __future__ import annotations

import collections
from pathlib import Path

import pytest

from benchmarks.model import cases as cs
from benchmarks.model.phases import ALL_PHASES, FRAMEWORK_PHASES, PHASES, SHARED_PHASES
from shared.config import ExperimentConfig
from shared.errors import UserError


def test_case_ids_are_stable_and_parse_back():
    c = cs.parse_case("tf:xla", "cpu")
    assert c.id == "tensorflow:xla@cpu"
    assert cs.parse_case(c.id) == c
    d = cs.parse_case("torch@gpu[batch_size=300,hidden=50x50]")
    assert d.id == "torch:eager@gpu[batch_size=300,hidden=50x50]"
    assert d.overrides == (("batch_size", 300), ("hidden", (50, 50)))
    assert cs.parse_case(d.id) == d
    assert d.config(__import__("shared.config").config.ExperimentConfig()).batch_size == 300
    assert "/" not in d.slug and ":" not in d.slug and "@" not in d.slug


def test_expand_frameworks_and_devices():
    got = cs.expand("torch:eager,torch:fused,tensorflow", ["cpu", "gpu"])
    assert [c.id for c in got] == ["torch:eager@cpu", "torch:fused@cpu", "tensorflow:graph@cpu",
                                   "torch:eager@gpu", "torch:fused@gpu", "tensorflow:graph@gpu"]


@pytest.mark.parametrize("text, needle", [
    ("torch,torch:eager", "named twice"),
    ("torch:warp", "execution: eager, compile"),
    ("mxnet", "unknown framework"),
    ("jax:warp", "jax has no variant 'warp': choose from input: sparse; execution: jit, eager"),
    ("", "empty"),
    ("torch@gpu", "--devices"),
])
def test_bad_case_lists_are_user_errors(text, needle):
    with pytest.raises(UserError, match=needle):
        cs.expand(text, ["cpu"])


def test_bad_override_is_a_user_error():
    with pytest.raises(UserError, match="unknown setting"):
        cs.parse_case("torch@cpu[colour=red]")
    with pytest.raises(UserError, match="not a valid value"):
        cs.parse_case("torch@cpu[batch_size=big]")


def test_schedule_interleaves_and_rotates():
    cases = cs.expand("torch,tensorflow,torch:fused", ["cpu"])
    order = cs.schedule(cases, 3)
    assert len(order) == 9
    rounds = [order[i:i + 3] for i in range(0, 9, 3)]
    for k, rnd in enumerate(rounds):
        assert sorted(c.id for _, c in rnd) == sorted(c.id for c in cases), "each round runs every case once"
        assert {i for i, _ in rnd} == {k}
    # every case takes every position once over three rounds: drift favours none
    positions = collections.defaultdict(set)
    for rnd in rounds:
        for pos, (_, c) in enumerate(rnd):
            positions[c.id].add(pos)
    assert all(p == {0, 1, 2} for p in positions.values())
    with pytest.raises(UserError, match="at least 1"):
        cs.schedule(cases, 0)


def test_two_cases_alternate():
    a, b = cs.expand("torch,tensorflow", ["cpu"])
    assert [c for _, c in cs.schedule([a, b], 4)] == [a, b, b, a, a, b, b, a]


def test_baseline_pairing_with_many_cases():
    cases = cs.expand("tensorflow,torch:fused,torch,tensorflow:xla", ["cpu", "gpu"])
    base = cs.baselines(cases, None)
    assert base["cpu"].id == "torch:eager@cpu" and base["gpu"].id == "torch:eager@gpu"
    chosen = cs.baselines(cases, "tensorflow:xla")
    assert chosen["cpu"].id == "tensorflow:xla@cpu" and chosen["gpu"].id == "tensorflow:xla@gpu"
    only_tf = cs.expand("tensorflow,tensorflow:eager", ["cpu"])
    assert cs.baselines(only_tf, None)["cpu"].id == "tensorflow:graph@cpu"  # no PyTorch: the first case
    with pytest.raises(UserError, match="not in this run"):
        cs.baselines(cases, "tensorflow:eager")


def test_matrix_has_every_variant_default_first():
    from shared import registry
    got = cs.all_variants(["cpu"])
    for fw in registry.FRAMEWORKS:
        mine = [c for c in got if c.framework == fw]
        assert [c.variant for c in mine][0] == registry.default_variant(fw)
        assert {c.variant for c in mine} == set(registry.variants(fw)) | {
            registry.variant(fw, c).name for c in registry.matrix_variants(fw) if "+" in c}


def test_phase_registry_drives_the_worker_and_the_report():
    # one declaration per phase, with everything the worker and the report derive from it
    assert ALL_PHASES == FRAMEWORK_PHASES + SHARED_PHASES
    for name, p in PHASES.items():
        assert p.name == name and p.run is not None and p.label and p.verb and p.gerund and p.times
        assert p.rounds.rounds >= 1 and p.quick.rounds >= 1
    # the worker's plan holds exactly the registry's phases of its case's scope, with their rounds
    from benchmarks.model.cases import SHARED, Case
    from benchmarks.harness.runner import Plan, worker_plan
    plan = Plan(cfg=ExperimentConfig(threads=1), cases=[cs.parse_case("torch@cpu")], phases=list(ALL_PHASES))
    task = worker_plan(plan.cases[0], 2, plan, Path("x.result.json"))
    assert task["phases"] == list(FRAMEWORK_PHASES) and task["process_index"] == 2
    assert task["rounds"] == {p: vars(PHASES[p].rounds) for p in FRAMEWORK_PHASES}
    assert Case.from_dict(task["case"]) == plan.cases[0]
    shared = worker_plan(Case(SHARED, "data", "cpu"), 0, plan, Path("y.result.json"))
    assert shared["phases"] == list(SHARED_PHASES)
    # the report's words come from the registry
    from benchmarks.reports import report
    row = {"phase": "train_epoch", "device": "cpu", "speedup": 2.0, "speedup_low": 1.8, "speedup_high": 2.2,
           "processes": 3, "verdict": "faster", "label": "X"}
    assert PHASES["train_epoch"].verb in report.sentence(row, "Y")


def test_rounds_option_reaches_the_plan_over_the_matrix_defaults():
    # --rounds: per-process rounds for workloads whose rounds take minutes; it overrides the
    # matrix's own sizing and is what the workers are told (the manifest records plan.rounds_of)
    from benchmarks.cli import build_parser
    from benchmarks.commands.run import plan_from_args
    from benchmarks.model.phases import Rounds, rounds_for

    args = build_parser("run").parse_args(["run", "--devices", "cpu", "--matrix", "--rounds", "train_epoch=2+1,first_epoch=1"])
    plan = plan_from_args(args)
    assert plan.rounds_of("train_epoch") == Rounds(2, 1) and plan.rounds_of("first_epoch") == Rounds(1, 0)
    assert plan.rounds_of("predict_all") == Rounds(5, 1)  # the matrix's, untouched
    args = build_parser("run").parse_args(["run", "--devices", "cpu", "--phases", "predict_one,train_epoch",
                                           "--rounds", "predict_one=50+5"])
    plan = plan_from_args(args)
    assert plan.rounds_of("predict_one") == Rounds(50, 5) and plan.rounds_of("train_epoch") == rounds_for("train_epoch", False)


def _plan(*argv):
    from benchmarks.cli import build_parser
    from benchmarks.commands.run import plan_from_args
    return plan_from_args(build_parser("run").parse_args(["run", "--devices", "cpu", *argv]))


def test_per_item_overrides_are_honoured_and_named():
    # issue 16: expand replaced each item's own overrides with the global ones, so
    # torch[batch_size=300] ran at 150 under the label of 300
    plan = _plan("--frameworks", "torch[batch_size=300],tensorflow")
    torch, tf = plan.cases
    assert torch.id == "torch:eager@cpu[batch_size=300]" and tf.id == "tensorflow:graph@cpu"
    assert torch.config(plan.cfg).batch_size == 300 and tf.config(plan.cfg).batch_size == 150
    assert torch.to_dict()["overrides"] == {"batch_size": 300}  # what the manifest records for the case
    assert tf.to_dict()["overrides"] == {}
    # a case's own setting wins over the option given for every case; the other case takes the option
    plan = _plan("--frameworks", "torch[batch_size=300,hidden=50x50],tensorflow", "--batch-size", "200")
    torch, tf = plan.cases
    assert torch.id == "torch:eager@cpu[batch_size=300,hidden=50x50]"
    assert torch.config(plan.cfg).batch_size == 300 and torch.config(plan.cfg).settings.hidden == (50, 50)
    assert tf.config(plan.cfg).batch_size == 200
    # global overrides passed to expand merge with the item's, the item winning
    got = cs.expand("torch[batch_size=300],tensorflow", ["cpu"], overrides=(("batch_size", 64), ("epochs", 2)))
    assert [c.overrides for c in got] == [(("batch_size", 300), ("epochs", 2)), (("batch_size", 64), ("epochs", 2))]
