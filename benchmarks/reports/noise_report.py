"""The noise study's report: what drives the spread between worker processes on this machine,
and how often the suite names a winner between identical cases (its false-positive rate).

It reads every run folder under a study folder (`fwbench noise` writes one A/A run per setting
of benchmarks/model/noise.py to <folder>/<setting>/runs/; A/A runs made by hand there, such as a
default-configuration A/A run or A/A duets, are read the same way). A run's setting is its first
folder under the study folder. Only A/A runs count: any other run found there is named and left
out, so a mislabelled folder cannot enter the rate.

Tables, each from code over the run folders:
- spread per setting, case and phase: processes, between-process and within-process spread
  (benchmarks/analysis/noise.py), the A/A ratio with its interval and verdict, and the most any
  other process or the hypervisor took from the machine during the phase;
- processes against rounds at a fixed budget: from the same runs' variance components, the
  rounds per process that minimise the interval at a given cost (Kalibera & Jones, through
  benchmarks/analysis/pilot.py) and the half-width that K processes x R rounds would give;
- the false-positive rate, sequential and duet, with a Clopper-Pearson interval, and how many A/A
  comparisons were called equivalent or inconclusive, with their interval half-widths.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.analysis import duet, noise, pilot, stats
from benchmarks.analysis.rundata import MANIFEST, Run, load_run, md_code, md_escape, md_table, summary
from benchmarks.model.phases import PHASES
from shared.atomic import write_atomic

REPORT_NAME = "report.md"
SEQUENTIAL, DUET = "sequential", "duet"


@dataclass(frozen=True)
class Comparison:
    """One A/A comparison: a (copy, phase) of one run, judged as that run's report judges it."""
    setting: str
    run: str
    mode: str  # SEQUENTIAL or DUET
    case: str  # the original's id
    phase: str
    interval: stats.Interval
    verdict: str


def _run_folders(folder: Path):
    for mpath in sorted(Path(folder).rglob(MANIFEST)):
        parts = mpath.relative_to(folder).parts
        if any(p.startswith(".") for p in parts) or "failed" in parts:
            continue  # staging folders and failed runs' records are not results
        yield (parts[0] if len(parts) > 1 else "."), load_run(mpath.parent)


def load_study(folder: Path) -> list[tuple[str, Run]]:
    """(setting, run) for every run folder under `folder`, each read once."""
    return list(_run_folders(Path(folder)))


def find_runs(folder: Path, study: list[tuple[str, Run]] | None = None) -> tuple[list[tuple[str, Run]], list[str]]:
    """(setting, run) for every A/A run folder under `folder`, and a note per folder left out."""
    study = load_study(folder) if study is None else study
    found, skipped = [], []
    for setting, run in study:
        if not run.aa_pairs:
            if not duet_partner_runs(study, run):
                skipped.append(f"{run.path}: not an A/A run (kind {run.kind!r}); left out")
            continue
        if run.manifest.get("quick"):  # a smoke test's rounds are no measurement of the rate
            skipped.append(f"{run.path}: a --quick run; left out")
            continue
        found.append((setting, run))
    return found, skipped


def _signature(run: Run) -> tuple:
    """What a duet and a sequential run must share to be compared: cases, phases, thread budget."""
    # the cases that ran (a sequential run may also list GPU cases this machine did not have)
    return (tuple(sorted(c for c, case in run.cases.items() if not case.is_shared and case.status != "unavailable")),
            tuple(p for p in run.phases() if PHASES[p].scope == "framework"),
            (run.manifest.get("threads") or {}).get("intra_op"))


def duet_partner_runs(study: list[tuple[str, Run]], run: Run) -> list[Run]:
    """For a duet of two different cases: the study's sequential runs of the same two cases, phases
    and thread budget (what its verdicts are checked against); for such a sequential run, [run];
    for any other run, []."""
    if run.aa_pairs:
        return []
    others = [r for _, r in study if not r.aa_pairs and not duet.is_duet(r)]
    if duet.is_duet(run):
        return [r for r in others if _signature(r) == _signature(run)]
    return [run] if any(duet.is_duet(r) and not r.aa_pairs and _signature(r) == _signature(run)
                        for _, r in study) else []


def agreement_rows(study: list[tuple[str, Run]]) -> list[dict]:
    """Per duet run of two different cases and phase: the duet's verdict (paired) beside each
    matching sequential run's (A against B in both)."""
    rows = []
    for _, run in study:
        if run.aa_pairs or not duet.is_duet(run):
            continue
        a_id, b_id = run.manifest["duet"]["cases"]
        for seq in duet_partner_runs(study, run):
            frame = summary(seq).set_index(["case", "phase"])
            for d in duet.analyse(run):
                if (a_id, d.phase) not in frame.index or (b_id, d.phase) not in frame.index:
                    continue
                sa, sb = seq.cases[a_id].phases.get(d.phase), seq.cases[b_id].phases.get(d.phase)
                if not (sa and sb and sa.samples() and sb.samples()):
                    continue
                r = stats.ratio(sa.samples(), sb.samples())  # A / B, the duet's orientation
                dv, sv = stats.verdict(d.duet, run.min_effect).word, stats.verdict(r, seq.min_effect).word
                rows.append({"duet": run.name, "sequential": seq.name, "a": a_id, "b": b_id, "phase": d.phase,
                             "duet_iv": d.duet, "duet_verdict": dv, "seq_iv": r, "seq_verdict": sv,
                             "width_ratio": _width(d.duet) / _width(r) if _width(r) else None})
    return rows


def _width(iv: stats.Interval) -> float | None:
    return math.log(iv.high / iv.low) if iv.has_interval else None


def mode_of(run: Run) -> str:
    return DUET if duet.is_duet(run) else SEQUENTIAL


def comparisons(entries: list[tuple[str, Run]]) -> list[Comparison]:
    """Every A/A comparison with an interval: a sequential run's copy rows as its table judges them;
    a duet's phases as its duet section judges them (paired rounds)."""
    out = []
    for setting, run in entries:
        if mode_of(run) == DUET:
            original = next(iter(run.aa_pairs.values()))
            for d in duet.analyse(run):
                if d.duet.has_interval:
                    out.append(Comparison(setting, run.name, DUET, original, d.phase, d.duet,
                                          stats.verdict(d.duet, run.min_effect).word))
            continue
        frame = summary(run)
        for copy, original in run.aa_pairs.items():
            for _, row in frame[(frame.case == copy) & frame.speedup_low.notna()].iterrows():
                # speedup = original / copy; the verdict the table printed is the one counted
                iv = stats.Interval(float(row.speedup), float(row.speedup_low), float(row.speedup_high),
                                    int(row.processes))
                out.append(Comparison(setting, run.name, SEQUENTIAL, original, row.phase, iv, row.verdict))
    return out


def spread_rows(entries: list[tuple[str, Run]]) -> list[dict]:
    """Per setting, run, original case and phase: the spread of all its processes (the copy's too:
    they ran the same thing), and what the machine did meanwhile."""
    rows = []
    for setting, run in entries:
        for copy, original in run.aa_pairs.items():
            cases = [run.cases[c] for c in (original, copy) if c in run.cases]
            for phase in run.phases():
                procs = [p for c in cases for p in (c.phases[phase].processes if phase in c.phases else [])
                         if p.rounds.size]
                if not procs:
                    continue
                samples = [p.rounds for p in procs]
                recs = [noise.shares(p.machine) for p in procs if p.machine]
                steal = [s for s, _ in recs if s is not None]
                other = [o for _, o in recs if o is not None]
                rows.append({"setting": setting, "run": run.name, "mode": mode_of(run), "case": original,
                             "phase": phase, "processes": len(procs), "rounds": int(np.median([s.size for s in samples])),
                             "between": noise.between_spread(samples), "within": noise.within_spread(samples),
                             "steal": max(steal) if steal else None, "other": max(other) if other else None})
    return rows


def budget_rows(entries: list[tuple[str, Run]], processes: int = 3) -> list[dict]:
    """Processes against rounds at a fixed cost, per sequential setting and phase, from the
    variance components the run measured (pooled over its A/A pairs, both copies)."""
    rows = []
    for setting, run in entries:
        if mode_of(run) == DUET:
            continue
        starts = [w.get("seconds") for w in run.manifest.get("workers", []) if isinstance(w.get("seconds"), (int, float))]
        # a process's fixed cost: its wall time less its rounds, as the pilot measures it (per run, not per phase)
        timed = sum(float(np.sum(p.rounds)) for c in run.cases.values() for ph in c.phases.values()
                    for p in ph.processes)
        for phase in run.phases():
            groups = []
            for copy, original in run.aa_pairs.items():
                samples = [p.rounds for c in (original, copy) if c in run.cases and phase in run.cases[c].phases
                           for p in run.cases[c].phases[phase].processes if p.rounds.size >= 2]
                if len(samples) >= 2:
                    groups.append(samples)
            if not groups:
                continue
            r_now = (run.manifest.get("rounds") or {}).get(phase, {})
            est = pilot.estimate_phase(phase, groups, int(r_now.get("warmup", 0)))
            if est.sigma2_p <= 0 or est.sigma2_r <= 0:
                continue
            c_p = max((sum(starts) - timed) / max(len(starts), 1), 0.0) if starts else None
            r_best = pilot.best_rounds(c_p, est) if c_p else None
            r = int(r_now.get("rounds", 0)) or None
            rows.append({"setting": setting, "run": run.name, "phase": phase, "sigma_p": math.sqrt(est.sigma2_p),
                         "sigma_r": math.sqrt(est.sigma2_r), "c_r": est.c_r, "c_p": c_p, "rounds": r,
                         "best_rounds": r_best, "processes": processes,
                         "halfwidth_now": pilot.halfwidth(processes, r, est.sigma2_p, est.sigma2_r) if r else None,
                         "halfwidth_best": (pilot.halfwidth(processes, r_best, est.sigma2_p, est.sigma2_r)
                                            if r_best else None),
                         # all the budget in processes of the fewest rounds: what extra processes buy
                         "halfwidth_2k": pilot.halfwidth(2 * processes, max(pilot.MIN_ROUNDS, (r or 0) // 2),
                                                         est.sigma2_p, est.sigma2_r) if r else None})
    return rows


def calibration_rows(comps: list[Comparison]) -> list[dict]:
    out = []
    for mode in (SEQUENTIAL, DUET):
        cs = [c for c in comps if c.mode == mode]
        if not cs:
            continue
        words = [c.verdict for c in cs]
        halves = [noise.half_width(c.interval.low, c.interval.high) for c in cs]
        out.append({"mode": mode, "n": len(cs), "rate": noise.false_positive_rate(words),
                    "equivalent": words.count(stats.EQUIVALENT), "inconclusive": words.count(stats.INCONCLUSIVE),
                    "median_halfwidth": float(np.median(halves)), "max_halfwidth": float(np.max(halves)),
                    "runs": len({(c.setting, c.run) for c in cs})})
    return out


def _pct(x, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}%}"


def _pm(h) -> str:
    """A half-width as a ratio (1.10) in words: +-10%."""
    return "n/a" if h is None else f"±{h - 1:.0%}"


def build_markdown(folder: Path) -> str:
    study = load_study(folder)
    entries, skipped = find_runs(folder, study)
    comps = comparisons(entries)
    parts = [f"# fwbench noise study: {md_code(folder)}",
             md_escape("Every figure below is computed from the A/A run folders under this folder (each case against "
                       "an identical copy of itself, so any named winner is a false positive). Regenerate: ")
             + md_code(f"fwbench noise --report --output {folder}") + "."]
    if not entries:
        return "\n\n".join(parts + ["No A/A run folder found here: run `fwbench noise` or `fwbench run --aa CASE`."]) + "\n"
    cal = calibration_rows(comps)
    parts += ["## False-positive rate",
              md_escape("How often the suite named a winner between identical cases: every (copy, phase) with an "
                        "interval, judged by the rule every report uses (95% interval, the run's minimum effect). "
                        "The rate's interval is Clopper-Pearson (exact binomial, 95%). Half-width: of the ratio's 95% "
                        "interval, as a share (±10%: the interval spans 0.91-1.10)."),
              md_table(["mode", "runs", "comparisons", "named a winner", "false-positive rate (95% CI)", "equivalent",
                        "inconclusive", "median half-width", "largest half-width"],
                       [[c["mode"], c["runs"], c["n"], c["rate"].hits,
                         f"{_pct(c['rate'].value)} ({_pct(c['rate'].low)}-{_pct(c['rate'].high)})",
                         c["equivalent"], c["inconclusive"], _pm(c["median_halfwidth"]), _pm(c["max_halfwidth"])]
                        for c in cal])]
    spread = spread_rows(entries)
    verdict_of = {(c.setting, c.run, c.case, c.phase): c for c in comps}
    table = []
    for r in spread:
        c = verdict_of.get((r["setting"], r["run"], r["case"], r["phase"]))
        table.append([r["setting"], r["mode"], md_code(r["case"]), PHASES[r["phase"]].label,
                      f"{r['processes']} x {r['rounds']}", _pct(r["between"]), _pct(r["within"]),
                      "n/a" if c is None else f"{c.interval.value:.3f} ({c.interval.low:.3f}-{c.interval.high:.3f})",
                      "n/a" if c is None else c.verdict, _pct(r["steal"]),
                      "n/a" if r["other"] is None else f"{r['other']:.2f}"])
    parts += ["## Spread by setting",
              md_escape("Between: the standard deviation of the log per-process medians over all the processes of the "
                        "case and its copy (about the coefficient of variation). Within: the median over processes of "
                        "the standard deviation of log round times. A/A ratio: original over copy, 95% CI (for a duet: "
                        "the paired duet ratio). Steal and other processes' CPU: the largest over the processes, read "
                        "from /proc/stat around each phase (in a duet the partner's core counts as other CPU)."),
              md_table(["setting", "mode", "case", "phase", "processes x rounds", "between", "within",
                        "A/A ratio (95% CI)", "verdict", "largest steal", "largest other CPU (cores)"], table)]
    budget = budget_rows(entries)
    if budget:
        parts += ["## Processes against rounds",
                  md_escape("From each sequential run's variance components (sigma_p between processes, sigma_r between "
                            "rounds, both on the log scale) and costs (c_r a round, c_p a process's start and data "
                            "load): the rounds per process that minimise the interval at a fixed cost, R* = "
                            "sqrt(c_p sigma_r^2 / (c_r sigma_p^2)) (Kalibera & Jones 2013), and the expected 95% "
                            "half-width of an A-against-B ratio with K processes a side: t(2K-2) sqrt(2 (sigma_p^2 + "
                            "sigma_r^2 / R) / K). Where sigma_p dominates, more rounds buy little and more processes "
                            "buy much."),
                  md_table(["setting", "phase", "sigma_p", "sigma_r", "round", "process start", "rounds now", "R*",
                            "K=3, rounds now", "K=3, R*", "K=6, half the rounds"],
                           [[r["setting"], PHASES[r["phase"]].label, _pct(r["sigma_p"]), _pct(r["sigma_r"]),
                             f"{r['c_r'] * 1e3:.3g} ms", "n/a" if r["c_p"] is None else f"{r['c_p']:.1f} s",
                             r["rounds"], r["best_rounds"] or "n/a", _pm(_ratio(r["halfwidth_now"])),
                             _pm(_ratio(r["halfwidth_best"])), _pm(_ratio(r["halfwidth_2k"]))] for r in budget])]
    agree = agreement_rows(study)
    if agree:
        same = sum(r["duet_verdict"] == r["seq_verdict"] for r in agree)
        def cell(iv, word):
            return f"{iv.value:.3f} ({iv.low:.3f}-{iv.high:.3f}) {word}" if iv.has_interval else f"{iv.value:.3f} {word}"
        parts += ["## Duet against sequential",
                  md_escape(f"The same two cases timed as a duet (paired rounds, one thread each on its own core) and "
                            f"sequentially (interleaved processes, the same one-thread budget): A's time over B's, 95% "
                            f"CI, and each mode's verdict. A duet measures one thread per framework, not the default "
                            f"run's budget. Same verdict in {same} of {len(agree)} phases. Width ratio: the duet "
                            f"interval's width over the sequential one's (log scale; below 1 the duet is tighter)."),
                  md_table(["A", "B", "phase", "duet A/B (95% CI)", "sequential A/B (95% CI)", "same verdict",
                            "width ratio"],
                           [[md_code(r["a"]), md_code(r["b"]), PHASES[r["phase"]].label,
                             cell(r["duet_iv"], r["duet_verdict"]), cell(r["seq_iv"], r["seq_verdict"]),
                             "yes" if r["duet_verdict"] == r["seq_verdict"] else "no",
                             "n/a" if r["width_ratio"] is None else f"{r['width_ratio']:.2f}"] for r in agree])]
    parts += ["## Runs read",
              md_table(["setting", "mode", "run", "command"],
                       [[s, mode_of(r), md_code(str(r.path.relative_to(Path(folder).resolve()))), md_code(r.manifest.get("command", ""))]
                        for s, r in entries + [(s, r) for s, r in study if duet_partner_runs(study, r)]])]
    if skipped:
        parts += ["Left out:\n\n" + "\n".join(f"- {md_escape(s)}" for s in skipped)]
    return "\n\n".join(parts) + "\n"


def _ratio(h: float | None) -> float | None:
    """pilot.halfwidth gives the half-width as a share (0.10); the tables print ratios (1.10)."""
    return None if h is None else 1 + h


def write(folder: Path) -> Path:
    folder = Path(folder)
    path = folder / REPORT_NAME
    from benchmarks.reports import html
    return html.publish_markdown(path, build_markdown(folder))  # report.md and report.html
