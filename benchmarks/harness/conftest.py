"""The worker protocol, in one place: one worker process times one case once, from one input
(the plan: a JSON file the runner writes, everything resolved) to one output (the result: a
JSON file in the reader's schema), beside pytest-benchmark's own JSON (the raw evidence that
`pytest-benchmark compare` reads).

`fwbench run` starts K such processes per case, interleaved with the other cases' (see
benchmarks/cases.schedule), so frameworks are never imported into the same timed process and
each case's figures carry the between-process variation. A worker can be rerun by hand from the
plan its run folder keeps:

    python -m pytest benchmarks/harness/test_bench.py -p no:cacheprovider --plan RUN/workers/<case>.p0.plan.json

The plan (runner.worker_plan): the case (as Case.to_dict), the case's resolved configuration,
its phases with their rounds, the process index, the archive, whether to run the anatomy pass,
where to write the result, and the execution controls (benchmarks/harness/execution.py): the
cores to pin to, the garbage collector during timed rounds, a duet's barrier. A duet worker
cannot be rerun alone: its barrier waits for a partner. The result: each phase's outcome, the runtime read back from the
framework (threads, device, TF32, flush-to-zero), the cores the process read back, each phase's
round times and extra figures, the anatomy pass. Progress lines on stdout (PROGRESS_MARK) are only progress.
"""
from __future__ import annotations

import gc
import json
import os
import time
from pathlib import Path

import pytest

from benchmarks.harness import execution

# --pin / --duet: before the imports below load numpy and start its threads (see execution.pin_early)
execution.pin_early()

from benchmarks.model.phases import HOLDINGS, PHASES, Rounds, held_bytes
from shared.config import ExperimentConfig

PROGRESS_MARK = "@@fwbench "
RESULT_SCHEMA = 1
# Test hook for the harness's failure path: a worker whose framework is named here fails its
# first phase, as a crashing framework would.
FAIL_ENV = "FWBENCH_FAIL_FRAMEWORK"
# A phase's pre-converted data may take at most this share of the available memory.
MEMORY_SHARE = 0.5
_STATE = pytest.StashKey[dict]()
_PLAN = pytest.StashKey[dict]()


def pytest_addoption(parser):
    parser.getgroup("fwbench").addoption("--plan", default=None, help="the worker's plan (JSON), written by `fwbench run`")


def pytest_configure(config):
    config.stash[_STATE] = {"schema": RESULT_SCHEMA, "outcomes": {}, "runtime": None, "unavailable": None,
                            "user_error": None, "anatomy": None, "fresh_models": 0, "phases": {},
                            "affinity": execution.read_affinity()}  # after pin_early: what the kernel applied


def plan_of(config) -> dict:
    """The plan, read once; the worker's only input."""
    if _PLAN not in config.stash:
        path = config.getoption("--plan")
        if not path:
            raise pytest.UsageError("a worker needs --plan PLAN.json (written by `fwbench run`, kept in its run "
                                    "folder under workers/)")
        plan = json.loads(Path(path).read_text())
        from benchmarks.model.cases import Case
        plan["case"] = Case.from_dict(plan["case"])
        plan["config"] = ExperimentConfig.from_dict(plan["config"])
        plan["rounds"] = {p: Rounds(**r) for p, r in plan["rounds"].items()}
        plan["result"] = str(Path(path).parent / plan["result"])
        config.stash[_PLAN] = plan
    return config.stash[_PLAN]


def pytest_generate_tests(metafunc):
    if "phase" in metafunc.fixturenames:
        plan = plan_of(metafunc.config)  # ids name the case: `pytest-benchmark compare` shows only the test name
        metafunc.parametrize("phase", plan["phases"], ids=[f"{plan['case'].slug}-{p}" for p in plan["phases"]])


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
        plan = plan_of(config)
        self.config, self.case, self.cfg, self.quick = config, plan["case"], plan["config"], plan["quick"]
        self.fw, self.device, self.index = self.case.framework, self.case.device, plan["process_index"]
        self.archive, self.cache, self.rounds = plan["archive"], cache_root(), plan["rounds"]
        self.info, self.runtime, self.twin_cls, self.twin = None, None, None, None
        self.resident: dict = {}
        self.fresh_models = 0
        if not self.case.is_shared:
            from shared import registry
            from shared.errors import UserError
            try:  # configure FIRST: TensorFlow fixes its thread pools at the first op
                self.runtime = registry.runtime(self.fw)
                self.info = self.runtime.configure(self.cfg.thread_count, self.device)
                self.twin_cls = registry.twin_class(self.fw, self.cfg.workload)
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


def record_phase(config, phase: str, rounds: list[float], extra: dict) -> None:
    """A timed phase's round times (seconds, warm-up excluded) and its extra figures."""
    config.stash[_STATE]["phases"][phase] = {"rounds": [float(x) for x in rounds], "extra": extra}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each phase's outcome, keyed by the test's own parameter (never parsed from its id)."""
    report = (yield).get_result()
    phase = getattr(getattr(item, "callspec", None), "params", {}).get("phase")
    if phase is None or (report.when == "teardown" and report.passed):
        return
    if report.failed or report.skipped or report.when == "call":
        state = item.config.stash[_STATE]
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
            emit(item.config, event="end", phase=phase, outcome=outcome, reason=reason)


def pytest_sessionfinish(session, exitstatus):
    """The worker's one result, written whatever happened (a failed or unavailable case too)."""
    if _PLAN not in session.config.stash:
        return
    plan = session.config.stash[_PLAN]
    state = session.config.stash[_STATE]
    barrier = execution.barrier_of(plan)
    if barrier is not None:
        barrier.exit()
    result = {**state, "case": plan["case"].id, "process_index": plan["process_index"],
              "exitstatus": int(exitstatus), "finished": time.time()}
    path = Path(plan["result"])
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=str))
    os.replace(tmp, path)  # a killed worker leaves no half-written result


def pytest_benchmark_update_machine_info(config, machine_info):
    state = config.stash[_STATE]
    plan = plan_of(config)
    machine_info["fwbench"] = {"case": plan["case"].id, "process_index": plan["process_index"],
                               "runtime": state["runtime"],
                               "thread_env": {k: v for k, v in os.environ.items() if k.endswith("_THREADS")}}
