"""Pure statistics of a parity comparison: agreement, weight distances, the interval of a
difference of means, and the parity rules with their verdict.

No framework imports here: `fwbench check`, the tests and the report all reuse these.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import stats


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of test posts on which two runs predict the same class."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"predictions must be non-empty and of one shape, got {a.shape} and {b.shape}")
    return float(np.mean(a == b))


def max_relative_difference(reference: np.ndarray, other: np.ndarray) -> float:
    """max |other - reference| / |reference|, elementwise (losses are positive)."""
    ref = np.asarray(reference, np.float64)
    return float(np.max(np.abs(np.asarray(other, np.float64) - ref) / np.abs(ref)))


def relative_l2(reference: np.ndarray, other: np.ndarray) -> float:
    """||other - reference|| / ||reference||: one number per tensor, insensitive to its size."""
    ref = np.asarray(reference, np.float64)
    return float(np.linalg.norm(np.asarray(other, np.float64) - ref) / np.linalg.norm(ref))


def layer_differences(reference: Sequence, other: Sequence) -> list[dict]:
    """Per entry of a weight structure (an MLP layer's (W, b) together, or one parameter array):
    relative L2 distance and max absolute difference."""
    out = []
    for i, (e1, e2) in enumerate(zip(reference, other)):
        e1, e2 = (e if isinstance(e, (tuple, list)) else (e,) for e in (e1, e2))
        p1 = np.concatenate([np.asarray(a).ravel() for a in e1])
        p2 = np.concatenate([np.asarray(a).ravel() for a in e2])
        out.append({"layer": i, "shape": list(np.shape(e1[0])), "rel_l2": relative_l2(p1, p2),
                    "max_abs": float(np.max(np.abs(p1.astype(np.float64) - p2)))})
    return out


@dataclass(frozen=True)
class Interval:
    """Welch's interval for mean(a) - mean(b)."""
    difference: float
    low: float
    high: float
    df: float | None
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)


def welch_interval(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Interval | None:
    """Confidence interval of mean(a) - mean(b) without assuming equal variances (Welch).

    Welch rather than Student: the two frameworks' seed-to-seed spreads need not be equal
    (native mode runs two different optimisers). Not paired by seed: training is chaotic, so a
    shared initial draw says little about where two runs end. None when either side has fewer
    than two values (no spread to estimate). Zero spread on both sides gives a zero-width interval.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size < 2 or b.size < 2:
        return None
    diff = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se2 = va + vb
    if se2 == 0:
        return Interval(diff, diff, diff, None, confidence)  # no spread: df undefined (and JSON has no inf)
    df = se2 ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * math.sqrt(se2)
    return Interval(diff, diff - half, diff + half, float(df), confidence)


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


# --- the parity rules ---------------------------------------------------------------------
# strict: both frameworks apply the same formula, so only rounding separates them; how close
# they must stay is the workload's (Workload.tolerances, measured per network). End of training is
# chaotic, hence medians over seeds.
# native: two different Adams (epsilon placement), so the runs are compared as populations, and
# parity is an equivalence to be shown, not the absence of a detected difference: it holds when the
# 90% Welch interval of the difference of mean accuracies lies within +-ACCURACY_MARGIN (two one-sided
# tests at 5% each, the rule the timing verdicts use: benchmarks/analysis/stats.py). Measured over
# seeds 0-9, each framework's accuracy has a seed-to-seed sd of ~4 pp, so 10 seeds a side give an
# interval of about +-3 pp: too wide for a 2 pp margin, and the check says "inconclusive" with the
# seeds a side that would decide it, rather than "holds" on an interval of -14 to +19 points.
ACCURACY_MARGIN = 0.02  # two percentage points of test accuracy
# The words, the same as the timing verdicts' where they mean the same (tests/test_metrics.py checks).
PARITY_EQUIVALENT = "equivalent"
PARITY_DIFFERENT = "different"
PARITY_INCONCLUSIVE = "inconclusive"
MAX_SEEDS_NEEDED = 100_000
# Where the workload has a measured accuracy target for exactly this recipe
# (Workload.accuracy_floor), each side's mean must reach it too; elsewhere the rule is only the
# equivalence, and the accuracies are reported as they are.


@dataclass(frozen=True)
class Rule:
    text: str  # what is required, in words
    measured: float
    limit: float
    at_most: bool  # True: measured <= limit; False: measured >= limit

    @property
    def holds(self) -> bool:
        return bool(self.measured <= self.limit if self.at_most else self.measured >= self.limit)

    def to_dict(self) -> dict:
        return {**asdict(self), "holds": self.holds}


def strict_rules(first_epoch_rel: Sequence[float], agreements: Sequence[float],
                 accuracy_differences: Sequence[float], tolerances) -> list[Rule]:
    """first_epoch_rel: per seed, the max relative difference of the first epoch's step losses;
    agreements and accuracy_differences (a - b): per seed; tolerances: the workload's
    (shared.workloads.base.Tolerances)."""
    t = tolerances
    return [
        Rule("first-epoch step losses, max relative difference, median over seeds",
             float(np.median(first_epoch_rel)), t.step_loss_rtol, True),
        Rule("first-epoch step losses, max relative difference, worst seed",
             float(np.max(first_epoch_rel)), t.step_loss_rtol_any_seed, True),
        Rule("median prediction agreement over seeds",
             float(np.median(agreements)), t.min_median_agreement, False),
        Rule("median |accuracy difference| over seeds",
             float(np.median(np.abs(accuracy_differences))), t.max_median_accuracy_difference, True),
    ]


@dataclass(frozen=True)
class AccuracyParity:
    """The equivalence of two mean accuracies: the word, the 95% interval (is there a difference?),
    the 90% interval TOST reads (is it within the margin?), and the seeds a side that would decide
    it at the observed spread if the true difference were 0 (None: the observed difference is at
    least the margin, or more than MAX_SEEDS_NEEDED would be needed)."""
    word: str
    difference: float
    low: float
    high: float
    equivalence_low: float
    equivalence_high: float
    margin: float
    seeds: int
    seeds_needed: int | None

    def to_dict(self) -> dict:
        return asdict(self)

    def text(self, names: tuple[str, str] = ("A", "B")) -> str:
        a, b = names
        pp = (lambda x: f"{100 * x:+.1f}")
        ci = f"95% CI {pp(self.low)} to {pp(self.high)} points"
        if self.word == PARITY_EQUIVALENT:
            return (f"{PARITY_EQUIVALENT} within {100 * self.margin:g} points ({a} - {b} {pp(self.difference)} points, "
                    f"90% CI {pp(self.equivalence_low)} to {pp(self.equivalence_high)}, two one-sided tests)")
        if self.word == PARITY_DIFFERENT:
            return f"{PARITY_DIFFERENT}: {a} - {b} {pp(self.difference)} points ({ci})"
        need = (f"about {self.seeds_needed} seeds a side would decide equivalence within {100 * self.margin:g} points "
                f"at this spread" if self.seeds_needed else
                f"no number of seeds would show equivalence within {100 * self.margin:g} points if the observed "
                f"difference is real")
        return (f"{PARITY_INCONCLUSIVE}: {a} - {b} {pp(self.difference)} points ({ci}; 90% CI "
                f"{pp(self.equivalence_low)} to {pp(self.equivalence_high)}, not within +-{100 * self.margin:g}); "
                f"{self.seeds} seeds a side; {need}")


def accuracy_equivalence(a: Sequence[float], b: Sequence[float], margin: float = ACCURACY_MARGIN) -> AccuracyParity:
    """Two samples of accuracies (one per seed): "equivalent" when the 90% Welch interval of
    mean(a) - mean(b) lies within +-margin, "different" when the 95% interval excludes 0 and the
    difference is at least the margin, else "inconclusive"."""
    ci95, ci90 = welch_interval(a, b, 0.95), welch_interval(a, b, 0.90)
    if ci95 is None:
        raise ValueError("an equivalence of accuracies compares two samples: it needs at least 2 seeds a side")
    n = int(min(len(a), len(b)))
    if -margin <= ci90.low and ci90.high <= margin:
        word = PARITY_EQUIVALENT
    elif (ci95.low > 0 or ci95.high < 0) and abs(ci95.difference) >= margin:
        word = PARITY_DIFFERENT
    else:
        word = PARITY_INCONCLUSIVE
    return AccuracyParity(word, ci95.difference, ci95.low, ci95.high, ci90.low, ci90.high, margin, n,
                          None if word == PARITY_EQUIVALENT else seeds_needed(a, b, margin))


def seeds_needed(a: Sequence[float], b: Sequence[float], margin: float = ACCURACY_MARGIN) -> int | None:
    """The fewest seeds a side whose 90% interval, at the observed spreads and a true difference of
    0, fits within +-margin (None beyond MAX_SEEDS_NEEDED, or with no spread to scale)."""
    va, vb = float(np.var(a, ddof=1)), float(np.var(b, ddof=1))
    if va + vb == 0 or margin <= 0:
        return None

    def ok(k: int) -> bool:
        se2 = (va + vb) / k
        df = se2 ** 2 / ((va / k) ** 2 / (k - 1) + (vb / k) ** 2 / (k - 1))
        return float(stats.t.ppf(0.95, df)) * math.sqrt(se2) <= margin

    if not ok(MAX_SEEDS_NEEDED):
        return None
    lo, hi = 2, MAX_SEEDS_NEEDED
    if ok(lo):
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def native_rules(accuracies: dict[str, Sequence[float]], min_accuracy: float | None,
                 margin: float = ACCURACY_MARGIN) -> list[Rule]:
    """accuracies: case id (e.g. "torch:eager") -> per-seed test accuracies (exactly two cases,
    >= 2 seeds each). min_accuracy: the workload's accuracy floor, None where it has none. The
    equivalence rule holds only when the mean accuracies are shown equivalent (accuracy_equivalence)."""
    (na, a), (nb, b) = accuracies.items()
    rules = [] if min_accuracy is None else [
        Rule(f"mean test accuracy of {name}", float(np.mean(acc)), min_accuracy, False)
        for name, acc in accuracies.items()]
    eq = accuracy_equivalence(a, b, margin)
    rules.append(Rule(f"90% CI of the mean accuracy difference ({na} - {nb}) within +-{margin:g} (two one-sided "
                      f"tests at 5%): the CI's farther end from 0", max(-eq.equivalence_low, eq.equivalence_high),
                      margin, True))
    return rules


def parity_holds(rules: Sequence[Rule]) -> bool:
    return all(r.holds for r in rules)
