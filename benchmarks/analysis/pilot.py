"""Sizing a run from a pilot (Kalibera & Jones, "Rigorous benchmarking in reasonable time", 2013).

A pilot run (2 processes per case, a few rounds per phase) gives, per phase, pooled over cases:

    σ²_p  between-process variance: the variance of the log per-process medians (per case, over
          its processes; averaged over cases). It still holds the pilot's own within-process noise
          of the median (σ²_r / R_pilot roughly): left in, so the estimate errs on the wide side.
    σ²_r  within-process variance: the variance of log round times within a process (pooled:
          Σ squared deviations / Σ (rounds - 1) over every process of every case).
    c_r   the cost of one round: the mean round time (seconds).
and, for the whole worker, c_p: the cost of starting one process (its wall time less its rounds,
warm-up rounds counted at the phase's mean round time), averaged over the pilot's workers.

The suite's interval for a ratio is Welch's on the logs of per-process medians, K processes a
side, so its expected 95% half-width on the log scale is

    h(K, R) = t(0.975, 2K - 2) · sqrt(2 · (σ²_p + σ²_r / R) / K)

and the ratio interval is ±target when h <= log(1 + target). For a fixed cost, the rounds per
process that minimise the variance are R* = sqrt(c_p · σ²_r / (c_r · σ²_p)) (K&J's optimum), clipped
to [MIN_ROUNDS, MAX_ROUNDS] and rounded up. Each phase then needs the smallest K >= 2 with
h(K, R*) <= log(1 + target); one worker times every phase, so the run takes the largest of those.
The run's expected time is K · Σ_cases (c_p + Σ_its phases (R + W) · c_r), W the phase's warm-up rounds.
If that exceeds the time left after the pilot, K is the largest that fits (and the widths it
expects are stated); if not even K = 2 fits at R*, the run's own rounds are taken where they are
fewer, and if K = 2 does not fit even then, the budget is refused.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as st

from shared.errors import UserError

MIN_PROCESSES = 2  # an interval needs two processes a side
MAX_PROCESSES = 100
MIN_ROUNDS = 3  # a median of fewer rounds is one unlucky round away from its worst
MAX_ROUNDS = 500  # the latency phase's rounds are short: beyond this the process start dominates nothing
DEFAULT_TARGET = 0.10


@dataclass(frozen=True)
class PhaseEstimate:
    phase: str
    sigma2_p: float
    sigma2_r: float
    c_r: float  # seconds per round
    warmup: int  # warm-up rounds the real run will add per process


@dataclass(frozen=True)
class PhaseChoice:
    phase: str
    rounds: int  # R
    processes_needed: int  # the smallest K reaching the target for this phase (MAX_PROCESSES+1: none does)
    expected_halfwidth: float  # with the run's K, as a ratio: 0.08 = ±8%


@dataclass(frozen=True)
class Sizing:
    processes: int  # K, per case
    phases: list[PhaseChoice]
    c_p: float
    expected_s: float  # the real run's estimated time
    available_s: float
    target: float
    reaches_target: bool

    def to_dict(self) -> dict:
        return asdict(self)


def estimate_phase(phase: str, cases: list[list[np.ndarray]], warmup: int) -> PhaseEstimate:
    """Estimates from one phase's pilot rounds: per case, a list of per-process round arrays."""
    between, within_ss, within_df, all_rounds = [], 0.0, 0, []
    for procs in cases:
        procs = [np.asarray(p, dtype=float) for p in procs if len(p)]
        if len(procs) >= 2:
            between.append(float(np.var([math.log(np.median(p)) for p in procs], ddof=1)))
        for p in procs:
            logs = np.log(p)
            within_ss += float(((logs - logs.mean()) ** 2).sum())
            within_df += p.size - 1
            all_rounds.append(p)
    if not between or within_df < 1:
        raise UserError(f"the pilot measured too little of phase {phase} (2 processes of a case and 2 rounds are "
                        f"needed) to size the run: give --pilot more seconds or run without --pilot")
    return PhaseEstimate(phase, float(np.mean(between)), within_ss / within_df,
                         float(np.mean(np.concatenate(all_rounds))), warmup)


def halfwidth(k: int, r: int, sigma2_p: float, sigma2_r: float) -> float:
    """The expected 95% half-width of the ratio interval, as a ratio (0.1 = ±10%)."""
    return math.expm1(float(st.t.ppf(0.975, 2 * k - 2)) * math.sqrt(2 * (sigma2_p + sigma2_r / r) / k))


def best_rounds(c_p: float, e: PhaseEstimate) -> int:
    if e.sigma2_r <= 0:
        return MIN_ROUNDS  # rounds that never vary: more of them buy nothing
    if e.sigma2_p <= 0 or e.c_r <= 0:
        return MAX_ROUNDS  # processes that never differ (or free rounds): rounds are the cheap way
    r = math.sqrt(c_p * e.sigma2_r / (e.c_r * e.sigma2_p))
    return int(min(max(math.ceil(r), MIN_ROUNDS), MAX_ROUNDS))


def run_seconds(k: int, cases: list[list[str]], c_p: float, rounds: dict[str, int],
                ests: list[PhaseEstimate]) -> float:
    """The real run's time: each case's K processes, each a start plus its own phases' rounds."""
    by = {e.phase: e for e in ests}
    return k * sum(c_p + sum((rounds[p] + by[p].warmup) * by[p].c_r for p in phases if p in by) for phases in cases)


def choose(ests: list[PhaseEstimate], c_p: float, cases: list[list[str]], available_s: float,
           target: float = DEFAULT_TARGET, fewest: dict[str, int] | None = None) -> Sizing:
    """K and R per phase (see the module docstring); `cases`: each case's phases (the shared
    data case times other phases than the frameworks'). `fewest`: per phase, the rounds to fall
    back to (the run's own) when two processes at R* do not fit: R* minimises the variance at a
    given cost, but a budget that cannot buy it still buys an interval. UserError when two
    processes do not fit even then."""
    if not (math.isfinite(target) and target > 0):
        raise UserError(f"--target-width must be a positive percentage, got {target * 100:g}: e.g. --target-width 10")
    rounds = {e.phase: best_rounds(c_p, e) for e in ests}
    if fewest and run_seconds(MIN_PROCESSES, cases, c_p, rounds, ests) > available_s:
        rounds = {p: min(r, max(int(fewest.get(p, r)), 1)) for p, r in rounds.items()}
    needed = {}
    for e in ests:
        needed[e.phase] = next((k for k in range(MIN_PROCESSES, MAX_PROCESSES + 1)
                                if halfwidth(k, rounds[e.phase], e.sigma2_p, e.sigma2_r) <= target), MAX_PROCESSES + 1)
    want = min(max(needed.values()), MAX_PROCESSES)
    fits = [k for k in range(MIN_PROCESSES, want + 1) if run_seconds(k, cases, c_p, rounds, ests) <= available_s]
    if not fits:
        need = run_seconds(MIN_PROCESSES, cases, c_p, rounds, ests)
        raise UserError(f"--pilot budget too small: two processes per case need about {need:.0f} s after the pilot, "
                        f"{max(available_s, 0):.0f} s are left: give --pilot at least "
                        f"{math.ceil(need - available_s + 1)} s more, or fewer cases or phases")
    k = fits[-1]
    phases = [PhaseChoice(e.phase, rounds[e.phase], needed[e.phase],
                          halfwidth(k, rounds[e.phase], e.sigma2_p, e.sigma2_r)) for e in ests]
    return Sizing(k, phases, c_p, run_seconds(k, cases, c_p, rounds, ests), available_s, target,
                  all(p.expected_halfwidth <= target + 1e-12 for p in phases))


def describe(s: Sizing) -> str:
    """What was chosen and why, in one paragraph (printed by the run, shown in the report)."""
    per = "; ".join(f"{p.phase}: {p.rounds} rounds, expected ±{p.expected_halfwidth:.1%}"
                    + ((f" (needs more than {MAX_PROCESSES} processes)" if p.processes_needed > MAX_PROCESSES
                        else f" (needs {p.processes_needed} processes)") if p.processes_needed > s.processes else "")
                    for p in s.phases)
    head = (f"{s.processes} processes per case, expected run time {s.expected_s:.0f} s of the "
            f"{s.available_s:.0f} s left after the pilot (process start c_p = {s.c_p:.2f} s)")
    capped = s.processes == MAX_PROCESSES and any(p.processes_needed > MAX_PROCESSES for p in s.phases)
    tail = ("every phase reaches the target" if s.reaches_target
            else f"not even {MAX_PROCESSES} processes reach the target (the processes differ too much): these are "
                 f"the widths it expects" if capped
            else "the budget cannot reach the target: these are the widths it expects")
    return f"{head}; target ±{s.target:.0%}: {tail}. {per}."
