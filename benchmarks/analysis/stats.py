"""Intervals at the level where the variance lives: worker processes.

A case runs in K worker processes, each timing R rounds of a phase. On these shared machines the
spread *between* processes (memory layout, thread placement, a neighbour's load, drift over the
run) is larger than the spread between rounds inside one process, so an interval built from the
pooled rounds claims a precision a rerun does not have (measured: two committed runs whose
round-level 95% intervals, 1.16-1.23x and 1.99-2.04x, lay on opposite sides of 1).

Method (used for every figure the report gives an interval to):
- Each process is reduced to one number: the median of its rounds for a time, its q-quantile
  for a latency percentile. The median is robust to the right-skew of round times.
- A ratio of two cases is exp(mean log m_A - mean log m_B) over those per-process figures, with
  Welch's t interval on the log scale (scipy.stats.t), mapped back with exp. The processes of two
  cases are independent samples, and their number, not the number of rounds, sets the degrees of
  freedom: with 3 processes a side the t quantile is about 2.8, not 1.96.
- A difference inside one case (warm-up cost = first epoch - steady epoch, measured in the same
  process) is a paired one: the mean of per-process differences with a one-sample t interval.
- With fewer than 2 processes on a side there is no interval, and so no verdict.

tests/test_stats.py proves the coverage on synthetic runs with per-process offsets and round noise:
this interval covers the true ratio in about 95% of simulated runs, a round-level bootstrap on the
same data (`round_level_ratio`, what fwbench reported before) in far fewer.

A verdict names a winner only when the interval excludes 1 *and* the ratio is beyond a minimum
effect (default 5%, like asv's --factor); otherwise "no measurable difference". Warnings follow
pyperf: per-process medians spread by more than 10% of their mean, or rounds shorter than 1 ms.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as st

CONFIDENCE = 0.95
MIN_EFFECT = 0.05
SPREAD_WARNING = 0.10  # std of per-process medians / their mean, as pyperf's "unstable" warning
SHORT_ROUND_S = 1e-3  # below this a round is mostly timer and call overhead


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided interval (low/high None: not enough processes)."""

    value: float
    low: float | None
    high: float | None
    n: int  # processes behind it (the smaller side for a ratio)
    confidence: float = CONFIDENCE

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def excludes(self, x: float) -> bool:
        return self.has_interval and (self.low > x or self.high < x)

    def to_dict(self) -> dict:
        return asdict(self)


def process_figure(rounds, q: float = 0.5) -> float:
    """One process's figure: the q-quantile (median by default) of its rounds."""
    return float(np.quantile(np.asarray(rounds, dtype=float), q))


def per_process(samples: list, q: float = 0.5) -> np.ndarray:
    return np.array([process_figure(s, q) for s in samples if len(s)], dtype=float)


def _t(confidence: float, df: float) -> float:
    return float(st.t.ppf(0.5 + confidence / 2, df))


def ratio(a_samples: list, b_samples: list, q: float = 0.5, confidence: float = CONFIDENCE) -> Interval:
    """Case A's time over case B's (above 1: B is faster), from their per-process figures."""
    la, lb = np.log(per_process(a_samples, q)), np.log(per_process(b_samples, q))
    if la.size == 0 or lb.size == 0:
        raise ValueError("both cases need at least one process with rounds")
    d = float(la.mean() - lb.mean())
    n = int(min(la.size, lb.size))
    if n < 2:
        return Interval(math.exp(d), None, None, n, confidence)
    va, vb = la.var(ddof=1) / la.size, lb.var(ddof=1) / lb.size
    se = math.sqrt(va + vb)
    if se == 0.0:
        return Interval(math.exp(d), math.exp(d), math.exp(d), n, confidence)
    # Welch-Satterthwaite degrees of freedom
    df = (va + vb) ** 2 / (va ** 2 / (la.size - 1) + vb ** 2 / (lb.size - 1))
    h = _t(confidence, df) * se
    return Interval(math.exp(d), math.exp(d - h), math.exp(d + h), n, confidence)


def location(samples: list, q: float = 0.5, confidence: float = CONFIDENCE) -> Interval:
    """A case's typical time (or latency percentile): the geometric mean of its per-process
    figures with a t interval on the log scale (the scale the ratios use; never below 0)."""
    x = per_process(samples, q)
    if x.size == 0:
        raise ValueError("no process with rounds")
    lx = np.log(x)
    m = float(lx.mean())
    if x.size < 2:
        return Interval(math.exp(m), None, None, int(x.size), confidence)
    h = _t(confidence, x.size - 1) * float(lx.std(ddof=1)) / math.sqrt(x.size)
    return Interval(math.exp(m), math.exp(m - h), math.exp(m + h), int(x.size), confidence)


def paired_difference(a_samples: list, b_samples: list, confidence: float = CONFIDENCE) -> Interval:
    """median(A) - median(B) within each process, averaged over processes, with a t interval.
    The lists are aligned by process: A and B were measured in the same worker process."""
    pairs = [(process_figure(a), process_figure(b)) for a, b in zip(a_samples, b_samples) if len(a) and len(b)]
    if not pairs:
        raise ValueError("no process measured both phases")
    d = np.array([x - y for x, y in pairs])
    m = float(d.mean())
    if d.size < 2:
        return Interval(m, None, None, int(d.size), confidence)
    h = _t(confidence, d.size - 1) * float(d.std(ddof=1)) / math.sqrt(d.size)
    return Interval(m, m - h, m + h, int(d.size), confidence)


@dataclass(frozen=True)
class Verdict:
    winner: str | None  # "a", "b" or None (no measurable difference / no interval)
    reason: str  # why there is no winner, or "" when there is one


def verdict(r: Interval, min_effect: float = MIN_EFFECT) -> Verdict:
    """For r = time(A) / time(B): B wins when r > 1, A when r < 1, only if both rules hold."""
    if not r.has_interval:
        return Verdict(None, f"no interval: {r.n} process(es) on a side, at least 2 needed")
    if not r.excludes(1.0):
        return Verdict(None, "the interval includes 1")
    if 1.0 / (1.0 + min_effect) <= r.value <= 1.0 + min_effect:
        return Verdict(None, f"the difference is below the minimum effect of {min_effect:.0%}")
    return Verdict("b" if r.value > 1.0 else "a", "")


def warnings(samples: list) -> list[str]:
    """pyperf-style stability warnings for one case's phase."""
    out = []
    m = per_process(samples)
    if m.size >= 2 and m.mean() > 0:
        spread = float(m.std(ddof=1) / m.mean())
        if spread > SPREAD_WARNING:
            out.append(f"per-process medians spread by {spread:.0%} of their mean (> {SPREAD_WARNING:.0%}): "
                       f"the machine was unstable")
    rounds = [x for s in samples for x in s]
    if rounds and float(np.median(rounds)) < SHORT_ROUND_S:
        out.append(f"rounds are shorter than {SHORT_ROUND_S * 1e3:.0f} ms: timer and call overhead weigh in")
    return out


def round_level_ratio(a_samples: list, b_samples: list, confidence: float = CONFIDENCE,
                      resamples: int = 2000, seed: int = 0) -> Interval:
    """What fwbench reported before: all rounds pooled and bootstrapped as if independent.
    Kept only to show, in tests/test_stats.py, how much less often it covers the truth."""
    a = np.concatenate([np.asarray(s, float) for s in a_samples])
    b = np.concatenate([np.asarray(s, float) for s in b_samples])
    rng = np.random.default_rng(seed)
    ra = np.median(a[rng.integers(0, a.size, (resamples, a.size))], axis=1)
    rb = np.median(b[rng.integers(0, b.size, (resamples, b.size))], axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(ra / rb, [tail, 100 - tail])
    return Interval(float(np.median(a) / np.median(b)), float(low), float(high), min(a.size, b.size), confidence)
