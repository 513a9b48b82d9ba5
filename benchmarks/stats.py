"""Confidence intervals for "A is r times faster than B", from the rounds pytest-benchmark kept.

Method: percentile bootstrap of the ratio of medians. Each resample draws, with replacement and
independently for the two sides, as many rounds as each side has, takes each side's median and
their ratio; the 2.5th and 97.5th percentiles of 10,000 such ratios are the 95% interval.

Why this one: round times are right-skewed (GC pauses, the scheduler, a cold cache), so the
median is the honest "typical" cost and the mean is not; the two frameworks ran in separate
processes, so their rounds are independent samples and are resampled separately; the bootstrap
needs no assumption about the shape of either distribution, and the ratio is the very number the
headline states. It is seeded so a report regenerated from the same JSON says the same thing.

What it does not cover: rounds within one process are not fully independent (drift, thermal
state, a neighbour's load), so the interval measures within-run noise, not run-to-run variation;
comparing whole runs (`fwbench report --compare`) is how to see the latter. With fewer than
MIN_ROUNDS rounds on a side, a resampled median is one of two or three values and the interval
means nothing, so none is given.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000
SEED = 20_260_101
CONFIDENCE = 0.95
MIN_ROUNDS = 3
_CHUNK = 1_000  # resamples per batch, so a long predict_one series stays within memory


@dataclass(frozen=True)
class Ratio:
    """value = median(a) / median(b): above 1, b is the faster side."""

    value: float
    low: float | None  # None: too few rounds (or no per-round data) for an interval
    high: float | None

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def measurable(self) -> bool:
        """True when the interval excludes 1, i.e. the data show a difference in one direction."""
        return self.has_interval and (self.low > 1.0 or self.high < 1.0)


def _boot_medians(data: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.empty(n)
    for start in range(0, n, _CHUNK):
        k = min(_CHUNK, n - start)
        idx = rng.integers(0, data.size, size=(k, data.size))
        out[start:start + k] = np.median(data[idx], axis=1)
    return out


def ratio_of_medians(a, b, *, resamples: int = RESAMPLES, seed: int = SEED,
                     confidence: float = CONFIDENCE) -> Ratio:
    """median(a) / median(b) with a percentile-bootstrap interval (None when a side has < MIN_ROUNDS)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one round")
    value = float(np.median(a) / np.median(b))
    if a.size < MIN_ROUNDS or b.size < MIN_ROUNDS:
        return Ratio(value, None, None)
    rng = np.random.default_rng(seed)
    ratios = _boot_medians(a, rng, resamples) / _boot_medians(b, rng, resamples)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return Ratio(value, float(low), float(high))
