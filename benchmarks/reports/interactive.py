"""The HTML report's interactive figures (plotly), drawn from the same summary frame as the tables
and the PNG figures (benchmarks/reports/report_figures.py), one builder per figure key.

Every point's hover says its value and its 95% interval in the table's own format (rundata's
fmt_ratio/fmt_time), ratio axes are logarithmic with ticks at 1, 2 and 5 a decade labelled "2x",
and every case keeps the colour benchmarks/reports/colors.py gives it.
"""
from __future__ import annotations

import json
import math

import numpy as np

from benchmarks.analysis import stats
from benchmarks.analysis.rundata import Run, fmt_interval, fmt_ratio, fmt_time, speedup_cell
from benchmarks.model.phases import PHASES
from benchmarks.reports.colors import case_color
from benchmarks.reports.report_figures import NO_WINNER_MARKS, PART_COLORS, verdict_color

FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}


def _ok(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def plain(fig) -> dict:
    """A plotly figure as plain JSON-able data (numpy arrays become lists)."""
    return json.loads(fig.to_json())


def log_ticks(lo: float, hi: float, suffix: str = "x", fmt=None) -> dict:
    """Tick values and labels for a log axis over [lo, hi]: 1, 2 and 5 a decade over up to three
    decades, the decades alone beyond (more would overprint). Labels read 0.5x, 1x, 2x."""
    lo, hi = max(min(lo, hi), 1e-12), max(lo, hi, 1e-12)
    e0, e1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    span = math.log10(hi / lo)
    subs = (1, 1.5, 2, 3, 5, 7) if span <= 1.0 else (1, 2, 5) if span <= 3.0 else (1,)
    vals = [m * 10.0 ** e for e in range(e0, e1 + 1) for m in subs if lo / 1.5 <= m * 10.0 ** e <= hi * 1.5]
    if len(vals) < 2:
        vals = sorted({lo, hi})
    text = [(fmt(v) if fmt else f"{v:g}{suffix}") for v in vals]
    return {"type": "log", "tickvals": vals, "ticktext": text}


def _layout(title: str, height: int, **kw) -> dict:
    out = {"title": {"text": title, "font": {"size": 14}}, "height": height, "font": FONT,
           "margin": {"l": 10, "r": 10, "t": 50, "b": 50}, "hoverlabel": {"align": "left"},
           "plot_bgcolor": "white",
           # beside the plot, never over the title however many cases a run holds
           "legend": {"orientation": "v", "x": 1.01, "xanchor": "left", "y": 1.0, "yanchor": "top",
                      "font": {"size": 11}}}
    out.update(kw)
    return out


def _figure(data: list, layout: dict):
    import plotly.graph_objects as go
    return go.Figure(data=data, layout=layout)


# --------------------------------------------------------------------------- the figures

def forest(run: Run, frame, device: str):
    """Speedup over the baseline per (phase, case) with its 95% interval, coloured by verdict: the
    timing table's speedup column, point for point."""
    import plotly.graph_objects as go
    rows = frame[(frame.device == device) & (frame.status == "ok") & frame.speedup.notna()
                 & (frame.verdict != stats.BASELINE)]
    if not len(rows):
        return None, []
    order = {p: i for i, p in enumerate(PHASES)}
    rows = rows.assign(_o=rows.phase.map(order)).sort_values(["_o", "case"], kind="stable")
    names = [f"{PHASES[r['phase']].label}: {r['label']}" for _, r in rows.iterrows()]
    data, points = [], []
    for word in dict.fromkeys(rows.verdict):
        g = rows[rows.verdict == word]
        ys = [f"{PHASES[r['phase']].label}: {r['label']}" for _, r in g.iterrows()]
        lo = [r["speedup"] - r["speedup_low"] if _ok(r["speedup_low"]) else 0 for _, r in g.iterrows()]
        hi = [r["speedup_high"] - r["speedup"] if _ok(r["speedup_high"]) else 0 for _, r in g.iterrows()]
        text = [f"{speedup_cell(r)}, {r['verdict']}, {int(r['processes'])} processes a side, against "
                f"{run.cases[r['baseline']].label if r['baseline'] in run.cases else r['baseline']}"
                for _, r in g.iterrows()]
        data.append(go.Scatter(x=list(g.speedup), y=ys, mode="markers", name=str(word),
                               marker={"color": verdict_color(word), "size": 9},
                               error_x={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo,
                                        "color": verdict_color(word), "thickness": 2, "width": 4},
                               customdata=text, hovertemplate="%{y}<br>%{customdata}<extra></extra>"))
        points += [(y, float(r["speedup"]), float(r["speedup_low"]) if _ok(r["speedup_low"]) else None,
                    float(r["speedup_high"]) if _ok(r["speedup_high"]) else None)
                   for y, (_, r) in zip(ys, g.iterrows())]
    xs = [v for p in points for v in p[1:] if v is not None]
    bases = [run.cases[b] for b in dict.fromkeys(rows.baseline) if b in run.cases]
    against = bases[0].label if len(bases) == 1 else "each case's own baseline (an A/A copy's: its original)"
    axis = log_ticks(min(xs + [1.0]), max(xs + [1.0]))
    layout = _layout(f"Each case against {'the' if len(bases) == 1 else 'its'} baseline on {device.upper()}: "
                     f"speedup, 95% CI", 120 + 28 * len(rows),
                     xaxis={**axis, "title": {"text": f"speedup over {against} (log scale; right of 1: faster)"},
                            "gridcolor": "#e5e5e5", "zeroline": False},
                     yaxis={"categoryorder": "array", "categoryarray": names[::-1], "automargin": True},
                     shapes=[{"type": "line", "x0": 1, "x1": 1, "yref": "paper", "y0": 0, "y1": 1,
                              "line": {"color": "black", "width": 1}}])
    return _figure(data, layout), points


def phases(run: Run, frame, device: str):
    """Each case's time per phase (log axis), 95% interval as error bars, a case's own colour."""
    import plotly.graph_objects as go
    rows = frame[(frame.device == device) & (frame.status == "ok") & (frame.framework != "shared")]
    if not len(rows):
        return None, []
    data, points = [], []
    for case in dict.fromkeys(rows.case):
        g = rows[rows.case == case]
        g = g.assign(_o=g.phase.map({p: i for i, p in enumerate(PHASES)})).sort_values("_o")
        x = [PHASES[p].label for p in g.phase]
        text = [f"{fmt_time(r['time_s'])} (95% CI {fmt_interval(r['time_low_s'], r['time_high_s'], fmt_time)})"
                for _, r in g.iterrows()]
        data.append(go.Bar(x=x, y=list(g.time_s), name=g.label.iloc[0], marker_color=case_color(case),
                           error_y={"type": "data", "symmetric": False,
                                    "array": [r["time_high_s"] - r["time_s"] if _ok(r["time_high_s"]) else 0
                                              for _, r in g.iterrows()],
                                    "arrayminus": [r["time_s"] - r["time_low_s"] if _ok(r["time_low_s"]) else 0
                                                   for _, r in g.iterrows()]},
                           customdata=text, hovertemplate="%{x}, " + g.label.iloc[0].replace("%", "%%")
                           + "<br>%{customdata}<extra></extra>"))
        points += [(f"{PHASES[r['phase']].label}: {r['label']}", float(r["time_s"]),
                    float(r["time_low_s"]) if _ok(r["time_low_s"]) else None,
                    float(r["time_high_s"]) if _ok(r["time_high_s"]) else None) for _, r in g.iterrows()]
    vals = [v for p in points for v in p[1:] if v is not None and v > 0]
    axis = log_ticks(min(vals), max(vals), fmt=fmt_time)
    layout = _layout(f"Time per phase on {device.upper()}; error bars: 95% CI over processes", 440,
                     barmode="group", yaxis={**axis, "title": {"text": "time (log scale)"}, "gridcolor": "#e5e5e5"})
    return _figure(data, layout), points


def memory(run: Run, frame, device: str):
    import plotly.graph_objects as go
    rows = frame[(frame.device == device) & (frame.status == "ok") & (frame.phase == "train_epoch")
                 & frame.peak_rss_mb.notna()]
    if not len(rows):
        return None, []
    data = [go.Bar(y=list(rows.label), x=list(rows.peak_rss_mb), orientation="h", name="peak RSS (host, MB)",
                   marker_color=[case_color(c) for c in rows.case],
                   text=[f"{v:.0f}" for v in rows.peak_rss_mb], textposition="outside",
                   hovertemplate="%{y}: %{x:.0f} MB peak RSS<extra></extra>")]
    points = [(r["label"], float(r["peak_rss_mb"]), None, None) for _, r in rows.iterrows()]
    if rows.peak_device_mem_mb.notna().any():
        data.append(go.Bar(y=list(rows.label), x=list(rows.peak_device_mem_mb.fillna(0.0)), orientation="h",
                           name="peak device memory (MB)", marker_color="#999999", marker_pattern_shape="/",
                           hovertemplate="%{y}: %{x:.0f} MB device memory<extra></extra>"))
    layout = _layout(f"Peak memory during the warm epoch on {device.upper()} (max over processes)",
                     140 + 30 * len(rows), barmode="group",
                     xaxis={"title": {"text": "MB"}, "gridcolor": "#e5e5e5"},
                     yaxis={"autorange": "reversed", "automargin": True})
    return _figure(data, layout), points


def matrix(run: Run, frame, device: str):
    """log2 speedup per case and phase; a cell without a winner is grey, its mark says why."""
    import plotly.graph_objects as go
    rows = frame[(frame.device == device) & (frame.framework != "shared")]
    cases = list(dict.fromkeys(rows.case))
    phs = [p for p in PHASES if PHASES[p].scope == "framework" and p in set(rows.phase)]
    if not cases or not phs:
        return None, []
    labels = dict(zip(rows.case, rows.label))
    z, text, hover, points = [], [], [], []
    for c in cases:
        zr, tr, hr = [], [], []
        for p in phs:
            r = rows[(rows.case == c) & (rows.phase == p)]
            r = r.iloc[0] if len(r) else None
            if r is not None and _ok(r["speedup"]):
                won = r["verdict"] in (stats.FASTER, stats.SLOWER)
                zr.append(math.log2(r["speedup"]) if won else None)
                tr.append(f"{fmt_ratio(r['speedup'])}x{NO_WINNER_MARKS.get(r['verdict'], '')}")
                hr.append(f"{speedup_cell(r)}, {r['verdict']}")
                points.append((f"{PHASES[p].label}: {labels[c]}", float(r["speedup"]),
                               float(r["speedup_low"]) if _ok(r["speedup_low"]) else None,
                               float(r["speedup_high"]) if _ok(r["speedup_high"]) else None))
            else:
                zr.append(None)
                tr.append("" if r is None else {"unavailable": "n/a", "failed": "failed"}.get(r["status"], "-"))
                hr.append(tr[-1])
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    from benchmarks.reports.report_figures import HEATMAP_LIMIT
    ticks = list(range(-int(HEATMAP_LIMIT), int(HEATMAP_LIMIT) + 1))
    data = [go.Heatmap(z=z, x=[PHASES[p].label for p in phs], y=[labels[c] for c in cases], text=text,
                       texttemplate="%{text}", customdata=hover, colorscale="RdBu", zmin=-HEATMAP_LIMIT,
                       zmax=HEATMAP_LIMIT, hoverongaps=False,
                       colorbar={"title": {"text": "speedup"}, "tickvals": ticks,
                                 "ticktext": [f"{2.0 ** t:g}x" for t in ticks]},
                       hovertemplate="%{y}, %{x}<br>%{customdata}<extra></extra>")]
    layout = _layout(f"Execution-mode matrix on {device.upper()} (blank: no winner; "
                     + "; ".join(f"{m}: {w}" for w, m in NO_WINNER_MARKS.items()) + ")",
                     140 + 34 * len(cases), plot_bgcolor="#e8e8e8",
                     yaxis={"autorange": "reversed", "automargin": True})
    return _figure(data, layout), points


def breakdown(rows: list[dict]):
    import plotly.graph_objects as go
    if not rows:
        return None, []
    x = [r["case"].label for r in rows]
    data = [go.Bar(x=x, y=[r["parts"].get(k, 0.0) * 1e3 for r in rows], name=k, marker_color=c,
                   hovertemplate="%{x}: " + k + " %{y:.3g} ms<extra></extra>") for k, c in PART_COLORS.items()]
    data.append(go.Scatter(x=x, y=[(r["step"] or 0.0) * 1e3 for r in rows], mode="markers", name="measured step",
                           marker={"symbol": "line-ew-open", "size": 40, "color": "black", "line": {"width": 2}},
                           hovertemplate="%{x}: measured step %{y:.3g} ms<extra></extra>"))
    points = [(r["case"].label, float(r["step"] or 0.0), None, None) for r in rows]
    return _figure(data, _layout("The training step taken apart (median over processes)", 480, barmode="stack",
                                 xaxis={"automargin": True, "tickangle": -30},
                                 yaxis={"title": {"text": "ms per step"}, "gridcolor": "#e5e5e5"})), points


def latency(run: Run, device: str):
    """Single-post latency per case as an ECDF over every round, the table's p50/p90/p99 marked."""
    import plotly.graph_objects as go
    from benchmarks.reports.report_figures import latency_quantiles
    data, points, allv = [], [], []
    for c in run.framework_cases(device):
        pd_ = c.phases.get("predict_one")
        if not (pd_ and pd_.samples()):
            continue
        samples = pd_.samples()
        v = np.sort(np.concatenate(samples))
        allv.append(v)
        y = np.arange(1, v.size + 1) / v.size
        keep = np.unique(np.linspace(0, v.size - 1, min(v.size, 400)).astype(int))  # the curve's shape, not every round
        color = case_color(c.id)
        data.append(go.Scatter(x=v[keep].tolist(), y=y[keep].tolist(), mode="lines", line={"shape": "hv", "color": color},
                               name=c.label, hovertemplate=c.label.replace("%", "%%")
                               + ": %{y:.0%} of rounds at or below %{x:.3s}s<extra></extra>"))
        qs = latency_quantiles(samples)
        data.append(go.Scatter(x=list(qs.values()), y=list(qs.keys()), mode="markers", showlegend=False,
                               marker={"symbol": "line-ns-open", "size": 14, "color": color, "line": {"width": 3}},
                               customdata=[f"p{round(q * 100)} {fmt_time(t)}" for q, t in qs.items()],
                               hovertemplate=c.label.replace("%", "%%") + ": %{customdata}<extra></extra>"))
        points += [(f"{c.label} p{round(q * 100)}", float(t), None, None) for q, t in qs.items()]
    if not data:
        return None, []
    allv = np.concatenate(allv)
    axis = log_ticks(float(allv.min()), float(allv.max()), fmt=fmt_time)
    layout = _layout(f"predict one (batch of 1) on {device.upper()}: ECDF of every round; ticks: the table's "
                     "p50/p90/p99", 420, xaxis={**axis, "title": {"text": "time per call (log scale)"},
                                                "gridcolor": "#e5e5e5"},
                     yaxis={"title": {"text": "share of rounds at or below"}, "tickformat": ".0%",
                            "gridcolor": "#e5e5e5"})
    return _figure(data, layout), points


def loss(run: Run):
    import plotly.graph_objects as go
    data, points = [], []
    for c in run.framework_cases():
        pd_ = c.phases.get("train_to_accuracy")
        if pd_ and pd_.processes and pd_.processes[0].extra.get("epoch_mean_loss"):
            ys = [float(v) for v in pd_.processes[0].extra["epoch_mean_loss"]]
            name = f"{c.label}, {c.device.upper()}"
            data.append(go.Scatter(x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers", name=name,
                                   line={"color": case_color(c.id)},
                                   hovertemplate=name.replace("%", "%%") + ", epoch %{x}: loss %{y:.4g}<extra></extra>"))
            points += [(f"{name} epoch {i + 1}", y, None, None) for i, y in enumerate(ys)]
    if not data:
        return None, []
    seed = (run.manifest.get("config") or {}).get("seed")
    ys = [p[1] for p in points if p[1] > 0]
    layout = _layout(f"Training loss per epoch (train_to_accuracy, first process, seed {seed})", 400,
                     xaxis={"title": {"text": "epoch"}, "dtick": 1},
                     yaxis={**log_ticks(min(ys), max(ys), suffix=""), "title": {"text": "mean training loss (log)"},
                            "gridcolor": "#e5e5e5"})
    return _figure(data, layout), points


def samples_figure(run: Run, frame, device: str):
    """What each verdict rests on: every worker process's median round, one dot per process, per
    phase and case (log axis), hover naming the process. The geometric mean of these dots is the
    table's time."""
    import plotly.graph_objects as go
    data, points = [], []
    for c in run.framework_cases(device):
        xs, ys, who = [], [], []
        for p in PHASES:
            pd_ = c.phases.get(p)
            if not pd_:
                continue
            for proc in pd_.processes:
                if proc.rounds.size:
                    xs.append(PHASES[p].label)
                    ys.append(stats.process_figure(proc.rounds))
                    who.append(f"process #{proc.index}: median of {proc.rounds.size} rounds {fmt_time(ys[-1])}")
        if not xs:
            continue
        data.append(go.Box(x=xs, y=ys, name=c.label, marker_color=case_color(c.id), boxpoints="all", jitter=0.4,
                           pointpos=0, fillcolor="rgba(0,0,0,0)", line={"width": 1}, customdata=who,
                           hovertemplate=c.label.replace("%", "%%") + ", %{x}<br>%{customdata}<extra></extra>"))
        points += [(f"{x}: {c.label}", y, None, None) for x, y in zip(xs, ys)]
    if not data:
        return None, []
    vals = [p[1] for p in points if p[1] > 0]
    layout = _layout(f"Every worker process's median round on {device.upper()} (one dot per process)", 440,
                     boxmode="group", yaxis={**log_ticks(min(vals), max(vals), fmt=fmt_time),
                                             "title": {"text": "median round (log scale)"}, "gridcolor": "#e5e5e5"})
    return _figure(data, layout), points


def build(key: str, run: Run, frame, breakdown_rows=None):
    """The interactive figure for a figure key of the run report ("forest-cpu", "loss", ...):
    (plotly figure, points) or (None, []) when the key has no interactive twin. breakdown_rows:
    device -> the report's rows of the training step taken apart (benchmarks/reports/report.py)."""
    kind, _, dev = key.partition("-")
    if kind == "forest":
        return forest(run, frame, dev)
    if kind == "phases":
        return phases(run, frame, dev)
    if kind == "memory":
        return memory(run, frame, dev)
    if kind == "matrix":
        return matrix(run, frame, dev)
    if kind == "latency":
        return latency(run, dev)
    if kind == "samples":
        return samples_figure(run, frame, dev)
    if kind == "breakdown" and breakdown_rows is not None:
        return breakdown(breakdown_rows(dev))
    if kind == "loss":
        return loss(run)
    return None, []


def fill(report, run: Run, frame, breakdown_rows=None) -> None:
    """Give every figure of a run report its interactive twin and points."""
    for f in report.figures():
        fig, points = build(f.key, run, frame, breakdown_rows)
        if fig is not None:
            f.plot, f.points = plain(fig), points


def raw_samples(run: Run) -> dict:
    """Every round of every worker process, per case and phase (seconds): the data the verdicts rest on."""
    return {c.id: {"label": c.label, "framework": c.framework, "device": c.device, "color": case_color(c.id),
                   "phases": {p: [{"process": proc.index, "rounds_s": [float(x) for x in proc.rounds]}
                                  for proc in pd_.processes] for p, pd_ in c.phases.items()}}
            for c in run.framework_cases()}


def sweep_time(frame, param: str, phase: str):
    """A sweep's time per round against its parameter (log-log), one line per case with its 95%
    interval, each case's own colour."""
    import plotly.graph_objects as go
    g = frame[(frame.phase == phase) & (frame.status == "ok") & frame.time_s.notna()]
    if not len(g):
        return None, []
    data, points = [], []
    for series, h in g.groupby("series", sort=False):
        h = h.sort_values(param)
        label = h.iloc[0]["label"].split(" [")[0]
        text = [f"{param} {v:,}: {fmt_time(r['time_s'])} (95% CI {fmt_interval(r['time_low_s'], r['time_high_s'], fmt_time)})"
                + ("" if r["verdict"] in (None, "", stats.BASELINE) or not _ok(r["speedup"]) else
                   f"; {speedup_cell(r)} over the baseline, {r['verdict']}")
                for v, (_, r) in zip(h[param], h.iterrows())]
        data.append(go.Scatter(
            x=list(h[param]), y=list(h.time_s), mode="lines+markers", name=label,
            line={"color": case_color(series)},
            error_y={"type": "data", "symmetric": False,
                     "array": [r["time_high_s"] - r["time_s"] if _ok(r["time_high_s"]) else 0 for _, r in h.iterrows()],
                     "arrayminus": [r["time_s"] - r["time_low_s"] if _ok(r["time_low_s"]) else 0 for _, r in h.iterrows()]},
            customdata=text, hovertemplate=label.replace("%", "%%") + "<br>%{customdata}<extra></extra>"))
        points += [(f"{label} {param}={v}", float(t), None, None) for v, t in zip(h[param], h.time_s)]
    xs = [float(v) for v in g[param]]
    ys = [p[1] for p in points if p[1] > 0]
    layout = _layout(f"{PHASES[phase].label} against {param} (log-log), 95% CI", 440,
                     xaxis={**log_ticks(min(xs), max(xs), suffix=""), "title": {"text": param}, "gridcolor": "#e5e5e5"},
                     yaxis={**log_ticks(min(ys), max(ys), fmt=fmt_time), "title": {"text": "time per round (log)"},
                            "gridcolor": "#e5e5e5"})
    return _figure(data, layout), points


def compare(frames: list[tuple[str, object]]):
    """The same comparisons in each run: a row per (phase, case), a point per run with its 95%
    interval (the speedup over that run's baseline, log axis), a colour per run."""
    import plotly.graph_objects as go
    from benchmarks.reports.colors import run_color
    keys = []
    for _, f in frames:
        for _, r in f[f.speedup.notna() & (f.verdict != stats.BASELINE)].iterrows():
            k = f"{PHASES[r['phase']].label}: {r['label']}"
            if k not in keys:
                keys.append(k)
    if not keys:
        return None, []
    data, points = [], []
    for i, (name, f) in enumerate(frames):
        rows = f[f.speedup.notna() & (f.verdict != stats.BASELINE)]
        ys = [f"{PHASES[r['phase']].label}: {r['label']}" for _, r in rows.iterrows()]
        data.append(go.Scatter(
            x=list(rows.speedup), y=ys, mode="markers", name=name, marker={"color": run_color(i), "size": 8},
            error_x={"type": "data", "symmetric": False,
                     "array": [r["speedup_high"] - r["speedup"] if _ok(r["speedup_high"]) else 0 for _, r in rows.iterrows()],
                     "arrayminus": [r["speedup"] - r["speedup_low"] if _ok(r["speedup_low"]) else 0
                                    for _, r in rows.iterrows()]},
            customdata=[f"{name}: {speedup_cell(r)}, {r['verdict']}" for _, r in rows.iterrows()],
            hovertemplate="%{y}<br>%{customdata}<extra></extra>"))
        points += [(f"{name} {y}", float(x), None, None) for y, x in zip(ys, rows.speedup)]
    xs = [p[1] for p in points] + [1.0]
    layout = _layout("The same comparisons in each run: speedup over each run's baseline, 95% CI",
                     120 + 22 * len(keys) * max(1, len(frames)), scattermode="group",
                     xaxis={**log_ticks(min(xs), max(xs)), "title": {"text": "speedup (log scale; right of 1: faster)"},
                            "gridcolor": "#e5e5e5"},
                     yaxis={"categoryorder": "array", "categoryarray": keys[::-1], "automargin": True},
                     shapes=[{"type": "line", "x0": 1, "x1": 1, "yref": "paper", "y0": 0, "y1": 1,
                              "line": {"color": "black", "width": 1}}])
    return _figure(data, layout), points
