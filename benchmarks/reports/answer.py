"""The answer a reader came for, generated from the committed run folders (never typed by hand).

Each finding is one plain-language sentence with its figure, its interval and a link to the
evidence it was computed from:

- default against default per phase and device: the pooled stability runs (benchmarks/analysis/pool.py)
  on CPU; the GPU run for what the lent GPU machine measured;
- best against best: per phase, each framework's fastest measured case in the matrix run (lowest
  time, the point estimate), and the ratio of those two cases with the suite's own Welch interval
  (two cases of one run are measured interleaved on one machine, so their ratio is the suite's);
- why: the part of the training step (benchmarks/report.breakdown_rows) that differs most between
  the default cases;
- accuracy over seeds: the `fwbench check --seeds` JSON (mean, sd and the interval of the
  difference of means);
- where a verdict flips: the sweeps' crossovers with their brackets, and the points inside a
  bracket without a winner, named by their verdict (equivalent or inconclusive);
- GPU: the hardware, driver and versions the GPU run recorded, and what it could not measure.

`scripts/refresh_readme.py` writes results/ANSWER.md and the README's answer block from this.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.analysis import stats
from benchmarks.model.phases import PHASES
from benchmarks.analysis.rundata import Run, fmt_interval, fmt_ratio, fmt_time, load_run, summary
from shared.errors import UserError

# The committed evidence, relative to the results folder.
POOLED = Path("stability-cpu-epyc") / "pooled"  # three consecutive default runs (AMD EPYC), pooled
# default against default on each machine that has a pooled set (the reference, POOLED, first)
POOLED_MACHINES = (POOLED, Path("stability-cpu") / "pooled")
# the comparison of the machines' pooled runs: fwbench report A B --compare --output MACHINES_COMPARE
MACHINES_COMPARE = Path("machines-cpu")
MATRIX = Path("matrix-cpu") / "runs"
GPU = Path("gpu-h200") / "runs"
ACCURACY = Path("accuracy-cpu") / "tutorial-native-seeds0-9.json"
SWEEPS = Path("sweeps")
NOISE = Path("noise-cpu")  # the noise study and A/A calibration (fwbench noise)
MACHINES = Path("machines")  # a committed `fwbench collect` of several machines, when there is one
REFRESH = "python scripts/refresh_readme.py"


@dataclass
class Finding:
    topic: str
    text: str  # Markdown, one paragraph; links are relative to the results folder's parent (the repo)
    evidence: list[tuple[str, Path]] = field(default_factory=list)  # (words, path)
    figure: Path | None = None
    table: object = None  # Markdown text or a model.Table, for ANSWER.md and index.html only
    where: str = ""  # the machine (CPU or GPU, threads), the workload and the date it was measured on
    plot: dict | None = None  # the interactive figure of index.html (a plotly figure as a dict)
    lines: list[str] = field(default_factory=list)  # the finding's sentences, one a line (ANSWER.md only)
    first_screen_table: bool = False  # its table is on the README's first screen too (best against best)

    @property
    def line(self) -> str:
        """The finding as the README and the answer say it: its machine first."""
        return f"**{self.where}.** {self.text}" if self.where else self.text


def workload(manifest: dict) -> str:
    """The workload in words: the network the run's configuration names (a manifest from before
    workloads existed: the MLP's) and its data's shape."""
    from shared import workloads
    from shared.config import ExperimentConfig
    data, cfg = manifest.get("data") or {}, manifest.get("config") or {}
    label = workloads.get(ExperimentConfig.from_dict(cfg).workload).label
    cats = data.get("categories") or cfg.get("categories") or []
    vocab = data.get("vocab_size") or cfg.get("vocab_size")
    return f"workload {label}, " + (f"{len(cats)} newsgroups" if cats else "all 20 newsgroups") + (
        f", {int(vocab):,}-word vocabulary" if vocab else f", {cfg.get('vocab_mode')} vocabulary" if cfg.get("vocab_mode") else "")


def machine(manifest: dict, device: str = "cpu") -> str:
    """The machine in words: the CPU model and the threads per case, or the GPU."""
    env = manifest.get("environment") or {}
    th = (manifest.get("threads") or {}).get("intra_op")
    if device == "gpu" and env.get("gpus"):
        return ", ".join(str(g.get("name")) for g in env["gpus"]) + f" (host CPU {env.get('cpu', 'unknown')})"
    return f"{env.get('cpu') or 'unknown CPU'}" + (f", {th} threads a case" if th else f", {env.get('cores_usable', '?')} cores")


def dates(run: Run) -> str:
    srcs = run.manifest.get("pooled_from") or [run.manifest]
    days = sorted({str(s.get("started_utc") or "")[:10] for s in srcs if s.get("started_utc")})
    return (days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}") if days else "undated"


def where(run: Run, device: str = "cpu") -> str:
    return f"{machine(run.manifest, device)}; {workload(run.manifest)}; {dates(run)}"


def _only_run(folder: Path) -> Run:
    runs = sorted(p for p in folder.iterdir() if (p / "manifest.json").is_file()) if folder.is_dir() else []
    if not runs:
        raise UserError(f"{folder}: no run folder in it; the answer needs the committed runs")
    return load_run(runs[-1])  # the newest


def _ci(lo, hi) -> str:
    return f"95% CI {fmt_interval(lo, hi)}x"


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def ratio_words(faster: str, slower: str, r: stats.Interval, verb: str, min_effect: float) -> str:
    """r = time(slower) / time(faster) (>= 1 by construction of the caller when there is a winner).
    Equivalent and inconclusive are told apart: the first bounds the difference within the
    minimum effect, the second says what the run could not see and what would settle it."""
    v = stats.verdict(stats.inverse(r), min_effect)
    fig = f"{fmt_ratio(r.value)}x, {_ci(r.low, r.high) if r.has_interval else 'no interval'}"
    if v.word == stats.EQUIVALENT:
        eq = stats.inverse(v.equivalence) if v.equivalence else None
        return (f"{faster} and {slower} are equivalent within {min_effect:.0%} ({fmt_ratio(r.value)}x"
                + (f", {eq.confidence:.0%} CI {fmt_interval(eq.low, eq.high)}x" if eq else "") + ")")
    if v.word == stats.INCONCLUSIVE:
        return (f"inconclusive between {faster} and {slower} ({fig}): "
                + stats.inconclusive_detail(v.detectable, v.processes_needed, r.n, min_effect))
    if v.winner is None:
        return f"{faster} against {slower}: {fig}, so no verdict"
    return f"{faster} {verb} {fmt_ratio(r.value)}x faster than {slower} ({_ci(r.low, r.high)})"


# --------------------------------------------------------------------------- default against default

def default_findings(results: Path) -> list[Finding]:
    """Default against default on every machine with a pooled set, then where the machines differ."""
    from benchmarks.analysis import pool
    runs = [pool.load_pooled(results / p) for p in POOLED_MACHINES if (results / p / "pooled.json").is_file()]
    if not runs:
        raise UserError(f"{results / POOLED}: no pooled runs; the answer needs them (fwbench report --pool)")
    out = [f for run in runs for f in default_finding(run)]
    if len(runs) > 1:
        out += machines_findings(runs, results)
    return out


def default_finding(run: Run) -> list[Finding]:
    from benchmarks.analysis import pool
    from benchmarks.reports.report import sentence
    from benchmarks.reports import interactive
    folder = run.path
    frame = summary(run)
    out = []
    for dev in run.devices():
        base = run.baseline(dev)
        if base is None or base.status != "ok":
            continue
        rows = frame[(frame.device == dev) & (frame.case != base.id) & frame.speedup.notna()]
        lines = []
        for _, r in rows.iterrows():
            n_runs, _ = pool.run_counts(run, r["case"], r["phase"])
            lines.append(sentence(r, base.label, run.min_effect).replace("processes a side)",
                                                          f"processes a side, pooled from {n_runs} runs)"))
        won = rows[rows.verdict.isin([stats.FASTER, stats.SLOWER])]
        summary_line = (f"Default against default on {dev.upper()} ({len(run.manifest['pooled_from'])} runs pooled, "
                        f"{int(rows.processes.min())} processes a side): "
                        + ("; ".join(f"{PHASES[r['phase']].label}: "
                                     + (f"{r['label']} {fmt_ratio(r['speedup'])}x faster" if r["verdict"] == stats.FASTER
                                        else f"{base.label} {fmt_ratio(1 / r['speedup'])}x faster")
                                     for _, r in won.iterrows()) or "no verdict")
                        + "".join(f"; {word} in " + ", ".join(PHASES[p].label for p in rows[rows.verdict == word].phase)
                                  for word in (stats.EQUIVALENT, stats.INCONCLUSIVE, stats.NO_INTERVAL)
                                  if (rows.verdict == word).any()) + ".")
        fig, _ = interactive.forest(run, frame, dev)
        reruns, link = rerun_words(run, dev)
        out.append(Finding("default against default", summary_line + reruns,
                           [("pooled report", folder / "report.md")] + ([("the reruns compared", link)] if link else []),
                           folder / f"fig-forest-{dev}.png",
                           where=where(run, dev), lines=lines, plot=None if fig is None else interactive.plain(fig)))
    return out


def rerun_words(run: Run, device: str) -> tuple[str, Path | None]:
    """Where the verdict changed between the runs a pooled set holds (each run's own verdict), with
    their comparison report (a `compare` folder beside the pooled one) when there is one."""
    from benchmarks.analysis.rundata import load_run
    srcs = [load_run(Path(s["path"])) for s in run.manifest.get("pooled_from") or []]
    if len(srcs) < 2:
        return "", None
    frames = [summary(r) for r in srcs]
    changed = []
    for phase in dict.fromkeys(p for f in frames for p in f.phase):
        words = []
        for f in frames:
            g = f[(f.phase == phase) & (f.device == device) & (f.verdict != stats.BASELINE) & f.speedup.notna()
                  & (f.framework != "shared")]
            words += list(g.verdict[:1])
        if len(set(words)) > 1:
            changed.append(f"{PHASES[phase].label} ({', '.join(words)})")
    link = run.path.parent / "compare" / "report.md"
    text = (f" Between its {len(srcs)} runs the verdict changed in " + "; ".join(changed) + " (each run's own verdict for the case against its baseline, "
            "in run order)" if changed else f" Each of its {len(srcs)} runs gave the same verdicts")
    return text + ".", (link if link.is_file() else None)


def machine_cell(r) -> str:
    """A verdict in one direction for the machine table: the faster case named, its speedup and interval."""
    if _nan(r["speedup"]):
        return str(r["status"])
    if r["verdict"] in (stats.FASTER, stats.SLOWER):
        fast_first = r["verdict"] == stats.FASTER
        s, lo, hi = (r["speedup"], r["speedup_low"], r["speedup_high"]) if fast_first else (
            1 / r["speedup"], 1 / r["speedup_high"], 1 / r["speedup_low"])
        who = r["label"] if fast_first else r["baseline_label"]
        return f"{who} {fmt_ratio(s)}x faster ({fmt_interval(lo, hi)})"
    return f"{r['verdict']} ({fmt_ratio(r['speedup'])}x, {fmt_interval(r['speedup_low'], r['speedup_high'])})"


def machines_findings(runs: list[Run], results: Path) -> list[Finding]:
    """A phase x machine table of the default-against-default verdicts, the machines' difference per
    phase (the ratio of their speedups, the comparison report's rule) and where the verdicts differ."""
    from benchmarks.reports import compare
    from benchmarks.reports.model import Table
    frames = []
    for run in runs:
        f = summary(run)
        f = f[(f.device == "cpu") & f.speedup.notna() & (f.verdict != stats.BASELINE) & (f.framework != "shared")]
        f = f.assign(baseline_label=[run.cases[b].label if b in run.cases else b for b in f.baseline])
        frames.append(f)
    names = [machine(r.manifest) for r in runs]
    head = ["phase", "comparison", *[f"{n} ({dates(r)})" for n, r in zip(names, runs)], "same verdict?",
            "between machines: ratio of the speedups (95% CI)"]
    rows, differ = [], []
    keys = list(dict.fromkeys((c, p) for f in frames for c, p in zip(f.case, f.phase)))
    keys.sort(key=lambda k: list(PHASES).index(k[1]))
    for case, phase in keys:
        got = [f[(f.case == case) & (f.phase == phase)] for f in frames]
        if any(not len(g) for g in got):
            continue
        got = [g.iloc[0] for g in got]
        same = len({g["verdict"] for g in got}) == 1
        cells = [compare.Cell(float(g["speedup"]), None if _nan(g["speedup_low"]) else float(g["speedup_low"]),
                              None if _nan(g["speedup_high"]) else float(g["speedup_high"]), g["verdict"],
                              None if _nan(g["speedup_se"]) else float(g["speedup_se"]),
                              None if _nan(g["speedup_df"]) else float(g["speedup_df"]), int(g["processes"]))
                 for g in got]
        rr, v = compare.run_to_run(cells[0], cells[1], runs[0].min_effect)
        between = (f"{fmt_ratio(rr.value)}x ({fmt_interval(rr.low, rr.high)}): {compare.RUN_WORDS[v.word]}"
                   if rr.has_interval else "no interval")
        rows.append([PHASES[phase].label, f"{got[0]['label']} vs {got[0]['baseline_label']}",
                     *[machine_cell(g) for g in got], "yes" if same else "NO: the verdicts differ", between])
        if not same:
            said = "; ".join(f"{n}: {g['verdict']}" for n, g in zip(names, got))
            differ.append(f"{PHASES[phase].label} ({said})")
    link = results / MACHINES_COMPARE / "report.md"
    text = (f"Default against default on {len(runs)} machines ({'; '.join(names)}): "
            + (f"the verdicts differ in {len(differ)} of {len(rows)} phases: " + ", ".join(differ) if differ
               else f"the same verdict in all {len(rows)} phases")
            + ". The last column is the comparison report's rule (the ratio of the two machines' speedups: different "
              "when its interval excludes 1 beyond the minimum effect).")
    evidence = [(f"pooled report, {n}", r.path / "report.md") for n, r in zip(names, runs)]
    if link.is_file():
        evidence.append(("the machines compared", link))
    return [Finding("where the machines differ", text, evidence, table=Table(head, rows),
                    where="; ".join(f"{n}, {dates(r)}" for n, r in zip(names, runs)) + f"; {workload(runs[0].manifest)}")]


# --------------------------------------------------------------------------- best against best

def best_cases(run: Run, frame, phase: str, device: str) -> dict[str, str]:
    """Per framework, the case with the lowest measured time (point estimate) in this phase."""
    ok = frame[(frame.phase == phase) & (frame.device == device) & (frame.status == "ok")
               & (frame.framework != "shared") & frame.time_s.notna()]
    out = {}
    for fw, g in ok.groupby("framework", sort=False):
        out[fw] = g.loc[g.time_s.idxmin(), "case"]
    return out


def best_against_best(run: Run, device: str = "cpu") -> list[dict]:
    """Per phase: each framework's fastest case and the ratio of the two with its interval."""
    frame = summary(run)
    rows = []
    for phase in run.phases():
        if PHASES[phase].scope != "framework":
            continue
        best = best_cases(run, frame, phase, device)
        if not {"torch", "tensorflow"} <= set(best):  # a third framework in the run (JAX) is left out here
            continue
        t, f = run.cases[best["torch"]], run.cases[best["tensorflow"]]
        ts, fs = t.phases[phase].samples(), f.phases[phase].samples()
        r = stats.ratio(ts, fs)  # time(torch best) / time(tf best): above 1, TensorFlow's best is faster
        v = stats.verdict(r, run.min_effect)
        rows.append({"phase": phase, "torch": t, "tensorflow": f, "ratio": r,
                     "winner": {"a": "torch", "b": "tensorflow", None: None}[v.winner], "word": v.word,
                     "torch_time": stats.location(ts).value, "tensorflow_time": stats.location(fs).value})
    return rows


FRAMEWORK_NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow", "jax": "JAX"}


def phase_label(case, phase: str) -> str:
    """A case's label in a phase: the optimizer named only where the phase trains (a prediction
    phase runs no optimizer, so "fused Adam" there would name a difference that is not measured)."""
    label = case.label
    if PHASES[phase].verb.startswith("predict"):
        from shared import registry
        try:
            tags = {v.tag for v in registry.variants(case.framework).values() if v.axis == "optimizer_impl" and v.tag}
        except Exception:  # noqa: BLE001 - a framework this checkout does not declare: its label as it is
            tags = set()
        for t in tags:
            label = label.replace(f", {t}", "").replace(f"({t}, ", "(").replace(f" ({t})", "")
    return label


def best_table(run: Run, device: str = "cpu") -> list[dict]:
    """Per phase, every framework's fastest measured case (lowest time, the point estimate) with its
    time and interval; the fastest of them; each other framework's best against it as a time ratio
    (above 1: that many times slower), with the suite's interval and verdict. One direction throughout."""
    frame = summary(run)
    out = []
    for phase in run.phases():
        if PHASES[phase].scope != "framework":
            continue
        best = best_cases(run, frame, phase, device)
        if len(best) < 2:
            continue
        times = {fw: stats.location(run.cases[c].phases[phase].samples()) for fw, c in best.items()}
        top = min(times, key=lambda fw: times[fw].value)
        against = {}
        for fw, c in best.items():
            if fw == top:
                continue
            r = stats.ratio(run.cases[c].phases[phase].samples(), run.cases[best[top]].phases[phase].samples())
            against[fw] = (r, stats.verdict(stats.inverse(r), run.min_effect))  # inverse: the fastest as A
        out.append({"phase": phase, "best": {fw: run.cases[c] for fw, c in best.items()}, "time": times,
                    "fastest": top, "against": against})
    return out


def best_findings(results: Path) -> list[Finding]:
    from benchmarks.reports.model import Table
    folder = results / MATRIX
    run = _only_run(folder)
    rows = best_table(run)
    if not rows:
        return []
    fws = [fw for fw in FRAMEWORK_NAMES if any(fw in b["best"] for b in rows)]
    fws += sorted({fw for b in rows for fw in b["best"]} - set(fws))
    head = ["phase", *[f"{FRAMEWORK_NAMES.get(fw, fw)}: fastest configuration, time (95% CI)" for fw in fws],
            "fastest", "the others' best against it: times slower (95% CI), verdict"]
    table, parts = [], []
    for b in rows:
        ph = b["phase"]
        cells = [PHASES[ph].label]
        for fw in fws:
            c, t = b["best"].get(fw), b["time"].get(fw)
            cells.append("" if c is None else f"{phase_label(c, ph)}: {fmt_time(t.value)} "
                                              f"({fmt_interval(t.low, t.high, fmt_time)})")
        top = b["fastest"]
        cells.append(FRAMEWORK_NAMES.get(top, top))
        said = []
        for fw, (r, v) in b["against"].items():
            word = ("slower" if v.word == stats.FASTER else stats.EQUIVALENT if v.word == stats.EQUIVALENT
                    else v.word)
            said.append(f"{FRAMEWORK_NAMES.get(fw, fw)} {fmt_ratio(r.value)}x "
                        f"({fmt_interval(r.low, r.high) if r.has_interval else 'no interval'}), {word}")
        cells.append("; ".join(said))
        table.append(cells)
        clear = [fw for fw, (_, v) in b["against"].items() if v.word == stats.FASTER]
        parts.append(f"{PHASES[ph].label}: {phase_label(b['best'][top], ph)}"
                     + (" (faster than " + " and ".join(f"{FRAMEWORK_NAMES.get(fw, fw)}'s" for fw in clear) + " best"
                        + ("; no verdict against " + " and ".join(f"{FRAMEWORK_NAMES.get(fw, fw)}'s" for fw in b["against"]
                                                                  if fw not in clear) if len(clear) < len(b["against"]) else "")
                        + ")" if clear else " (no verdict against the others' best)"))
    text = ("Best against best (each framework's fastest measured configuration per phase, matrix run, "
            f"{int(run.manifest.get('processes') or 0)} processes a case), the fastest: " + "; ".join(parts) + ".")
    return [Finding("best against best", text, [("matrix report", run.path / "report.md")],
                    run.path / "fig-matrix-cpu.png" if (run.path / "fig-matrix-cpu.png").is_file()
                    else run.path / "fig-forest-cpu.png", Table(head, table), where=where(run),
                    plot=best_plot(rows), first_screen_table=True)]


def best_plot(rows: list[dict]) -> dict:
    """Each framework's best time per phase with its interval, a framework's own colour (log axis)."""
    import plotly.graph_objects as go
    from benchmarks.reports import interactive
    from benchmarks.reports.colors import framework_color
    data = []
    for fw in dict.fromkeys(fw for b in rows for fw in b["best"]):
        got = [b for b in rows if fw in b["best"]]
        data.append(go.Bar(
            x=[PHASES[b["phase"]].label for b in got], y=[b["time"][fw].value for b in got],
            name=FRAMEWORK_NAMES.get(fw, fw), marker_color=framework_color(fw),
            error_y={"type": "data", "symmetric": False,
                     "array": [(b["time"][fw].high or b["time"][fw].value) - b["time"][fw].value for b in got],
                     "arrayminus": [b["time"][fw].value - (b["time"][fw].low or b["time"][fw].value) for b in got]},
            customdata=[f"{phase_label(b['best'][fw], b['phase'])}: {fmt_time(b['time'][fw].value)} (95% CI "
                        f"{fmt_interval(b['time'][fw].low, b['time'][fw].high, fmt_time)})" for b in got],
            hovertemplate="%{x}<br>%{customdata}<extra></extra>"))
    vals = [v for b in rows for t in b["time"].values() for v in (t.value, t.low, t.high) if v]
    layout = interactive._layout("Best against best: each framework's fastest configuration per phase, 95% CI", 440,
                                 barmode="group", yaxis={**interactive.log_ticks(min(vals), max(vals), fmt=fmt_time),
                                                         "title": {"text": "time (log scale)"}, "gridcolor": "#e5e5e5"})
    return interactive.plain(go.Figure(data=data, layout=layout))


# --------------------------------------------------------------------------- why

def why_findings(results: Path) -> list[Finding]:
    from benchmarks.reports.report import BREAKDOWN_PARTS, breakdown_rows
    run = _only_run(results / MATRIX)
    rows = {r["case"].id: r for r in breakdown_rows(run, "cpu")}
    base = run.baseline("cpu")
    tf = next((c for c in run.framework_cases("cpu") if c.framework == "tensorflow" and c.variant == "graph"), None)
    if base is None or tf is None or base.id not in rows or tf.id not in rows:
        return []
    b, t = rows[base.id], rows[tf.id]
    diffs = {k: b["parts"].get(k, 0.0) - t["parts"].get(k, 0.0) for k in BREAKDOWN_PARTS}
    key = max(diffs, key=lambda k: abs(diffs[k]))
    gap = b["step"] - t["step"]
    text = (f"Why: of the {fmt_time(abs(gap))} by which {t['case'].label}'s training step is "
            f"{'shorter' if gap > 0 else 'longer'} than {b['case'].label}'s, the {key} is "
            f"{fmt_time(abs(diffs[key]))} ({abs(diffs[key]) / abs(gap):.0%}): {fmt_time(b['parts'][key])} against "
            f"{fmt_time(t['parts'][key])} per step (median over {b['processes']} processes).")
    fused = next((rows[c.id] for c in run.framework_cases("cpu") if c.id in rows and "fused" in c.variant), None)
    if fused and key == "optimizer":
        text += (f" PyTorch's default CPU Adam updates tensor by tensor; {fused['case'].label} takes the "
                 f"optimizer to {fmt_time(fused['parts']['optimizer'])} and the step to {fmt_time(fused['step'])}.")
    from benchmarks.reports import interactive
    fig, _ = interactive.breakdown(breakdown_rows(run, "cpu"))
    return [Finding("why", text, [("matrix report, the training step taken apart", run.path / "report.md")],
                    run.path / "fig-breakdown-cpu.png", where=where(run),
                    plot=None if fig is None else interactive.plain(fig))]


# --------------------------------------------------------------------------- accuracy over seeds

def read_seed_check(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
        acc = doc["accuracy"]
        labels = doc.get("labels") or {}
        cases = list(doc["cases"])
        d = doc["difference_of_means"]
        out = {"seeds": list(doc["seeds"]), "cases": cases, "labels": {c: labels.get(c, c) for c in cases},
               "mean": {c: float(acc[c]["mean"]) for c in cases}, "sd": {c: float(acc[c]["sd"]) for c in cases},
               "values": {c: [float(x) for x in acc[c]["values"]] for c in cases},
               "difference": (float(d["difference"]), float(d["low"]), float(d["high"])),
               "command": (doc.get("record") or {}).get("command"), "record": doc.get("record") or {},
               "config": doc.get("config") or {}}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: not an accuracy check fwbench wrote ({e.__class__.__name__}: {e})") from None
    if len(cases) != 2:
        raise UserError(f"{path}: holds {len(cases)} cases, the answer compares two")
    _check_seed_figures(path, out)
    return out


def _check_seed_figures(path: Path, out: dict) -> None:
    """The accuracy check's figures in their domain (rundata.DOMAIN) and agreeing with themselves:
    a mean is the mean of its values, one value per seed, each seed once."""
    from benchmarks.analysis.rundata import in_domain

    def bad(what: str):
        raise UserError(f"{path}: {what}: not an accuracy check fwbench wrote; rerun `fwbench check --seeds`")
    seeds = out["seeds"]
    if not all(in_domain(s, "count") for s in seeds) or len(set(seeds)) != len(seeds):
        bad("its seeds are not distinct whole numbers")
    for c in out["cases"]:
        vals = out["values"][c]
        if len(vals) != len(seeds):
            bad(f"case {str(c)[:60]!r} has {len(vals)} accuracies for {len(seeds)} seeds")
        if not all(in_domain(x, "accuracy") for x in [*vals, out["mean"][c], out["sd"][c]]):
            bad(f"an accuracy of {str(c)[:60]!r} is outside its domain (a fraction in [0, 1])")
        if vals and not math.isclose(out["mean"][c], sum(vals) / len(vals), rel_tol=1e-6, abs_tol=1e-9):
            bad(f"the mean accuracy of {str(c)[:60]!r} is not the mean of its values")
    d, lo, hi = out["difference"]
    if not (all(math.isfinite(x) and -1 <= x <= 1 for x in (d, lo, hi)) and lo <= d <= hi):
        bad(f"the difference of means {d!r} (interval {lo!r} to {hi!r}) is not a difference of fractions "
            f"inside its interval")


def accuracy_findings(results: Path, figure: Path | None = None) -> list[Finding]:
    path = results / ACCURACY
    a = read_seed_check(path)
    c1, c2 = a["cases"]
    d, lo, hi = a["difference"]
    # parity of accuracy is an equivalence within shared/metrics.ACCURACY_MARGIN, in `fwbench check`'s words
    from shared.metrics import accuracy_equivalence
    eq = accuracy_equivalence(a["values"][c1], a["values"][c2])
    text = (f"Accuracy over {len(a['seeds'])} seeds (tutorial workload, native optimizers, CPU): "
            f"{a['labels'][c1]} {a['mean'][c1]:.1%} (sd {a['sd'][c1]:.1%}), {a['labels'][c2]} {a['mean'][c2]:.1%} "
            f"(sd {a['sd'][c2]:.1%}); accuracy parity "
            f"{eq.text((a['labels'][c1], a['labels'][c2]))}. The timing runs train seed 0 only; one seed's accuracy says little, "
            f"since seeds alone move it by {min(min(v) for v in a['values'].values()):.1%} to "
            f"{max(max(v) for v in a['values'].values()):.1%}.")
    rec = a.get("record") or {}
    on = machine({"environment": rec.get("machine") or {}}) + f"; {workload({'config': a.get('config') or {}})}; " \
        + (str(rec.get("finished_utc") or "undated")[:10])
    return [Finding("accuracy over seeds", text, [("seed check", path.with_suffix(".md"))], figure, where=on,
                    plot=accuracy_plot(a))]


def accuracy_plot(a: dict) -> dict:
    """Per-seed test accuracy of each case (a dot per seed, hover naming the seed), each case's colour."""
    import plotly.graph_objects as go
    from benchmarks.reports import interactive
    from benchmarks.reports.colors import case_color
    data = []
    for c in a["cases"]:
        v = [x * 100 for x in a["values"][c]]
        data.append(go.Scatter(x=v, y=[a["labels"][c]] * len(v), mode="markers", name=a["labels"][c],
                               marker={"color": case_color(c), "size": 10, "opacity": 0.7},
                               customdata=[f"seed {s}: {x:.1f}%" for s, x in zip(a["seeds"], v)],
                               hovertemplate="%{y}<br>%{customdata}<extra></extra>"))
        data.append(go.Scatter(x=[a["mean"][c] * 100], y=[a["labels"][c]], mode="markers", showlegend=False,
                               marker={"symbol": "diamond", "size": 13, "color": "black"},
                               hovertemplate=f"mean {a['mean'][c]:.1%} (sd {a['sd'][c]:.1%})<extra></extra>"))
    layout = interactive._layout(f"Test accuracy over seeds {a['seeds'][0]}-{a['seeds'][-1]} (diamond: the mean)", 300,
                                 xaxis={"title": {"text": "test accuracy (%)"}, "gridcolor": "#e5e5e5"},
                                 yaxis={"automargin": True})
    return interactive.plain(go.Figure(data=data, layout=layout))


def accuracy_figure(results: Path, path: Path) -> Path:
    """Per-seed test accuracy of each framework (a dot per seed), mean and its 95% CI."""
    from benchmarks.reports.colors import case_color
    from benchmarks.reports.report_figures import plt, save_png
    from scipy import stats as st
    import numpy as np
    a = read_seed_check(results / ACCURACY)
    fig, ax = plt.subplots(figsize=(6.0, 2.6))
    for i, c in enumerate(a["cases"]):
        v = np.asarray(a["values"][c]) * 100
        ax.plot(v, [i] * len(v), "o", color=case_color(c), alpha=0.6, label=f"{a['labels'][c]}: one dot per seed")
        h = float(st.t.ppf(0.975, v.size - 1)) * v.std(ddof=1) / math.sqrt(v.size)
        ax.errorbar([v.mean()], [i + 0.25], xerr=[[h], [h]], fmt="D", color="black", capsize=3)
    ax.set_yticks(range(len(a["cases"])), [a["labels"][c] for c in a["cases"]], fontsize=8)
    ax.set_ylim(-0.6, len(a["cases"]) - 0.2)
    ax.set_xlabel("test accuracy (%)")
    ax.set_title(f"Test accuracy over seeds {a['seeds'][0]}-{a['seeds'][-1]} (diamond: mean, 95% CI)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.text(0.01, 1.0, f"regenerate: {REFRESH}", fontsize=6, color="grey", ha="left", va="bottom")
    return save_png(fig, path)


# --------------------------------------------------------------------------- where a verdict flips

def crossover_findings(results: Path) -> list[Finding]:
    from benchmarks.reports import sweep_report
    from benchmarks.model.sweeps import SWEEP_FILE
    out = []
    for folder in sorted((results / SWEEPS).iterdir()) if (results / SWEEPS).is_dir() else []:
        if not (folder / SWEEP_FILE).is_file():
            continue
        req = json.loads((folder / SWEEP_FILE).read_text())
        param = req["param"]
        pts = sweep_report.points(folder, req)
        if not pts:
            continue
        frame = sweep_report.tidy(pts, param)
        on = f"{machine(pts[0][1].manifest)}; {param} swept; {dates(pts[0][1])}"
        flips = sweep_report.crossings(frame, param, pts[0][1].min_effect)
        if not flips:
            out.append(Finding("where a verdict flips",
                               f"Sweep of {param} over {', '.join(f'{v:,}' for v in req['values'])}: no verdict "
                               f"changes sign.", [("sweep report", folder / "report.md")], where=on))
            continue
        for c in flips:
            lo, hi = c["between"]
            g = frame[(frame.series == c["series"]) & (frame.phase == c["phase"]) & (frame[param] > lo)
                      & (frame[param] < hi)]
            quiet = "; ".join(f"{word} at " + ", ".join(f"{int(v):,}" for v in g[g.verdict == word][param])
                              for word in (stats.EQUIVALENT, stats.INCONCLUSIVE, stats.NO_INTERVAL)
                              if (g.verdict == word).any())
            out.append(Finding(
                "where a verdict flips",
                f"{PHASES[c['phase']].label} against {param} ({', '.join(f'{v:,}' for v in req['values'])}): "
                f"{c['before']} is faster below, {c['after']} above, the flip between {param} {lo:,g} and {hi:,g}"
                + (f" (no winner: {quiet})" if quiet else "") + f"; point estimate {c['x']:,.0f}.",
                [("sweep report", folder / "report.md")], folder / f"fig-time-{c['phase']}.png", where=on))
    return out


# --------------------------------------------------------------------------- GPU

def gpu_findings(results: Path) -> list[Finding]:
    run = _only_run(results / GPU)
    frame = summary(run)
    env = run.manifest.get("environment") or {}
    gpus = ", ".join(f"{g.get('name')} ({g.get('memory')}, driver {g.get('driver')})" for g in env.get("gpus") or [])
    rt = next((w.get("runtime") for c in run.framework_cases("gpu") for w in c.workers if w.get("runtime")), {}) or {}
    extra = rt.get("extra") or {}
    base = run.baseline("gpu")
    te = frame[(frame.case == (base.id if base else None)) & (frame.phase == "train_epoch")]
    acc = frame[(frame.device == "gpu") & frame.accuracy.notna()]
    missing = sorted({c.label for c in run.framework_cases("gpu") if c.status == "unavailable"})
    text = (f"GPU: measured on {gpus or 'an unnamed GPU'} with torch {rt.get('version')} (CUDA build "
            f"{extra.get('cuda_build')}, cuDNN {extra.get('cudnn')}), {run.manifest.get('processes')} processes a case")
    if len(te) and te.iloc[0]["status"] == "ok":
        r = te.iloc[0]
        text += (f"; {r['label']} trains a warm epoch in {fmt_time(r['time_s'])} "
                 f"(95% CI {fmt_time(r['time_low_s'])}-{fmt_time(r['time_high_s'])})")
    if len(acc):
        text += (f"; test accuracy {acc.accuracy_min.min():.1%}-{acc.accuracy_max.max():.1%} over its cases and "
                 f"processes (seed 0)")
    if missing:
        text += (f". Not measured: {', '.join(missing)}: TensorFlow is not installed on the lent GPU machine, so "
                 f"there is no TensorFlow GPU row and no GPU verdict between the frameworks")
    from benchmarks.reports import interactive
    fig, _ = interactive.forest(run, frame, "gpu")
    return [Finding("GPU", text + ".", [("GPU report", run.path / "report.md")],
                    run.path / "fig-forest-gpu.png", where=where(run, "gpu"),
                    plot=None if fig is None else interactive.plain(fig))]


# --------------------------------------------------------------------------- how far to trust a verdict

def noise_findings(results: Path) -> list[Finding]:
    """The false-positive rate the A/A runs measured, by mode, and what the duet did to the width."""
    from benchmarks.reports import noise_report
    folder = results / NOISE
    if not folder.is_dir():
        raise UserError(f"{folder}: no noise study; the answer needs it (fwbench noise)")
    study = noise_report.load_study(folder)
    entries, _ = noise_report.find_runs(folder, study)
    cal = noise_report.calibration_rows(noise_report.comparisons(entries))
    if not cal:
        raise UserError(f"{folder}: no A/A comparison in the noise study")
    parts = []
    for c in cal:
        r = c["rate"]
        parts.append(f"{c['mode']}: named a winner in {r.hits} of {r.n} A/A comparisons "
                     f"({r.value:.1%}, 95% CI {r.low:.1%}-{r.high:.1%}; {c['equivalent']} equivalent, "
                     f"{c['inconclusive']} inconclusive; median interval ±{c['median_halfwidth'] - 1:.0%})")
    text = ("How far to trust a verdict (A/A runs: each case against an identical copy of itself, on this 2-core "
            "machine): " + "; ".join(parts) + ".")
    agree = noise_report.agreement_rows(study)
    if agree:
        same = sum(a["duet_verdict"] == a["seq_verdict"] for a in agree)
        widths = [a["width_ratio"] for a in agree if a["width_ratio"] is not None]
        text += (f" A duet of two frameworks (one thread each) gave the sequential run's verdict in {same} of "
                 f"{len(agree)} phases" + (f", its interval {min(widths):.2f}-{max(widths):.2f} times the "
                                           f"sequential width" if widths else "") + ".")
    first = study[0][1]
    return [Finding("noise", text, [("noise study", folder / "report.md")],
                    where=f"{machine(first.manifest)}; {workload(first.manifest)}; {dates(first)}")]


# --------------------------------------------------------------------------- machines side by side

def machine_findings(results: Path) -> list[Finding]:
    """Each collected machine on its own, per plan, and where their verdicts differ
    (benchmarks/reports/machines.py); none until a collection is committed under results/machines."""
    from benchmarks.analysis import collection as col
    from benchmarks.reports import machines
    folder = results / MACHINES
    if not (folder / col.COLLECTION_FILE).is_file():
        return []
    parts = col.find([folder])
    col.check(parts)
    names = machines.machine_names(machines.machines_of(parts))
    rows = machines.side_by_side(parts)
    out = []
    for plan in dict.fromkeys(p.plan for p in parts):
        mine = [p for p in parts if p.plan == plan]
        who = "; ".join(f"{names[m]}: {m.label}" for m in machines.machines_of(mine))
        text = (f"Machines side by side, {mine[0].about} ({who}): "
                + machines.summary_sentence([r for r in rows if r["plan"] == plan], names))
        out.append(Finding("machines side by side", text, [("collection report", folder / "report.md")]))
    return out


# --------------------------------------------------------------------------- assembling

def workloads_findings(results: Path) -> list[Finding]:
    """Workload x phase: each framework's default against PyTorch's, one run per workload
    (benchmarks/reports/across_workloads.py), and where a verdict changes with the workload."""
    from benchmarks.reports import across_workloads as aw
    from benchmarks.reports.model import Table
    rs = aw.rows(results)
    if not rs:
        return []
    names = list(dict.fromkeys(r.workload for r in rs))
    changes = aw.changes(rs)
    text = (f"Across workloads ({', '.join(names)}; default cases, one run each): "
            + (" ".join(changes) if changes else "no verdict changes with the workload.")
            + (" Why, from the training step taken apart: " + " ".join(aw.breakdown_lines(results))
               if aw.breakdown_lines(results) else "")
            + (" Minor page faults per round (fresh pages the kernel mapped in; the phase's whole call over its "
               "rounds, median over processes): " + " ".join(aw.fault_lines(results))
               if aw.fault_lines(results) else ""))
    return [Finding("across workloads", text, aw.evidence(rs), table=Table(*aw.table_cells(rs)), where=aw.machines(rs),
                    first_screen_table=True)]


def allocator_findings(results: Path) -> list[Finding]:
    """The same workloads with allocator variables given to every case (results/allocator-cpu):
    how much of each verdict the memory allocator carries (benchmarks/reports/across_workloads.py)."""
    from benchmarks.reports import across_workloads as aw
    from benchmarks.reports.model import Table
    pairs = aw.allocator_rows(results)
    if not pairs:
        return []
    moved, faults = aw.allocator_lines(pairs), aw.fault_lines(results, aw.ALLOCATOR)
    text = ("The memory allocator's share: the same workloads run again with allocator variables given to every "
            "case (each run's report names them), one run each, beside the runs above: "
            + (" ".join(moved) if moved else "no verdict or interval moves with them.")
            + (" Minor page faults per round with them: " + " ".join(faults) if faults else ""))
    return [Finding("allocator", text, aw.allocator_evidence(pairs), table=Table(*aw.allocator_table_cells(pairs)),
                    where=aw.machines([b for _, b in pairs]))]


def findings(results: Path) -> list[Finding]:
    fig = results / "fig-accuracy-seeds.png"
    out = [*workloads_findings(results), *allocator_findings(results), *default_findings(results),
           *best_findings(results), *why_findings(results),
           *accuracy_findings(results, fig if fig.is_file() else None), *crossover_findings(results),
           *gpu_findings(results), *noise_findings(results), *machine_findings(results)]
    return out


def _link(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def readme_lines(fs: list[Finding], readme_dir: Path) -> list[str]:
    """One bullet per finding, its machine first, with its evidence and figure links (short: the
    README's first screen); a finding's table is on the answer page."""
    out = []
    for f in fs:
        links = [f"[{w}]({_link(p, readme_dir)})" for w, p in f.evidence]
        if f.figure is not None and f.figure.is_file():
            links.append(f"[figure]({_link(f.figure, readme_dir)})")
        out.append(f"- {f.line} ({', '.join(links)})")
        if f.first_screen_table and f.table is not None:
            out += ["", f.table.markdown, ""]
    return out


def page(fs: list[Finding], page_dir: Path) -> str:
    return page_model(fs, page_dir).markdown()


def page_model(fs: list[Finding], page_dir: Path):
    """The answer page as a report model: ANSWER.md and index.html are rendered from it."""
    from benchmarks.reports import model
    blocks = [model.Text("# The answer: PyTorch against TensorFlow (and JAX)"),
              model.Text(f"Generated by `{REFRESH}` from the committed run folders; edits here are overwritten. Every "
                         "interval is 95%, over worker processes (benchmarks/analysis/stats.py). Each finding names "
                         "the machine it was measured on (CPU model and threads a case, or the GPU), the workload and "
                         "the date: a verdict holds for that machine.")]
    topic = None
    for f in fs:
        if f.topic != topic:
            blocks.append(model.Text(f"## {f.topic[0].upper()}{f.topic[1:]}"))
            topic = f.topic
        links = ", ".join(f"[{w}]({_link(p, page_dir)})" for w, p in f.evidence)
        blocks.append(model.Text(f"{f.line} Evidence: {links}."))
        if f.lines:
            blocks.append(model.Text("\n".join(f"- {x}" for x in f.lines)))
        if f.table is not None:
            blocks.append(f.table if isinstance(f.table, model.Table) else model.Text(str(f.table)))
        if f.figure is not None and f.figure.is_file():
            blocks.append(model.Figure(f.topic, f.topic, f.figure, plot=f.plot, href=_link(f.figure, page_dir)))
    return model.Report("fwbench: the answer", blocks)
