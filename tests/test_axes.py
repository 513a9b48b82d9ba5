"""Variants as axes: a variant is a value on each of the independent axes (shared/contract.AXES);
named variants set one axis each and combine with '+'; the twins read the settings; bad
combinations are one line before anything runs."""
from __future__ import annotations

import pytest

from shared import registry
from shared.variant import AXES
from shared.errors import UserError
from tests.conftest import fwbench, one_stderr_line, make_tiny_archive


@pytest.mark.parametrize("fw,typed,name,settings", [
    ("torch", "sparse+fused", "sparse+fused", {"input": "sparse", "execution": "eager", "optimizer_impl": "fused"}),
    ("torch", "fused+sparse", "sparse+fused", {"input": "sparse", "optimizer_impl": "fused"}),  # canonical order
    ("torch", "eager+fused", "fused", {"execution": "eager", "optimizer_impl": "fused"}),  # default execution dropped
    ("torch", "ftz", "ftz", {"denormals": "flush", "input": "dense"}),
    ("tensorflow", "sparse+eager", "sparse+eager", {"input": "sparse", "execution": "eager"}),
    ("tensorflow", None, "graph", {"input": "dense", "execution": "graph", "optimizer_impl": "default"}),
])
def test_combinations_take_each_parts_axis(fw, typed, name, settings):
    v = registry.variant(fw, typed)
    assert v.name == name
    assert set(v.settings) == set(AXES)
    for axis, value in settings.items():
        assert v.settings[axis] == value, axis
    assert v.settings["dtype"] == "float32"


def test_composed_labels_name_every_non_default_value():
    assert registry.variant("torch", "sparse+fused").label == "PyTorch (eager, sparse input, fused Adam)"
    assert registry.variant("tensorflow", "sparse+eager").label == "TensorFlow (eager, sparse input)"


@pytest.mark.parametrize("fw,typed,fragment", [
    ("torch", "eager+compile", "sets the execution axis twice (eager and compile): choose one of eager, compile"),
    ("tensorflow", "fused", "tensorflow has no variant 'fused': choose from input: sparse; execution: graph, eager, xla"),
    ("torch", "sparse+sparse", "names 'sparse' twice"),
    ("tensorflow", "sparse+xla", "is not offered: XLA has no kernel for tf.sparse.sparse_dense_matmul"),
])
def test_bad_combinations_are_refused_with_what_is_valid(fw, typed, fragment):
    with pytest.raises(UserError, match=None) as e:
        registry.variant(fw, typed)
    assert fragment in str(e.value)


def test_the_twins_read_settings_not_names():
    # no twin compares its variant name: every choice goes through the settings (the workload
    # twins and the base twin that holds their shared steps, where the framework has one)
    from pathlib import Path
    folders = [Path(__file__).resolve().parents[1] / package for package in registry.FRAMEWORKS.values()]
    twins = [p for folder in folders for p in (*(folder / "workloads").glob("*.py"), *folder.glob("twin_base.py"))]
    assert len(twins) >= 2 * len(registry.FRAMEWORKS)  # every framework's twins, __init__.py included
    for path in twins:
        text = path.read_text()
        assert "self.variant ==" not in text and "self.variant in" not in text, path


@pytest.mark.parametrize("case,fragment", [
    ("tensorflow:fused", "tensorflow has no variant 'fused'"),
    ("torch:eager+compile", "sets the execution axis twice"),
    ("torch[bogus=1]", "bogus"),
])
def test_run_refuses_bad_axes_in_one_line(tmp_path, case, fragment):
    archive = make_tiny_archive(tmp_path / "tiny.tar.gz")
    p = fwbench("run", "--quick", "--archive", str(archive), "--frameworks", case, "--output", str(tmp_path / "out"),
                cache=tmp_path / "cache")
    assert fragment in one_stderr_line(p, 2)
    assert not (tmp_path / "out").exists()
