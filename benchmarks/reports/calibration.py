"""The report's "A/A calibration" section: in a run made by `fwbench run --aa`, every comparison
is a case against an identical copy of itself, so every verdict that names a winner is a false
positive. Counted here over the (copy, phase) rows that have an interval; the rate over many
such runs (or a pooled one) is the suite's false-positive rate on this machine."""
from __future__ import annotations

from benchmarks.analysis.rundata import WINNER_VERDICTS, Run, md_escape


def aa_section(run: Run, frame) -> list[str]:
    """[] for any run that is not an A/A calibration."""
    pairs = run.aa_pairs
    if not pairs:
        return []
    rows = frame[frame.case.isin(list(pairs)) & frame.speedup_low.notna()]
    named = rows[rows.verdict.isin(WINNER_VERDICTS)]
    cases = ", ".join(f"{label}" for label in named.label.unique())
    return ["## A/A calibration",
            md_escape(f"{len(named)} of {len(rows)} copy-against-original comparisons (case and phase, each with an "
                      f"interval) named a winner where there is no difference: false positives"
                      + (f" ({cases})." if len(named) else ".")
                      + " At 95% intervals and the run's minimum effect, a calibrated suite names few; count them "
                        "over several A/A runs (or pool them) for a rate.")]
