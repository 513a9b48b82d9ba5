"""Noise figures from run folders: how far one case's worker processes spread, inside and
between processes, and how often A/A comparisons named a winner between identical cases.

- Between-process spread: the sample standard deviation of log per-process medians (about the
  coefficient of variation for spreads this small; the log scale is the one the ratios use).
- Within-process spread: the median over processes of the standard deviation of log round times.
- False-positive rate: the share of A/A comparisons whose verdict named a winner ("faster" or
  "slower"), with a Clopper-Pearson (exact binomial) 95% interval, so 0 of 30 reads as
  "0% (0-11.6%)", not as a proof that the rate is zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as st

from benchmarks.analysis import stats

# When a worker process's figures were timed on a machine shared with other work (the machine
# record, benchmarks/harness/machine.py, read around each phase): other processes used more than
# OTHER_CORES_LIMIT of a core beyond what the run itself expects (a duet's partner holds one core),
# or the hypervisor stole more than STEAL_SHARE_LIMIT of the wall time. Phases under MIN_WALL_S
# are never judged: /proc/stat counts 10 ms ticks, so over 40 ms one tick reads as a quarter core.
OTHER_CORES_LIMIT = 0.25
STEAL_SHARE_LIMIT = 0.02
MIN_WALL_S = 1.0

WINNERS = (stats.FASTER, stats.SLOWER)


def between_spread(samples: list) -> float | None:
    """sd of log per-process medians; None with fewer than two processes (stats.spread, the one
    definition the warnings use too)."""
    return stats.spread(samples)


def within_spread(samples: list) -> float | None:
    """Median over processes of the sd of log round times (processes with 2+ rounds)."""
    sds = [float(np.log(np.asarray(s, float)).std(ddof=1)) for s in samples if len(s) >= 2]
    return float(np.median(sds)) if sds else None


@dataclass(frozen=True)
class Rate:
    hits: int
    n: int
    low: float
    high: float
    confidence: float = 0.95

    @property
    def value(self) -> float:
        return self.hits / self.n


def clopper_pearson(hits: int, n: int, confidence: float = 0.95) -> Rate:
    if n < 1 or not 0 <= hits <= n:
        raise ValueError(f"need 0 <= hits <= n and n >= 1, got {hits} of {n}")
    a = 1 - confidence
    low = 0.0 if hits == 0 else float(st.beta.ppf(a / 2, hits, n - hits + 1))
    high = 1.0 if hits == n else float(st.beta.ppf(1 - a / 2, hits + 1, n - hits))
    return Rate(hits, n, low, high, confidence)


def false_positive_rate(verdicts: list[str]) -> Rate:
    """Of A/A verdict words, the share that named a winner."""
    return clopper_pearson(sum(v in WINNERS for v in verdicts), len(verdicts))


def half_width(low: float, high: float) -> float:
    """An interval's half-width on the log scale, as a ratio (1.10: +-10%)."""
    return math.exp((math.log(high) - math.log(low)) / 2)


def shares(m: dict | None) -> tuple[float | None, float | None]:
    """(steal share of the wall time, other processes' cores) of one machine record."""
    if not m or not m.get("wall_s"):
        return None, None
    wall = m["wall_s"]
    steal = None if m.get("steal_s") is None else m["steal_s"] / wall
    other = None if m.get("other_cpu_s") is None else m["other_cpu_s"] / wall
    return steal, other


def disturbed(m: dict | None, expected_other: float = 0.0) -> bool:
    """Whether a process-phase ran beside work that is not the run's (see the limits above)."""
    steal, other = shares(m)
    if not m or (m.get("wall_s") or 0.0) < MIN_WALL_S:
        return False
    return ((steal is not None and steal > STEAL_SHARE_LIMIT)
            or (other is not None and other - expected_other > OTHER_CORES_LIMIT))


def expected_other_cores(manifest: dict) -> float:
    """Other processes' CPU a run expects by design: a duet's partner holds one core."""
    return 1.0 if isinstance(manifest.get("duet"), dict) else 0.0
