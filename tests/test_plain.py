"""The plain-script baseline (benchmarks/plain/): every framework has a plain script for every
workload, offering its twin's variants; each plain script, started from the suite's shared initial
weights, computes what its twin computes (the same first-epoch step losses: the MLP's here, every
variant; the other workloads' in tests/test_workload_<name>.py), so `fwbench plain` compares the
speed of like with like; its summary figures are the suite's process-level ratio; and its bad
input is one line."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.plain import check, summary
from benchmarks.plain.common import save_arrays
from shared.workloads.base import flatten
from shared import registry, training, workloads
from shared.config import ExperimentConfig
from shared.errors import Unavailable, UserError
from tests.conftest import REPO, fwbench, one_stderr_line

SCRIPTS = check._scripts("mlp")
CASES = [(fw, v) for fw in SCRIPTS for v in check._script_variants(fw, "mlp")]


@pytest.mark.corpus
@pytest.mark.parametrize("fw,variant", CASES, ids=[f"{fw}:{v}" for fw, v in CASES])
def test_plain_script_and_twin_compute_the_same_first_epoch(fw, variant, tutorial_data, archive_path, corpus_cache,
                                                            tmp_path):
    cfg = ExperimentConfig()
    registry.runtime(fw).configure(cfg.thread_count, "cpu")
    weights = training.start_weights(cfg, tutorial_data)
    try:
        twin = training.build(registry.twin_class(fw), cfg, tutorial_data, variant, weights)
    except Unavailable as e:
        pytest.skip(f"{fw}:{variant} is unavailable here: {e}")
    twin_losses = training.run_epoch(twin, training.device_epochs(twin, cfg, tutorial_data)[0])
    twin_flushes = registry.runtime(fw).flushes_denormals("cpu")  # what bare_loop reads back for the twin
    save_arrays(tmp_path / "w.npz", flatten(weights))
    out = tmp_path / "plain.json"
    env = {**os.environ, "FWBENCH_CACHE": str(corpus_cache)}
    p = subprocess.run([sys.executable, "-m", SCRIPTS[fw], "--variant", variant, "--epochs", "1",
                        "--threads", str(cfg.thread_count), "--weights", str(tmp_path / "w.npz"),
                        "--archive", str(archive_path), "--json", str(out)],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    plain = json.loads(out.read_text())
    plain_losses = np.array(plain["epoch_losses"][0])
    assert plain_losses.shape == twin_losses.shape == (11,)
    rel = np.abs(plain_losses - twin_losses) / np.abs(twin_losses)
    print(f"{fw}:{variant}: max relative step-loss difference {rel.max():.2e}")
    assert rel.max() <= check.LOSS_RTOL, (plain_losses, twin_losses)
    # the read-back each side records: the thread budget, and the flush state its variant asks for,
    # the twin's (XLA's threads flush denormals, in TensorFlow and JAX; PyTorch's only with ftz)
    assert plain["read_back"]["intra_op_threads"] == cfg.thread_count
    assert plain["read_back"]["flush_denormal"] == twin_flushes == (fw != "torch" or variant == "ftz")


# --- every framework, every workload: a plain script offering its twin's variants ------------------

WORKLOAD_SCRIPTS = [(w, fw) for w in workloads.WORKLOADS for fw in registry.BUILTIN]


@pytest.mark.parametrize("workload,fw", WORKLOAD_SCRIPTS, ids=[f"{w}-{fw}" for w, fw in WORKLOAD_SCRIPTS])
def test_every_framework_has_a_plain_script_with_its_twins_variants(workload, fw):
    """Its default variant first (a case named by its framework alone, e.g. jax, runs the script's
    default), and only variants of its twin that the workload's input takes (the twin runs the same case)."""
    assert fw in check._scripts(workload), f"{workload} has no plain script for {fw}"
    variants = check._script_variants(fw, workload)
    assert variants[0] == registry.default_variant(fw)
    for v in variants:
        assert registry.variant(fw, v).input in workloads.get(workload).variant_inputs, (fw, v)
    assert len(set(variants)) == len(variants)


def test_default_cases_are_every_variant_of_every_plain_script():
    from benchmarks.model.cases import parse_case
    for w in workloads.WORKLOADS:
        ids = [c.id for c in check._cases(check.default_cases(w), w)]
        assert ids == [parse_case(f"{fw}:{v}", "cpu").id for fw in check._scripts(w)
                       for v in check._script_variants(fw, w)]
        assert {"torch:eager@cpu", "tensorflow:graph@cpu", "jax:jit@cpu", "jax:eager@cpu"} <= set(ids), ids
    assert "jax:sparse" in check.default_cases("mlp").split(",")
    assert "sparse" not in check.default_cases("textcnn")  # token ids reach no network as a sparse matrix


@pytest.mark.parametrize("workload,fw", WORKLOAD_SCRIPTS, ids=[f"{w}-{fw}" for w, fw in WORKLOAD_SCRIPTS])
def test_a_plain_script_refuses_a_variant_it_does_not_have(workload, fw, tmp_path):
    p = subprocess.run([sys.executable, "-m", check._scripts(workload)[fw], "--variant", "no-such", "--threads", "1"],
                       capture_output=True, text=True, cwd=REPO, timeout=300,
                       env={**os.environ, "FWBENCH_CACHE": str(tmp_path / "cache")})
    assert p.returncode == 2 and "invalid choice: 'no-such'" in p.stderr, p.stderr[-2000:]
    assert "Traceback" not in p.stderr


def _pairs(plain_medians, twin_medians):
    """Process pairs whose warm epochs all equal the given per-process figure."""
    losses = [[1.0, 0.5]]
    return [{"plain": {"epoch_seconds": [9.0, p, p, p], "epoch_losses": losses, "read_back": {}},
             "twin": {"epoch_seconds": [9.0, t, t, t], "epoch_losses": losses, "read_back": {}}}
            for p, t in zip(plain_medians, twin_medians)]


def test_summary_is_the_process_level_ratio_without_the_first_epoch():
    s = summary.summarise("torch:eager@cpu", _pairs([1.0, 2.0], [1.1, 2.2]))
    # per process the median of the warm epochs (the 9.0 s first epoch left out); geometric means
    assert s["plain_s"]["value"] == pytest.approx(2 ** 0.5)
    assert s["twin_s"]["value"] == pytest.approx(1.1 * 2 ** 0.5)
    assert s["ratio"]["value"] == pytest.approx(1.1)
    assert s["processes"] == 2
    assert s["first_epoch_loss_max_rel_diff"] == 0.0
    # unpaired (Welch), as every ratio of the suite: the processes' own spread widens the interval
    assert s["ratio"]["low"] < 1.0 < s["ratio"]["high"]
    assert s["verdict"].startswith("inconclusive")


@pytest.mark.parametrize("twin,verdict", [
    ([1.00, 1.01, 0.99], "equivalent: as fast as the plain script (within 5%, 90% CI"),
    ([1.2, 0.9, 1.0], "inconclusive: the interval reaches beyond 5% of 1; the check could detect only"),
    ([1.10, 1.11, 1.09], "slower than the plain script by more than 5%"),
    ([0.90, 0.91, 0.89], "faster than the plain script by more than 5%"),
])
def test_summary_verdicts(twin, verdict):
    s = summary.summarise("torch:eager@cpu", _pairs([1.0, 1.0, 1.0], twin))
    assert s["verdict"].startswith(verdict)


def test_summary_loss_difference_is_relative_and_the_largest():
    pairs = _pairs([1.0, 1.0], [1.0, 1.0])
    pairs[1]["twin"]["epoch_losses"] = [[1.0, 0.5005]]
    assert summary.summarise("torch:eager@cpu", pairs)["first_epoch_loss_max_rel_diff"] == pytest.approx(1e-3)


@pytest.mark.parametrize("args,fragment", [
    (["--cases", "tensorflow:fused"], "tensorflow has no variant 'fused'"),
    (["--cases", "jax:xla"], "jax has no variant 'xla'"),
    (["--workload", "textcnn", "--cases", "jax:sparse"], "the plain jax script has no variant 'sparse'"),
    (["--cases", "jax,jax:jit"], "named twice"),
    (["--cases", "torch@gpu"], "CPU only"),
    (["--cases", "torch,torch:eager"], "named twice"),
    (["--cases", "torch[batch_size=300]"], "no setting overrides"),
    (["--processes", "1"], "at least 2"),
    (["--epochs", "1"], "at least 2"),
])
def test_bad_input_is_one_line(args, fragment, tmp_path):
    p = fwbench("plain", *args, "--output", str(tmp_path / "out"), cache=tmp_path / "cache")
    assert fragment in one_stderr_line(p, 2)
    assert not (tmp_path / "out").exists()


def _run_with_flush(tmp_path, flush: dict):
    from benchmarks.analysis import rundata
    from tests.runfolders import write_run
    folder = write_run(tmp_path / "run", {"torch:eager@cpu": {"train_epoch": [[1.0, 1.1], [1.0, 1.2]]},
                                          "tensorflow:graph@cpu": {"train_epoch": [[0.5, 0.6], [0.5, 0.55]]}})
    mpath = folder / rundata.MANIFEST
    m = json.loads(mpath.read_text())
    for w in m["workers"]:
        if w["case"] in flush:
            w["runtime"]["flush_denormal"] = flush[w["case"]]
    mpath.write_text(json.dumps(m))
    return folder


def test_report_shows_each_cases_measured_flush_state_and_says_why_it_matters(tmp_path):
    from benchmarks.reports import report
    text = report.write_report(_run_with_flush(tmp_path, {"torch:eager@cpu": False,
                                                           "tensorflow:graph@cpu": True})).read_text()
    assert "| denormals flushed (measured) |" in text.replace("TF32 | denormals", "| denormals")
    assert "flushed to zero in `tensorflow:graph@cpu`, computed in full elsewhere" in text


def test_no_flush_note_when_every_case_treats_denormals_alike(tmp_path):
    from benchmarks.reports import report
    text = report.write_report(_run_with_flush(tmp_path, {"torch:eager@cpu": True,
                                                           "tensorflow:graph@cpu": True})).read_text()
    assert "computed in full elsewhere" not in text


def test_a_run_report_holds_the_plain_check_attached_to_it(tmp_path):
    from benchmarks.reports import report
    folder = _run_with_flush(tmp_path, {})
    doc = {"kind": "plain-check", "command": "fwbench plain --into X", "init": "shared", "epochs": 4,
           "processes": 2, "threads": 2, "tolerance": 0.05, "started": "2026-01-01T00:00:00+00:00",
           "seconds": 10.0, "environment": {"cpu": "Test CPU"},
           "results": [summary.summarise("torch:eager@cpu", _pairs([2.0, 2.0], [2.2, 2.2]))]}
    (folder / "plain.json").write_text(json.dumps(doc))
    text = report.write_report(folder).read_text()
    assert "## Twin against plain script" in text
    assert "| PyTorch (eager) | ` torch:eager@cpu ` | 2 s | 2.2 s | 1.10 (1.10-1.10) | slower than the plain script" in text
    (folder / "plain.json").write_text("{not json")
    with pytest.raises(UserError, match="unreadable plain-script check"):
        report.write_report(folder)


def test_report_says_how_threads_were_set_where_a_framework_has_no_thread_api(tmp_path):
    from benchmarks.reports import report
    folder = _run_with_flush(tmp_path, {})
    m = json.loads((folder / "manifest.json").read_text())
    for w in m["workers"]:
        if w["case"] == "tensorflow:graph@cpu":
            w["runtime"]["extra"] = {"thread_setting": "POOL=2, set before the client", "thread_readback": "measured: 2"}
    (folder / "manifest.json").write_text(json.dumps(m))
    text = report.write_report(folder).read_text()
    assert "- ` tensorflow:graph@cpu `: threads POOL=2, set before the client; read back: measured: 2" in text


def test_all_pairs_together_give_one_paired_interval():
    # per pair log(twin/plain): log 1.0, 1.1, 0.9 and 1.0 (twice over two cases)
    by_case = {"a": _pairs([1.0, 1.0], [1.0, 1.1]), "b": _pairs([1.0, 1.0], [0.9, 1.0])}
    o = summary.overall(by_case)
    logs = np.log([1.0, 1.1, 0.9, 1.0])
    from scipy import stats as st
    h = st.t.ppf(0.975, 3) * logs.std(ddof=1) / 2
    assert o["ratio"] == pytest.approx(np.exp(logs.mean()))
    assert (o["low"], o["high"]) == (pytest.approx(np.exp(logs.mean() - h)), pytest.approx(np.exp(logs.mean() + h)))
    assert (o["pairs"], o["cases"]) == (4, 2) and o["verdict"].startswith("inconclusive")
    # the pairs that would decide: the smallest n with t(0.95, n - 1) * sd / sqrt(n) <= log 1.05
    sd = logs.std(ddof=1)
    need = next(n for n in range(2, 1000) if st.t.ppf(0.95, n - 1) * sd / np.sqrt(n) <= np.log(1.05))
    assert o["verdict"] == (f"inconclusive: the interval reaches beyond 5% of 1; the check could detect only "
                            f"differences beyond {np.exp(h) - 1:.0%}; about {need} pairs would decide equivalence "
                            f"within 5%")
    tight = summary.overall({"a": _pairs([1.0] * 4, [1.0, 1.01, 0.99, 1.0])})
    assert tight["high"] < 1.05 and tight["verdict"].startswith("equivalent: as fast as the plain scripts")
    # perhaps more than 5% faster, surely not 5% slower: inconclusive, and fair by the one-sided bar
    quick = summary.overall({"a": _pairs([1.0] * 4, [0.9, 1.0, 0.95, 0.97])})
    assert quick["low"] < 1 / 1.05 < quick["ratio"] and quick["high"] < 1.05
    assert quick["verdict"].startswith("inconclusive") and \
        quick["verdict"].endswith(f"; at most 5% slower than the plain scripts (the interval ends at {quick['high']:.2f})")


def test_report_mode_rewrites_the_report_and_refuses_timing_options(tmp_path):
    folder = tmp_path / "check"
    folder.mkdir()
    doc = {"kind": "plain-check", "command": "fwbench plain", "init": "own", "epochs": 4, "processes": 2,
           "threads": 2, "tolerance": 0.05, "results": [summary.summarise("torch:eager@cpu", _pairs([2.0, 2.0], [2.2, 2.2]))],
           "pairs": {"torch:eager@cpu": _pairs([2.0, 2.0], [2.2, 2.2])}}
    (folder / "plain.json").write_text(json.dumps(doc))
    p = fwbench("plain", "--report", str(folder), cache=tmp_path / "cache")
    assert p.returncode == 0, p.stderr
    text = (folder / "report.md").read_text()
    assert "# Twin against plain script" in text and "1.10 (1.10-1.10)" in text
    assert "All cases together (1 case, 2 process pairs" in text
    p = fwbench("plain", "--report", str(folder), "--processes", "5", cache=tmp_path / "cache")
    assert "times nothing: drop --processes" in one_stderr_line(p, 2)


def test_a_framework_not_installed_is_left_out_of_the_defaults_and_refused_by_name(monkeypatch):
    """JAX is an optional install: without it the default cases leave its scripts out and say so in
    one line; a case that names it is refused before anything is timed."""
    monkeypatch.setattr(check, "installed", lambda fw: fw != "jax")
    said = []
    cases = check.default_cases("textcnn", said.append).split(",")
    assert cases and not any(c.startswith("jax") for c in cases) and any(c.startswith("torch") for c in cases)
    assert said == ["plain: leaving out jax's plain scripts: jax is not installed in this environment: "
                    "pip install -e '.[jax]' (CPU jaxlib), or `make venv`"]
    with pytest.raises(UserError, match=r"case 'jax:eager': jax is not installed in this environment: pip install"):
        check._cases("torch,jax:eager", "textcnn")
