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


def layer_differences(reference: Sequence[tuple[np.ndarray, np.ndarray]],
                      other: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    """Per layer (W and b together): relative L2 distance and max absolute difference."""
    out = []
    for i, ((w1, b1), (w2, b2)) in enumerate(zip(reference, other)):
        p1 = np.concatenate([w1.ravel(), b1.ravel()])
        p2 = np.concatenate([w2.ravel(), b2.ravel()])
        out.append({"layer": i, "shape": list(w1.shape), "rel_l2": relative_l2(p1, p2),
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
# strict: both frameworks apply the same formula, so only rounding separates them. First epoch,
# measured over seeds 0-4: the worst step-loss gap per seed was 4e-7 to 1.9e-6, except seed 3 at
# 1.05e-5 (Adam divides by ~|g|, so weights whose gradient is near epsilon amplify a rounding
# difference in g). Hence 1e-5 at the median and 1e-4 on every seed; a formula difference
# (native mode) shows at 1e-3 and above. End of training is chaotic, hence medians over seeds.
STRICT_STEP_LOSS_RTOL = 1e-5
STRICT_STEP_LOSS_RTOL_ANY_SEED = 1e-4
STRICT_MIN_MEDIAN_AGREEMENT = 0.97
STRICT_MAX_MEDIAN_ACC_DIFF = 0.01
# native: two different Adams (epsilon placement), so the runs are compared as populations.
# Measured over seeds 0-4, each framework's accuracy has a seed-to-seed sd of ~4 pp (one seed in
# five lands near 0.85), so the difference of two 5-seed means has a standard error of ~2.5 pp: a
# fixed margin such as |difference| <= 2 pp would fail about half the time for identical
# frameworks. The rule is therefore "no detectable difference": the 95% Welch interval of the
# difference contains 0 (wrong ~5% of the time when they are equal); its width, printed beside
# it, says how small a difference that could have detected.
# The floor is the tutorial workload's (three groups, full vocabulary; the tutorial reported
# 91%): other workloads (all 20 groups, a cut vocabulary) have no accuracy target, so the native
# rule there is only "no detectable difference", and the accuracies are reported as they are.
NATIVE_MIN_MEAN_ACCURACY = 0.88


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
                 accuracy_differences: Sequence[float]) -> list[Rule]:
    """first_epoch_rel: per seed, the max relative difference of the first epoch's step losses;
    agreements and accuracy_differences (a - b): per seed."""
    return [
        Rule("first-epoch step losses, max relative difference, median over seeds",
             float(np.median(first_epoch_rel)), STRICT_STEP_LOSS_RTOL, True),
        Rule("first-epoch step losses, max relative difference, worst seed",
             float(np.max(first_epoch_rel)), STRICT_STEP_LOSS_RTOL_ANY_SEED, True),
        Rule("median prediction agreement over seeds",
             float(np.median(agreements)), STRICT_MIN_MEDIAN_AGREEMENT, False),
        Rule("median |accuracy difference| over seeds",
             float(np.median(np.abs(accuracy_differences))), STRICT_MAX_MEDIAN_ACC_DIFF, True),
    ]


def native_rules(accuracies: dict[str, Sequence[float]], min_accuracy: float | None = NATIVE_MIN_MEAN_ACCURACY
                 ) -> list[Rule]:
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
