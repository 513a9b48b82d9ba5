"""Workloads are folders: the registry, the configuration they give, the run folders that name
them, and the proof that a workload kept outside the tree runs through the harness and the
report without a line of the harness, the analysis or the reports naming it."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shared import registry, workloads
from shared.config import ExperimentConfig
from shared.errors import UserError
from tests.conftest import REPO, fwbench, one_stderr_line

# --- the registry ---------------------------------------------------------------------------


def test_the_default_workload_is_the_tutorials_mlp():
    w = workloads.get()
    assert w.name == workloads.DEFAULT_WORKLOAD == ExperimentConfig().workload
    assert ExperimentConfig().settings == w.settings({})
    assert (ExperimentConfig().learning_rate, ExperimentConfig().batch_size, ExperimentConfig().epochs) == (0.01, 150, 10)


def test_every_registered_workload_declares_what_the_harness_needs():
    for name in workloads.names():
        w = workloads.get(name)
        assert w.name == name and w.label and w.about and w.input in ("counts", "tokens")
        assert set(w.variant_inputs) <= {"dense", "sparse"} and "dense" in w.variant_inputs
        cfg = ExperimentConfig(workload=name)
        assert cfg.workload == name and dict(cfg.model) == {k: v for k, v in vars(w.settings({})).items()}
        for fw, package in registry.FRAMEWORKS.items():  # a twin per framework, at the convention's place
            assert (REPO / Path(*w.twin_module(fw, package).split("."))).with_suffix(".py").is_file(), (name, fw)


@pytest.mark.parametrize("value,fragment", [
    ("bogus", "unknown workload 'bogus'"),
])
def test_an_unknown_workload_is_refused_with_the_known_ones(value, fragment):
    with pytest.raises(UserError, match=fragment) as e:
        ExperimentConfig(workload=value)
    assert all(n in str(e.value) for n in workloads.names())


@pytest.mark.parametrize("entry,fragment", [
    ("noequals", "write name=package"),
    ("mlp=somewhere", "is a built-in workload"),
    ("x=a,x=b", "names 'x' twice"),
])
def test_a_bad_workload_plugin_entry_is_one_line_when_read(monkeypatch, entry, fragment):
    monkeypatch.setenv(workloads.EXTRA_ENV, entry)
    with pytest.raises(UserError, match=fragment):
        workloads.names()


def test_a_bad_plugin_entry_does_not_break_a_command_that_reads_no_workload(tmp_path):
    p = fwbench("report", "--help", cache=tmp_path / "cache", env_extra={workloads.EXTRA_ENV: "noequals"})
    assert p.returncode == 0, p.stderr


def test_settings_are_the_workloads_own_and_typed():
    mlp = workloads.get("mlp")
    assert mlp.parse_setting("hidden", "50x50") == (50, 50) == mlp.parse_setting("hidden", "50,50")
    with pytest.raises(UserError, match="no setting 'heads'"):
        ExperimentConfig(model={"heads": 2})
    with pytest.raises(UserError, match="must be positive integers"):
        ExperimentConfig(model={"hidden": (0, 5)})
    with pytest.raises(UserError, match="must be positive integers"):
        ExperimentConfig(model={"hidden": (5, 2.5)})
    with pytest.raises(UserError, match="not a valid value"):
        mlp.parse_setting("hidden", "wide")


def test_a_manifest_from_before_workloads_reads_as_the_mlp():
    old = {"categories": ["comp.graphics"], "hidden": [50, 50], "learning_rate": 0.01}
    old["categories"] = ["comp.graphics", "sci.space"]
    cfg = ExperimentConfig.from_dict(old)
    assert cfg.workload == "mlp" and cfg.settings.hidden == (50, 50)
    assert ExperimentConfig.from_dict(cfg.to_dict()) == cfg  # and round-trips in the new form


def test_another_workload_takes_its_own_recipe_not_the_last_ones():
    for name in workloads.names():
        w = workloads.get(name)
        cfg = ExperimentConfig(seed=3, threads=1).replace(workload=name)
        assert cfg.seed == 3 and cfg.threads == 1
        for field, value in w.recipe.items():
            assert getattr(cfg, field) == value, (name, field)


def test_every_committed_run_folder_names_a_workload_it_can_be_read_as():
    from benchmarks.analysis import rundata
    manifests = [p for p in (REPO / "results").rglob("manifest.json")]
    assert manifests
    for m in manifests:
        run = rundata.load_run(m.parent)
        assert run.workload in workloads.names(), m


# --- one source of truth: no workload is named where only the interface belongs ------------

def _identifiers() -> set[str]:
    import dataclasses
    names = set(workloads.names())
    for n in workloads.names():
        names |= {f.name for f in dataclasses.fields(workloads.get(n).Settings)}
    return names


def test_the_harness_analysis_and_reports_name_no_workload():
    """Neither a workload's name nor one of its settings appears as code in benchmarks/harness,
    benchmarks/analysis or benchmarks/reports (strings and comments in English prose aside: the
    pattern looks for them as identifiers, attributes, keys or case settings)."""
    found = []
    for folder in ("harness", "analysis", "reports"):
        for path in sorted((REPO / "benchmarks" / folder).glob("*.py")):
            text = path.read_text()
            for name in _identifiers():
                for pattern in (rf"\.{name}\b", rf"[\"']{name}[\"']", rf"\b{name}=", rf"\bWorkload{name}\b"):
                    for m in re.finditer(pattern, text):
                        line = text.count("\n", 0, m.start()) + 1
                        found.append(f"{path.relative_to(REPO)}:{line}: {m.group(0)}")
    assert not found, "\n".join(found)


def test_the_name_check_can_fail(tmp_path):
    text = 'cfg.hidden\nx = d["hidden"]\n'
    assert re.search(r"\.hidden\b", text) and re.search(r"[\"']hidden[\"']", text)


# --- a workload out of the tree, through the whole harness ---------------------------------

PROBE_WORKLOAD = '''
"""A throwaway workload: logistic regression on the counts (one linear layer), to prove that a
workload registers without editing the harness, the analysis or the reports."""
from dataclasses import dataclass

from shared.costs import Cost, Part, adam_part
from shared.weights import initial_weights
from shared.workloads.base import Tolerances, Workload


@dataclass(frozen=True)
class Settings:
    scale: int = 1


class Probe(Workload):
    name = "probe"
    label = "logistic regression (probe)"
    about = "one V x C linear layer"
    input = "counts"
    Settings = Settings
    recipe = {"learning_rate": 0.05, "vocab_mode": "train"}
    twins = {"torch": "wl_probe_twin"}
    tolerances = Tolerances(1e-5, 1e-4, 0.97, 0.01)

    def featurize(self, train_texts, test_texts, cfg):
        from shared.vocabulary import vectorize
        x_train, x_test, _ = vectorize(train_texts, test_texts, cfg.vocab_mode, cfg.vocab_size)
        return x_train, x_test, None

    def initial_weights(self, cfg, data):
        return initial_weights([data.vocab_size, data.n_classes], cfg.seed)

    def step_cost(self, cfg, data_summary, batch, input_nnz=None):
        v, c = int(data_summary["vocab_size"]), len(data_summary["categories"])
        mm = 2 * batch * v * c
        return Cost(Part(mm, 4 * (batch * v + v * c), mm), Part(mm, 4 * (batch * v + v * c), mm), adam_part(v * c + c))


WORKLOAD = Probe()
'''

PROBE_TWIN = '''
"""The probe workload's torch twin: the MLP twin builds whatever layer sizes its weights have."""
from impl_torch.workloads.mlp import Twin as _MLPTwin


class Twin(_MLPTwin):
    pass
'''


def test_a_workload_out_of_the_tree_runs_through_the_harness_and_the_report(tiny_archive, tmp_path):
    (tmp_path / "wl_probe").mkdir()
    (tmp_path / "wl_probe" / "__init__.py").write_text(PROBE_WORKLOAD)
    (tmp_path / "wl_probe_twin.py").write_text(PROBE_TWIN)
    env = {workloads.EXTRA_ENV: "probe=wl_probe", "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    out = tmp_path / "results"
    run = fwbench("run", "--quick", "--workload", "probe", "--archive", str(tiny_archive), "--batch-size", "8",
                  "--epochs", "2", "--frameworks", "torch,torch:fused", "--phases", "train_epoch,predict_one",
                  "--processes", "2", "--output", str(out), cache=tmp_path / "cache", env_extra=env, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    folder = next((out / "runs").iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["config"]["workload"] == "probe" and manifest["config"]["learning_rate"] == 0.05
    text = (folder / "report.md").read_text()
    assert text.splitlines()[0].endswith(", workload logistic regression (probe)")
    assert "logistic regression (probe)" in (folder / "results.md").read_text()
    # a comparison with a run of another workload is refused in one line, nothing written
    other = tmp_path / "other"
    run2 = fwbench("run", "--quick", "--archive", str(tiny_archive), "--batch-size", "8", "--epochs", "2",
                   "--model", "hidden=8x8", "--frameworks", "torch", "--phases", "predict_one", "--processes", "2",
                   "--output", str(other), cache=tmp_path / "cache", env_extra=env, timeout=600)
    assert run2.returncode == 0, run2.stderr[-3000:]
    folder2 = next((other / "runs").iterdir())
    for mode in (["--compare", "--output", str(tmp_path / "cmp")], ["--pool", "--output", str(tmp_path / "pool")]):
        p = fwbench("report", str(folder), str(folder2), *mode, cache=tmp_path / "cache", env_extra=env)
        assert "time different networks" in one_stderr_line(p, 2)
    p = fwbench("report", str(folder2), "--baseline", str(folder), cache=tmp_path / "cache", env_extra=env)
    assert "time different networks" in one_stderr_line(p, 2)
    assert not (tmp_path / "cmp").exists() and not (tmp_path / "pool").exists()
    # no project module names it
    hits = subprocess.run(["git", "grep", "-l", "wl_probe", "--", "shared", "benchmarks", "impl_*"],
                          cwd=REPO, capture_output=True, text=True)
    assert hits.stdout.strip() == ""


def test_run_refuses_a_setting_the_workloads_network_lacks(tiny_archive, tmp_path):
    p = fwbench("run", "--quick", "--archive", str(tiny_archive), "--frameworks", "torch[heads=2]",
                "--output", str(tmp_path / "out"), cache=tmp_path / "cache")
    msg = one_stderr_line(p, 2)
    assert "heads" in msg
    assert not (tmp_path / "out").exists()
