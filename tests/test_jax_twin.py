"""What only the JAX twin has to prove (its equivalence with the others is in the shared, parametrised
tests: test_equivalence, test_variants, test_twin_contract): how its thread budget is set and read
back without a JAX API for either, its trace counting, and what a user without JAX, or with a bad
variant name or no GPU, is told."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from shared import registry, training
from shared.dataset import prepare
from shared.errors import UserError
from tests.conftest import REPO, TINY_CONFIG, fwbench, one_stderr_line

INSTALL = "pip install -e '.[jax]'"


def python(code: str, env_extra: dict | None = None, pythonpath: str | None = None) -> subprocess.CompletedProcess:
    import os
    env = {**os.environ, **(env_extra or {})}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


# --- the thread budget: set through PJRT_NPROC, read back by counting XLA's pool threads ----------

@pytest.mark.parametrize("threads", [1, 2])
def test_thread_budget_is_set_before_the_client_and_measured(threads):
    """A fresh process per budget: the pool is sized once, when JAX's client starts. A user's own
    PJRT_NPROC (here 7) is overridden by the run's budget. On this 2-core machine JAX's default is
    2, so the budget of 1 fails if the setting has no effect."""
    proc = python(f"""
        import json
        from impl_jax import runtime
        from shared.environment import threads_named
        info = runtime.configure({threads}, "cpu")
        later = runtime.configure(5, "cpu")  # the client exists now: the read-back keeps the truth
        print(json.dumps([info.to_dict(), later.to_dict(), threads_named(runtime.POOL_THREAD)]))
    """, env_extra={"PJRT_NPROC": "7"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    info, later, pool = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (info["intra_op_threads"], info["inter_op_threads"]) == (threads, 1), info
    assert pool == threads, f"{pool} {'tf_XLAEigen'} threads for a budget of {threads}"
    assert info["extra"]["thread_setting"].startswith(f"PJRT_NPROC={threads}")
    assert info["extra"]["thread_readback"].startswith("measured"), info["extra"]
    assert later["intra_op_threads"] == threads, "a second configure() must report the pool the client has, not the request"


def test_a_client_started_before_configure_is_reported_as_not_measured():
    proc = python("""
        import json, os, jax
        jax.devices()  # someone started JAX's client first, with PJRT_NPROC=2
        from impl_jax import runtime
        print(json.dumps(runtime.configure(1, "cpu").to_dict()))
    """, env_extra={"PJRT_NPROC": "2"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    # the harness compares this with the run's budget (1) and fails the worker: fail closed
    assert info["intra_op_threads"] == 2 and info["extra"]["thread_readback"].startswith("not measured"), info


def test_flush_denormal_is_measured():
    """XLA:CPU's compiled code flushes float32 denormals (measured by runtime.configure's op);
    a denormal survives in numpy on the same machine, so the op can tell the difference."""
    info = registry.runtime("jax").configure(TINY_CONFIG.thread_count, "cpu")
    assert np.count_nonzero(np.full(8, 1e-39, np.float32) * np.float32(0.5)) == 8  # numpy keeps denormals
    assert info.flush_denormal is True, info


# --- trace counting -------------------------------------------------------------------------------

@pytest.fixture
def tiny_data(tiny_archive, tmp_path):
    return prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path / "cache")


def test_jit_counts_a_trace_per_function_and_new_shape(tiny_data):
    registry.runtime("jax").configure(TINY_CONFIG.thread_count, "cpu")
    cfg = TINY_CONFIG.replace(optimizer="strict")
    twin = training.build(registry.twin_class("jax"), cfg, tiny_data, "jit")
    x, y = tiny_data.x_train, tiny_data.y_train
    assert twin.trace_count() == 0, "nothing is traced before the first call"
    twin.train_step(twin.rows_to_device(x, np.arange(8), y))
    twin.train_step(twin.rows_to_device(x, np.arange(8, 16), y))
    assert twin.trace_count() == 1, f"a second batch of the same shape retraced: {twin.trace_count()}"
    twin.train_step(twin.rows_to_device(x, np.arange(16, 21), y))  # a new batch size: traced again
    assert twin.trace_count() == 2
    twin.logits(twin.rows_to_device(tiny_data.x_test, slice(0, 3)))  # the predict function
    twin.logits(twin.rows_to_device(tiny_data.x_test, slice(3, 6)))
    assert twin.trace_count() == 3
    for rows in (np.arange(0, 8), np.arange(0, 5)):  # shapes seen before: no more
        twin.train_step(twin.rows_to_device(x, rows, y))
    twin.synchronize()
    assert twin.trace_count() == 3
    eager = training.build(registry.twin_class("jax"), cfg, tiny_data, "eager")
    eager.train_step(eager.rows_to_device(x, np.arange(8), y))
    assert eager.trace_count() is None, "op by op nothing is traced"


def test_sparse_batches_of_different_nnz_share_a_trace(tiny_data):
    """The BCOO's stored entries are padded to a power of two: batches whose non-zeros differ (all
    of the tiny data's, and any single post) trace once, and padding changes no value."""
    from impl_jax.workloads.mlp import padded_nnz
    assert [padded_nnz(n) for n in (0, 1, 1024, 1025, 40_000)] == [1024, 1024, 1024, 2048, 65_536]
    registry.runtime("jax").configure(TINY_CONFIG.thread_count, "cpu")
    cfg = TINY_CONFIG.replace(optimizer="strict")
    twin = training.build(registry.twin_class("jax"), cfg, tiny_data, "sparse")
    dense = training.build(registry.twin_class("jax"), cfg, tiny_data, "jit")
    x, y = tiny_data.x_train, tiny_data.y_train
    nnz = {x[idx].nnz for idx in (np.arange(0, 8), np.arange(8, 16), np.arange(16, 24))}
    assert len(nnz) > 1, "the batches have the same nnz: the padding would not be exercised"
    for idx in (np.arange(0, 8), np.arange(8, 16), np.arange(16, 24)):
        a = twin.losses_to_numpy([twin.train_step(twin.rows_to_device(x, idx, y))])
        b = dense.losses_to_numpy([dense.train_step(dense.rows_to_device(x, idx, y))])
        assert np.allclose(a, b, rtol=1e-6, atol=0), (a, b)
    assert twin.trace_count() == 1, f"batches of nnz {sorted(nnz)} traced {twin.trace_count()} times"
    for i in range(4):  # single posts of different lengths: one predict trace
        twin.logits(twin.rows_to_device(tiny_data.x_test, slice(i, i + 1)))
    assert twin.trace_count() == 2


# --- what users are told ---------------------------------------------------------------------------

def test_unknown_jax_variant_lists_the_valid_ones():
    with pytest.raises(UserError, match="jax has no variant 'warp': choose from input: sparse; execution: jit, eager"):
        registry.variant("jax", "warp")


BLOCK_JAX = '''
import sys
class _NoJax:
    """Behaves as an environment without jax, jaxlib and optax installed."""
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("jax", "jaxlib", "optax"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NoJax())
'''


@pytest.fixture
def without_jax(tmp_path):
    """A folder whose sitecustomize.py hides jax from every Python started with it on PYTHONPATH
    (benchmark workers included: they inherit the environment)."""
    folder = tmp_path / "nojax"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCK_JAX)
    return str(folder)


def test_without_jax_the_framework_is_not_installed_with_the_install_command(without_jax):
    proc = python("""
        from shared import registry
        from shared.errors import UserError
        print(registry.default_variant("jax"), sorted(registry.variants("jax")))  # needs no jax
        try:
            registry.runtime("jax")
        except UserError as e:
            print("UserError:", e)
    """, pythonpath=without_jax)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "jit ['eager', 'jit', 'sparse']" in proc.stdout
    assert "UserError: jax is not installed" in proc.stdout and INSTALL in proc.stdout, proc.stdout


def test_without_jax_check_exits_2_with_the_install_command(without_jax, tiny_archive, tmp_path):
    proc = fwbench("check", "--archive", str(tiny_archive), "--hidden", "16,16", "--batch-size", "8", "--epochs", "1",
                   "--seeds", "1", "--cases", "torch,jax", cache=tmp_path / "cache",
                   env_extra={"PYTHONPATH": without_jax})
    line = one_stderr_line(proc, 2)
    assert "jax is not installed" in line and INSTALL in line, line


def test_without_jax_a_run_marks_the_case_unavailable(without_jax, tiny_archive, tmp_path):
    out = tmp_path / "results"
    proc = fwbench("run", "--quick", "--archive", str(tiny_archive), "--hidden", "16,16", "--batch-size", "8",
                   "--epochs", "1", "--frameworks", "torch,jax", "--devices", "cpu", "--phases", "predict_one",
                   "--processes", "1", "--output", str(out), cache=tmp_path / "cache",
                   env_extra={"PYTHONPATH": without_jax}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (run,) = [p for p in (out / "runs").iterdir() if not p.name.startswith(".")]
    workers = {w["case"]: w for w in json.loads((run / "manifest.json").read_text())["workers"]}
    assert workers["torch:eager@cpu"]["status"] == "ok"
    jax_worker = workers["jax:jit@cpu"]
    assert jax_worker["status"] == "unavailable" and INSTALL in jax_worker["reason"], jax_worker


def test_an_absent_gpu_is_one_line_naming_the_cpu(tiny_archive, tmp_path):
    if python("import jax; jax.devices('gpu')").returncode == 0:
        pytest.skip("JAX sees a GPU here: asking for it is not bad input")
    proc = fwbench("check", "--archive", str(tiny_archive), "--hidden", "16,16", "--batch-size", "8", "--epochs", "1",
                   "--seeds", "1", "--cases", "jax:jit,jax:eager", "--device", "gpu", cache=tmp_path / "cache")
    line = one_stderr_line(proc, 2)
    assert "JAX sees no GPU" in line and "--device cpu" in line, line
