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
# native: two different Adams (epsilon placement), so the runs are compared as populations.
# Measured over seeds 0-4 on the MLP, each framework's accuracy has a seed-to-seed sd of ~4 pp, so
# the difference of two 5-seed means has a standard error of ~2.5 pp: a fixed margin such as
# |difference| <= 2 pp would fail about half the time for identical frameworks. The rule is
# therefore "no detectable difference": the 95% Welch interval of the difference contains 0;
# its width, printed beside it, says how small a difference that could have detected. Where the
# workload has a measured accuracy target for exactly this recipe (Workload.accuracy_floor), each
# side's mean must reach it too.


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


def native_rules(accuracies: dict[str, Sequence[float]], min_accuracy: float | None) -> list[Rule]:
    """accuracies: case id (e.g. "torch:eager") -> per-seed test accuracies (exactly two cases,
    >= 2 seeds each). min_accuracy: the workload's accuracy floor, None where it has none."""
    (na, a), (nb, b) = accuracies.items()
    rules = [] if min_accuracy is None else [
        Rule(f"mean test accuracy of {name}", float(np.mean(acc)), min_accuracy, False)
        for name, acc in accuracies.items()]
    ci = welch_interval(a, b)
    if ci is None:
        raise ValueError("the native rule compares two samples: it needs at least 2 seeds")
    # 0 when the interval contains 0, else the smallest |difference| it allows
    rules.append(Rule(f"95% CI of the mean accuracy difference ({na} - {nb}) contains 0: "
                      f"distance of the CI from 0", max(ci.low, -ci.high, 0.0), 0.0, True))
    return rules


def parity_holds(rules: Sequence[Rule]) -> bool:
    return all(r.holds for r in rules)
