"""`fwbench report`: a run folder's JSON -> report.md and figures; several runs side by side; regressions.

    fwbench report [RUN ...]                             report.md + fig-*.png in each run folder
    fwbench report RUN1 RUN2 ... --compare [--output DIR]   one comparison report across runs
    fwbench report --baseline RUN_A RUN_B [--threshold 10]  exit 1 when RUN_B got slower than RUN_A

Reads JSON only (never imports a framework), so a report can be rebuilt anywhere from a run folder.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import report_figures as figs
from benchmarks.report_data import (FRAMEWORK_LABELS, Entry, Run, device_key, framework_key, load_run, losses,
                                    phase_key, phase_words)
from shared.atomic import write_atomic
from benchmarks.results import fmt_time
from benchmarks.stats import CONFIDENCE, MIN_ROUNDS, RESAMPLES, Ratio, ratio_of_medians
from shared.errors import UserError

REPO = Path(__file__).resolve().parents[1]
REPORT_NAME = "report.md"
COMPARE_DEFAULT = Path("results") / "compare"


# --------------------------------------------------------------------------- comparisons and verdicts


@dataclass
class Pair:
    """Two frameworks' entries for one phase on one device; ratio = median(a) / median(b)."""

    a: Entry
    b: Entry
    ratio: Ratio
    why_no_interval: str | None

    @property
    def faster(self) -> Entry:
        return self.b if self.ratio.value > 1 else self.a

    @property
    def slower(self) -> Entry:
        return self.a if self.ratio.value > 1 else self.b

    def speedup(self) -> Ratio:
        """The same ratio expressed as slower/faster (>= 1); the percentile interval maps exactly."""
        r = self.ratio
        if r.value > 1:
            return r
        flip = (lambda x: None if x is None else 1.0 / x)
        return Ratio(1.0 / r.value, flip(r.high), flip(r.low))


def make_pair(a: Entry, b: Entry) -> Pair:
    if a.data is None or b.data is None:
        return Pair(a, b, Ratio(a.median / b.median, None, None), "no per-round data for an interval")
    ratio = ratio_of_medians(a.data, b.data)
    why = None if ratio.has_interval else f"too few rounds for an interval: {a.data.size} and {b.data.size}"
    return Pair(a, b, ratio, why)


def pairs(run: Run) -> dict[tuple[str, str], Pair]:
    """(device, phase) -> the comparison of the first two frameworks that measured it."""
    out = {}
    for dev in run.devices():
        for phase in run.phases():
            got = [e for fw in run.frameworks() if (e := run.get(fw, dev, phase))]
            if len(got) >= 2:
                out[(dev, phase)] = make_pair(got[0], got[1])
    return out


def fmt_ratio(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def ratio_digits(x: float) -> int:
    # near 1 one decimal would print "1.0x faster"; far from it a second decimal is noise
    return 2 if x < 1.2 else 1 if x < 10 else 0


def fmt_interval(low: float, high: float, digits: int) -> str:
    # a tight interval gets the extra decimal it needs to show it is an interval at all
    while fmt_ratio(low, digits) == fmt_ratio(high, digits) and digits < 3:
        digits += 1
    return f"{fmt_ratio(low, digits)}-{fmt_ratio(high, digits)}"


def verdict(p: Pair) -> str:
    """The phrase for a table cell: 'TensorFlow (graph) 2.0x faster' / 'no measurable difference'."""
    s = p.speedup()
    d = ratio_digits(s.value)
    if s.has_interval and not s.measurable:
        return "no measurable difference"
    tail = "" if s.has_interval else f" ({p.why_no_interval})"
    return f"{p.faster.label} {fmt_ratio(s.value, d)}x faster{tail}"


def sentence(p: Pair, device: str) -> str:
    verb, gerund, _ = phase_words(p.a.phase)
    s = p.speedup()
    d = ratio_digits(s.value)
    ci = f"{fmt_interval(s.low, s.high, d)}x" if s.has_interval else None
    if ci and not s.measurable:
        return (f"On {device.upper()}, {p.a.label} and {p.b.label} show no measurable difference in {gerund} "
                f"(medians {fmt_ratio(s.value, d)}x apart, {CONFIDENCE:.0%} CI of the ratio {ci}).")
    tail = f"{CONFIDENCE:.0%} CI {ci}" if ci else f"by medians; {p.why_no_interval}"
    return f"On {device.upper()}, {p.faster.label} {verb} {fmt_ratio(s.value, d)}x faster than {p.slower.label} ({tail})."


def agreement(e1: Entry, e2: Entry) -> tuple[int, int] | None:
    p1, p2 = e1.extra.get("test_predictions"), e2.extra.get("test_predictions")
    if not p1 or not p2 or len(p1) != len(p2):
        return None
    return int(np.sum(np.asarray(p1) == np.asarray(p2))), len(p1)


def headline(run: Run, cached: dict | None = None) -> list[str]:
    cached = pairs(run) if cached is None else cached
    lines = []
    for dev in run.devices():
        for phase in run.phases():
            if (dev, phase) in cached:
                lines.append(sentence(cached[(dev, phase)], dev))
        for fw in run.frameworks():
            if (fw, dev) in run.absent:
                lines.append(f"On {dev.upper()}, no {run.label(fw)} results: {run.absent[(fw, dev)]}.")
            # phases only this framework measured here: its own figures, since there is nothing to compare
            alone = [e for ph in run.phases() if (dev, ph) not in cached and (e := run.get(fw, dev, ph))]
            if alone:
                lines.append(f"On {dev.upper()}, {run.label(fw)} alone: "
                             + ", ".join(f"{phase_words(e.phase)[2]} {fmt_time(e.median)}" for e in alone) + ".")
    accs = sorted((e for e in run.entries if e.phase == "train_to_accuracy" and e.extra.get("accuracy") is not None),
                  key=lambda e: (device_key(e.device), framework_key(e.framework)))
    if accs:
        parts = ", ".join(f"{e.label} {e.extra['accuracy']:.1%} ({e.device.upper()})" for e in accs)
        line = f"Final test accuracy: {parts}."
        for e1, e2 in itertools.combinations(accs, 2):
            if e1.device == e2.device and (ag := agreement(e1, e2)):
                line += (f" On {e1.device.upper()} the two agree on {ag[0]} of {ag[1]} test predictions "
                         f"({ag[0] / ag[1]:.1%}).")
        lines.append(line)
    if not lines:
        lines.append("No framework results in this run folder; see Missing results below.")
    return lines


# --------------------------------------------------------------------------- markdown helpers


def md_table(headers: list[str], rows: list[list]) -> str:
    def cell(x) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(out)


def ci_text(p: Pair) -> str:
    r = p.ratio
    if not r.has_interval:
        return p.why_no_interval or ""
    d = ratio_digits(max(r.value, 1 / r.value))
    return fmt_interval(r.low, r.high, d)


def timing_table(run: Run, dev: str, cached: dict) -> str:
    fws = run.frameworks()
    headers = ["phase"]
    for fw in fws:
        headers += [f"{run.label(fw)} median", "IQR", "rounds"]
    both = len(fws) >= 2
    if both:
        a, b = run.label(fws[0]).split(" (")[0], run.label(fws[1]).split(" (")[0]
        headers += [f"time ratio {a}/{b}", f"{CONFIDENCE:.0%} CI", "verdict"]
    rows = []
    for phase in run.table_phases(dev):
        row = [phase_words(phase)[2]]
        for fw in fws:
            e = run.get(fw, dev, phase)
            if e:
                row += [fmt_time(e.median), fmt_time(e.iqr), e.rounds]
            else:
                row += [run.missing_text(fw, dev, phase), "", ""]
        if both:
            p = cached.get((dev, phase))
            row += [f"{p.ratio.value:#.3g}", ci_text(p), verdict(p)] if p else ["", "", ""]
        rows.append(row)
    return md_table(headers, rows)


def warmup_table(run: Run, dev: str) -> str | None:
    rows = []
    for fw in run.frameworks():
        first, steady = run.get(fw, dev, "first_epoch"), run.get(fw, dev, "train_epoch")
        pipe = run.get(fw, dev, "pipeline_epoch")
        if not (first or steady or pipe):
            continue
        t = lambda e, ph: fmt_time(e.median) if e else run.missing_text(fw, dev, ph)  # noqa: E731
        warm = fmt_time(first.median - steady.median) if first and steady else "n/a"
        inp = fmt_time(pipe.median - steady.median) if pipe and steady else "n/a"
        traces = first.extra.get("trace_count") if first else None
        rows.append([run.label(fw), t(first, "first_epoch"), t(steady, "train_epoch"), warm,
                     t(pipe, "pipeline_epoch"), inp, "" if traces is None else traces])
    if not rows:
        return None
    return md_table(["framework", "first epoch", "steady-state epoch", "warm-up cost (first - steady)",
                     "epoch incl. input pipeline", "input pipeline cost (pipeline - steady)", "traces"], rows)


def parity_section(run: Run) -> list[str]:
    accs = sorted((e for e in run.entries if e.phase == "train_to_accuracy"),
                  key=lambda e: (device_key(e.device), framework_key(e.framework)))
    if not accs:
        return ["No train_to_accuracy results: accuracy and parity unknown."]
    out = []
    rows = []
    for e in accs:
        acc = e.extra.get("accuracy")
        ls = losses(e)
        rows.append([e.label, e.device.upper(), "missing" if acc is None else f"{acc:.2%}",
                     len(ls) or "missing", f"{ls[-1]:.4g}" if ls else "missing"])
    out.append(md_table(["framework", "device", "final test accuracy", "epochs", "final training loss"], rows))
    prs = []
    for e1, e2 in itertools.combinations(accs, 2):
        ag = agreement(e1, e2)
        l1, l2 = losses(e1), losses(e2)
        gap = max(abs(x - y) for x, y in zip(l1, l2)) if l1 and l2 else None
        prs.append([f"{e1.label} {e1.device.upper()} vs {e2.label} {e2.device.upper()}",
                    f"{ag[0]} of {ag[1]} ({ag[0] / ag[1]:.1%})" if ag else "predictions missing",
                    "losses missing" if gap is None else f"{gap:.3g}"])
    if prs:
        out.append(md_table(["pair", "same test prediction", "largest per-epoch loss gap"], prs))
    return out


def resources_table(run: Run) -> str | None:
    rows = []
    for dev in run.devices():
        for fw in run.frameworks():
            es = [e for e in run.entries if e.framework == fw and e.device == dev]
            if not es:
                continue
            pick = lambda k: max((e.extra[k] for e in es if e.extra.get(k) is not None), default=None)  # noqa: E731
            rss, gpu = pick("peak_rss_mb"), pick("peak_device_mem_mb")
            x = es[0].extra
            rows.append([run.label(fw), dev.upper(), x.get("device_name", ""), x.get("framework_version", ""),
                         x.get("threads_intra", ""), x.get("threads_inter", ""),
                         "" if rss is None else f"{rss:.0f}", "n/a" if gpu is None else f"{gpu:.0f}"])
    if not rows:
        return None
    return md_table(["framework", "device", "device name", "version", "intra-op threads", "inter-op threads",
                     "peak RSS (MB)", "peak device memory (MB)"], rows)


def environment_section(run: Run) -> list[str]:
    m = run.manifest
    if not m:
        return ["Unknown: manifest.json is missing."]
    env, cfg = m.get("environment") or {}, m.get("config") or {}
    out = []
    gpus = env.get("gpus") or []
    gpu_text = "; ".join(f"{g.get('name')} (driver {g.get('driver')}, {g.get('memory')})" for g in gpus) or "none"
    out.append("\n".join([
        f"- host: {env.get('host', 'unknown')}",
        f"- CPU: {env.get('cpu', 'unknown')}; {env.get('cores_logical', '?')} logical cores, "
        f"{env.get('cores_usable', '?')} usable; RAM {env.get('ram_gb', '?')} GB",
        f"- threads: {cfg.get('resolved_threads', cfg.get('threads', '?'))} intra-op per framework; "
        f"thread environment: {env.get('thread_env') or 'none set'}",
        f"- OS: {env.get('os', 'unknown')}; Python {env.get('python', 'unknown')}",
        f"- GPU: {gpu_text}; CUDA driver {env.get('cuda_driver_version') or 'n/a'}",
        "- packages: " + (", ".join(f"{k} {v}" for k, v in sorted((env.get("packages") or {}).items()) if v)
                          or "unknown"),
    ]))
    rts = m.get("runtimes") or {}
    if rts:
        out.append(md_table(["runtime", "framework", "version", "device", "intra-op", "inter-op", "TF32"],
                            [[k, r.get("framework"), r.get("version"), r.get("device_name") or r.get("device"),
                              r.get("intra_op_threads"), r.get("inter_op_threads"), r.get("tf32")]
                             for k, r in sorted(rts.items())]))
    return out


METHOD = f"""\
Each timing is the median over the rounds pytest-benchmark measured (IQR: the spread of the middle half).
Ratios are times: above 1 the second framework is faster. The headline's interval is a percentile
bootstrap of the ratio of medians: {RESAMPLES:,} resamples (seeded, so the same JSON always gives the same
report), each drawing every side's rounds with replacement, independently, because the two frameworks ran
in separate processes. Medians because round times are right-skewed (garbage collection, the scheduler);
a bootstrap because it assumes nothing about their shape. A difference is called measurable only when the
{CONFIDENCE:.0%} interval excludes 1. With fewer than {MIN_ROUNDS} rounds on a side no interval is given
(a resampled median of one or two values is not a distribution). The interval covers noise within this run
only, not run-to-run variation: compare whole runs (`fwbench report --compare`) for that."""


def main_figure(figures: dict[str, Path]) -> Path | None:
    """The README's figure: CPU phases, else whatever phases figure exists."""
    names = ["phases-cpu"] + sorted(n for n in figures if n.startswith("phases-"))
    return next((figures[n] for n in names if n in figures), None)


def build_markdown(run: Run, figures: dict[str, Path], lines: list[str], cached: dict) -> str:
    m = run.manifest
    parts = [f"# fwbench report: {run.name}", "## Headline", "\n".join(f"- {s}" for s in lines)]
    if (main := main_figure(figures)) is not None:
        parts.append(f"![main figure]({main.name})")
    parts.append("## Missing results")
    parts.append("\n".join(f"- {n}" for n in run.notes) if run.notes
                 else "None: every framework and device the run asked for produced results.")
    for dev in run.devices():
        parts.append(f"## Timings on {dev.upper()}")
        parts.append(timing_table(run, dev, cached))
        if f"phases-{dev}" in figures:
            parts.append(f"![phases on {dev}]({figures[f'phases-{dev}'].name})")
        if f"predict_one-{dev}" in figures:
            parts.append(f"![predict_one latency on {dev}]({figures[f'predict_one-{dev}'].name})")
        w = warmup_table(run, dev)
        if w:
            parts += [f"### Warm-up and input pipeline on {dev.upper()}", w]
    shared = [e for e in run.entries if e.framework == "shared"]
    if shared:
        parts.append("## Shared data preparation (framework-neutral)")
        parts.append(md_table(["phase", "device", "median", "IQR", "rounds"],
                              [[phase_words(e.phase)[2], e.device.upper(), fmt_time(e.median), fmt_time(e.iqr),
                                e.rounds] for e in shared]))
    parts.append("## Accuracy and parity")
    parts += parity_section(run)
    if "loss" in figures:
        parts.append(f"![training loss]({figures['loss'].name})")
    res = resources_table(run)
    if res:
        parts += ["## Threads and memory", res]
    parts.append("## Configuration")
    cfg = m.get("config") or {}
    data = m.get("data") or {}
    parts.append(md_table(["setting", "value"], [[k, v] for k, v in cfg.items()]) if cfg else "Unknown.")
    if data:
        parts.append(md_table(["data", "value"], [[k, v] for k, v in data.items()]))
    parts.append("## Environment")
    parts += environment_section(run)
    parts.append("## Command")
    parts.append(f"```\n{m.get('command', 'unknown (manifest missing)')}\n```")
    if "started_utc" in m:
        parts.append(f"Started {m.get('started_utc', '?')}, finished {m.get('finished_utc', '?')}, "
                     f"{m.get('duration_s', '?')} s; fwbench {m.get('fwbench_version', '?')}.")
    parts += ["## How to read this report", METHOD]
    return "\n\n".join(parts) + "\n"


def draw_figures(run: Run) -> tuple[dict[str, Path], list[str]]:
    """Every figure that the data allow; a figure that fails becomes a note, not a failed report."""
    jobs = {}
    for dev in run.devices() or ["cpu"]:
        jobs[f"phases-{dev}"] = lambda p, d=dev: figs.phases_figure(run, d, p)
        jobs[f"predict_one-{dev}"] = lambda p, d=dev: figs.latency_figure(run, d, p)
    jobs["loss"] = lambda p: figs.loss_figure(run, p)
    made, problems = {}, []
    for name, draw in jobs.items():
        try:
            path = draw(run.path / f"fig-{name}.png")
        except Exception as e:  # noqa: BLE001 - a broken figure must not cost the whole report
            problems.append(f"figure fig-{name}.png could not be drawn: {e.__class__.__name__}: {e}")
            continue
        if path:
            made[name] = path
    for stale in run.path.glob("fig-*.png"):  # from an earlier report of the same folder
        if stale not in made.values():
            stale.unlink()
    return made, problems


def report_run(run: Run) -> tuple[Path, list[str]]:
    """Write report.md and figures for a loaded run; return its path and headline."""
    made, problems = draw_figures(run)
    run.notes += problems
    cached = pairs(run)
    lines = headline(run, cached)
    return write_atomic(run.path / REPORT_NAME, build_markdown(run, made, lines, cached)), lines


def write_report(run_dir: Path) -> Path:
    """Write report.md and its figures into the run folder; return report.md's path."""
    return report_run(load_run(run_dir))[0]


# --------------------------------------------------------------------------- several runs


def _get(d: dict, dotted: str):
    for k in dotted.split("."):
        d = d.get(k) if isinstance(d, dict) else None
    return d


def env_differences(runs: list[Run]) -> list[str]:
    """The differences that change timings: threads, versions, devices, CPU, configuration."""
    warn = [f"{r.name} has no manifest: its environment cannot be compared" for r in runs if not r.manifest]
    runs = [r for r in runs if r.manifest]
    if len(runs) < 2:
        return warn
    keys = {"CPU model": "environment.cpu", "usable cores": "environment.cores_usable",
            "thread environment variables": "environment.thread_env", "Python": "environment.python",
            "CUDA driver": "environment.cuda_driver_version"}
    checks = {label: [_get(r.manifest, k) for r in runs] for label, k in keys.items()}
    checks["GPUs"] = [[g.get("name") for g in (_get(r.manifest, "environment.gpus") or [])] for r in runs]
    for pkg in ("torch", "tensorflow", "tensorflow-cpu", "keras", "numpy"):
        checks[f"{pkg} version"] = [(_get(r.manifest, "environment.packages") or {}).get(pkg) for r in runs]
    for k in sorted({k for r in runs for k in (r.manifest.get("config") or {})}):
        checks[f"configuration {k}"] = [(r.manifest.get("config") or {}).get(k) for r in runs]
    for rt in sorted({k for r in runs for k in (r.manifest.get("runtimes") or {})}):
        for field, label in (("intra_op_threads", "intra-op threads"), ("inter_op_threads", "inter-op threads"),
                             ("version", "version"), ("device_name", "device"), ("tf32", "TF32")):
            checks[f"{rt} {label}"] = [_get(r.manifest, f"runtimes.{rt}.{field}") for r in runs]
    checks["devices measured"] = [r.devices() for r in runs]
    for label, values in checks.items():
        if any(v != values[0] for v in values[1:]):
            warn.append(f"{label} differs: " + "; ".join(f"{r.name}: {v}" for r, v in zip(runs, values)))
    return warn


def compare_markdown(runs: list[Run], figure: Path | None) -> str:
    parts = ["# fwbench comparison", md_table(
        ["run", "host", "started (UTC)", "command"],
        [[r.name, _get(r.manifest, "environment.host") or "?", r.manifest.get("started_utc", "?"),
          f"`{r.manifest.get('command', '?')}`"] for r in runs])]
    warn = env_differences(runs)
    parts.append("## Warnings: environments differ")
    parts.append("\n".join(f"- {w}" for w in warn) if warn else "None: threads, versions, devices, CPU and "
                                                                   "configuration match.")
    missing = [f"{r.name}: {n}" for r in runs for n in r.notes]
    if missing:
        parts += ["## Missing results", "\n".join(f"- {n}" for n in missing)]
    if figure:
        parts.append(f"![phases across runs]({figure.name})")
    keys = sorted({(e.framework, e.device) for r in runs for e in r.entries},
                  key=lambda k: (device_key(k[1]), framework_key(k[0])))
    base = runs[0]
    for phase in sorted({e.phase for r in runs for e in r.entries}, key=phase_key):
        parts.append(f"## {phase_words(phase)[2]}")
        rows = []
        for fw, dev in keys:
            cells = []
            ref = base.get(fw, dev, phase)
            for r in runs:
                e = r.get(fw, dev, phase)
                if e is None:
                    cells.append(r.missing_text(fw, dev, phase))
                    continue
                cell = f"{fmt_time(e.median)} (IQR {fmt_time(e.iqr)})"
                if ref and r is not base:
                    cell += f", {e.median / ref.median - 1:+.0%}"
                cells.append(cell)
            if any(r.get(fw, dev, phase) for r in runs):
                rows.append([f"{FRAMEWORK_LABELS.get(fw, fw)} {dev.upper()}"] + cells)
        parts.append(md_table(["framework, device"] + [r.name for r in runs], rows))
    parts.append(f"Percentages: change of the median against the first run ({base.name}).")
    return "\n\n".join(parts) + "\n"


def write_comparison(runs: list[Run], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = figs.compare_figure(runs, out_dir / "fig-compare.png")
    return write_atomic(out_dir / REPORT_NAME, compare_markdown(runs, figure))


def regressions(base: Run, cand: Run, threshold_pct: float) -> tuple[list[str], list[str]]:
    """(slower-than-threshold lines, other lines) for every phase the baseline measured."""
    slow, other = [], []
    for e in sorted(base.entries, key=lambda e: (device_key(e.device), framework_key(e.framework), phase_key(e.phase))):
        name = f"{e.label} {e.device.upper()} {e.phase}"
        c = cand.get(e.framework, e.device, e.phase)
        if c is None:
            why = cand.missing_text(e.framework, e.device, e.phase)
            other.append(f"missing  {name}: in {base.name} but not in {cand.name} ({why})")
            continue
        change = (c.median / e.median - 1) * 100
        line = f"{name}: {fmt_time(e.median)} -> {fmt_time(c.median)} ({change:+.1f}%)"
        (slow if change > threshold_pct else other).append(("SLOWER   " if change > threshold_pct else "ok       ")
                                                            + line)
    return slow, other


# --------------------------------------------------------------------------- command line


def default_run() -> Path:
    here = Path("results") / "latest"
    return here if here.exists() else REPO / "results" / "latest"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="*", metavar="RUN",
                   help="run folders (default: results/latest); each gets report.md and fig-*.png")
    p.add_argument("--compare", action="store_true", help="write one report comparing the RUNs side by side")
    p.add_argument("--output", type=Path, default=None,
                   help=f"folder for the --compare report (default: {COMPARE_DEFAULT})")
    p.add_argument("--baseline", metavar="RUN_A", type=Path, default=None,
                   help="regression check: exit 1 when a phase median in RUN is slower than in RUN_A by more "
                        "than --threshold percent")
    p.add_argument("--threshold", type=float, default=10.0, help="percent slowdown that counts as a regression "
                                                                  "(default 10)")


def main(args: argparse.Namespace) -> int:
    runs = [Path(r) for r in args.runs]
    if args.threshold < 0:
        raise UserError(f"--threshold must be a percentage >= 0, got {args.threshold}")
    if args.baseline is not None:
        if args.compare:
            raise UserError("--baseline and --compare are separate modes: use one")
        if not runs:
            raise UserError("--baseline RUN_A needs the run to check after it: fwbench report --baseline RUN_A RUN_B")
        base = load_run(args.baseline)
        cands = [load_run(r) for r in runs]
        failed = False
        for cand in cands:
            print(f"{cand.name} against baseline {base.name} (threshold {args.threshold:g}%):")
            for w in env_differences([base, cand]):
                print(f"  warning: {w}")
            slow, other = regressions(base, cand, args.threshold)
            for line in slow + other:
                print(f"  {line}")
            failed |= bool(slow)
        print("regression: some phase got slower than the threshold" if failed else "no regression")
        return 1 if failed else 0
    if args.compare:
        if len(runs) < 2:
            raise UserError("--compare needs at least two run folders")
        loaded = [load_run(r) for r in runs]
        path = write_comparison(loaded, args.output or COMPARE_DEFAULT)
        for w in env_differences(loaded):
            print(f"warning: {w}", file=sys.stderr)
        print(f"wrote {path}")
        return 0
    if args.output is not None:
        raise UserError("--output applies to --compare; single reports go into their run folder")
    if not runs and not default_run().exists():
        raise UserError("no results/latest yet: run `fwbench run` first, or name a run folder")
    for r in runs or [default_run()]:
        path, lines = report_run(load_run(r))
        print(f"wrote {path}")
        for line in lines:
            print(f"  {line}")
    return 0
