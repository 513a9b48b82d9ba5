"""Duet analysis (Bulej et al., ICPE 2020): the ratio of two cases timed together, round by round.

A duet run (`fwbench run --duet A,B`, benchmarks/harness/duet_runner.py) holds K pairs; in pair k
A's and B's worker processes ran at the same time, and round i of every phase started in both
at once (the barrier). So round i of A and round i of B met the same machine: its interference
is in both and cancels in their ratio. The method:

- per pair and phase: the median over rounds i of log(tA_i / tB_i), rounds matched by their
  index in the phase (warm-up excluded on both sides alike), pairs matched by their index (the
  worker's process index), never by the order the files were read in;
- the duet ratio: exp(mean over pairs), with a one-sample t interval over the K pair figures
  (the pairs, not the rounds, are the independent samples: stats.location's interval);
- beside it, from the same rounds, the ordinary unpaired ratio (stats.ratio: Welch over the two
  cases' per-process medians, as if they had run apart), so the report shows how much the
  pairing narrowed the interval; and the duet ratio per core assignment (A on the first core, A
  on the second), so an asymmetry between the two cores shows instead of being averaged away.

Ratios are A's time over B's: below 1, A is faster.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from benchmarks.analysis import stats
from benchmarks.analysis.rundata import Run


@dataclass(frozen=True)
class DuetPhase:
    phase: str
    duet: stats.Interval  # A / B from the pairs
    unpaired: stats.Interval  # A / B from the same rounds, unpaired (Welch)
    by_core: dict[int, stats.Interval]  # A's core -> the duet ratio over the pairs where A ran on it
    pairs: dict[int, float]  # pair index -> its figure, median of log(tA_i / tB_i)
    notes: list[str] = field(default_factory=list)

    @property
    def width_ratio(self) -> float | None:
        """The duet interval's width over the unpaired one's, on the log scale (below 1: pairing narrowed it)."""
        d, u = self.duet, self.unpaired
        if not (d.has_interval and u.has_interval) or u.high == u.low:
            return None
        return math.log(d.high / d.low) / math.log(u.high / u.low)


def pair_figure(a_rounds, b_rounds) -> float:
    """One pair's figure: the median over simultaneous rounds of log(tA_i / tB_i)."""
    a, b = np.asarray(a_rounds, dtype=float), np.asarray(b_rounds, dtype=float)
    if a.size == 0 or a.size != b.size:
        raise ValueError(f"the two sides of a pair timed {a.size} and {b.size} rounds: they cannot be paired")
    return float(np.median(np.log(a / b)))


def duet_ratio(figures: list[float], confidence: float = stats.CONFIDENCE) -> stats.Interval:
    """exp(mean of the pair figures) with a one-sample t interval over the pairs: stats.location
    on one figure per 'process' (each pair's exp(figure)) computes exactly that on the log scale."""
    if not figures:
        raise ValueError("no pair measured both cases")
    return stats.location([[math.exp(f)] for f in figures], confidence=confidence)


def is_duet(run: Run) -> bool:
    return isinstance(run.manifest.get("duet"), dict)


def analyse(run: Run) -> list[DuetPhase]:
    """Every phase both cases of a duet run measured ([] for a run that is not a duet)."""
    if not is_duet(run):
        return []
    rec = run.manifest["duet"]
    a_id, b_id = rec["cases"]
    a, b = run.cases.get(a_id), run.cases.get(b_id)
    if a is None or b is None:
        return []
    core_of = {int(p["index"]): int(p["cores"][a_id]) for p in rec.get("pairs") or []}  # pair -> A's core
    out = []
    for phase in run.phases():
        pa, pb = a.phases.get(phase), b.phases.get(phase)
        if not (pa and pb):
            continue
        by_a = {p.index: p.rounds for p in pa.processes if p.rounds.size}
        by_b = {p.index: p.rounds for p in pb.processes if p.rounds.size}
        figures, notes = {}, []
        for k in sorted(set(by_a) | set(by_b)):
            if k not in by_a or k not in by_b:
                notes.append(f"pair {k}: only {a_id if k in by_a else b_id} has rounds; the pair is left out")
                continue
            try:
                figures[k] = pair_figure(by_a[k], by_b[k])
            except ValueError as e:
                notes.append(f"pair {k}: {e}")
        if not figures:
            continue
        cores = sorted(set(core_of.get(k) for k in figures) - {None})
        by_core = {c: duet_ratio([f for k, f in figures.items() if core_of.get(k) == c]) for c in cores}
        out.append(DuetPhase(phase, duet_ratio(list(figures.values())), stats.ratio(pa.samples(), pb.samples()),
                             by_core, figures, notes))
    return out
