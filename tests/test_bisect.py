"""`fwbench bisect`: the walk from the reference script to the plain script and the twin turns one
switch per step, each step is compared with the one before (probes with the step they name), and the
figures are the suite's ratios of warm-epoch medians."""
from __future__ import annotations

import math

import pytest

from benchmarks.plain import bisect
from shared.errors import UserError
from tests.conftest import fwbench, one_stderr_line


def test_each_walk_step_changes_one_thing_and_is_compared_with_the_one_before():
    planned = bisect.plan(None, probes=True)
    walk = [p for p in planned if not p.step.probe]
    assert [p.step.name for p in walk] == [s.name for s in bisect.WALK]
    assert walk[0].base is None and all(b.base == a.step.name for a, b in zip(walk, walk[1:]))
    for a, b in zip(walk, walk[1:]):
        if a.step.kind == b.step.kind == "walk":
            # one switch turned, or the environment changed, never both, never nothing
            changed = (len(b.switches) - len(a.switches) == 2 or b.switches[-1:] == ("--ftz",)) + (a.env != b.env)
            assert changed == 1, (a.step.name, b.step.name)
            assert b.switches[:len(a.switches)] == a.switches
    # the walk's last step is the plain script's settings, in fwbench's worker environment
    last = next(p for p in walk if p.step.name == "fwbench-env")
    assert dict(zip(last.switches[::2], last.switches[1::2])) == {
        "--test-dense": "none", "--imports": "fwbench", "--data": "fwbench", "--batches": "plain", "--order": "plain",
        "--init": "shared", "--model": "sequential", "--loop": "stack"}
    assert last.env == "fwbench" and walk[0].env == "bare"


def test_a_probe_adds_one_thing_to_its_base():
    by = {p.step.name: p for p in bisect.plan(None, probes=True)}
    assert by["tensorflow-imported"].switches == by["walk-as-reference"].switches + ("--imports", "tensorflow")
    assert by["thp-allocator"].switches == by["fwbench-env"].switches
    assert by["thp-allocator"].extra_env == (("THP_MEM_ALLOC_ENABLE", "1"),) and by["thp-allocator"].env == "fwbench"
    assert by["reference-in-fwbench-env"].env == "fwbench" and by["reference-in-fwbench-env"].base == "reference"


def test_a_subset_walks_between_the_steps_named():
    planned = bisect.plan(["reference", "fwbench-data", "plain", "ftz", "walk-as-reference"], probes=True)
    assert [(p.step.name, p.base) for p in planned] == [
        ("reference", None), ("walk-as-reference", "reference"), ("fwbench-data", "walk-as-reference"),
        ("plain", "fwbench-data"), ("ftz", "walk-as-reference")]


@pytest.mark.parametrize("names,probes,fragment", [
    (["reference", "nope"], True, "no step nope"),
    (["reference", "ftz"], True, "probe ftz is compared with walk-as-reference: name walk-as-reference too"),
    (["reference", "walk-as-reference", "ftz"], False, "--no-probes leaves probes out"),
    (["plain"], True, "at least two steps"),
])
def test_bad_step_lists_are_refused(names, probes, fragment):
    with pytest.raises(UserError) as e:
        bisect.plan(names, probes)
    assert fragment in str(e.value)


def _step(name, base, warm, probe=False, failed=None, losses=None):
    return {"name": name, "change": f"{name} change", "probe": probe, "base": base, "failed": failed,
            "runs": [{"epoch_seconds": [9.0, t, t, t], "epoch_last_loss": losses} for t in warm]}


def test_figures_are_ratios_of_warm_epoch_medians_to_the_base_and_to_the_reference():
    rows = {r["name"]: r for r in bisect.summarise([
        _step("reference", None, [1.25, 1.25]), _step("walk-as-reference", "reference", [1.25, 1.25]),
        _step("fwbench-data", "walk-as-reference", [1.5, 1.5]), _step("plain", "fwbench-data", [1.53, 1.53]),
        _step("ftz", "walk-as-reference", [1.0, 1.0], probe=True)])}
    assert rows["reference"]["vs_base"] is None and rows["reference"]["vs_reference"] is None
    assert rows["walk-as-reference"]["vs_base"]["verdict"].startswith("equivalent")
    assert rows["fwbench-data"]["vs_base"]["ratio"]["value"] == pytest.approx(1.2)
    assert rows["fwbench-data"]["vs_base"]["verdict"] == "slower than step walk-as-reference by more than 5%"
    assert rows["plain"]["vs_base"]["ratio"]["value"] == pytest.approx(1.02)
    assert rows["plain"]["vs_reference"]["ratio"]["value"] == pytest.approx(1.224)
    assert rows["ftz"]["vs_base"]["ratio"]["value"] == pytest.approx(0.8)
    assert rows["plain"]["epoch_s"]["value"] == pytest.approx(1.53)


def test_spread_gives_the_suites_interval_and_one_process_none():
    from scipy import stats as st
    import numpy as np
    rows = bisect.summarise([_step("reference", None, [1.0, 1.0, 1.0]), _step("b", "reference", [0.9, 1.0, 1.1])])
    lr = np.log([0.9, 1.0, 1.1])
    h = st.t.ppf(0.975, 2) * lr.std(ddof=1) / math.sqrt(3)
    r = rows[1]["vs_base"]["ratio"]
    assert (r["low"], r["high"]) == (pytest.approx(math.exp(lr.mean() - h)), pytest.approx(math.exp(lr.mean() + h)))
    one = bisect.summarise([_step("reference", None, [1.0]), _step("b", "reference", [1.1])])
    assert one[1]["vs_base"]["ratio"]["low"] is None and one[1]["vs_base"]["verdict"].startswith("no interval")


def test_loss_agreement_says_whether_two_steps_trained_the_same_thing():
    rows = bisect.summarise([_step("reference", None, [1.0, 1.0], losses=[1.0, 0.5]),
                             _step("walk-as-reference", "reference", [1.0, 1.0], losses=[1.0, 0.5]),
                             _step("shared-init", "walk-as-reference", [1.0, 1.0], losses=[1.1, 0.5])])
    assert rows[1]["loss_rel_diff"] == 0.0
    assert rows[2]["loss_rel_diff"] == pytest.approx(0.1)


def test_report_names_the_machine_and_marks_failed_steps():
    doc = {"pairs": 2, "epochs": 4, "threads": 2, "tolerance": 0.05, "command": "fwbench bisect --pairs 2",
           "started": "2026-01-01T00:00:00+00:00", "seconds": 1.0,
           "environment": {"cpu": "Test CPU 9000", "host": "box", "cores_usable": 2},
           "steps": [{**_step("reference", None, [1.25, 1.25]), "env": "bare", "extra_env": [], "argv": ["python", "r.py"]},
                     {**_step("walk-as-reference", "reference", [1.5, 1.5]), "env": "bare",
                      "extra_env": [["X", "1"]], "argv": ["python", "-m", "w"]},
                     {**_step("plain", "walk-as-reference", [], failed="round 1: exit 1: boom"), "env": "fwbench",
                      "extra_env": [], "argv": ["python", "-m", "p"]}]}
    text = bisect.render(doc)
    assert "Machine: Test CPU 9000 (box, 2 usable cores)" in text
    assert "| walk-as-reference | walk-as-reference change | reference | 1.5 s | 1.20 (1.20-1.20) | slower than step " \
           "reference by more than 5% | 1.20 (1.20-1.20) |" in text
    assert "| plain | plain change | walk-as-reference | failed: round 1: exit 1: boom |" in text
    assert "- walk-as-reference (environment bare, X=1): ` python -m w `" in text


def _doc():
    return {"kind": "bisect", "pairs": 2, "epochs": 4, "threads": 2, "tolerance": 0.05,
            "command": "fwbench bisect --pairs 2", "started": "2026-01-01T00:00:00+00:00", "seconds": 1.0,
            "environment": {"cpu": "Test CPU 9000", "host": "box", "cores_usable": 2},
            "steps": [{**_step("reference", None, [1.0, 1.0]), "env": "bare", "extra_env": [], "argv": ["r"]},
                      {**_step("walk-as-reference", "reference", [1.0, 1.1]), "env": "bare", "extra_env": [],
                       "argv": ["w"]},
                      {**_step("plain", "walk-as-reference", [1.25, 1.25]), "env": "fwbench", "extra_env": [],
                       "argv": ["p"]},
                      {**_step("twin", "plain", [1.25, 1.25]), "env": "fwbench", "extra_env": [], "argv": ["t"]},
                      {**_step("thp-allocator", "plain", [1.0, 1.0], probe=True), "env": "fwbench",
                       "extra_env": [["THP_MEM_ALLOC_ENABLE", "1"]], "argv": ["w"]}]}


def test_readme_lines_name_the_machine_the_sides_and_only_the_decided_steps():
    lines = bisect.readme_lines(_doc(), "results/b/report.md")
    assert lines[0] == ("- **Test CPU 9000, 2 threads, 2026-01-01; 2 rounds of 5 steps ([report](results/b/report.md)).** "
                        "Warm epoch: reference 1 s, plain 1.25 s, twin 1.25 s.")
    assert lines[1] == "  Twin / reference 1.25 (1.25-1.25): slower than step reference by more than 5%."
    # walk-as-reference (1.0 and 1.1 against 1.0) and plain are inconclusive: counted, not listed
    assert lines[2:] == [
        "  Step `twin` (twin change) against `plain`: 1.00 (1.00-1.00), equivalent: as fast as step plain "
        "(within 5%, 90% CI 1.00-1.00).",
        "  Probe `thp-allocator` (thp-allocator change) against `plain`: 0.80 (0.80-0.80), faster than step plain by "
        "more than 5%.",
        "  2 of 3 walk steps inconclusive against the step before."]


def test_report_option_rewrites_markdown_and_html_from_the_record(tmp_path):
    import json
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / bisect.BISECT_FILE).write_text(json.dumps(_doc()))
    p = fwbench("bisect", "--report", str(folder), cache=tmp_path / "cache")
    assert p.returncode == 0, p.stderr
    md = (folder / "report.md").read_text()
    assert "Machine: Test CPU 9000" in md and (folder / "report.html").is_file()
    from benchmarks.reports.model import REPORT_VERSION, written_version
    assert written_version(md) == REPORT_VERSION
    (folder / bisect.BISECT_FILE).write_text("{not json")
    assert "not readable JSON" in one_stderr_line(fwbench("bisect", "--report", str(folder), cache=tmp_path / "c"), 2)


def test_cli_missing_reference_dir_is_one_line(tmp_path):
    p = fwbench("bisect", "--reference-dir", str(tmp_path / "nowhere"), "--pairs", "1", "--output", str(tmp_path / "o"),
                cache=tmp_path / "cache")
    assert "no ref_torch.py and common.py there" in one_stderr_line(p, 2)
    assert not (tmp_path / "o").exists()


def test_cli_lists_the_steps_without_timing(tmp_path):
    p = fwbench("bisect", "--list", cache=tmp_path / "cache")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].startswith("reference") and "probe thp-allocator" in p.stdout


@pytest.mark.corpus
def test_the_walks_last_step_trains_what_the_plain_script_trains(tutorial_data, archive_path, corpus_cache, tmp_path):
    """The walk with every switch on fwbench's side, from the suite's weights, gives the plain script's
    first-epoch step losses: the walk ends where the plain script is (the reference's end is checked
    by every bisection run, against the reference itself, in its loss column)."""
    import json
    import os
    import subprocess
    import sys

    import numpy as np

    from benchmarks.plain.common import save_arrays
    from shared.workloads.base import flatten
    from shared import training
    from shared.config import ExperimentConfig
    from tests.conftest import REPO
    save_arrays(tmp_path / "w.npz", flatten(training.start_weights(ExperimentConfig(), tutorial_data)))
    env = {**os.environ, "FWBENCH_CACHE": str(corpus_cache)}
    last = next(p for p in bisect.plan(None, probes=False) if p.step.name == "fwbench-env")
    common = ["--threads", "2", "--epochs", "1", "--weights", str(tmp_path / "w.npz"), "--archive", str(archive_path)]
    walk = subprocess.run([sys.executable, "-m", "benchmarks.plain.walk_torch", *common, *last.switches],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert walk.returncode == 0, walk.stderr[-2000:]
    walk_losses = json.loads(walk.stdout.split("RESULT ", 1)[1])["first_epoch_losses"]
    plain = subprocess.run([sys.executable, "-m", "benchmarks.plain.torch_script", *common, "--json",
                            str(tmp_path / "p.json")], capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert plain.returncode == 0, plain.stderr[-2000:]
    plain_losses = json.loads((tmp_path / "p.json").read_text())["epoch_losses"][0]
    assert len(walk_losses) == len(plain_losses) == 11
    np.testing.assert_allclose(walk_losses, plain_losses, rtol=1e-6)
