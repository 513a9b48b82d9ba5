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
    table: str | None = None  # Markdown, for ANSWER.md only


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
    from benchmarks.analysis import pool
    from benchmarks.reports.report import sentence
    folder = results / POOLED
    run = pool.load_pooled(folder)
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
        out.append(Finding("default against default", summary_line,
                           [("pooled report", folder / "report.md")], folder / f"fig-forest-{dev}.png",
                           "\n".join(f"- {s}" for s in lines)))
    return out


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


def best_findings(results: Path) -> list[Finding]:
    folder = results / MATRIX
    run = _only_run(folder)
    rows = best_against_best(run)
    if not rows:
        return []
    rel = run.path
    parts, table = [], []
    for b in rows:
        t, f, r = b["torch"], b["tensorflow"], b["ratio"]
        ph = PHASES[b["phase"]]
        if b["winner"] == "torch":
            words = ratio_words(t.label, f.label, stats.inverse(r), ph.verb, run.min_effect)
        else:
            words = ratio_words(f.label, t.label, r, ph.verb, run.min_effect)
        parts.append(f"{ph.label}: {words}")
        table.append(f"| {ph.label} | {t.label} ({fmt_time(b['torch_time'])}) | {f.label} "
                     f"({fmt_time(b['tensorflow_time'])}) | {fmt_ratio(1 / r.value)}x "
                     f"({fmt_interval(1 / r.high, 1 / r.low) if r.has_interval else 'no interval'}) | "
                     f"{ {'torch': 'PyTorch', 'tensorflow': 'TensorFlow'}.get(b['winner'], b['word'])} |")
    text = ("Best against best on CPU (each framework's fastest measured configuration per phase, matrix run, "
            f"{int(run.manifest.get('processes') or 0)} processes a case): " + "; ".join(parts) + ".")
    # the column is time(TensorFlow's best) / time(PyTorch's best): above 1, PyTorch's best is faster
    head = ("| phase | fastest PyTorch case (time) | fastest TensorFlow case (time) | "
            "speedup of PyTorch's best over TensorFlow's best (95% CI) | faster |\n|---|---|---|---|---|\n")
    return [Finding("best against best", text, [("matrix report", rel / "report.md")],
                    rel / "fig-forest-cpu.png", head + "\n".join(table))]


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
    return [Finding("why", text, [("matrix report, the training step taken apart", run.path / "report.md")],
                    run.path / "fig-breakdown-cpu.png")]


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
               "command": (doc.get("record") or {}).get("command")}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: not an accuracy check fwbench wrote ({e.__class__.__name__}: {e})") from None
    if len(cases) != 2:
        raise UserError(f"{path}: holds {len(cases)} cases, the answer compares two")
    return out


def accuracy_findings(results: Path, figure: Path | None = None) -> list[Finding]:
    path = results / ACCURACY
    a = read_seed_check(path)
    c1, c2 = a["cases"]
    d, lo, hi = a["difference"]
    # no minimum effect is set for accuracy, so an interval holding 0 cannot say "equivalent"
    verdict = (f"{stats.INCONCLUSIVE} on accuracy (the interval of the difference holds 0)" if lo <= 0 <= hi
               else f"{a['labels'][c1] if d > 0 else a['labels'][c2]} is more accurate")
    text = (f"Accuracy over {len(a['seeds'])} seeds (tutorial workload, native optimizers, CPU): "
            f"{a['labels'][c1]} {a['mean'][c1]:.1%} (sd {a['sd'][c1]:.1%}), {a['labels'][c2]} {a['mean'][c2]:.1%} "
            f"(sd {a['sd'][c2]:.1%}); difference {d * 100:+.1f} points (95% CI {lo * 100:+.1f} to {hi * 100:+.1f}): "
            f"{verdict}. The timing runs train seed 0 only; one seed's accuracy says little, "
            f"since seeds alone move it by {min(min(v) for v in a['values'].values()):.1%} to "
            f"{max(max(v) for v in a['values'].values()):.1%}.")
    return [Finding("accuracy over seeds", text, [("seed check", path.with_suffix(".md"))], figure)]


def accuracy_figure(results: Path, path: Path) -> Path:
    """Per-seed test accuracy of each framework (a dot per seed), mean and its 95% CI."""
    from benchmarks.reports.report_figures import PALETTE, plt, save_png
    from scipy import stats as st
    import numpy as np
    a = read_seed_check(results / ACCURACY)
    fig, ax = plt.subplots(figsize=(6.0, 2.6))
    for i, c in enumerate(a["cases"]):
        v = np.asarray(a["values"][c]) * 100
        ax.plot(v, [i] * len(v), "o", color=PALETTE[i], alpha=0.6, label=f"{a['labels'][c]}: one dot per seed")
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
        flips = sweep_report.crossings(frame, param, pts[0][1].min_effect)
        if not flips:
            out.append(Finding("where a verdict flips",
                               f"Sweep of {param} over {', '.join(f'{v:,}' for v in req['values'])}: no verdict "
                               f"changes sign.", [("sweep report", folder / "report.md")]))
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
                [("sweep report", folder / "report.md")], folder / f"fig-time-{c['phase']}.png"))
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
    return [Finding("GPU", text + ".", [("GPU report", run.path / "report.md")],
                    run.path / "fig-forest-gpu.png")]


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
    return [Finding("noise", text, [("noise study", folder / "report.md")])]


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

def findings(results: Path) -> list[Finding]:
    fig = results / "fig-accuracy-seeds.png"
    out = [*default_findings(results), *best_findings(results), *why_findings(results),
           *accuracy_findings(results, fig if fig.is_file() else None), *crossover_findings(results),
           *gpu_findings(results), *noise_findings(results), *machine_findings(results)]
    return out


def _link(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def readme_lines(fs: list[Finding], readme_dir: Path) -> list[str]:
    """One bullet per finding, with its evidence and figure links (short: the README's first screen)."""
    out = []
    for f in fs:
        links = [f"[{w}]({_link(p, readme_dir)})" for w, p in f.evidence]
        if f.figure is not None and f.figure.is_file():
            links.append(f"[figure]({_link(f.figure, readme_dir)})")
        out.append(f"- {f.text} ({', '.join(links)})")
    return out


def page(fs: list[Finding], page_dir: Path) -> str:
    parts = ["# The answer: PyTorch (eager) against TensorFlow (graph)",
             f"Generated by `{REFRESH}` from the committed run folders; edits here are overwritten. Every "
             "interval is 95%, over worker processes (benchmarks/analysis/stats.py).", ""]
    topic = None
    for f in fs:
        if f.topic != topic:
            parts += [f"## {f.topic[0].upper()}{f.topic[1:]}", ""]
            topic = f.topic
        links = ", ".join(f"[{w}]({_link(p, page_dir)})" for w, p in f.evidence)
        parts += [f"{f.text} Evidence: {links}.", ""]
        if f.table:
            parts += [f.table, ""]
        if f.figure is not None and f.figure.is_file():
            parts += [f"![{f.topic}]({_link(f.figure, page_dir)})", ""]
    return "\n".join(parts)
