"""The report's "Machine during the phases" section and its "Sizing" paragraph: what the machine
did while each worker timed each phase (benchmarks/harness/machine.py records it; the reader
validates it), and, for a run sized by `--pilot`, what the pilot chose and why.

A process is named as disturbed when, over its phase's wall time, the other processes of the
machine used more than OTHER_CORES_LIMIT of a core, or the hypervisor stole more than
STEAL_SHARE_LIMIT of the time: either one means its figures were timed on a machine shared with
work that is not the benchmark's. A process whose phase took less than MIN_WALL_S is shown but
never named: /proc/stat counts whole clock ticks (10 ms), so over 40 ms one tick of someone
else's work would read as a quarter of a core.

Where the workers recorded them, the section adds each case's minor page faults per round (the
phase's whole call over its rounds, warm-up rounds included; the median over processes): not a
disturbance but part of the why, the kernel mapping in pages a framework gave back and asked for
again (benchmarks/harness/machine.py).
"""
from __future__ import annotations

import statistics

from benchmarks.analysis.noise import MIN_WALL_S, OTHER_CORES_LIMIT, STEAL_SHARE_LIMIT, disturbed, expected_other_cores, shares
from benchmarks.analysis.rundata import Run, md_escape, md_table
from benchmarks.model.phases import PHASES


def disturbance_rows(run: Run) -> list[dict]:
    """Per case and phase: the largest steal share and other-CPU share over its processes, and
    the processes above either limit. Only phases with machine records appear."""
    rows = []
    for case in run.cases.values():
        for phase in run.phases():
            pdata = case.phases.get(phase)
            recs = [(p.index, *shares(p.machine)) for p in (pdata.processes if pdata else []) if p.machine]
            if not recs:
                continue
            steals = [s for _, s, _ in recs if s is not None]
            others = [o for _, _, o in recs if o is not None]
            expected = expected_other_cores(run.manifest)
            flagged = [(p.index, *shares(p.machine)) for p in pdata.processes if disturbed(p.machine, expected)]
            per_round = [faults_per_round(p) for p in pdata.processes if p.machine]
            per_round = [f for f in per_round if f is not None]
            rows.append({"case": case, "phase": phase, "processes": len(recs),
                         "steal": max(steals) if steals else None, "other": max(others) if others else None,
                         "faults": statistics.median(per_round) if per_round else None, "flagged": flagged})
    return rows


def faults_per_round(process) -> float | None:
    """One process's minor page faults over its phase's call divided by the rounds it ran (timed
    and warm-up); None for a record without the count (workers before 2026-12-07) or no rounds."""
    faults = (process.machine or {}).get("minor_faults")
    calls = process.rounds.size + int(process.extra.get("warmup_rounds") or 0)
    return None if faults is None or not calls else faults / calls


def section(run: Run) -> list[str]:
    """The report's section (heading, words, table); [] for a run whose workers recorded nothing."""
    rows = disturbance_rows(run)
    if not rows:
        return []
    def pct(x):
        return "n/a" if x is None else f"{x:.1%}"
    def cores(x):
        return "n/a" if x is None else f"{x:.2f}"
    with_faults = any(r["faults"] is not None for r in rows)  # older runs: the section as it was
    table = []
    for r in rows:
        named = "; ".join(f"process {i} (steal {pct(s)}, others {cores(o)} cores)" for i, s, o in r["flagged"])
        table.append([PHASES[r["phase"]].label, r["case"].label, r["case"].device.upper(), r["processes"],
                      pct(r["steal"]), cores(r["other"]), named or "none"]
                     + ([("n/a" if r["faults"] is None else f"{r['faults']:,.0f}")] if with_faults else []))
    n = sum(len(r["flagged"]) for r in rows)
    return ["## Machine during the phases",
            md_escape(f"Read from /proc/stat around each timed phase of each worker (warm-up rounds and per-round "
                      f"setup included): the hypervisor's steal as a share of the phase's wall time, and the CPU "
                      f"time of every other process on the machine in cores (other processes' CPU seconds per wall "
                      f"second). Largest over the processes; a process is named when others used more than "
                      f"{OTHER_CORES_LIMIT} of a core{' beyond its duet partner' * bool(expected_other_cores(run.manifest))} or steal exceeded {STEAL_SHARE_LIMIT:.0%} (phases under "
                      f"{MIN_WALL_S:g} s are not judged: the counters move in 10 ms ticks). ")
            + (f"{n} process-phase(s) disturbed." if n else "No process was disturbed.")
            + (" Minor page faults: the worker's own (getrusage), over the phase's call divided by its rounds "
               "(warm-up rounds included), the median over processes; pages the kernel mapped in afresh, as when a "
               "framework frees a large temporary to the OS and allocates it again each call." if with_faults else ""),
            md_table(["phase", "case", "device", "processes", "largest steal", "largest other CPU (cores)",
                      "disturbed processes"] + (["minor page faults per round"] if with_faults else []), table)]


def sizing_section(run: Run) -> list[str]:
    """The "Sizing" paragraph of a run sized by --pilot; [] for any other run."""
    p = run.manifest.get("pilot")
    if not isinstance(p, dict) or not isinstance(p.get("text"), str):
        return []
    est = "; ".join(f"{e.get('phase')}: σ²_p {e.get('sigma2_p', float('nan')):.3g}, σ²_r "
                    f"{e.get('sigma2_r', float('nan')):.3g}, c_r {e.get('c_r', float('nan')):.3g} s"
                    for e in p.get("estimates") or [] if isinstance(e, dict))
    return ["## Sizing",
            md_escape(f"Sized by a pilot (--pilot {p.get('budget_s')} s: {p.get('pilot_processes')} processes per "
                      f"case, {p.get('pilot_s')} s) after Kalibera & Jones (2013): rounds per process "
                      f"R* = sqrt(c_p·σ²_r / (c_r·σ²_p)), then the fewest processes K whose expected 95% interval "
                      f"t·sqrt(2(σ²_p + σ²_r/R)/K) on the log ratio is within the target, within the budget. "
                      f"Chosen: {p['text']} Estimates (logs of round times): {est}.")]
