"""The report's PNG figures (matplotlib, Agg: no display on the benchmark machines)."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.report_data import Run, framework_key, losses, phase_key, phase_words  # noqa: E402
from benchmarks.results import fmt_time, time_unit  # noqa: E402
from shared.atomic import write_atomic  # noqa: E402

COLORS = {"torch": "#ee4c2c", "tensorflow": "#1f77b4", "shared": "#888888"}
# Beyond this spread of medians a linear axis squashes the short phases into invisible bars.
LOG_SPREAD = 30.0


def color(fw: str) -> str:
    return COLORS.get(fw, "#2ca02c")


def save_png(fig, path: Path) -> Path:
    """Render in memory, then write atomically: a reader never sees half a PNG."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return write_atomic(path, buf.getvalue())


def phases_figure(run: Run, device: str, path: Path) -> Path | None:
    """Median per phase and framework, IQR as error bars; shared data preparation on CPU too."""
    phases = [p for p in run.phases(include_shared=True)
              if any(e.phase == p and e.device == device for e in run.entries)]
    if not phases:
        return None
    fws = sorted({e.framework for e in run.entries if e.device == device and e.phase in phases}, key=framework_key)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(phases) + 2), 4.2))
    width = 0.8 / max(1, len(fws))
    medians, labelled = [], set()
    for j, p in enumerate(phases):
        present = [e for fw in fws if (e := run.get(fw, device, p))]
        for i, e in enumerate(present):  # centred on the tick whatever the number of frameworks here
            x = j + (i - (len(present) - 1) / 2) * width
            label = None if e.framework in labelled else run.label(e.framework)
            labelled.add(e.framework)
            ax.bar(x, e.median, width * 0.95, yerr=[[e.median - e.q1], [e.q3 - e.median]], capsize=3,
                   color=color(e.framework), label=label)
            ax.annotate(fmt_time(e.median), (x, e.median), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7)
            medians.append(e.median)
    positive = [m for m in medians if m > 0]
    if positive and max(positive) / min(positive) > LOG_SPREAD:
        ax.set_yscale("log")
        ax.set_ylabel("seconds (median, log scale)")
    else:
        ax.set_ylabel("seconds (median)")
    ax.set_xticks(range(len(phases)), [phase_words(p)[2] for p in phases], rotation=20, ha="right", fontsize=8)
    ax.set_title(f"Time per phase on {device.upper()} (error bars: interquartile range)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save_png(fig, path)


def latency_figure(run: Run, device: str, path: Path, phase: str = "predict_one") -> Path | None:
    """Distribution of per-round latencies, one histogram per framework, medians marked."""
    series = [(e.framework, e.data) for e in sorted(run.entries, key=lambda e: framework_key(e.framework))
              if e.device == device and e.phase == phase and e.data is not None and e.data.size]
    if not series:
        return None
    allv = np.concatenate([d for _, d in series])
    scale, unit = time_unit(float(np.median(allv)))
    lo, hi = float(allv.min()) / scale, float(allv.max()) / scale
    spread = hi / lo if lo > 0 else 1.0
    n_bins = int(np.clip(2 * np.sqrt(allv.size), 10, 60))  # sparse samples: fewer, wider bins
    bins = np.geomspace(lo, hi, n_bins) if spread > 10 else np.linspace(lo, hi, n_bins) if hi > lo else 10
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for fw, d in series:
        v = d / scale
        ax.hist(v, bins=bins, histtype="stepfilled", alpha=0.45, color=color(fw),
                label=f"{run.label(fw)}: median {np.median(v):.3g} {unit}, n={v.size}")
        ax.axvline(np.median(v), color=color(fw), linestyle="--", linewidth=1)
    if spread > 10:
        ax.set_xscale("log")
    ax.set_xlabel(f"latency per call ({unit})")
    ax.set_ylabel("rounds")
    ax.set_title(f"{phase_words(phase)[2]} latency on {device.upper()}", fontsize=10)
    ax.legend(fontsize=8)
    return save_png(fig, path)


def loss_figure(run: Run, path: Path) -> Path | None:
    """Per-epoch training loss of every framework (and device) overlaid, for the parity check."""
    curves = [e for e in run.entries if e.phase == "train_to_accuracy" and losses(e)]
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    styles = {"cpu": ("-", "o"), "gpu": ("--", "s")}
    for e in sorted(curves, key=lambda e: (framework_key(e.framework), e.device)):
        ys = losses(e)
        ls, marker = styles.get(e.device, (":", "^"))
        ax.plot(range(1, len(ys) + 1), ys, ls, marker=marker, markersize=4, color=color(e.framework),
                alpha=0.85, label=f"{e.label}, {e.device.upper()}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss")
    ax.set_yscale("log")
    ax.set_title("Training loss per epoch (train_to_accuracy)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def compare_figure(runs: list[Run], path: Path) -> Path | None:
    """One panel per framework and device: each phase's median in every run, side by side."""
    keys = sorted({(e.framework, e.device) for r in runs for e in r.entries if e.framework != "shared"},
                  key=lambda k: (framework_key(k[0]), k[1]))
    if not keys:
        return None
    phases = sorted({e.phase for r in runs for e in r.entries if e.framework != "shared"}, key=phase_key)
    fig, axes = plt.subplots(len(keys), 1, figsize=(max(6.0, 1.4 * len(phases) + 2), 2.8 * len(keys) + 0.8),
                             squeeze=False, sharex=True, layout="constrained")
    width = 0.8 / len(runs)
    cmap = plt.get_cmap("viridis", max(2, len(runs)))
    for ax, (fw, dev) in zip(axes[:, 0], keys):
        for i, r in enumerate(runs):
            pts = [(j, e) for j, p in enumerate(phases) if (e := r.get(fw, dev, p))]
            xs = [j + (i - (len(runs) - 1) / 2) * width for j, _ in pts]
            ax.bar(xs, [e.median for _, e in pts], width * 0.95, color=cmap(i), label=r.name,
                   yerr=[[e.median - e.q1 for _, e in pts], [e.q3 - e.median for _, e in pts]], capsize=2)
        ax.set_yscale("log")
        ax.set_ylabel("seconds (log)")
        ax.set_title(f"{runs[0].label(fw)} on {dev.upper()}", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[-1, 0].set_xticks(range(len(phases)), [phase_words(p)[2] for p in phases], rotation=15, ha="right",
                           fontsize=8)
    axes[0, 0].legend(fontsize=7)
    return save_png(fig, path)

