"""pytest options and session state of one benchmark process: one framework, one device.

`fwbench run` starts one such process per (framework, device), so TensorFlow and PyTorch are
never imported into the same timed process. It can also be run by hand:

    python -m pytest benchmarks/test_bench.py -p no:cacheprovider --fw tensorflow --quick

Progress lines for the runner go to stdout prefixed with PROGRESS_MARK; the process's
outcome per phase (and why a device or framework is unavailable) goes to --status-json.
"""
from __future__ import annotations

import gc
import json
import os
import time
from pathlib import Path

import pytest

from benchmarks.phases import ALL_PHASES, FRAMEWORK_PHASES, NEEDS, SHARED_PHASES, resident_bytes
from shared.config import ExperimentConfig

PROGRESS_MARK = "@@fwbench "
# Test hook for the harness's failure path: a benchmark process whose framework is named
# here fails its first phase, as a crashing framework would.
FAIL_ENV = "FWBENCH_FAIL_FRAMEWORK"
_STATE = pytest.StashKey[dict]()
_config = None  # pytest_runtest_logreport gets no config; set at session start


def pytest_addoption(parser):
    g = parser.getgroup("fwbench")
    g.addoption("--fw", default="torch", help="framework to time (torch, tensorflow) or 'shared' for data preparation")
    g.addoption("--device", default="cpu", choices=["cpu", "gpu"])
    g.addoption("--variant", default=None, help="execution mode of the framework's twin (default: its default)")
    g.addoption("--config-json", default=None, help="ExperimentConfig as JSON (cfg.to_dict()); default: the defaults")
    g.addoption("--archive", default=None, help="20news-bydate.tar.gz (default: $FWBENCH_ARCHIVE)")
    g.addoption("--phases", default=None, help="comma-separated phases (default: all of this framework's)")
    g.addoption("--quick", action="store_true", help="tiny round counts, for smoke tests")
    g.addoption("--status-json", default=None, help="write each phase's outcome and the runtime read-back here")


def pytest_configure(config):
    config.stash[_STATE] = {"outcomes": {}, "runtime": None, "unavailable": None, "user_error": None}


def options(config) -> dict:
    from shared.registry import canonical
    fw = config.getoption("--fw")
    fw = fw if fw == "shared" else canonical(fw)
    path = config.getoption("--config-json")
    cfg = ExperimentConfig.from_dict(json.loads(Path(path).read_text())) if path else ExperimentConfig()
    device = config.getoption("--device")
    own = SHARED_PHASES if fw == "shared" else FRAMEWORK_PHASES
    wanted = config.getoption("--phases")
    phases = own if not wanted else tuple(p for p in ALL_PHASES if p in wanted.split(",") and p in own)
    return {"fw": fw, "device": device, "cfg": cfg.replace(device=device), "phases": phases,
            "quick": config.getoption("--quick"), "variant": config.getoption("--variant"),
            "archive": config.getoption("--archive")}


def pytest_generate_tests(metafunc):
    if "phase" in metafunc.fixturenames:
        o = options(metafunc.config)  # ids name the framework: `pytest-benchmark compare` shows only the test name
        metafunc.parametrize("phase", o["phases"], ids=[f"{o['fw']}-{o['device']}-{p}" for p in o["phases"]])


def emit(config, **event) -> None:
    """One progress line on the real terminal, even from inside a captured test."""
    capman = config.pluginmanager.getplugin("capturemanager")
    line = PROGRESS_MARK + json.dumps(event)
    if capman is None:
        print(line, flush=True)
        return
    with capman.global_and_fixture_disabled():
        print(line, flush=True)


class Bench:
    """The configured runtime, the data and a trained-in-place twin of one process, plus the
    pre-converted data of the phase running now (released before the next phase, so each
    phase's peak RSS holds only its own data)."""

    def __init__(self, config):
        from shared.dataset import check_fits, prepare
        from shared.paths import cache_root
        o = options(config)
        self.config, self.fw, self.device, self.cfg, self.quick = config, o["fw"], o["device"], o["cfg"], o["quick"]
        self.archive, self.cache = o["archive"], cache_root()
        self.info, self.runtime, self.twin_cls, self.twin = None, None, None, None
        self.resident: dict = {}
        if self.fw != "shared":
            from shared import registry
            from shared.errors import UserError
            try:  # configure FIRST: TensorFlow fixes its thread pools at the first op
                self.runtime = registry.runtime(self.fw)
                self.info = self.runtime.configure(self.cfg.thread_count, self.device)
                self.twin_cls = registry.twin_class(self.fw)
            except UserError as e:
                config.stash[_STATE]["unavailable"] = str(e)
                raise
            config.stash[_STATE]["runtime"] = self.info.to_dict()
        self.data = prepare(self.cfg, self.archive, self.cache)
        check_fits(self.cfg, self.data)
        if self.fw != "shared":
            self.twin = self.fresh_twin(o["variant"])
            self.variant = self.twin.variant

    def fresh_twin(self, variant=None):
        from shared.training import build
        return build(self.twin_cls, self.cfg, self.data, variant or getattr(self, "variant", None))

    def too_big(self, phase: str) -> str | None:
        """Why a phase's pre-converted data would not fit in memory, or None."""
        import psutil
        need = resident_bytes(self.cfg, self.data, NEEDS.get(phase, ()))
        free = psutil.virtual_memory().available * 0.5
        if need > free:
            return (f"its pre-converted data needs {need / 2**30:.1f} GiB, more than half the "
                    f"available memory ({free * 2 / 2**30:.1f} GiB) with V = {self.data.vocab_size:,}")
        return None

    def hold(self, phase: str) -> dict:
        """Keep only what `phase` needs, converting it now (outside any timed region)."""
        from benchmarks import phases
        from shared.batches import dense_rows
        from shared.training import device_epoch, device_epochs
        need = NEEDS.get(phase, ())
        for name in [n for n in self.resident if n not in need]:
            del self.resident[name]
        gc.collect()
        makers = {"train0": lambda: device_epoch(self.twin, self.data, phases.epoch0_indices(self.cfg, self.data)),
                  "train": lambda: device_epochs(self.twin, self.cfg, self.data),
                  "test": lambda: phases.convert_test(self.twin, self.cfg, self.data),
                  "one": lambda: [self.twin.to_device(dense_rows(self.data.x_test, slice(0, 1)))]}
        for name in need:
            if name not in self.resident:
                self.resident[name] = makers[name]()
        return self.resident

    def extra_info(self, phase: str) -> dict:
        d = self.data
        common = {"phase": phase, "device": self.device, "batch_size": self.cfg.batch_size,
                  "vocab_size": int(d.vocab_size), "n_train": int(d.x_train.shape[0]), "n_test": int(d.x_test.shape[0]),
                  "vocab_mode": self.cfg.vocab_mode, "quick": self.quick}
        if self.fw == "shared":
            from importlib.metadata import version
            return {"framework": "shared", "framework_version": version("fwbench"), "device_name": "cpu",
                    "variant": "", "variant_label": "framework-neutral", **common,
                    "threads_intra": None, "threads_inter": None}
        i = self.info
        return {"framework": self.fw, "framework_version": i.version, "device_name": i.device_name,
                "variant": self.twin.variant, "variant_label": self.twin.variant_label, **common,
                "threads_intra": i.intra_op_threads, "threads_inter": i.inter_op_threads, "tf32": i.tf32}


@pytest.fixture(scope="session")
def bench(request) -> Bench:
    config = request.config
    try:
        return Bench(config)
    except Exception as e:
        from shared.errors import UserError
        if isinstance(e, UserError):
            if config.stash[_STATE]["unavailable"]:
                pytest.skip(f"not available on this machine: {e}")
            config.stash[_STATE]["user_error"] = str(e)  # e.g. an unknown variant: the runner exits 2
        raise


def pytest_runtest_logreport(report):
    if report.when == "teardown" and report.passed:
        return
    phase = report.nodeid.split("[", 1)[-1].rstrip("]").rsplit("-", 1)[-1]
    if report.failed or report.skipped or report.when == "call":
        state = _config.stash[_STATE]
        reason = None
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = report.longrepr[2].removeprefix("Skipped: ")
        elif report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)  # "RuntimeError: ..." rather than a file:line
            reason = (crash.message if crash else report.longreprtext.strip().splitlines()[-1])[:500]
        outcome = "failed" if report.failed else "skipped" if report.skipped else "passed"
        if state["outcomes"].get(phase, {}).get("outcome") != "failed":
            state["outcomes"][phase] = {"outcome": outcome, "reason": reason}
        if outcome != "passed":
            emit(_config, event="end", phase=phase, outcome=outcome, reason=reason)


def pytest_sessionstart(session):
    global _config
    _config = session.config


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--status-json")
    if path:
        state = session.config.stash[_STATE]
        Path(path).write_text(json.dumps({**state, "exitstatus": int(exitstatus), "finished": time.time()}, indent=2))


def pytest_benchmark_update_machine_info(config, machine_info):
    from shared.environment import cuda_version, gpus
    state = config.stash[_STATE]
    runtime = state["runtime"] or {}
    machine_info["fwbench"] = {"framework": options(config)["fw"], "framework_version": runtime.get("version"),
                               "device": config.getoption("--device"), "runtime": state["runtime"], "gpus": gpus(), "cuda_driver_version": cuda_version(),
                               "thread_env": {k: v for k, v in os.environ.items() if k.endswith("_THREADS")}}
