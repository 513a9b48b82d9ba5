"""Statistics for parameter sweeps (time against batch size, vocabulary, hidden width, ...).

Pure numpy/scipy. Two questions:

fit_power_law(x, y_groups) -> Slope
    How does the cost grow with x? The exponent b of y = a * x^b, with a 95% interval.
    Input: for each sweep point x_i, the times of several independent processes (one value
    per process, e.g. each process's median round). Method: ordinary least squares of
    log(y) on log(x) over ALL process-level observations (not over per-point means), and a
    t interval slope +- t(0.975, n_obs - 2) * stderr, stderr from scipy.stats.linregress.
    The residuals then hold the between-process scatter (and any lack of fit of the power
    law), so the interval widens with the variation between processes, the thing that is
    independent from one observation to the next. Rounds within one process are not
    independent of each other, which is why the caller passes one value per process.
    An interval needs at least 3 observations; with 2 (an exact fit) low/high are None.

crossovers(x, ratios, min_effect=0.05) -> list[Crossover]
    Where does the winner change along the sweep? Each point carries a ratio
    r = time(A) / time(B) (B: the baseline) with its 95% interval. A point's verdict is the run
    report's (benchmarks/analysis/stats.verdict), in this module's words:
        "A faster"      when high < 1 and value < 1 / (1 + e)
        "B faster"      when low  > 1 and value > 1 + e
        "equivalent"    when the equivalence test holds (stats: its 90% interval, or without se/df
                        its 95% interval, within [1/(1+e), 1+e])
        "inconclusive"  otherwise; "no interval" when the point has none.
    A crossover lies between two consecutive *decisive* points (points with a winner) whose
    winners differ, with any number of non-decisive points (equivalent, inconclusive, no
    interval) between them; the Crossover counts each kind so the report can say which.
    Its x is estimated by linear interpolation of log(r) against log(x) on the consecutive
    pair of points (within the bracket) where log(r) changes sign; should the noisy
    no-difference region cross 0 more than once, the estimate is the median (in log x) of
    those crossings (a point with r exactly 1 counts as a crossing at its own x).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import stats

from benchmarks.analysis import stats as run_stats
from benchmarks.analysis.stats import CONFIDENCE, MIN_EFFECT  # one source for runs and sweeps

A_FASTER = "A faster"
B_FASTER = "B faster"
EQUIVALENT, INCONCLUSIVE, NO_INTERVAL = run_stats.EQUIVALENT, run_stats.INCONCLUSIVE, run_stats.NO_INTERVAL


@dataclass(frozen=True)
class Slope:
    """y = exp(intercept) * x ** exponent, fitted on log-log axes; [low, high] the interval
    of the exponent (None without enough observations)."""

    exponent: float
    low: float | None
    high: float | None
    intercept: float  # natural log of the prefactor a
    n_points: int  # distinct x values
    n_obs: int  # process-level observations used
    confidence: float = CONFIDENCE

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Crossover:
    """The winner changes from `before` to `after` ("A" or "B") between the decisive points
    left_index and right_index (indices into the sweep); x_estimate is where log(ratio),
    interpolated linearly in log(x), crosses 0."""

    x_estimate: float
    left_index: int
    right_index: int
    left_x: float
    right_x: float
    before: str
    after: str
    # the non-decisive points between the two decisive ones, by verdict (equivalent first)
    equivalent_between: int = 0
    inconclusive_between: int = 0  # inconclusive or without an interval

    @property
    def undecided_between(self) -> int:
        """How many non-decisive points lie between the two decisive ones."""
        return self.right_index - self.left_index - 1

    def to_dict(self) -> dict:
        return {**asdict(self), "undecided_between": self.undecided_between}


def fit_power_law(x: Sequence[float], y_groups: Sequence[Sequence[float]], *,
                  confidence: float = CONFIDENCE) -> Slope:
    """The exponent of y = a * x^b from per-process times at each x (see the module docstring)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or len(x) != len(y_groups):
        raise ValueError(f"x has {x.size} values but y_groups has {len(y_groups)} groups")
    lx, ly = [], []
    for xi, group in zip(x, y_groups):
        g = np.asarray(group, dtype=float).ravel()
        if g.size == 0:
            raise ValueError(f"no observations at x = {xi}")
        if not (np.isfinite(xi) and xi > 0 and np.all(np.isfinite(g)) and np.all(g > 0)):
            raise ValueError(f"x and y must be positive and finite (log-log fit); at x = {xi}: {g.tolist()}")
        lx.append(np.full(g.size, np.log(xi)))
        ly.append(np.log(g))
    lx, ly = np.concatenate(lx), np.concatenate(ly)
    n_points = int(np.unique(x).size)
    if n_points < 2:
        raise ValueError("a slope needs at least two distinct x values")
    fit = stats.linregress(lx, ly)
    low = high = None
    if lx.size > 2:
        half = stats.t.ppf(0.5 + confidence / 2, lx.size - 2) * fit.stderr
        low, high = float(fit.slope - half), float(fit.slope + half)
    return Slope(float(fit.slope), low, high, float(fit.intercept), n_points, int(lx.size), confidence)


def _triple(r) -> tuple:
    """(value, low, high, se, df) from a tuple (value, low, high[, se, df]) or from an object with
    .value/.low/.high (stats.Interval, whose se/df are used when it has them)."""
    if hasattr(r, "value"):
        return float(r.value), r.low, r.high, getattr(r, "se", None), getattr(r, "df", None)
    value, low, high, *rest = r
    se, df = (list(rest) + [None, None])[:2]
    return float(value), low, high, se, df


def verdict(value: float, low: float | None, high: float | None, min_effect: float = MIN_EFFECT,
            se: float | None = None, df: float | None = None) -> str:
    """One point's verdict on ratio = time(A) / time(B): the run report's rule
    (benchmarks/analysis/stats.verdict), with a winner named in this module's words. se/df (the
    log-scale statistics, when known) give the exact equivalence test; without them stats judges
    on the given interval alone."""
    iv = run_stats.Interval(value, low, high, 2 if low is not None and high is not None else 1, se=se, df=df)
    v = run_stats.verdict(iv, min_effect)
    return {"a": A_FASTER, "b": B_FASTER}.get(v.winner, v.word)


def _crossing_x(lx: np.ndarray, lr: np.ndarray) -> float:
    """Median (in log x) of the points where the piecewise-linear lr(lx) crosses 0."""
    found = []
    for k in range(len(lx) - 1):
        if lr[k] == 0.0:
            found.append(lx[k])
        elif lr[k] * lr[k + 1] < 0.0:
            found.append(lx[k] + (lx[k + 1] - lx[k]) * lr[k] / (lr[k] - lr[k + 1]))
    if lr[-1] == 0.0:
        found.append(lx[-1])
    return float(np.exp(np.median(found)))


def crossovers(x: Sequence[float], ratios: Sequence, min_effect: float = MIN_EFFECT) -> list[Crossover]:
    """Where the winner flips along a sweep. x: strictly increasing positive sweep values;
    ratios: per point (value, low, high) of time(A) / time(B) or objects with those
    attributes. Returns the crossovers in sweep order (empty when the winner never flips)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or len(x) != len(ratios):
        raise ValueError(f"x has {x.size} values but there are {len(ratios)} ratios")
    if np.any(~np.isfinite(x)) or np.any(x <= 0) or np.any(np.diff(x) <= 0):
        raise ValueError("x must be positive, finite and strictly increasing")
    if min_effect < 0:
        raise ValueError("min_effect must be >= 0")
    triples = [_triple(r) for r in ratios]
    values = np.array([t[0] for t in triples])
    if np.any(~np.isfinite(values)) or np.any(values <= 0):
        raise ValueError("ratio values must be positive and finite")
    words = [verdict(*t[:3], min_effect, *t[3:]) for t in triples]
    winners = [{A_FASTER: "A", B_FASTER: "B"}.get(w) for w in words]
    lx, lr = np.log(x), np.log(values)
    found, last = [], None
    for j, w in enumerate(winners):
        if w is None:
            continue
        if last is not None and winners[last] != w:
            between = words[last + 1:j]
            found.append(Crossover(_crossing_x(lx[last:j + 1], lr[last:j + 1]), last, j,
                                   float(x[last]), float(x[j]), winners[last], w,
                                   between.count(EQUIVALENT), len(between) - between.count(EQUIVALENT)))
        last = j
    return found
