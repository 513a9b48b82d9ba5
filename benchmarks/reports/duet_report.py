"""The duet section of a report (benchmarks/analysis/duet.py computes every figure in it)."""
from __future__ import annotations

from benchmarks.analysis import duet, stats
from benchmarks.analysis.rundata import Run, _verdict_word, fmt_interval, fmt_ratio, md_code, md_escape, md_table
from benchmarks.model.phases import PHASES


def section(run: Run) -> list[str]:
    """The report's parts for a duet run ([] for any other run)."""
    if not duet.is_duet(run):
        return []
    rec = run.manifest["duet"]
    a_id, b_id = rec["cases"]
    c0, c1 = rec["cores"]
    phases = duet.analyse(run)
    head = [
        "## Duet",
        f"{md_code(a_id)} (A) and {md_code(b_id)} (B) ran together in {len(rec.get('pairs') or [])} pair(s) of worker "
        f"processes, each on its own core with **one thread**: a duet measures one thread per framework, not the "
        f"thread budget of the default run. Every round of every phase (warm-up included) started in both at once, "
        f"and the cores were swapped in alternate pairs (A on core {c0} in pairs 0, 2, ..., on core {c1} in pairs "
        f"1, 3, ...). A ratio is A's time over B's (below 1: A is faster). The duet ratio is exp of the mean over "
        f"pairs of each pair's median log(tA_i / tB_i) over its simultaneous rounds i, with a "
        f"{stats.CONFIDENCE:.0%} t interval over the pairs; the unpaired ratio is the ordinary one (Welch over "
        f"per-process medians) from the same rounds; the width ratio is the duet interval's width over the unpaired "
        f"one's on the log scale (below 1: the pairing narrowed it). Both verdicts are given: the unpaired one is "
        f"the timing table's, the duet one reads the paired ratio; where they differ, the pairing (which takes out "
        f"the drift both cores share) is the better-founded reading, and the table below says so per phase.",
    ]
    if not phases:
        return head + ["No phase was measured by both cases of a pair."]
    rows, notes = [], []
    for d in phases:
        v = _verdict_word(stats.verdict(d.duet, run.min_effect), False)
        u = _verdict_word(stats.verdict(d.unpaired, run.min_effect), False)
        rows.append([PHASES[d.phase].label, _iv(d.duet), _iv(d.unpaired),
                     "no interval" if d.width_ratio is None else f"{d.width_ratio:.2f}",
                     *[_iv(d.by_core[c]) if c in d.by_core else "not run" for c in (c0, c1)], v,
                     u if u == v else f"{u} (the duet reads {v})"])
        notes += [f"{PHASES[d.phase].label}: {n}" for n in d.notes]
    table = md_table(["phase", "duet ratio A/B (95% CI)", "unpaired ratio A/B (95% CI)", "width duet / unpaired",
                      f"A on core {c0}", f"A on core {c1}", "verdict for A (duet, paired)",
                      "verdict for A (unpaired: the timing table's rule)"], rows)
    return head + [table] + (["\n".join(f"- {md_escape(n)}" for n in notes)] if notes else [])


def _iv(r: stats.Interval) -> str:
    return f"{fmt_ratio(r.value)} ({fmt_interval(r.low, r.high)})"
