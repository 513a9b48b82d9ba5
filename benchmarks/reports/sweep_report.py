"""A sweep folder's tidy table, log-log figures, fitted cost exponents, crossovers and report,
all from the point run folders through the one reader (benchmarks/analysis/rundata.py)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from benchmarks.analysis import stats, sweep_stats
from benchmarks.model.phases import PHASES
from benchmarks.reports.colors import case_color
from benchmarks.reports.report_figures import save_png
from benchmarks.analysis.rundata import fmt_interval, fmt_ratio, fmt_time, load_run, md_escape, md_table, summary
from shared.atomic import write_atomic

REPORT_NAME = "report.md"


def points(folder: Path, req: dict) -> list[tuple[int, object]]:
    from benchmarks.model.sweeps import POINTS, point_name
    out = []
    for v in req["values"]:
        p = folder / POINTS / point_name(req["param"], v)
        if (p / "manifest.json").is_file():
            out.append((v, load_run(p)))
    return out


def tidy(pts: list[tuple[int, object]], param: str):
    """One row per (point, case, phase): the run summary plus the parameter's value."""
    import pandas as pd
    frames = []
    for v, run in pts:
        f = summary(run)
        f.insert(0, param, v)
        # the case id without the point's own override, so one case is one line across points
        f.insert(1, "series", [c.split("[")[0] for c in f.case])
        frames.append(f)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def per_process_medians(run, case_id: str, phase: str) -> list[float]:
    c = run.cases.get(case_id)
    pd_ = c.phases.get(phase) if c else None
    return list(stats.per_process(pd_.samples())) if pd_ else []


def fits(pts, frame, param: str) -> list[dict]:
    """The cost exponent per (series, phase) over the points where it ran."""
    out = []
    if not len(frame):
        return out
    for (series, phase), g in frame[frame.status == "ok"].groupby(["series", "phase"], sort=False):
        xs, ys = [], []
        for v, run in pts:
            row = g[g[param] == v]
            if not len(row):
                continue
            m = per_process_medians(run, row.iloc[0]["case"], phase)
            if m:
                xs.append(v)
                ys.append(m)
        if len(xs) >= 2:
            s = sweep_stats.fit_power_law(xs, ys)
            out.append({"series": series, "phase": phase, "points": len(xs), **s.to_dict()})
    return out


def crossings(frame, param: str, min_effect: float) -> list[dict]:
    """Where a case's verdict against the baseline flips sign along the sweep."""
    out = []
    ok = frame[(frame.status == "ok") & frame.speedup.notna() & (frame.verdict != stats.BASELINE)]
    for (series, phase), g in ok.groupby(["series", "phase"], sort=False):
        g = g.sort_values(param)
        if len(g) < 2:
            continue
        # sweep_stats takes time(A)/time(B) with A = this case, B = the baseline: 1 / speedup
        ratios = [(1 / r["speedup"], _inv(r["speedup_high"]), _inv(r["speedup_low"]), _num(r.get("speedup_se")),
                   _num(r.get("speedup_df"))) for _, r in g.iterrows()]
        for c in sweep_stats.crossovers(list(g[param]), ratios, min_effect):
            base = g.iloc[0]["baseline"].split("[")[0]
            who = {"A": series, "B": base}
            out.append({"series": series, "phase": phase, "baseline": base, "x": c.x_estimate,
                        "between": (c.left_x, c.right_x), "before": who[c.before], "after": who[c.after],
                        "equivalent_between": c.equivalent_between, "inconclusive_between": c.inconclusive_between})
    return out


def _num(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _inv(x):
    return None if _num(x) is None else 1 / x


def _between_text(c: dict) -> str:
    """Which non-decisive points lie inside a crossover's bracket (stats' verdict words)."""
    parts = [f"{n} {word}" for n, word in ((c.get("equivalent_between", 0), sweep_stats.EQUIVALENT),
                                           (c.get("inconclusive_between", 0), sweep_stats.INCONCLUSIVE)) if n]
    return f"; points between: {', '.join(parts)}" if parts else ""


def _crossing_marks(ax, flips: list[dict], phase: str, series: str | None = None) -> None:
    """The bracket of each crossover (shaded: the verdict flips somewhere in it) and its
    interpolated point estimate (dashed)."""
    for c in flips:
        if c["phase"] != phase or (series is not None and c["series"] != series):
            continue
        lo, hi = c["between"]
        ax.axvspan(lo, hi, color="#f4d03f", alpha=0.25, lw=0,
                   label=f"verdict flips between {lo:,g} and {hi:,g}")
        ax.axvline(c["x"], color="#b7950b", lw=1, ls="--", label=f"interpolated crossover ~{c['x']:,.0f}")


def figure(frame, fitted: list[dict], param: str, phase: str, column: str, path: Path, ylabel: str,
           flips: list[dict] | None = None, command: str | None = None) -> Path | None:
    """Time: log-log with each case's fitted exponent, and below it each case's speedup over the
    baseline with its 95% CI (log axis), the crossover's bracket shaded. Memory: peak RSS on a
    linear axis (the spread between cases is a small share of the total)."""
    import matplotlib.pyplot as plt
    g = frame[(frame.phase == phase) & (frame.status == "ok") & frame[column].notna()]
    if not len(g):
        return None
    timing = column == "time_s"
    if timing:
        fig, (ax, sx) = plt.subplots(2, 1, figsize=(6.5, 6.4), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    else:
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, (series, h) in enumerate(g.groupby("series", sort=False)):
        h = h.sort_values(param)
        color = case_color(series)  # the case's colour on every page (benchmarks/reports/colors.py)
        label = h.iloc[0]["label"].split(" [")[0]
        if timing:
            f = next((f for f in fitted if f["series"] == series and f["phase"] == phase), None)
            yerr = [h["time_s"] - h["time_low_s"].fillna(h["time_s"]), h["time_high_s"].fillna(h["time_s"]) - h["time_s"]]
            ax.errorbar(h[param], h["time_s"], yerr=yerr, fmt="o", color=color, capsize=2,
                        label=label + (f": slope {f['exponent']:.2f}" + ("" if f["low"] is None else
                                                                        f" ({f['low']:.2f} to {f['high']:.2f})")
                                       if f else ""))
            if f:
                xs = np.geomspace(h[param].min(), h[param].max(), 50)
                ax.plot(xs, np.exp(f["intercept"]) * xs ** f["exponent"], "-", color=color, alpha=0.6)
            s = h[h.speedup.notna() & (h.verdict != stats.BASELINE)]
            if len(s):
                lo = (s.speedup - s.speedup_low.fillna(s.speedup)).clip(lower=0)
                hi = (s.speedup_high.fillna(s.speedup) - s.speedup).clip(lower=0)
                sx.errorbar(s[param], s.speedup, yerr=[lo, hi], fmt="o-", color=color, capsize=2,
                            label=f"{label} over the baseline")
        else:
            ax.plot(h[param], h[column], "o-", color=color, label=label)
    ax.set_xscale("log")
    if timing:
        ax.set_yscale("log")
        sx.set_yscale("log")
        from benchmarks.reports.report_figures import ratio_axis
        ratio_axis(sx.yaxis)
        sx.axhline(1.0, color="black", lw=0.8)
        _crossing_marks(sx, flips or [], phase)
        sx.set_ylabel("speedup (95% CI)", fontsize=8)
        sx.set_xlabel(param)
        sx.grid(alpha=0.3, which="both")
        if sx.get_legend_handles_labels()[0]:  # a sweep with one finished point has no series to name
            sx.legend(fontsize=6)
    else:
        ax.set_ylim(bottom=0)
        ax.set_xlabel(param)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{PHASES[phase].label} against {param}" + (" (log-log)" if timing else ""), fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    if command:
        fig.text(0.01, 1.0, f"regenerate: {command}", fontsize=6, color="grey", ha="left", va="bottom")
    return save_png(fig, path)


def regenerate_command(folder: Path) -> str:
    from benchmarks.reports.report_figures import REPO
    try:
        where = Path(folder).resolve().relative_to(REPO).as_posix()
    except ValueError:
        where = str(folder)
    return f"fwbench report --sweep {where}"


def write(folder: Path) -> Path:
    from benchmarks.model.sweeps import SWEEP_FILE
    req = json.loads((folder / SWEEP_FILE).read_text())
    param = req["param"]
    pts = points(folder, req)
    frame = tidy(pts, param)
    if len(frame):
        write_atomic(folder / "sweep.csv", frame.to_csv(index=False))
    fitted = fits(pts, frame, param) if len(frame) else []
    min_effect = pts[0][1].min_effect if pts else stats.MIN_EFFECT
    flips = crossings(frame, param, min_effect) if len(frame) else []
    made = []
    phases = [p for p in PHASES if len(frame) and p in set(frame.phase)]
    for phase in phases:
        for column, kind, ylabel in (("time_s", "time", "seconds per round"),
                                     ("peak_rss_mb", "memory", "peak RSS of the worker process (MB, linear)")):
            p = figure(frame, fitted, param, phase, column, folder / f"fig-{kind}-{phase}.png", ylabel, flips,
                       regenerate_command(folder))
            if p:
                made.append(p)
    title = f" ({md_escape(pts[0][1].workload_label)})" if pts else ""
    parts = [f"# fwbench sweep{title}: {param}", f"Values: {', '.join(map(str, req['values']))}."]
    if req.get("preset"):
        parts.append(f"Preset `{req['preset']}` ({req['preset_about']}): phases {req['phases']}, "
                     f"{req['processes']} processes per case, rounds per process "
                     + ", ".join(f"{k} {v['rounds']} (+{v['warmup']} warm-up)" for k, v in req["rounds"].items())
                     + ": fewer than a full run, so intervals are wider."
                     + (f" Given explicitly, over the preset's: {', '.join(req['explicit'])}." if req.get("explicit") else ""))
    done = {v for v, _ in pts}
    missing = [v for v in req["values"] if v not in done]
    # why a point has no results: the recipe cannot run it, or its scheduler job gave none
    impossible = {**(req.get("missing") or {}), **(req.get("impossible") or {})}
    if missing:
        parts.append("Points without results: " + "; ".join(
            f"{param}={v}: " + impossible.get(f"{param}={v}", "not run yet or failed (`fwbench sweep --resume` runs it)")
            for v in missing) + ".")
    lost = [f"{param}={v}: {n}" for v, run in pts for n in run.notes]
    if lost:  # a point's lost worker results, named as in a run's own report
        parts += ["## Missing results", "\n".join(f"- {md_escape(n)}" for n in lost)]
    from benchmarks.analysis.collection import machine_of
    seen = list(dict.fromkeys(machine_of(run.manifest) for _, run in pts))
    if len(seen) > 1:  # scheduler jobs on different node types: the fits below mix machines
        parts.append(f"Warning: the points ran on {len(seen)} different machines ("
                     + "; ".join(f"{m.label}: {param}=" + ", ".join(str(v) for v, run in pts
                                                                    if machine_of(run.manifest) == m) for m in seen)
                     + "), so the exponents and crossovers below mix machines: pin one node type "
                       "(--slurm-option constraint=...), or `fwbench collect` the folder to see each machine apart.")
    if pts:
        m = pts[0][1].manifest
        env = m.get("environment") or {}
        pk = env.get("packages") or {}
        parts.append(f"Machine: {env.get('cpu')}, {m.get('threads', {}).get('intra_op')} intra-op threads per case; "
                     f"{framework_versions(pk, {c['framework'] for c in m.get('cases') or []})}. "
                     f"Command: `fwbench {' '.join(req['argv'])}`.")
    parts.append("## Cost exponents (time ~ a * x^b, fitted on per-process medians, 95% CI)")
    parts.append(md_table(["case", "phase", "points", "exponent b", "95% CI"],
                          [[f["series"], PHASES[f["phase"]].label, f["points"], f"{f['exponent']:.3f}",
                            "no interval" if f["low"] is None else f"{f['low']:.3f} to {f['high']:.3f}"]
                           for f in fitted]) if fitted
                 else "Too few points for a fit.")
    parts.append("## Crossovers (where a verdict against the baseline changes sign)")
    parts.append("\n".join(f"- {PHASES[c['phase']].label}: {c['before']} is faster below, {c['after']} above "
                           f"{param} ~ {c['x']:.4g} (between {c['between'][0]:g} and {c['between'][1]:g}"
                           f"{_between_text(c)})"
                           for c in flips) if flips else
                 "None: no case's verdict against the baseline changes sign over this range.")
    for p in made:
        parts.append(f"![{p.stem}]({p.name})")
    if made:
        parts.append(f"Figures and this report regenerate with `{regenerate_command(folder)}` (reads the point run "
                     f"folders; times nothing).")
    parts.append("## Every point")
    if len(frame):
        rows = [[r[param], r["label"], PHASES[r["phase"]].label, fmt_time(r["time_s"]) if r["status"] == "ok" else r["status"],
                 "" if r["time_low_s"] is None or (isinstance(r["time_low_s"], float) and math.isnan(r["time_low_s"]))
                 else f"{fmt_time(r['time_low_s'])}-{fmt_time(r['time_high_s'])}",
                 "" if not isinstance(r["speedup"], float) or math.isnan(r["speedup"]) else
                 (f"{fmt_ratio(r['speedup'])}x ({fmt_interval(r['speedup_low'], r['speedup_high'])})"
                  if r["verdict"] != stats.BASELINE else stats.BASELINE),
                 r["verdict"] or "", "" if r["peak_rss_mb"] is None or math.isnan(r["peak_rss_mb"]) else f"{r['peak_rss_mb']:.0f}",
                 r["note"] or ""] for _, r in frame.iterrows()]
        parts.append(md_table([param, "case", "phase", "time", "95% CI", "speedup vs baseline", "verdict",
                               "peak RSS (MB)", "notes"], rows))
    from benchmarks.reports import html, interactive
    plots = {f"fig-time-{p}": interactive.sweep_time(frame, param, p)[0] for p in phases}
    return html.publish_markdown(folder / REPORT_NAME, "\n\n".join(parts) + "\n", plots)  # report.md and .html


def framework_versions(packages: dict, frameworks: set) -> str:
    """'torch 2.13.0, tensorflow-cpu 2.21.0, keras 3.15.1' for the frameworks a run used."""
    from shared import registry
    return ", ".join(f"{p} {packages[p]}" for fw in registry.usable() if fw in frameworks
                     for p in registry.facts(fw).PACKAGES if packages.get(p)) or "no framework versions recorded"
