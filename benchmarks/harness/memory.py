"""Peak process memory of one benchmark phase.

Linux lets a process reset its own RSS high-water mark (writing 5 to /proc/self/clear_refs),
so each phase's peak is its own, not the process's since start. Elsewhere the fallback is
getrusage's lifetime peak, and the scope says so.
"""
from __future__ import annotations

import resource
import sys

_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"


def reset_peak_rss() -> str:
    """Reset the high-water mark if the OS allows; returns the scope the next reading has."""
    try:
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")
        return "phase"
    except OSError:
        return "process"


def peak_rss_mb() -> float:
    try:
        with open(_STATUS) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)  # macOS: bytes, Linux: KiB
