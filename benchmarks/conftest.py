"""The worker protocol, in one place: pytest options and session state of one worker process,
which times one case (framework, variant, device, overrides) once.

`fwbench run` starts K such processes per case, interleaved with the other cases' (see
benchmarks/cases.schedule), so frameworks are never imported into the same timed process and
each case's figures carry the between-process variation. A worker can also be run by hand:

    python -m pytest benchmarks/test_bench.py -p no:cacheprovider --case tensorflow:graph@cpu --quick

Talking to the runner: progress lines on stdout, prefixed with PROGRESS_MARK; at the end the
status file (--status-json) holds each phase's outcome, the runtime read back from the framework
(threads, device, TF32), and the separate anatomy pass (step breakdown, machine probe).
"""
from __future__ import annotations

import gc
import json
import os
import time
from pathlib import Path

import pytest

from benchmarks.phases import HOLDINGS, PHASES, held_bytes
from shared.config import ExperimentConfig

PROGRESS_MARK = "@@fwbench "
# Test hook for the harness's failure path: a worker whose framework is named here fails its
# first phase, as a crashing framework would.
FAIL_ENV = "FWBENCH_FAIL_FRAMEWORK"
# A phase's pre-converted data may take at most this share of the available memory.
MEMORY_SHARE = 0.5
_STATE = pytest.StashKey[dict]()
_config = None  # pytest_runtest_logreport gets no config; set at session start


def pytest_addoption(parser):
    g = parser.getgroup("fwbench")
    g.addoption("--case", default="torch@cpu", help="case id, e.g. tensorflow:xla@cpu (see benchmarks/cases.py)")
    g.addoption("--process-index", type=int, default=0, help="which of the case's worker processes this is")
    g.addoption("--config-json", default=None, help="the run's base ExperimentConfig as JSON; default: the defaults")
    g.addoption("--archive", default=None, help="20news-bydate.tar.gz (default: $FWBENCH_ARCHIVE)")
    g.addoption("--phases", default=None, help="comma-separated phases (default: all of the case's scope)")
    g.addoption("--quick", action="store_true", help="tiny round counts, for smoke tests")
    g.addoption("--rounds", default=None, help="per-phase overrides PHASE=ROUNDS+WARMUP,... (sweep presets)")
    g.addoption("--anatomy", action="store_true", help="after the timed phases: step breakdown and machine probe")
    g.addoption("--status-json", default=None, help="write outcomes, runtime read-back and anatomy here")


def pytest_configure(config):
    config.stash[_STATE] = {"outcomes": {}, "runtime": None, "unavailable": None, "user_error": None,
                            "anatomy": None, "fresh_models": 0}


def options(config) -> dict:
    from benchmarks.cases import SHARED, Case, parse_case
    text = config.getoption("--case")
    case = Case(SHARED, "data", "cpu") if text.split(":")[0].split("@")[0] == SHARED else parse_case(text)
    path = config.getoption("--config-json")
    base = ExperimentConfig.from_dict(json.loads(Path(path).read_text())) if path else ExperimentConfig()
    scope = "shared" if case.is_shared else "framework"
    own = [p for p, ph in PHASES.items() if ph.scope == scope]
    wanted = config.getoption("--phases")
    phases = own if not wanted else [p for p in own if p in wanted.split(",")]
    return {"case": case, "cfg": case.config(base), "phases": phases, "quick": config.getoption("--quick"),
            "archive": config.getoption("--archive"), "index": config.getoption("--process-index")}


def parse_rounds(text: str | None) -> dict:
    from benchmarks.phases import Rounds
    out = {}
    for item in [t for t in (text or "").split(",") if t]:
        phase, _, spec = item.partition("=")
        rounds, _, warmup = spec.partition("+")
        out[phase] = Rounds(int(rounds), int(warmup or 0))
    return out


def pytest_generate_tests(metafunc):
    if "phase" in metafunc.fixturenames:
        o = options(metafunc.config)  # ids name the case: `pytest-benchmark compare` shows only the test name
        metafunc.parametrize("phase", o["phases"], ids=[f"{o['case'].slug}-{p}" for p in o["phases"]])


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
    """One worker's configured runtime, data and trained-in-place twin, plus the pre-converted
    data of the phase running now (released before the next phase, so each phase's peak RSS
    holds only its own data)."""

    def __init__(self, config):
        from shared.dataset import check_fits, prepare
        from shared.paths import cache_root
        o = options(config)
        self.config, self.case, self.cfg, self.quick = config, o["case"], o["cfg"], o["quick"]
        self.fw, self.device, self.index = self.case.framework, self.case.device, o["index"]
        self.archive, self.cache = o["archive"], cache_root()
        self.info, self.runtime, self.twin_cls, self.twin = None, None, None, None
        self.resident: dict = {}
        self.fresh_models = 0
        self.rounds = parse_rounds(config.getoption("--rounds"))
        if not self.case.is_shared:
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
        if not self.case.is_shared:
            from shared.errors import Unavailable
            try:
                self.twin = self.fresh_twin()
            except Unavailable as e:  # e.g. torch.compile without a compiler toolchain
                config.stash[_STATE]["unavailable"] = str(e)
                raise
            # The variant may change it (PyTorch's ftz): what the timed phases ran with, measured.
            config.stash[_STATE]["runtime"]["flush_denormal"] = self.runtime.flushes_denormals(self.device)

    def fresh_twin(self):
        from shared.training import build
        self.fresh_models += 1
        self.config.stash[_STATE]["fresh_models"] = self.fresh_models
        return build(self.twin_cls, self.cfg, self.data, self.case.variant)

    @property
    def input(self) -> str:
        return self.case.spec().input

    def too_big(self, phase: str) -> str | None:
        """Why a phase's pre-converted data, in this case's representation, would not fit."""
        import psutil
        need = held_bytes(PHASES[phase], self.cfg, self.data, self.input)
        free = psutil.virtual_memory().available * MEMORY_SHARE
        if need > free:
            return (f"its pre-converted {self.input} data need {need / 2**30:.1f} GiB, more than "
                    f"{MEMORY_SHARE:.0%} of the available memory ({free / MEMORY_SHARE / 2**30:.1f} GiB) "
                    f"with V = {self.data.vocab_size:,}")
        return None

    def hold(self, phase: str) -> dict:
        """Keep only what `phase` needs, converting it now (outside any timed region)."""
        need = PHASES[phase].holds
        for name in [n for n in self.resident if n not in need]:
            del self.resident[name]
        gc.collect()
        for name in need:
            if name not in self.resident:
                self.resident[name] = HOLDINGS[name].build(self)
        return self.resident

    def extra_info(self, phase: str) -> dict:
        """Recorded with every benchmark, so a bench JSON is readable on its own
        (`pytest-benchmark compare`); the run's reader takes threads from the manifest."""
        d = self.data
        info = {"case": self.case.id, "phase": phase, "process_index": self.index,
                "vocab_size": int(d.vocab_size), "n_train": int(d.x_train.shape[0]), "n_test": int(d.x_test.shape[0]),
                "batch_size": self.cfg.batch_size, "quick": self.quick}
        if self.info is not None:
            info.update(framework_version=self.info.version, device_name=self.info.device_name,
                        intra_op_threads=self.info.intra_op_threads, inter_op_threads=self.info.inter_op_threads)
        return info


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
            config.stash[_STATE]["user_error"] = str(e)  # e.g. a vocabulary size above V: the runner exits 2
        raise


def record_anatomy(config, anatomy: dict) -> None:
    config.stash[_STATE]["anatomy"] = anatomy


def pytest_runtest_logreport(report):
    if report.when == "teardown" and report.passed:
        return
    if "[" not in report.nodeid:
        return  # the anatomy pass reports through the status file, not as a phase
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
        Path(path).write_text(json.dumps({**state, "exitstatus": int(exitstatus), "finished": time.time()},
                                         indent=2, default=str))


def pytest_benchmark_update_machine_info(config, machine_info):
    state = config.stash[_STATE]
    o = options(config)
    machine_info["fwbench"] = {"case": o["case"].id, "process_index": o["index"], "runtime": state["runtime"],
                               "thread_env": {k: v for k, v in os.environ.items() if k.endswith("_THREADS")}}
