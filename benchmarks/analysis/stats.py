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

Verdicts (`verdict`, the one rule every report, comparison, sweep, figure and answer derives
from) on r = time(A) / time(B) with its (1 - alpha) interval and a minimum effect m (default 5%,
like asv's --factor), in four words declared here once:
- "faster" / "slower": the (1 - alpha) interval excludes 1 and the point is beyond the minimum
  effect (r < 1/(1+m): A is faster; r > 1+m: A is slower).
- "equivalent": two one-sided tests (TOST) at level alpha, i.e. the (1 - 2 alpha) interval (90%
  for alpha 0.05), from the same Welch log-scale statistics, lies inside [1/(1+m), 1+m].
- "inconclusive": neither. The verdict then carries two figures for the reader:
  `detectable` = exp(t(1 - alpha/2, df) * se), the smallest ratio (or its inverse) whose point
  estimate would put this run's (1 - alpha) interval clear of 1 (the interval's half-width on the
  ratio scale); and `processes_needed`, the smallest n' processes a side at which a run with the
  observed between-process variance and a true ratio of 1 would give a (1 - 2 alpha) interval
  inside the equivalence bounds: t(1 - alpha, df') * se * sqrt(n / n') <= log(1 + m), with
  df' = df * (n' - 1) / (n - 1) (n: the smaller side; exact when both sides have n processes).
- "no interval": fewer than 2 processes on a side (no verdict at all).
A ratio known only as (value, low, high) (no se/df, e.g. a sweep point read from a table) is
judged on that interval alone: equivalence then needs the (1 - alpha) interval inside the bounds,
a stricter test than TOST; its `processes_needed` is unknown (None).

Two runs' ratios (run to run, benchmarks/reports/compare.py) are compared by `ratio_of_ratios`:
log(r1 / r2) with se = sqrt(se1^2 + se2^2) and Welch-Satterthwaite degrees of freedom over the four
samples behind them, recovered exactly from each ratio's own (se, df): the sum of v_i^2/(n_i - 1)
within a ratio is se^4/df, so df = (se1^2 + se2^2)^2 / (se1^4/df1 + se2^4/df2). The same verdict
rule then says whether the two runs differ.

Warnings mark what is unusual, not what is common: a (case, phase) whose per-process medians
spread more than the run's typical spread gives by chance 1% of the time (a chi-square test of
the variance against `typical_spread`, the run's robust pooled spread), and rounds shorter than
1 ms. pyperf's fixed 10% rule marked two rows in three of this machine's runs (32 of 50 in one
matrix run): with three processes the sample spread scatters widely around the machine's own.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as st

CONFIDENCE = 0.95
MIN_EFFECT = 0.05
FIXED_SPREAD_RULE = 0.10  # pyperf's "unstable": sd of per-process medians over their mean (no longer used to warn)
UNUSUAL_LEVEL = 0.01  # a spread is unusual when the run's typical spread gives it by chance this rarely
SPREAD_FLOOR = 0.02  # spreads below 2% are never unusual: below what any run here resolves
SHORT_ROUND_S = 1e-3  # below this a round is mostly timer and call overhead
MAX_PROCESSES_NEEDED = 100_000  # beyond this, "processes needed" is reported as unknown (None)

# The verdict words, declared once: every report, table, figure and answer imports them.
FASTER = "faster"
SLOWER = "slower"
EQUIVALENT = "equivalent"
INCONCLUSIVE = "inconclusive"
NO_INTERVAL = "no interval"
BASELINE = "baseline"  # a report row of the baseline case itself: no verdict against itself
VERDICT_WORDS = (FASTER, SLOWER, EQUIVALENT, INCONCLUSIVE, NO_INTERVAL)
# Words earlier versions used as verdicts, retired because they blurred "could not tell" with "equal":
# a committed report still holding one was written by an older fwbench (tests/test_committed_reports.py).
RETIRED_VERDICT_WORDS = ("no measurable difference", "no significant difference", "no detectable difference")


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided interval (low/high None: not enough processes)."""

    value: float
    low: float | None
    high: float | None
    n: int  # processes behind it (the smaller side for a ratio)
    confidence: float = CONFIDENCE
    # A ratio's log-scale standard error and Welch degrees of freedom (None when it was built
    # from (value, low, high) alone): they give the same ratio's interval at another level.
    se: float | None = None
    df: float | None = None

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
        return Interval(math.exp(d), math.exp(d), math.exp(d), n, confidence, 0.0, None)
    # Welch-Satterthwaite degrees of freedom
    df = (va + vb) ** 2 / (va ** 2 / (la.size - 1) + vb ** 2 / (lb.size - 1))
    return log_interval(d, se, float(df), n, confidence)


def log_interval(d: float, se: float, df: float | None, n: int, confidence: float) -> Interval:
    """exp of the t interval d +- t(df) * se (se == 0: a point)."""
    h = _t(confidence, df) * se if se > 0 else 0.0
    return Interval(math.exp(d), math.exp(d - h), math.exp(d + h), n, confidence, se, df)


def inverse(r: Interval) -> Interval:
    """1 / r: the same comparison the other way round (the log-scale se and df are unchanged)."""
    return Interval(1 / r.value, None if r.high is None else 1 / r.high, None if r.low is None else 1 / r.low,
                    r.n, r.confidence, r.se, r.df)


def at_confidence(r: Interval, confidence: float) -> Interval:
    """The same ratio's interval at another level, from its own se and df (no Welch code twice)."""
    if not r.has_interval or r.se is None or (r.se > 0 and r.df is None):
        raise ValueError("only a ratio computed from samples (with se and df) has an interval at another level")
    return log_interval(math.log(r.value), r.se, r.df, r.n, confidence)


def ratio_of_ratios(r1: Interval, r2: Interval, confidence: float = CONFIDENCE) -> Interval:
    """r1 / r2 for two independent ratios (two runs' figures for the same comparison): se adds in
    quadrature on the log scale; df by Welch-Satterthwaite over the four samples behind them
    (module docstring). No interval unless both ratios have one with se and df."""
    n = min(r1.n, r2.n)
    d = math.log(r1.value) - math.log(r2.value)
    if not (r1.has_interval and r2.has_interval) or r1.se is None or r2.se is None:
        return Interval(math.exp(d), None, None, n, confidence)
    v1, v2 = r1.se ** 2, r2.se ** 2
    if v1 + v2 == 0.0:
        return Interval(math.exp(d), math.exp(d), math.exp(d), n, confidence, 0.0, None)
    # se^4/df is each ratio's own sum of v_i^2 / (n_i - 1); a zero-variance ratio adds nothing
    df = (v1 + v2) ** 2 / sum(v ** 2 / f for v, f in ((v1, r1.df), (v2, r2.df)) if v > 0)
    return log_interval(d, math.sqrt(v1 + v2), float(df), n, confidence)


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
    winner: str | None  # "a", "b" or None (equivalent, inconclusive or no interval)
    reason: str  # why there is no winner, or "" when there is one
    word: str = NO_INTERVAL  # one of VERDICT_WORDS
    min_effect: float = MIN_EFFECT
    # the (1 - 2 alpha) interval TOST reads (None without se/df or without an interval)
    equivalence: Interval | None = None
    detectable: float | None = None  # the (1 - alpha) interval's half-width as a ratio >= 1
    processes_needed: int | None = None  # a side, to decide equivalence if the true ratio were 1


def processes_needed(r: Interval, min_effect: float = MIN_EFFECT, alpha: float | None = None) -> int | None:
    """The smallest n' >= 2 processes a side with t(1 - alpha, df') * se * sqrt(n/n') <= log(1+m),
    df' = df (n' - 1)/(n - 1): what a run with this variance needs for its (1 - 2 alpha) interval
    to fit inside the equivalence bounds when the true ratio is 1 (module docstring)."""
    alpha = 1 - r.confidence if alpha is None else alpha
    if r.se is None or r.df is None or r.n < 2 or min_effect <= 0:
        return None
    bound = math.log1p(min_effect)
    ok = (lambda k: _t(1 - 2 * alpha, r.df * (k - 1) / (r.n - 1)) * r.se * math.sqrt(r.n / k) <= bound)
    if not ok(MAX_PROCESSES_NEEDED):
        return None
    lo, hi = 1, MAX_PROCESSES_NEEDED  # ok(hi) holds; the half-width shrinks as n' grows
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return max(hi, 2)


def verdict(r: Interval, min_effect: float = MIN_EFFECT) -> Verdict:
    """For r = time(A) / time(B) at level 1 - alpha (alpha = 1 - r.confidence): "faster" (A wins,
    winner "a"), "slower" (B wins, "b"), "equivalent", "inconclusive" or "no interval" (module
    docstring for the rules and the figures an inconclusive verdict carries)."""
    if not r.has_interval:
        return Verdict(None, f"no interval: {r.n} process(es) on a side, at least 2 needed", NO_INTERVAL, min_effect)
    lo_b, hi_b = 1.0 / (1.0 + min_effect), 1.0 + min_effect
    if r.excludes(1.0) and not lo_b <= r.value <= hi_b:
        a_wins = r.value < 1.0
        return Verdict("a" if a_wins else "b", "", FASTER if a_wins else SLOWER, min_effect)
    alpha = 1 - r.confidence
    exact = r.se is not None and (r.se == 0 or r.df is not None)
    # TOST: the (1 - 2 alpha) interval; without se/df only the (1 - alpha) interval is known,
    # and it inside the bounds implies the narrower one is too (a stricter, still valid test)
    eq = at_confidence(r, round(1 - 2 * alpha, 12)) if exact else None
    low, high = (eq.low, eq.high) if eq else (r.low, r.high)
    if lo_b <= low and high <= hi_b:
        return Verdict(None, f"the {(eq or r).confidence:.0%} interval lies within {min_effect:.0%} of 1",
                       EQUIVALENT, min_effect, eq)
    if exact:
        detectable = math.exp(_t(r.confidence, r.df) * r.se) if r.se > 0 else 1.0
    else:
        detectable = math.exp((math.log(r.high) - math.log(r.low)) / 2)
    why = ("the interval includes 1" if not r.excludes(1.0) else
           f"the interval excludes 1 but the difference is below the minimum effect of {min_effect:.0%}")
    return Verdict(None, f"{why}, and the {(eq or r).confidence:.0%} interval reaches beyond {min_effect:.0%} of 1",
                   INCONCLUSIVE, min_effect, eq, detectable, processes_needed(r, min_effect, alpha))


def inconclusive_detail(detectable: float, processes_needed: int | None, n: int, min_effect: float,
                        who: str = "the run", unit: str = "processes a side") -> str:
    """An inconclusive verdict's figures in words, the same in every report: what `who` could
    detect, and what would decide. processes_needed <= n means the interval is already narrow
    enough for equivalence but off-centre: the point lies too close to a bound for more processes
    of the same kind to be sure to settle it."""
    out = f"{who} could detect only differences beyond {detectable - 1:.0%}"
    if processes_needed is None:
        return out
    if processes_needed > n:
        return out + f"; about {processes_needed} {unit} would decide equivalence within {min_effect:.0%}"
    return out + f"; the interval is narrow enough, but the ratio lies close to the {min_effect:.0%} bound"


def spread(samples: list) -> float | None:
    """Between-process spread: the sample sd of log per-process medians (about their coefficient
    of variation); None with fewer than two processes."""
    m = per_process(samples)
    return float(np.log(m).std(ddof=1)) if m.size >= 2 else None


def spread_estimate(samples: list) -> float | None:
    """One row's estimate of the machine's between-process variance: s^2 divided by the median of
    chi2(n-1)/(n-1), so a row of n processes estimates sigma^2 without a median bias."""
    s, n = spread(samples), per_process(samples).size
    return None if s is None else s * s / (st.chi2.median(n - 1) / (n - 1))


def typical_spread(estimates: list[float]) -> float | None:
    """The typical between-process spread behind several rows' spread_estimate figures: the square
    root of their median (robust to the few unusual rows, which are what the warning looks for)."""
    est = [e for e in estimates if e is not None]
    return math.sqrt(float(np.median(est))) if est else None


def unusual_spread_limit(typical: float, n: int) -> float:
    """The spread of n processes that a machine with the typical spread exceeds with probability
    UNUSUAL_LEVEL (a chi-square test of the variance), never below SPREAD_FLOOR."""
    return max(typical * math.sqrt(st.chi2.ppf(1 - UNUSUAL_LEVEL, n - 1) / (n - 1)), SPREAD_FLOOR)


def unusual_spread(samples: list, typical: float | None) -> bool:
    """The spread rule alone: beyond what the typical spread gives n processes by chance."""
    s, n = spread(samples), per_process(samples).size
    return s is not None and typical is not None and s > unusual_spread_limit(typical, n)


def warnings(samples: list, typical: float | None = None) -> list[str]:
    """Stability warnings for one case's phase. The spread warning marks what is unusual: a spread
    beyond what the run's typical spread gives by chance (1%), not every spread above a fixed 10%
    (pyperf's rule, which on these machines marked two rows in three: with 3 processes the
    sample spread of a 9% machine exceeds 10% about half the time)."""
    out = []
    s, n = spread(samples), per_process(samples).size
    if unusual_spread(samples, typical):
        limit = unusual_spread_limit(typical, n)
        out.append(f"per-process medians spread by {s:.0%}, unusual for this run (typical {typical:.0%}; "
                   f"{n} processes exceed {limit:.0%} by chance {UNUSUAL_LEVEL:.0%} of the time): a process was "
                   f"disturbed or the machine changed during the run")
    rounds = [x for smp in samples for x in smp]
    if rounds and float(np.median(rounds)) < SHORT_ROUND_S:
        out.append(f"rounds are shorter than {SHORT_ROUND_S * 1e3:.0f} ms: timer and call overhead weigh in")
    return out


def fixed_rule_warns(samples: list) -> bool:
    """pyperf's fixed rule, kept only to count, beside the rule above, how many rows it would mark
    (the comparison report's before/after): per-process medians' sd over their mean above 10%."""
    m = per_process(samples)
    return bool(m.size >= 2 and m.mean() > 0 and m.std(ddof=1) / m.mean() > FIXED_SPREAD_RULE)


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
