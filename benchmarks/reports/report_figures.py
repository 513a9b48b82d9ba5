"""The report's PNG figures (matplotlib, Agg: no display on the benchmark machines), all drawn
from the one data model (benchmarks/analysis/rundata.py)."""
from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.patches  # noqa: E402,F401
import matplotlib.ticker  # noqa: E402,F401
import numpy as np  # noqa: E402

from benchmarks.analysis import stats  # noqa: E402
from benchmarks.model.phases import PHASES  # noqa: E402
from benchmarks.analysis.rundata import Run, time_unit  # noqa: E402
from benchmarks.reports.colors import case_color, run_color  # noqa: E402
from shared.atomic import write_atomic  # noqa: E402

PALETTE = ["#ee4c2c", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]
PART_COLORS = {"forward": "#4c72b0", "backward": "#dd8452", "optimizer": "#55a868", "readback": "#c44e52"}
# Colour by verdict word. The words come from one place, benchmarks/analysis/stats.py (through the
# summary frame's "verdict" column); a word not listed here is drawn grey, never a crash.
VERDICT_COLORS = {stats.FASTER: "#1f77b4", stats.SLOWER: "#d62728", stats.EQUIVALENT: "#2ca02c",
                  stats.INCONCLUSIVE: "#bcbd22", stats.NO_INTERVAL: "#c7c7c7"}
# A heatmap or table cell without a winner: its mark (the report's matrix table uses the same).
# In the heatmap such a cell is grey; an inconclusive one is also hatched, so the two stay apart.
NO_WINNER_MARKS = {stats.EQUIVALENT: "=", stats.INCONCLUSIVE: "?", stats.NO_INTERVAL: "-"}
UNKNOWN_VERDICT = "#a0a0a0"
# The heatmap's one scale for every figure: log2 speedup in [-3, 3] (1/8x to 8x); beyond it the
# colour saturates and the cell's text still gives the figure.
HEATMAP_LIMIT = 3.0
REPO = Path(__file__).resolve().parents[2]


def verdict_color(word) -> str:
    return VERDICT_COLORS.get(word, UNKNOWN_VERDICT) if isinstance(word, str) else UNKNOWN_VERDICT


def regenerate_command(run: Run) -> str:
    """The command that redraws a run's figures, for the line under each figure."""
    if run.manifest.get("pooled_from"):
        return str(run.manifest.get("command"))
    try:
        where = run.path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        where = str(run.path)
    return f"fwbench report {where}"


def ratio_axis(axis) -> None:
    """Ratio ticks on a log axis, labelled 0.5x, 1x, 2x: at 1, 2 and 5 a decade over a short range,
    at the decades alone over a long one (more would overprint). Call after the data are drawn."""
    lo, hi = axis.get_view_interval()
    subs = (1.0, 2.0, 5.0) if lo > 0 and math.log10(hi / lo) <= 3.0 else (1.0,)
    axis.set_major_locator(matplotlib.ticker.LogLocator(subs=subs))
    axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%gx"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def caption(fig, text: str) -> None:
    # above the title: below the axes it would collide with rotated tick labels. The axes are laid
    # out tight first: a tall figure (a forest of many cases) otherwise keeps matplotlib's fixed
    # top margin, inches of blank between this line and the title.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tight_layout's "not compatible" notice for twin axes
        fig.tight_layout()
    fig.text(0.01, 1.0, f"regenerate: {text}", fontsize=6, color="grey", ha="left", va="bottom")


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
        # a case's own colour (benchmarks/reports/colors.py), the same on every page
        color = case_color(f.case.iloc[0]) if "case" in f and len(f) else PALETTE[i % len(PALETTE)]
        ax.bar(xs, ys, width * 0.95, color=color, label=label, yerr=[lo, hi], capsize=2)


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
    caption(fig, regenerate_command(run))
    return save_png(fig, path)


def forest_figure(run: Run, frame, device: str, path: Path) -> Path | None:
    """The main figure: a row per (case, phase) against the baseline; the speedup on a log axis
    with its 95% interval, coloured by verdict (the same rows and figures as the timing table)."""
    rows = frame[(frame.device == device) & (frame.status == "ok") & frame.speedup.notna()
                 & (frame.verdict != stats.BASELINE)]
    if not len(rows):
        return None
    order = {p: i for i, p in enumerate(PHASES)}
    rows = rows.assign(_o=rows.phase.map(order)).sort_values(["_o", "case"], kind="stable")
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.6))
    seen = set()
    for i, (_, r) in enumerate(rows.iterrows()):
        y = len(rows) - 1 - i
        color = verdict_color(r["verdict"])
        lo = r["speedup_low"] if _ok(r["speedup_low"]) else r["speedup"]
        hi = r["speedup_high"] if _ok(r["speedup_high"]) else r["speedup"]
        ax.plot([lo, hi], [y, y], "-", color=color, lw=2)
        ax.plot([r["speedup"]], [y], "o", color=color, label=None if r["verdict"] in seen else r["verdict"])
        seen.add(r["verdict"])
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    ratio_axis(ax.xaxis)
    labels = [f"{PHASES[r['phase']].label}: {r['label']}" for _, r in rows.iterrows()]
    ax.set_yticks(range(len(rows)), labels[::-1], fontsize=7)
    # the rows' own baselines (an A/A run compares each copy with its original): one name only when there is one
    bases = [run.cases[b] for b in dict.fromkeys(rows.baseline) if b in run.cases]
    against = bases[0].label if len(bases) == 1 else "each case's own baseline (an A/A copy's: its original)"
    ax.set_xlabel(f"speedup over {against} (log scale; right of 1: faster), 95% CI", fontsize=8)
    ax.set_title(f"Each case against {'the' if len(bases) == 1 else 'its'} baseline on {device.upper()}", fontsize=10)
    ax.grid(axis="x", alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best")
    caption(fig, regenerate_command(run))
    return save_png(fig, path)


def memory_figure(run: Run, frame, device: str, path: Path) -> Path | None:
    """Peak memory per case in the warm-epoch phase on a linear axis: the process's peak resident
    set (RSS, host memory) and, on a GPU, the device's peak allocated memory."""
    rows = frame[(frame.device == device) & (frame.status == "ok") & (frame.phase == "train_epoch")
                 & frame.peak_rss_mb.notna()]
    if not len(rows):
        return None
    dev = rows.peak_device_mem_mb.notna().any()
    fig, axes = plt.subplots(1, 2 if dev else 1, figsize=(9.0 if dev else 6.0, 0.35 * len(rows) + 1.6),
                             squeeze=False)
    for ax, col, what in ((axes[0][0], "peak_rss_mb", "peak RSS of the worker process (host memory, MB)"),
                          *(((axes[0][1], "peak_device_mem_mb", "peak device memory allocated (MB)"),) if dev else ())):
        vals = rows[col].fillna(0.0)
        ax.barh(range(len(rows)), vals, color=[case_color(c) for c in rows.case] if col == "peak_rss_mb" else "#999999")
        for y, v in enumerate(vals):
            ax.text(v, y, f" {v:.0f}", va="center", fontsize=7)
        ax.set_yticks(range(len(rows)), list(rows.label) if col == "peak_rss_mb" else [], fontsize=7)
        ax.set_xlabel(what, fontsize=8)
        ax.set_xlim(0, float(vals.max()) * 1.25 or 1.0)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_title(f"Peak memory during the warm epoch on {device.upper()} (max over processes)", fontsize=9,
                         loc="left")
    caption(fig, regenerate_command(run))
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
    # A cell without a winner (equivalent, inconclusive, no interval) stays NaN, drawn grey: colour
    # strength must not suggest an effect the interval does not support. Its mark says which.
    hatched = []
    for i, c in enumerate(cases):
        for j, p in enumerate(phases):
            r = rows[(rows.case == c) & (rows.phase == p)]
            if len(r) and _ok(r.iloc[0]["speedup"]):
                s = r.iloc[0]["speedup"]
                word = r.iloc[0]["verdict"]
                if word in (stats.FASTER, stats.SLOWER):
                    grid[i, j] = math.log2(s)
                text[i][j] = f"{s:.2f}x" + NO_WINNER_MARKS.get(word, "")
                if word == stats.INCONCLUSIVE:
                    hatched.append((i, j))
            elif len(r):
                text[i][j] = {"unavailable": "n/a", "failed": "failed"}.get(r.iloc[0]["status"], "-")
    fig, ax = plt.subplots(figsize=(1.3 * len(phases) + 3, 0.5 * len(cases) + 1.6))
    cmap = matplotlib.colormaps["RdBu"].with_extremes(bad="#dddddd")
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-HEATMAP_LIMIT, vmax=HEATMAP_LIMIT, aspect="auto")
    for i, j in hatched:
        ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                                                  edgecolor="#9a9a9a", linewidth=0))
    for i in range(len(cases)):
        for j in range(len(phases)):
            dark = np.isfinite(grid[i, j]) and abs(grid[i, j]) > 0.6 * HEATMAP_LIMIT
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=7, color="white" if dark else "black")
    ax.set_xticks(range(len(phases)), [PHASES[p].label for p in phases], rotation=20, ha="right", fontsize=8)
    ax.set_yticks(range(len(cases)), [labels[c] for c in cases], fontsize=8)
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("log2 speedup over baseline (blue: faster; fixed scale)", fontsize=8)
    marks = "; ".join(f"{m}: {w}" + (" (hatched)" if w == stats.INCONCLUSIVE else "")
                      for w, m in NO_WINNER_MARKS.items() if w != stats.NO_INTERVAL)
    ax.set_title(f"Execution-mode matrix on {device.upper()} (grey: no winner; {marks})", fontsize=10)
    caption(fig, regenerate_command(run))
    return save_png(fig, path)


def breakdown_figure(rows: list[dict], path: Path, command: str | None = None) -> Path | None:
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
    if command:
        caption(fig, command)
    return save_png(fig, path)


def latency_quantiles(samples: list, qs=(0.5, 0.9, 0.99)) -> dict[float, float]:
    """Exactly the table's figures: the geometric mean over processes of each process's quantile
    (benchmarks/stats.location), not a quantile of all rounds pooled."""
    from benchmarks.analysis import stats
    return {q: stats.location(samples, q).value for q in qs}


def latency_figure(run: Run, device: str, path: Path) -> Path | None:
    """Single-post latency per case as an ECDF on a log axis (all rounds, every process), with the
    table's p50/p90/p99 (geometric mean of per-process quantiles) marked on each curve."""
    series, ids = [], []
    for c in run.framework_cases(device):
        pd_ = c.phases.get("predict_one")
        if pd_ and pd_.samples():
            series.append((c.label, pd_.samples()))
            ids.append(c.id)
    if not series:
        return None
    scale, unit = time_unit(float(np.median(np.concatenate([np.concatenate(s) for _, s in series]))))
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (label, samples) in enumerate(series):
        v = np.sort(np.concatenate(samples)) / scale
        y = np.arange(1, v.size + 1) / v.size
        color = case_color(ids[i])
        qs = latency_quantiles(samples)
        ax.step(v, y, where="post", color=color, lw=1.2,
                label=f"{label}: p50 {qs[0.5] / scale:.3g}, p90 {qs[0.9] / scale:.3g}, p99 {qs[0.99] / scale:.3g} {unit}")
        for q, x in qs.items():
            ax.plot([x / scale], [q], "|", color=color, markersize=10, mew=2)
    ax.set_xscale("log")
    # 1, 2, 5 a decade: a range inside one decade (GPU latencies) still gets labelled ticks
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels overlap on a short range
    ax.set_xlabel(f"{unit} per call (log scale)")
    ax.set_ylabel("share of rounds at or below")
    ax.set_title(f"predict one (batch of 1) on {device.upper()}: ECDF of every round; ticks: the table's "
                 f"p50/p90/p99", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    caption(fig, regenerate_command(run) + "  (quantiles: geometric mean over processes of per-process quantiles)")
    return save_png(fig, path)


def loss_figure(run: Run, path: Path) -> Path | None:
    """Per-epoch training loss of every case overlaid (from train_to_accuracy), for parity."""
    curves = []
    for c in run.framework_cases():
        pd_ = c.phases.get("train_to_accuracy")
        if pd_ and pd_.processes and pd_.processes[0].extra.get("epoch_mean_loss"):
            curves.append((f"{c.label}, {c.device.upper()}", pd_.processes[0].extra["epoch_mean_loss"], c.id))
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for label, ys, cid in curves:
        ax.plot(range(1, len(ys) + 1), ys, "-o", markersize=3, color=case_color(cid), alpha=0.85, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss")
    ax.set_yscale("log")
    seed = (run.manifest.get("config") or {}).get("seed")
    ax.set_title(f"Training loss per epoch (train_to_accuracy, first process, seed {seed})", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    caption(fig, regenerate_command(run) + "  (loss over seeds: fwbench check --seeds N)")
    return save_png(fig, path)


def compare_figure(frames: list[tuple[str, object]], path: Path, command: str | None = None) -> Path | None:
    """The same comparisons in each run: a row per (case, phase), one point per run with its 95%
    interval, the speedup over that run's baseline on a log axis (a ratio's natural scale: 2x
    and 0.5x are equally far from 1). `frames` are (run label, summary frame)."""
    keys = []
    for _, f in frames:
        for _, r in f[f.speedup.notna() & (f.verdict != stats.BASELINE)].iterrows():
            if (r["case"], r["phase"]) not in keys:
                keys.append((r["case"], r["phase"]))
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(keys) * max(1, len(frames)) / 2 + 1.8))
    step = 0.7 / max(1, len(frames))
    for i, (name, f) in enumerate(frames):
        color = run_color(i)
        for k, (case, phase) in enumerate(keys):
            r = f[(f.case == case) & (f.phase == phase)]
            if not len(r) or not _ok(r.iloc[0]["speedup"]):
                continue
            r = r.iloc[0]
            y = len(keys) - 1 - k - (i - (len(frames) - 1) / 2) * step  # run 1 on top, as in the legend
            lo = r["speedup_low"] if _ok(r["speedup_low"]) else r["speedup"]
            hi = r["speedup_high"] if _ok(r["speedup_high"]) else r["speedup"]
            ax.plot([lo, hi], [y, y], "-", color=color, lw=1.8)
            ax.plot([r["speedup"]], [y], "o", color=color, markersize=4, label=name)  # deduplicated below
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    ratio_axis(ax.xaxis)
    labels = {}
    for _, f in frames:
        labels.update(dict(zip(f.case, f.label)))
    ax.set_yticks(range(len(keys)), [f"{PHASES[p].label}: {labels.get(c, c)}" for c, p in keys][::-1], fontsize=7)
    ax.set_xlabel("speedup over each run's baseline (log scale; right of 1: faster), 95% CI", fontsize=8)
    ax.set_title("The same comparisons in each run", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    handles, names = ax.get_legend_handles_labels()
    seen = {}
    for h, n in zip(handles, names):
        seen.setdefault(n, h)
    ax.legend(list(seen.values()), list(seen), fontsize=7, loc="best")
    if command:
        caption(fig, command)
    return save_png(fig, path)
