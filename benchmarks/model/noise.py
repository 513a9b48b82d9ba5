"""The noise study's settings, declared once: each is a set of `fwbench run` options under
which one A/A run (a case against an identical copy of itself) measures how much the
processes of one case spread on this machine, and whether the suite names a winner between
identical cases. `fwbench noise` runs them; benchmarks/reports/noise_report.py tabulates them.

Why these factors (issue 19): the thread budget (two threads share two cores with everything
else; one thread leaves a core free), pinning (a worker the scheduler cannot move between cores
keeps its caches), and Python's garbage collector (PyTorch's eager loop allocates Python objects
every step, so a collection can land inside a timed round). Processes against rounds at a fixed
time budget is not a setting: it follows from the variance components every setting measures
(benchmarks/analysis/pilot.py), so it is computed, not run.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str  # the folder name under the study's output
    about: str  # what differs, in words, for the table
    options: tuple[str, ...]  # the `fwbench run` options that make it


SETTINGS = (
    Setting("threads2", "2 threads per worker, not pinned, GC on (the defaults)", ("--threads", "2")),
    Setting("threads1", "1 thread per worker", ("--threads", "1")),
    Setting("threads1-pinned", "1 thread, each worker pinned to one core", ("--threads", "1", "--pin")),
    Setting("threads2-gc-off", "2 threads, the garbage collector off in timed rounds", ("--threads", "2", "--gc", "off")),
)
BY_NAME = {s.name: s for s in SETTINGS}

# What the study times: the warm epoch and single-post latency (the minimum), and the
# whole-test-set prediction, which costs little and adds a third kind of round.
PHASES = ("train_epoch", "predict_all", "predict_one")
CASES = ("torch:eager",)
PROCESSES = 3
