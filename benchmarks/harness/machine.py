"""What the machine did while one worker timed one phase: the wall time, the time the hypervisor
took the CPUs away (steal), the CPU time every other process on the machine used, this
process's own CPU time and its minor page faults. A phase whose process shared the cores with someone else shows it here,
so a disturbed process is visible in the report (benchmarks/reports/disturbance.py).

    before = sample(); ...the timed phase...; record = between(before, sample())

The system figures come from the aggregate `cpu` line of /proc/stat (clock ticks since boot):
busy = user + nice + system + irq + softirq (guest time is already inside user), steal apart.
Own CPU time is os.times() user + system: every thread of this process (the frameworks' thread
pools included), not its children (a worker starts none). other_cpu_s = busy - own, clamped at 0
because both counters advance in whole ticks (1/CLK_TCK s, 10 ms), so over a short phase their
difference can come out a tick below zero. Without /proc/stat (not Linux), the system figures are
None and the record's note says why. The record's fields are the reader's (rundata.MACHINE_FIELDS).

Minor page faults (getrusage's ru_minflt, every thread of this process) count the pages the
kernel had to map in: memory a framework freed back to the OS and asked for again. glibc's malloc
serves a block above its mmap threshold (128 KB, raised by frees up to 32 MB) with a fresh mmap,
so a framework that allocates large temporaries per call without its own cache pays a fault per
4 KB page every call: PyTorch's Transformer predict-all took 600,000-690,000 a call and
TensorFlow's none (AMD EPYC, 2026-12-07). None where getrusage is missing (not Unix).
"""
from __future__ import annotations

import os
import time

try:
    import resource
except ImportError:  # not Unix
    resource = None
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
# The aggregate line's columns, in the kernel's order (proc(5)).
COLUMNS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
BUSY = ("user", "nice", "system", "irq", "softirq")


def parse_proc_stat(text: str) -> dict[str, int] | None:
    """The aggregate `cpu` line of /proc/stat as {column: ticks}; None when there is none.
    Columns an old kernel lacks (steal before 2.6.11) read as 0."""
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            values = [int(x) for x in parts[1:1 + len(COLUMNS)]]
            values += [0] * (len(COLUMNS) - len(values))
            return dict(zip(COLUMNS, values))
    return None


@dataclass(frozen=True)
class Sample:
    wall: float  # time.perf_counter()
    own: float  # this process's CPU seconds, all threads
    ticks: dict[str, int] | None  # /proc/stat's aggregate line, None where unreadable
    why: str | None = None  # why ticks is None
    faults: int | None = None  # this process's minor page faults so far; None without getrusage


def sample(stat: Path = PROC_STAT) -> Sample:
    t = os.times()
    try:
        ticks, why = parse_proc_stat(stat.read_text()), None
        if ticks is None:
            why = f"{stat} has no aggregate cpu line"
    except OSError as e:
        ticks, why = None, f"{stat} cannot be read ({e.__class__.__name__}): not Linux?"
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource is not None else None
    return Sample(time.perf_counter(), t.user + t.system, ticks, why, faults)


def between(a: Sample, b: Sample, tick_s: float | None = None) -> dict:
    """The machine record of the interval from `a` to `b` (seconds; None where not measurable)."""
    wall, own = max(b.wall - a.wall, 0.0), max(b.own - a.own, 0.0)
    faults = b.faults - a.faults if a.faults is not None and b.faults is not None else None
    if a.ticks is None or b.ticks is None:
        return {"wall_s": wall, "steal_s": None, "other_cpu_s": None, "own_cpu_s": own, "minor_faults": faults,
                "note": a.why or b.why}
    tick_s = tick_s or 1.0 / os.sysconf("SC_CLK_TCK")
    busy = sum(b.ticks[k] - a.ticks[k] for k in BUSY) * tick_s
    steal = (b.ticks["steal"] - a.ticks["steal"]) * tick_s
    return {"wall_s": wall, "steal_s": max(steal, 0.0), "other_cpu_s": max(busy - own, 0.0), "own_cpu_s": own,
            "minor_faults": faults, "note": None}
