"""The twins mirror each other, shared/ stays framework-free, and the contract admits a third
framework as one folder plus one registry line (proven with a throwaway NumPy twin)."""
from __future__ import annotations

import ast
import importlib
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shared import registry, training
from shared.contract import FrameworkTwin
from shared.dataset import prepare
from tests.conftest import REPO, TINY_CONFIG

FRAMEWORK_MODULES = {"torch", "tensorflow", "keras", "jax", "jaxlib", "optax", *registry.FRAMEWORKS.values()}


def module_files(package: str) -> list[str]:
    """The package's public modules, its workloads/ twins included (workloads/mlp.py); a module
    named _x.py is one framework's own helper (impl_torch/_compile.py), outside the mirror."""
    path = Path(importlib.import_module(package).__file__).parent
    found = [*path.glob("*.py"), *path.glob("workloads/*.py")]
    return sorted(p.relative_to(path).as_posix() for p in found if p.name == "__init__.py" or not p.name.startswith("_"))


def shape(fn) -> list[tuple]:
    """A signature without annotations: each framework annotates with its own tensor types."""
    return [(p.name, p.kind.name, repr(p.default)) for p in inspect.signature(fn).parameters.values()]


def public_api(package: str, modules=("runtime", "probe"), workloads=("mlp",)) -> dict:
    """runtime.py (and probe.py, where the package has one): their own public functions;
    each workloads/<workload>.py: every public member of its Twin."""
    api = {}
    for name in modules:
        if not (Path(importlib.import_module(package).__file__).parent / f"{name}.py").exists():
            continue
        module = importlib.import_module(f"{package}.{name}")
        api.update({f"{name}.{n}": shape(f) for n, f in vars(module).items()
                    if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == module.__name__})
    for w in workloads:
        twin = importlib.import_module(f"{package}.workloads.{w}").Twin
        for n in [n for n in dir(twin) if not n.startswith("_")] + ["__init__"]:
            member = inspect.getattr_static(twin, n)
            api[f"{w}.Twin.{n}"] = shape(member) if inspect.isfunction(member) else type(member).__name__
    return api


def api_differences(a: dict, b: dict) -> list[str]:
    return [f"{k}: {a.get(k, 'missing')} vs {b.get(k, 'missing')}" for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]


@pytest.mark.parametrize("package", [p for p in registry.FRAMEWORKS.values() if p != "impl_torch"])
def test_twin_packages_have_the_same_files_and_public_signatures(package):
    """Every registered twin mirrors impl_torch: module names, public functions, Twin's members."""
    assert module_files(package) == module_files("impl_torch")
    assert {"__init__.py", "runtime.py", "variants.py", "workloads/__init__.py", "workloads/mlp.py"} <= set(
        module_files("impl_torch"))
    from shared import workloads
    every = tuple(w for w in workloads.names() if f"workloads/{w}.py" in module_files("impl_torch"))
    torch_api, other_api = public_api("impl_torch", workloads=every), public_api(package, workloads=every)
    assert not api_differences(torch_api, other_api), "\n".join(api_differences(torch_api, other_api))
    # and both implement the contract's signatures, not just each other's
    for name, member in vars(FrameworkTwin).items():
        if inspect.isfunction(member) and not name.startswith("_"):
            for w in every:
                assert torch_api[f"{w}.Twin.{name}"] == shape(member), f"{w} Twin.{name} departs from FrameworkTwin.{name}"


@pytest.mark.parametrize("package", ["impl_torch", "impl_tf", "impl_jax"])
def test_workload_twins_take_their_steps_from_the_frameworks_base_twin(package):
    """The steps every workload twin shares are written once, in the folder's twin_base.BaseTwin;
    a workload twin adds its network (built from the weights, read back, its input) and redefines
    none of them."""
    from shared import workloads
    base = importlib.import_module(f"{package}.twin_base").BaseTwin
    for w in workloads.names():
        twin = importlib.import_module(f"{package}.workloads.{w}").Twin
        assert issubclass(twin, base), f"{package}.workloads.{w}.Twin"
        for name in ("__init__", "train_step", "losses_to_numpy", "logits", "loss", "synchronize", "trace_count",
                     "step_breakdown", "_compiled", "_breakdown_functions"):
            assert name not in vars(twin), f"{package}.workloads.{w}.Twin redefines {name}"


def test_shared_never_imports_a_framework_in_source():
    found = []
    for path in sorted((REPO / "shared").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            found += [f"{path.name}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in FRAMEWORK_MODULES]
    assert not found, "; ".join(found)


def test_importing_every_shared_module_loads_no_framework():
    code = textwrap.dedent("""
        import importlib, pkgutil, sys, shared
        for m in pkgutil.iter_modules(shared.__path__):
            importlib.import_module('shared.' + m.name)
        import benchmarks.cli
        benchmarks.cli.build_parser()  # the subcommands' option wiring, as `fwbench --help` does
        print(sorted(n for n in sys.modules if n.split('.')[0] in %r))
    """ % (FRAMEWORK_MODULES,))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", f"importing shared/ loaded: {out.stdout.strip()}"


# --- a third framework: one folder + one registry line -------------------------------------

NUMPY_RUNTIME = '''
"""Thread budget and device for NumPy (nothing to set: BLAS threads are fixed at import)."""
from __future__ import annotations

import numpy as np

from shared.contract import RuntimeInfo
from shared.errors import UserError


def device_of(device: str) -> str:
    return "cpu"



def flushes_denormals(device: str = "cpu") -> bool:
    return int(np.count_nonzero(np.full(1 << 22, 1e-39, np.float32) * np.float32(0.5))) == 0


def configure(threads: int, device: str) -> RuntimeInfo:
    if device != "cpu":
        raise UserError("the NumPy twin runs on the CPU only")
    return RuntimeInfo(framework="numpy", version=np.__version__, device="cpu", device_name="cpu",
                       intra_op_threads=threads, inter_op_threads=1, tf32=False,
                       flush_denormal=flushes_denormals(device))


def reset_peak_device_memory(device: str) -> None:
    pass


def peak_device_memory_mb(device: str) -> float | None:
    return None
'''

NUMPY_VARIANTS = '''
"""The NumPy twin's one execution mode."""
from shared.variant import Variant

DEFAULT_VARIANT = "eager"
VARIANTS = {"eager": Variant("eager", "NumPy", "forward and backward by hand, plain SGD")}

LABEL = "NumPy"
ALIASES = ("np",)
PACKAGES = ("numpy",)
THREAD_ENV = {}
INSTALL = {"cpu": "pip install numpy", "gpu": "no GPU build"}
'''

NUMPY_TWIN = '''
"""The MLP in plain NumPy: forward, backward by hand, plain SGD."""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from shared.config import ExperimentConfig
from shared.contract import BREAKDOWN_PARTS, DeviceBatch, FrameworkTwin, breakdown_medians
from shared.errors import UserError
from shared.weights import Layer


class Twin(FrameworkTwin):
    framework = "numpy"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[Layer], variant: str | None = None):
        super().__init__(cfg, weights, variant)
        if cfg.optimizer != "sgd":
            raise UserError("the NumPy twin only implements plain SGD")
        self.params = [(w.copy(), b.copy()) for w, b in weights]

    def to_device(self, x: np.ndarray, y: np.ndarray | None = None) -> DeviceBatch:
        return DeviceBatch(np.asarray(x, np.float32), None if y is None else np.asarray(y, np.int64), x.shape[0])

    def _activations(self, x):
        acts = [x]
        for i, (w, b) in enumerate(self.params):
            z = acts[-1] @ w + b
            acts.append(np.maximum(z, 0) if i < len(self.params) - 1 else z)
        return acts

    @staticmethod
    def _loss_and_grad(logits, y):
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        rows = np.arange(len(y))
        d = np.exp(logp)
        d[rows, y] -= 1
        return -logp[rows, y].mean(), d / len(y)

    def _backward(self, acts, d):
        grads = []
        for i in reversed(range(len(self.params))):
            w, _ = self.params[i]
            grads.insert(0, (acts[i].T @ d, d.sum(axis=0)))
            d = (d @ w.T) * (acts[i] > 0)
        return grads

    def _update(self, grads):
        for (w, b), (gw, gb) in zip(self.params, grads):
            w -= self.cfg.learning_rate * gw
            b -= self.cfg.learning_rate * gb

    def train_step(self, batch: DeviceBatch):
        acts = self._activations(batch.x)
        loss, d = self._loss_and_grad(acts[-1], batch.y)
        self._update(self._backward(acts, d))
        return np.float32(loss)

    def step_breakdown(self, batch: DeviceBatch, repeats: int) -> dict[str, float]:
        samples = {k: [] for k in (*BREAKDOWN_PARTS, "step")}
        for _ in range(repeats):
            t0 = time.perf_counter()
            acts = self._activations(batch.x)
            loss, d = self._loss_and_grad(acts[-1], batch.y)
            t1 = time.perf_counter()
            grads = self._backward(acts, d)
            t2 = time.perf_counter()
            self._update(grads)
            t3 = time.perf_counter()
            self.losses_to_numpy([np.float32(loss)])
            t4 = time.perf_counter()
            self.losses_to_numpy([self.train_step(batch)])
            t5 = time.perf_counter()
            for k, v in zip((*BREAKDOWN_PARTS, "step"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                samples[k].append(v)
        return breakdown_medians(samples)

    def losses_to_numpy(self, losses: list) -> np.ndarray:
        return np.asarray(losses, np.float32)

    def logits(self, batch: DeviceBatch) -> np.ndarray:
        return self._activations(batch.x)[-1]

    def loss(self, batch: DeviceBatch) -> float:
        return float(self._loss_and_grad(self.logits(batch), batch.y)[0])

    def get_weights(self) -> list[Layer]:
        return [(w.copy(), b.copy()) for w, b in self.params]

    def synchronize(self) -> None:
        pass
'''


@pytest.fixture
def numpy_framework(tmp_path, monkeypatch):
    """impl_numpy_probe/ in a temp dir on sys.path, plus the one registry line."""
    package = tmp_path / "impl_numpy_probe"
    package.mkdir()
    (package / "__init__.py").write_text('"""Throwaway NumPy twin: proves the contract is framework-agnostic."""\n')
    (package / "runtime.py").write_text(NUMPY_RUNTIME)
    (package / "workloads").mkdir()
    (package / "workloads" / "__init__.py").write_text('"""Its twins, one per workload."""\n')
    (package / "workloads" / "mlp.py").write_text(NUMPY_TWIN)
    (package / "variants.py").write_text(NUMPY_VARIANTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.FRAMEWORKS, "numpy", "impl_numpy_probe")
    yield "numpy"
    for name in [n for n in sys.modules if n.split(".")[0] == "impl_numpy_probe"]:
        del sys.modules[name]


def test_a_third_framework_is_one_folder_and_one_registry_line(numpy_framework, tiny_archive, tmp_path):
    from benchmarks.commands import check
    from shared import parity

    assert module_files("impl_numpy_probe") == ["__init__.py", "runtime.py", "variants.py", "workloads/__init__.py",
                                                "workloads/mlp.py"]
    # the contract's part (runtime.py and Twin); probe.py is an optional extra of the timed twins
    differences = api_differences(public_api("impl_torch", ("runtime",)), public_api("impl_numpy_probe", ("runtime",)))
    assert not differences, "\n".join(differences)

    cfg = TINY_CONFIG.replace(optimizer="sgd", learning_rate=0.5, epochs=5)
    data = prepare(cfg, archive=tiny_archive, cache=tmp_path / "cache")
    info = registry.runtime("numpy").configure(1, "cpu")
    assert info.framework == "numpy"
    twin = training.build(registry.twin_class("numpy"), cfg, data)
    result = training.fit(twin, cfg, data)
    losses = result.mean_epoch_loss
    assert losses[-1] < 0.5 * losses[0], f"the NumPy twin does not learn: epoch losses {losses}"

    # the same shared loop and check drive it against torch, from the same start
    registry.runtime("torch").configure(1, "cpu")
    res = parity.run_check(cfg, data, ("torch", "numpy"), seeds=1)
    seed = res["per_seed"][0]
    assert seed["first_epoch_step_loss_max_rel"] <= 1e-5, f"torch vs numpy step losses: {seed['first_epoch_step_loss_max_rel']:.3g}"
    worst = max(d["rel_l2"] for d in seed["weights"])
    assert worst <= 1e-5, f"torch vs numpy weights after {cfg.epochs} SGD epochs differ by {worst:.3g} relative L2"
    assert res["holds"], check.format_report(res)
    assert res["cases"] == ["torch:eager", "numpy:eager"]
    assert res["per_seed"][0]["cases"]["numpy:eager"]["accuracy"] == pytest.approx(result.test_accuracy)


def test_a_third_framework_runs_through_the_harness_and_the_report(numpy_framework, tiny_archive, tmp_path):
    """The registry line given through the environment (FWBENCH_FRAMEWORKS), so the workers, which
    are separate processes, see it too: a quick run of the NumPy twin against torch, then its
    report, and no module of the project knows the NumPy twin."""
    from benchmarks.analysis import rundata
    env = {**os.environ, "PYTHONPATH": str(tmp_path), registry.EXTRA_ENV: "numpy=impl_numpy_probe",
           "FWBENCH_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "results"
    run = subprocess.run([sys.executable, "-m", "benchmarks.cli", "run", "--quick", "--archive", str(tiny_archive),
                          "--batch-size", "8", "--hidden", "16,16", "--epochs", "2", "--frameworks", "torch[optimizer=sgd],numpy[optimizer=sgd]",
                          "--phases", "train_epoch,predict_one", "--processes", "2", "--output", str(out)],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    folder = (out / "latest").resolve() if (out / "latest").exists() else next((out / "runs").iterdir())
    loaded = rundata.load_run(folder)
    ids = {"torch:eager@cpu[optimizer=sgd]", "numpy:eager@cpu[optimizer=sgd]"}
    assert {c.id for c in loaded.cases.values()} >= ids
    numpy_case = loaded.cases["numpy:eager@cpu[optimizer=sgd]"]
    assert len(numpy_case.phases["train_epoch"].processes) == 2
    assert all(w["runtime"]["framework"] == "numpy" for w in numpy_case.workers)
    report = subprocess.run([sys.executable, "-m", "benchmarks.cli", "report", str(folder)], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    text = (folder / "report.md").read_text()
    assert "NumPy" in text and "numpy:eager@cpu" in text and "train epoch (warm)" in text
    # no project module names it: the package and the environment's one line are all there is
    hits = subprocess.run(["git", "grep", "-l", "impl_numpy_probe", "--", "shared", "benchmarks", "impl_*"],
                          cwd=REPO, capture_output=True, text=True)
    assert hits.stdout.strip() == ""


def test_fit_streams_batches_when_an_epoch_does_not_fit(tiny_archive, tmp_path, monkeypatch):
    """The streaming path (huge vocabularies) trains exactly as the pre-converted one."""
    from tests.conftest import TINY_CONFIG

    cfg = TINY_CONFIG.replace(optimizer="sgd", shuffle_each_epoch=True)
    data = prepare(cfg, archive=tiny_archive, cache=tmp_path)
    registry.runtime("torch").configure(1, "cpu")
    resident = training.fit(training.build(registry.twin_class("torch"), cfg, data), cfg, data)
    monkeypatch.setattr(training, "epoch_fits_in_memory", lambda cfg, data, **kw: False)
    streamed = training.fit(training.build(registry.twin_class("torch"), cfg, data), cfg, data)
    for a, b in zip(resident.epoch_losses, streamed.epoch_losses):
        assert (a == b).all(), f"streamed losses {b} differ from pre-converted {a}"
    assert (resident.test_predictions == streamed.test_predictions).all()
