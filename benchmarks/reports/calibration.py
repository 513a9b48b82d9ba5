"""The report's "A/A calibration" section: in a run made by `fwbench run --aa`, every comparison
is a case against an identical copy of itself, so every verdict that names a winner is a false
positive. Counted here over the (copy, phase) rows that have an interval; the rate over many
such runs (or a pooled one) is the suite's false-positive rate on this machine."""
from __future__ import annotations

from benchmarks.analysis import duet, stats
from benchmarks.analysis.rundata import WINNER_VERDICTS, Run, md_escape


def aa_section(run: Run, frame) -> list[str]:
    """[] for any run that is not an A/A calibration."""
    pairs = run.aa_pairs
    if not pairs:
        return []
    if duet.is_duet(run):  # an A/A duet is judged as its duet section judges it: paired rounds
        judged = [(d.phase, stats.verdict(d.duet, run.min_effect).word) for d in duet.analyse(run)
                  if d.duet.has_interval]
        named_n, total = sum(w in WINNER_VERDICTS for _, w in judged), len(judged)
        cases = ", ".join(p for p, w in judged if w in WINNER_VERDICTS)
        what = "paired duet comparisons (phase, each with an interval)"
    else:
        rows = frame[frame.case.isin(list(pairs)) & frame.speedup_low.notna()]
        named = rows[rows.verdict.isin(WINNER_VERDICTS)]
        named_n, total = len(named), len(rows)
        cases = ", ".join(f"{label}" for label in named.label.unique())
        what = "copy-against-original comparisons (case and phase, each with an interval)"
    return ["## A/A calibration",
            md_escape(f"{named_n} of {total} {what} named a winner where there is no difference: false positives"
                      + (f" ({cases})." if named_n else ".")
                      + " At 95% intervals and the run's minimum effect, a calibrated suite names few; count them "
                        "over several A/A runs (or pool them) for a rate.")]
