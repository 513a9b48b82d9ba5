"""End-of-training parity, judged statistically (training is chaotic), and `fwbench check`'s
exit codes. The full runs reuse `fwbench check`'s own code (shared/parity.run_check), so the
test and the command judge by the same rules; each mode is trained once per session."""
from __future__ import annotations

import json

import numpy as np
import pytest

from shared import metrics, parity, registry
from benchmarks.cli import main_entry
from benchmarks.commands import check
from shared.config import ExperimentConfig

FRAMEWORKS = ("torch", "tensorflow")
CASES = ("torch:eager", "tensorflow:graph")  # each framework's default variant


def _check(mode: str, seeds: int, data) -> dict:
    cfg = ExperimentConfig(optimizer=mode)
    for fw in FRAMEWORKS:
        registry.runtime(fw).configure(cfg.thread_count, cfg.device)
    return parity.run_check(cfg, data, FRAMEWORKS, seeds)


@pytest.fixture(scope="session")
def strict_runs(tutorial_data):
    return _check("strict", 3, tutorial_data)


@pytest.fixture(scope="session")
def native_runs(tutorial_data):
    return _check("native", 5, tutorial_data)


@pytest.mark.slow
@pytest.mark.corpus
def test_strict_full_runs_agree(strict_runs, capsys):
    with capsys.disabled():
        print("\n" + check.format_report(strict_runs))
    agree = [s["agreement"] for s in strict_runs["per_seed"]]
    diffs = [abs(s["accuracy_difference"]) for s in strict_runs["per_seed"]]
    assert np.median(agree) >= 0.97, f"median prediction agreement {np.median(agree):.4f} < 0.97 (per seed {agree})"
    assert np.median(diffs) <= 0.01, f"median |accuracy difference| {np.median(diffs):.4f} > 0.01 (per seed {diffs})"
    assert strict_runs["holds"], check.format_report(strict_runs)


@pytest.mark.slow
@pytest.mark.corpus
def test_native_accuracy_over_five_seeds(native_runs, capsys):
    with capsys.disabled():
        print("\n" + check.format_report(native_runs))
    assert native_runs["cases"] == list(CASES)
    acc = {c: native_runs["accuracy"][c]["values"] for c in CASES}
    for c in CASES:
        assert len(acc[c]) == 5
        assert np.mean(acc[c]) >= 0.88, f"{c} mean test accuracy {np.mean(acc[c]):.4f} < 0.88 over seeds 0-4: {acc[c]}"
    ci = native_runs["difference_of_means"]
    expected = metrics.welch_interval(acc[CASES[0]], acc[CASES[1]])
    assert ci is not None and ci["low"] <= ci["difference"] <= ci["high"] and np.isfinite(ci["high"] - ci["low"])
    assert (ci["low"], ci["high"]) == pytest.approx((expected.low, expected.high))
    # Not asserted: the check's "interval contains 0" rule, which by design fails ~5% of the
    # time for equal frameworks; the issue asks this test for the accuracies and the interval.


# --- fwbench check on the tiny archive: wiring, JSON, exit codes ---------------------------

@pytest.fixture
def tiny_check_args(tiny_archive, tmp_path, monkeypatch):
    monkeypatch.setenv("FWBENCH_CACHE", str(tmp_path / "cache"))
    return ["check", "--archive", str(tiny_archive), "--hidden", "16,16", "--batch-size", "8", "--epochs", "2"]


def test_check_passes_and_writes_json(tiny_check_args, tmp_path, capsys):
    out = tmp_path / "out" / "parity.json"
    assert main_entry(tiny_check_args + ["--seeds", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Parity HOLDS" in text and "95% CI" in text
    res = json.loads(out.read_text())
    assert res["holds"] and res["seeds"] == [0, 1] and res["optimizer"] == "strict"
    assert [p.name for p in out.parent.iterdir()] == ["parity.json"]  # no temp file left behind


def test_check_exits_1_when_a_rule_fails(tiny_check_args, monkeypatch, capsys):
    monkeypatch.setattr(metrics, "STRICT_MIN_MEDIAN_AGREEMENT", 1.01)  # unreachable
    assert main_entry(tiny_check_args + ["--seeds", "1"]) == 1
    assert "Parity does NOT hold" in capsys.readouterr().out


def test_check_compares_two_variants_of_one_framework(tiny_check_args, tmp_path, capsys):
    """--cases keys every figure by case id, so two variants of one framework do not collide."""
    out = tmp_path / "parity.json"
    assert main_entry(tiny_check_args + ["--cases", "torch:eager,torch:sparse", "--seeds", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "torch:eager vs torch:sparse" in text and "PyTorch (eager, sparse input)" in text
    res = json.loads(out.read_text())
    assert res["cases"] == ["torch:eager", "torch:sparse"]
    seed = res["per_seed"][0]
    assert set(seed["cases"]) == {"torch:eager", "torch:sparse"}
    assert [seed["cases"][c]["variant"] for c in res["cases"]] == ["eager", "sparse"]
    assert seed["first_epoch_step_loss_max_rel"] <= metrics.STRICT_STEP_LOSS_RTOL
    assert set(res["accuracy"]) == {"torch:eager", "torch:sparse"}


def test_check_old_options_are_the_same_cases(tiny_check_args, tmp_path):
    """--frameworks/--variant still work: they name the same cases as --cases."""
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    assert main_entry(tiny_check_args + ["--frameworks", "tf,pytorch", "--variant", "tensorflow=eager",
                                         "--seeds", "1", "--json", str(old)]) == 0
    assert main_entry(tiny_check_args + ["--cases", "tensorflow:eager,torch", "--seeds", "1", "--json", str(new)]) == 0
    a, b = json.loads(old.read_text()), json.loads(new.read_text())
    assert a["cases"] == b["cases"] == ["tensorflow:eager", "torch:eager"]
    assert a["per_seed"][0]["first_epoch_step_loss_max_rel"] == b["per_seed"][0]["first_epoch_step_loss_max_rel"]


@pytest.mark.parametrize("extra, message", [
    (["--seeds", "0"], "--seeds must be at least 1"),
    (["--optimizer", "native", "--seeds", "1"], "at least 2"),
    (["--frameworks", "torch"], "two different frameworks"),
    (["--frameworks", "torch,jax"], "unknown framework 'jax'"),
    (["--variant", "tensorflow"], "FRAMEWORK=NAME"),
    (["--variant", "tensorflow=warp"], "no variant 'warp'"),
    (["--cases", "torch"], "two cases"),
    (["--cases", "torch:eager,torch"], "two different cases"),
    (["--cases", "torch:warp,tensorflow"], "torch has no variant 'warp': choose from eager, fused, compile, sparse"),
    (["--cases", "jax:eager,torch"], "unknown framework 'jax'"),
    (["--cases", "torch,tensorflow", "--variant", "tensorflow=xla"], "give it alone"),
])
def test_check_bad_input_exits_2(tiny_check_args, extra, message, capsys):
    assert main_entry(tiny_check_args + extra) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, f"not one line: {err}"


def test_check_on_an_absent_gpu_exits_2(tiny_check_args, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: asking for it is not bad input here")
    assert main_entry(tiny_check_args + ["--device", "gpu"]) == 2
    err = capsys.readouterr().err
    assert "GPU was asked for" in err and "--device cpu" in err and "Traceback" not in err, err
