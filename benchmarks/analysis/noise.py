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

WINNERS = (stats.FASTER, stats.SLOWER)


def between_spread(samples: list) -> float | None:
    """sd of log per-process medians; None with fewer than two processes."""
    m = stats.per_process(samples)
    return float(np.log(m).std(ddof=1)) if m.size >= 2 else None


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
