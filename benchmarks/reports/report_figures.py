"""The report's PNG figures (matplotlib, Agg: no display on the benchmark machines), all drawn
from the one data model (benchmarks/analysis/rundata.py)."""
from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.model.phases import PHASES  # noqa: E402
from benchmarks.analysis.rundata import Run, time_unit  # noqa: E402
from shared.atomic import write_atomic  # noqa: E402

PALETTE = ["#ee4c2c", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]
PART_COLORS = {"forward": "#4c72b0", "backward": "#dd8452", "optimizer": "#55a868", "readback": "#c44e52"}


def save_png(fig, path: Path) -> Path:
    """Render in memory, then write atomically: a reader never sees half a PNG."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return write_atomic(path, buf.getvalue())


def _ok(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def grouped_bars(ax, series: list[tuple[str, object]], slots: list, value: str) -> None:
    """One bar per (series, slot) with its 95% CI as error bars. A slot is a phase name, or a
    (case, phase) pair; `value` names the summary columns: time -> time_s/time_low_s/time_high_s,
    speedup -> speedup/speedup_low/speedup_high."""
    col = "time_s" if value == "time" else value
    low, high = (("time_low_s", "time_high_s") if value == "time" else (f"{value}_low", f"{value}_high"))
    width = 0.8 / len(series)
    for i, (label, f) in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for j, slot in enumerate(slots):
            case, phase = slot if isinstance(slot, tuple) else (None, slot)
            r = f[(f.phase == phase) & ((f.case == case) if case else True)]
            if not len(r) or not _ok(r.iloc[0][col]):
                continue
            r = r.iloc[0]
            xs.append(j + (i - (len(series) - 1) / 2) * width)
            ys.append(r[col])
            lo.append(r[col] - r[low] if _ok(r[low]) else 0)
            hi.append(r[high] - r[col] if _ok(r[high]) else 0)
        ax.bar(xs, ys, width * 0.95, color=PALETTE[i % len(PALETTE)], label=label, yerr=[lo, hi], capsize=2)


def phases_figure(run: Run, frame, device: str, path: Path) -> Path | None:
    """Each case's time per phase (log scale: phases span 1 ms to 15 s), 95% CI as error bars."""
    rows = frame[(frame.device == device) & (frame.status == "ok") & (frame.framework != "shared")]
    if not len(rows):
        return None
    phases = [p for p in PHASES if p in set(rows.phase)]
    cases = list(dict.fromkeys(rows.case))
    labels = dict(zip(rows.case, rows.label))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(phases) + 2), 4.0))
    grouped_bars(ax, [(labels[c], rows[rows.case == c]) for c in cases], phases, "time")
    ax.set_yscale("log")
    ax.set_ylabel("seconds (log scale)")
    ax.set_xticks(range(len(phases)), [PHASES[p].label for p in phases], rotation=15, ha="right", fontsize=8)
    ax.set_title(f"Time per phase on {device.upper()}; error bars: 95% CI over processes", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return save_png(fig, path)


def matrix_figure(run: Run, frame, device: str, path: Path) -> Path | None:
    """The whole matrix at a glance: log2 speedup over the baseline, a cell per case and phase."""
    rows = frame[(frame.device == device) & (frame.framework != "shared")]
    cases = list(dict.fromkeys(rows.case))
    phases = [p for p in PHASES if PHASES[p].scope == "framework" and p in set(rows.phase)]
    if not cases or not phases:
        return None
    labels = dict(zip(rows.case, rows.label))
    grid = np.full((len(cases), len(phases)), np.nan)
    text = [["" for _ in phases] for _ in cases]
    for i, c in enumerate(cases):
        for j, p in enumerate(phases):
            r = rows[(rows.case == c) & (rows.phase == p)]
            if len(r) and _ok(r.iloc[0]["speedup"]):
                s = r.iloc[0]["speedup"]
                grid[i, j] = math.log2(s)
                text[i][j] = f"{s:.2f}x" + ("~" if r.iloc[0]["verdict"] == "no measurable difference" else "")
            elif len(r):
                text[i][j] = {"unavailable": "n/a", "failed": "failed"}.get(r.iloc[0]["status"], "-")
    fig, ax = plt.subplots(figsize=(1.3 * len(phases) + 3, 0.5 * len(cases) + 1.6))
    lim = max(1.0, float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0)
    im = ax.imshow(grid, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    for i in range(len(cases)):
        for j in range(len(phases)):
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(phases)), [PHASES[p].label for p in phases], rotation=20, ha="right", fontsize=8)
    ax.set_yticks(range(len(cases)), [labels[c] for c in cases], fontsize=8)
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("log2 speedup over baseline (blue: faster)", fontsize=8)
    ax.set_title(f"Execution-mode matrix on {device.upper()} (~: no measurable difference)", fontsize=10)
    return save_png(fig, path)


def breakdown_figure(rows: list[dict], path: Path) -> Path | None:
    """Stacked bars: forward, backward, optimizer, read-back per case, the measured step as a tick."""
    if not rows:
        return None
    parts = list(PART_COLORS)
    scale, unit = time_unit(max(r["step"] or r["sum"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(rows) + 2), 3.8))
    for i, r in enumerate(rows):
        bottom = 0.0
        for k in parts:
            v = r["parts"].get(k, 0.0) / scale
            ax.bar(i, v, 0.6, bottom=bottom, color=PART_COLORS[k], label=k if i == 0 else None)
            bottom += v
        if r["step"]:
            ax.plot([i - 0.35, i + 0.35], [r["step"] / scale] * 2, color="black", lw=1.5,
                    label="measured step" if i == 0 else None)
    ax.set_xticks(range(len(rows)), [r["case"].label for r in rows], rotation=15, ha="right", fontsize=8)
    ax.set_ylabel(f"{unit} per step")
    ax.set_title("The training step taken apart", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return save_png(fig, path)


def latency_figure(run: Run, device: str, path: Path) -> Path | None:
    """Histogram of single-post latency per case, all processes pooled, p50/p90/p99 marked."""
    series = []
    for c in run.framework_cases(device):
        pd_ = c.phases.get("predict_one")
        if pd_ and pd_.samples():
            series.append((c.label, np.concatenate(pd_.samples())))
    if not series:
        return None
    scale, unit = time_unit(float(np.median(np.concatenate([s for _, s in series]))))
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    hi = max(float(np.quantile(s, 0.995)) for _, s in series) / scale
    lo = min(float(s.min()) for _, s in series) / scale
    bins = np.linspace(lo, hi, 60)
    for i, (label, s) in enumerate(series):
        v = s / scale
        p50, p90, p99 = np.quantile(v, [0.5, 0.9, 0.99])
        ax.hist(np.clip(v, lo, hi), bins=bins, alpha=0.5, color=PALETTE[i % len(PALETTE)],
                label=f"{label}: p50 {p50:.3g}, p90 {p90:.3g}, p99 {p99:.3g} {unit}")
    ax.set_xlabel(f"{unit} per call (clipped at the 99.5th percentile)")
    ax.set_ylabel("rounds")
    ax.set_title(f"predict one (batch of 1) on {device.upper()}, all processes", fontsize=10)
    ax.legend(fontsize=7)
    return save_png(fig, path)


def loss_figure(run: Run, path: Path) -> Path | None:
    """Per-epoch training loss of every case overlaid (from train_to_accuracy), for parity."""
    curves = []
    for c in run.framework_cases():
        pd_ = c.phases.get("train_to_accuracy")
        if pd_ and pd_.processes and pd_.processes[0].extra.get("epoch_mean_loss"):
            curves.append((f"{c.label}, {c.device.upper()}", pd_.processes[0].extra["epoch_mean_loss"]))
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (label, ys) in enumerate(curves):
        ax.plot(range(1, len(ys) + 1), ys, "-o", markersize=3, color=PALETTE[i % len(PALETTE)], alpha=0.85,
                label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss")
    ax.set_yscale("log")
    ax.set_title("Training loss per epoch (train_to_accuracy, first process)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def compare_figure(frames: list[tuple[str, object]], path: Path) -> Path | None:
    """Speedup over the baseline per phase and case, one bar per run, with 95% CIs."""
    keys = []
    for _, f in frames:
        for _, r in f[f.speedup.notna() & (f.verdict != "baseline")].iterrows():
            if (r["case"], r["phase"]) not in keys:
                keys.append((r["case"], r["phase"]))
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(keys) + 2), 4.0))
    grouped_bars(ax, [(name, f) for name, f in frames], keys, "speedup")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(range(len(keys)), [f"{c}\n{PHASES[p].label}" for c, p in keys], rotation=30, ha="right", fontsize=6)
    ax.set_ylabel("speedup over baseline")
    ax.set_title("The same comparisons in each run (95% CI)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return save_png(fig, path)
