"""Execution controls of one worker process, from its plan (runner.worker_plan):

- `affinity` (--pin, --duet): the cores the process pins itself to, before numpy or a framework
  has started a thread (a thread takes the affinity of the thread that creates it, so pinning
  later would leave the thread pools where they were); the worker records what it reads back.
- `gc` ("on" / "off", --gc): with "off" each phase's timed rounds run with Python's garbage
  collector collected, frozen and disabled, as timeit does, so a collection triggered by one
  framework's allocation pattern is not timed as that framework's work.
- `barrier` (--duet): before every round, warm-up included, wait for the partner process to
  reach the same round (benchmarks/harness/barrier.py), so the two cases time it together.

All three act by wrapping `benchmark.pedantic` for one phase (`timed_rounds`), so no phase in
benchmarks/model/phases.py knows about them.
"""
from __future__ import annotations

import gc
import itertools
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from benchmarks.harness.barrier import Barrier


def _plan_path(argv: list[str]) -> str | None:
    for i, a in enumerate(argv):
        if a == "--plan" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--plan="):
            return a.split("=", 1)[1]
    return None


def pin_early(argv: list[str] | None = None) -> None:
    """Pin this process to the plan's cores. Called when the worker's conftest is imported, the
    first of the worker's own code to run, before it imports numpy: pytest's option parsing
    comes later, so the plan's path is read from the command line here."""
    path = _plan_path(sys.argv if argv is None else argv)
    if not path:
        return
    try:
        cores = json.loads(Path(path).read_text()).get("affinity")
    except (OSError, ValueError, AttributeError):
        return  # conftest.plan_of reads the plan again and reports what is wrong with it
    if cores:
        os.sched_setaffinity(0, cores)


def read_affinity() -> list[int] | None:
    """The cores this process may run on, as the kernel reports them."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None


def barrier_of(plan: dict) -> Barrier | None:
    b = plan.get("barrier")
    return Barrier(b["folder"], b["side"], b["partner"]) if b else None


@contextmanager
def timed_rounds(benchmark, phase: str, plan: dict):
    """While the phase runs, `benchmark.pedantic` applies the plan's gc setting and barrier."""
    barrier = barrier_of(plan)
    gc_off = plan.get("gc") == "off"
    original = benchmark.pedantic

    def pedantic(target, args=(), kwargs=None, setup=None, teardown=None, rounds=1, warmup_rounds=0, iterations=1):
        before = setup
        if barrier is not None:
            count = itertools.count()

            def synchronised():
                # pytest-benchmark calls setup before every round, warm-up included, outside the
                # timed region; it refuses a setup that returns arguments when args= is given, so
                # this returns exactly what the phase's own setup returned (None without one).
                out = setup() if setup is not None else None
                barrier.wait(phase, next(count))
                return out
            before = synchronised
        call = dict(args=args, kwargs=kwargs, setup=before, teardown=teardown, rounds=rounds,
                    warmup_rounds=warmup_rounds, iterations=iterations)
        if not gc_off:
            return original(target, **call)
        gc.collect()
        gc.freeze()  # what survives the collection is never scanned again while the rounds run
        gc.disable()
        try:
            return original(target, **call)
        finally:
            gc.enable()
            gc.unfreeze()

    benchmark.pedantic = pedantic
    try:
        yield
    finally:
        del benchmark.pedantic  # the class's own method again
        if barrier is not None:
            barrier.leave(phase)  # passed, skipped or failed: the partner must not wait for this side
