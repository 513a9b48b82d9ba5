"""report.md and its figures, generated from a run folder through the one reader
(benchmarks/analysis/rundata.py). Reads JSON only (never imports a framework), so a report can be rebuilt
anywhere from a run folder. Never hand-edit a report: `fwbench report RUN` rewrites it.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from benchmarks.reports import calibration, disturbance, duet_report, model
from benchmarks.reports import report_figures as figs
from benchmarks.analysis import stats
from benchmarks.model.phases import DERIVED, PHASES
from benchmarks.analysis.rundata import (Run, derived, derived_text, fmt_interval, fmt_ratio, fmt_time, kind_banner,
                                load_run, md_code, md_escape, md_fence, md_table, overlapping_runs, summary,
                                timing_markdown, typical_spread)
from shared.atomic import write_atomic

REPORT_NAME = "report.md"
BREAKDOWN_PARTS = ("forward", "backward", "optimizer", "readback")
BREAKDOWN_TOLERANCE = 0.10  # the parts must add up to the measured step within this share


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


# --------------------------------------------------------------------------- verdict sentences

def sentence(row, base_label: str, min_effect: float = stats.MIN_EFFECT) -> str:
    """One verdict in words, for a summary row of a non-baseline case."""
    ph = PHASES[row["phase"]]
    dev = row["device"].upper()
    s, lo, hi = row["speedup"], row["speedup_low"], row["speedup_high"]
    n = int(row["processes"])
    if _nan(lo):
        return (f"On {dev}, {row['label']} vs {base_label}, {ph.gerund}: {fmt_ratio(s)}x, no interval "
                f"({n} process(es): at least 2 a side are needed), so no verdict.")
    ci = f"95% CI {fmt_interval(lo, hi)}x, {n} processes a side"
    if row["verdict"] == stats.FASTER:
        return f"On {dev}, {row['label']} {ph.verb} {fmt_ratio(s)}x faster than {base_label} ({ci})."
    if row["verdict"] == stats.SLOWER:  # say it the other way round, with the interval inverted to match
        ci = f"95% CI {fmt_interval(1 / hi, 1 / lo)}x, {n} processes a side"
        return f"On {dev}, {base_label} {ph.verb} {fmt_ratio(1 / s)}x faster than {row['label']} ({ci})."
    return f"On {dev}, {row['label']} vs {base_label}, {ph.gerund}: {undecided_text(row, min_effect)} ({fmt_ratio(s)}x, {ci})."


def undecided_text(row, min_effect: float) -> str:
    """An equivalent or inconclusive row's verdict in words (stats.verdict's figures), e.g.
    "equivalent within 5% (90% CI 0.97-1.03x)" or "inconclusive: the run could detect only
    differences beyond 25%; about 24 processes a side would decide equivalence within 5%"."""
    if row["verdict"] == stats.EQUIVALENT:
        eq = (f" (90% CI {fmt_interval(row['equivalence_low'], row['equivalence_high'])}x)"
              if not _nan(row.get("equivalence_low")) else "")
        return f"equivalent within {min_effect:.0%}{eq}"
    if row["verdict"] != stats.INCONCLUSIVE:
        return str(row["verdict"])
    if _nan(row.get("detectable")):
        return stats.INCONCLUSIVE
    need = row.get("processes_needed")
    return f"{stats.INCONCLUSIVE}: " + stats.inconclusive_detail(
        float(row["detectable"]), None if _nan(need) else int(need), int(row["processes"]), min_effect)

def headline(run: Run, frame) -> list[str]:
    lines = []
    many = any(len(run.framework_cases(d)) > 2 for d in run.devices())
    for dev in run.devices():
        base = run.baseline(dev)
        for case in run.framework_cases(dev):
            if case.status != "ok":
                lines.append(f"On {dev.upper()}, {case.label}: "
                             f"{'not available on this machine' if case.status == 'unavailable' else 'failed'}: "
                             f"{case.reason}{gpu_install_hint(case)}.")
        if base is None or base.status != "ok":
            continue
        # each row against its own baseline (an A/A copy's is its original: rundata.Run.baseline_of)
        rows = frame[(frame.device == dev) & (frame.verdict != stats.BASELINE) & frame.speedup.notna()]
        if many and not run.aa_pairs:  # the matrix table carries the rest
            rows = rows[rows.phase == "train_epoch"]
        lines += [sentence(r, run.cases[r["baseline"]].label, run.min_effect) for _, r in rows.iterrows()]
    acc = frame[frame.accuracy.notna()]
    if len(acc):
        seed = (run.manifest.get("config") or {}).get("seed")
        # every process trains the same seed: its spread is rounding, not the seed-to-seed spread
        lines.append(f"Final test accuracy (seed {seed} in every process; fwbench check --seeds N measures "
                     f"the spread over seeds): " + "; ".join(
            f"{r['label']} ({r['device'].upper()}) {r['accuracy']:.1%}"
            + (f" (range {r['accuracy_min']:.1%}-{r['accuracy_max']:.1%} over processes)"
               if r["accuracy_max"] != r["accuracy_min"] else "") for _, r in acc.iterrows()) + ".")
    return lines


# --------------------------------------------------------------------------- sections

def gpu_install_hint(case) -> str:
    """Runs recorded before the install hint named the GPU extra tell GPU users to install the CPU
    one; a missing framework on a GPU case gets the GPU install named here."""
    reason = case.reason or ""
    if case.device == "gpu" and "not installed" in reason and ".[gpu]" not in reason:
        return " (on a GPU machine install the GPU build: `pip install -e '.[gpu]'`, see README, GPU)"
    return ""


def pooled_section(run: Run, frame) -> list[str]:
    """For a pooled run (benchmarks/analysis/pool.py): its source runs, and how many runs and processes
    back each verdict."""
    sources = run.manifest.get("pooled_from")
    if not sources:
        return []
    from benchmarks.analysis.pool import run_counts
    out = [f"{len(sources)} runs with the same fingerprint (configuration, cases, package versions, CPU model, "
           "thread budget) pooled: every worker process of every run is one sample, and the intervals below are "
           "the suite's own (per-process medians, Welch on the logs) over all of them.",
           md_table(["source run", "started", "processes per case", "duration (s)"],
                    [[Path(s["path"]).name, s.get("started_utc"), s.get("processes"), s.get("duration_s")]
                     for s in sources])]
    rows = []
    for _, r in frame[frame.speedup.notna() & (frame.verdict != stats.BASELINE)].iterrows():
        runs_c, n_c = run_counts(run, r["case"], r["phase"])
        runs_b, n_b = run_counts(run, r["baseline"], r["phase"])
        rows.append([PHASES[r["phase"]].label, r["label"], r["device"].upper(),
                     f"{fmt_ratio(r['speedup'])}x ({fmt_interval(r['speedup_low'], r['speedup_high'])})",
                     r["verdict"], f"{min(runs_c, runs_b)}", f"{n_c} / {n_b}"])
    if rows:
        out.append(md_table(["phase", "case", "device", "speedup vs baseline (95% CI)", "verdict", "runs",
                             "processes (case / baseline)"], rows))
    return out


def warnings_section(run: Run, frame) -> list[str]:
    out = list(run.manifest.get("warnings") or []) + overlapping_runs(run)
    th = run.manifest.get("threads") or {}
    cores = (run.manifest.get("environment") or {}).get("cores_usable")
    if cores and th.get("intra_op", 0) > cores:
        out.append(f"{th['intra_op']} intra-op threads on {cores} usable cores (--force): oversubscribed")
    for _, r in frame[frame.warnings.notna()].iterrows():
        out.append(f"{r['label']} ({r['device'].upper()}), {PHASES[r['phase']].label}: {r['warnings']}")
    return out


def derived_section(run: Run) -> str | None:
    d = derived(run)
    if not len(d):
        return None
    return md_table(["case", "device", "figure", "what it is", "value"],
                    [[r["label"], r["device"].upper(), r["figure"], r["words"], derived_text(r)] for _, r in d.iterrows()])


def latency_section(frame) -> str | None:
    rows = frame[(frame.phase.map(lambda p: PHASES[p].latency)) & (frame.status == "ok")]
    if not len(rows):
        return None
    def iv(r, name):
        v, lo, hi = r[f"{name}_s"], r[f"{name}_low_s"], r[f"{name}_high_s"]
        return fmt_time(v) + ("" if _nan(lo) else f" ({fmt_time(lo)}-{fmt_time(hi)})")
    return md_table(["phase", "case", "device", "p50 (95% CI)", "p90 (95% CI)", "p99 (95% CI)"],
                    [[PHASES[r["phase"]].label, r["label"], r["device"].upper(), iv(r, "time"), iv(r, "p90"),
                      iv(r, "p99")] for _, r in rows.iterrows()])


def matrix_section(run: Run, frame, device: str) -> str | None:
    """A row per case, a column per phase: speedup over the baseline with its interval; then the
    compile/trace cost and peak memory against the baseline."""
    cases = run.framework_cases(device)
    if len(cases) <= 2:
        return None
    phases = [p for p in run.phases() if PHASES[p].scope == "framework"]
    base = run.baseline(device)
    d = derived(run)
    rows = []
    for c in cases:
        cells = [c.label]
        for p in phases:
            r = frame[(frame.case == c.id) & (frame.phase == p)]
            r = r.iloc[0] if len(r) else None
            if r is None or r["status"] != "ok":
                cells.append("" if r is None else {"unavailable": "n/a", "failed": "FAILED"}.get(r["status"], r["status"]))
            elif r["verdict"] == stats.BASELINE:
                cells.append(f"{fmt_time(r['time_s'])} (baseline)")
            elif _nan(r["speedup"]):
                cells.append(fmt_time(r["time_s"]))
            else:
                mark = (" " + figs.NO_WINNER_MARKS[r["verdict"]]) if r["verdict"] in figs.NO_WINNER_MARKS else ""
                cells.append(f"{fmt_ratio(r['speedup'])}x{mark} ({fmt_interval(r['speedup_low'], r['speedup_high'])})")
        warm = d[(d.case == c.id) & (d.figure == "warm-up cost")]
        cells.append(derived_text(warm.iloc[0]) if len(warm) else "")
        te = frame[(frame.case == c.id) & (frame.phase == "train_epoch")]
        bt = frame[(frame.case == (base.id if base else None)) & (frame.phase == "train_epoch")]
        if len(te) and len(bt) and not _nan(te.iloc[0]["peak_rss_mb"]) and not _nan(bt.iloc[0]["peak_rss_mb"]):
            cells.append(f"{te.iloc[0]['peak_rss_mb']:.0f} MB ({te.iloc[0]['peak_rss_mb'] / bt.iloc[0]['peak_rss_mb']:.2f}x)")
        else:
            cells.append("")
        rows.append(cells)
    head = ["case"] + [PHASES[p].label for p in phases] + ["compile/trace cost (first - steady epoch)",
                                                            "peak RSS, train epoch (vs baseline)"]
    return md_table(head, rows)


def breakdown_rows(run: Run, device: str) -> list[dict]:
    """Per case: the median over processes of each part of the step, their sum and the step."""
    out = []
    for c in run.framework_cases(device):
        parts = [a["breakdown"] for a in c.anatomy() if isinstance(a.get("breakdown"), dict)]
        if not parts:
            continue
        med = {k: float(np.median([p[k] for p in parts if k in p])) for k in (*BREAKDOWN_PARTS, "step")
               if any(k in p for p in parts)}
        total = sum(med.get(k, 0.0) for k in BREAKDOWN_PARTS)
        out.append({"case": c, "parts": med, "sum": total, "step": med.get("step"), "processes": len(parts)})
    return out


def breakdown_section(run: Run, device: str) -> list[str]:
    rows = breakdown_rows(run, device)
    if not rows:
        return []
    table = md_table(["case"] + list(BREAKDOWN_PARTS) + ["sum of parts", "measured step", "sum / step"],
                     [[r["case"].label] + [fmt_time(r["parts"].get(k)) for k in BREAKDOWN_PARTS]
                      + [fmt_time(r["sum"]), fmt_time(r["step"]),
                         f"{r['sum'] / r['step']:.2f}" + ("" if abs(r["sum"] / r["step"] - 1) <= BREAKDOWN_TOLERANCE
                                                          else " (off by more than 10%)")]
                     for r in rows])
    out = [table]
    base = run.baseline(device)
    b = next((r for r in rows if base and r["case"].id == base.id), None)
    if b:
        for r in rows:
            if r is b:
                continue
            diffs = {k: r["parts"].get(k, 0.0) - b["parts"].get(k, 0.0) for k in BREAKDOWN_PARTS}
            key = max(diffs, key=lambda k: abs(diffs[k]))
            total = r["step"] - b["step"]
            share = diffs[key] / total if total else float("nan")
            faster = r["case"].label if total < 0 else b["case"].label
            out.append("- " + md_escape(f"{r['case'].label} vs {b['case'].label}: the step is {fmt_time(abs(total))} "
                       f"{'shorter' if total < 0 else 'longer'} ({faster} is faster); the largest part of it is the "
                       f"{key} ({fmt_time(b['parts'].get(key))} -> {fmt_time(r['parts'].get(key))}"
                       + (f", {abs(share):.0%} of the difference" if not math.isnan(share) else "") + ")."))
    return out


def machine_limits(run: Run) -> dict:
    """The best matmul rate and copy bandwidth any framework's probe measured, per device."""
    out = {}
    for c in run.framework_cases():
        for a in c.anatomy():
            p = a.get("probe")
            if not isinstance(p, dict):
                continue
            d = out.setdefault(c.device, {"gflops": 0.0, "gbs": 0.0, "by": {}})
            g, b = p["matmul"].get("gflops_best", 0.0), p["copy"].get("gbs_best", 0.0)
            g0, b0 = d["by"].get(c.framework, (0.0, 0.0))
            d["by"][c.framework] = (max(g, g0), max(b, b0))  # best over this framework's cases
            d["gflops"], d["gbs"] = max(d["gflops"], g), max(d["gbs"], b)
    return out


def limits_section(run: Run, frame, device: str) -> list[str]:
    from shared import workloads
    from shared.costs import floor_seconds, repeat
    limits = machine_limits(run).get(device)
    if not limits or not limits["gflops"] or not limits["gbs"]:
        return []
    cfg = run.config
    data = run.manifest.get("data") or {}
    workload = workloads.get(cfg.workload)
    out = [md_table(["framework", "matmul (best GFLOP/s)", "copy (best GB/s)"],
                    [[fw, f"{g:.0f}", f"{b:.1f}"] for fw, (g, b) in sorted(limits["by"].items())]),
           f"Each framework's own float32 matmul and copy, best over its cases' probes (one per case, in the "
           f"case's first process). Peak taken as the best of all: {limits['gflops']:.0f} GFLOP/s, "
           f"{limits['gbs']:.1f} GB/s."]
    rows = []
    for c in run.framework_cases(device):
        r = frame[(frame.case == c.id) & (frame.phase == "train_epoch") & (frame.status == "ok")]
        an = c.anatomy()
        if not len(r) or not an:
            continue
        t = r.iloc[0]["time_s"]
        steps = int(an[0].get("steps_per_epoch") or 0)
        nnz = int(round(an[0]["nnz_per_step"])) if c.input == "sparse" else None
        cost = repeat(workload.step_cost(cfg, data, cfg.batch_size, nnz), steps)
        fl = floor_seconds(cost, limits["gflops"], limits["gbs"])
        rows.append([c.label, f"{cost.flops / 1e9:.1f}", f"{cost.bytes / 1e9:.2f}", fmt_time(t),
                     f"{cost.flops / t / 1e9:.0f}", f"{cost.flops / t / 1e9 / limits['gflops']:.0%}",
                     fmt_time(fl.floor_s), fl.binding, f"{t / fl.floor_s:.1f}x"])
    if rows:
        out += [md_table(["case", "GFLOP / epoch", "GB moved / epoch (min)", "epoch", "achieved GFLOP/s",
                              "% of peak", "floor epoch", "binding floor", "epoch / floor"], rows)]
    return out


def parity_section(run: Run, frame) -> list[str]:
    out = []
    acc = frame[frame.accuracy.notna()]
    if len(acc):
        out.append(md_table(["case", "device", "test accuracy (mean over processes)", "range", "processes"],
                            [[r["label"], r["device"].upper(), f"{r['accuracy']:.2%}",
                              f"{r['accuracy_min']:.2%}-{r['accuracy_max']:.2%}", int(r["processes"])]
                             for _, r in acc.iterrows()]))
    for dev in run.devices():
        base = run.baseline(dev)
        bp = _predictions(base) if base else None
        for c in run.framework_cases(dev):
            if base is None or c.id == base.id or bp is None:
                continue
            cp = _predictions(c)
            if cp is not None and len(cp) == len(bp):
                same = int(np.sum(cp == bp))
                out.append("- " + md_escape(f"{c.label} and {base.label} ({dev.upper()}) agree on {same} of "
                                            f"{len(bp)} test predictions ({same / len(bp):.1%})."))
    return out


def _predictions(case) -> np.ndarray | None:
    pd_ = case.phases.get("train_to_accuracy") if case else None
    if not pd_ or not pd_.processes:
        return None
    p = pd_.processes[0].extra.get("test_predictions")
    return np.asarray(p) if p else None


def environment_section(run: Run) -> list[str]:
    m = run.manifest
    env = m.get("environment") or {}
    th = m.get("threads") or {}
    rows = [["host", env.get("host")], ["CPU", env.get("cpu")], ["usable cores", env.get("cores_usable")],
            ["RAM (GB)", env.get("ram_gb")], ["OS", env.get("os")], ["Python", env.get("python")],
            ["threads per case", f"{th.get('intra_op')} intra-op, {th.get('inter_op')} inter-op, set through each "
                                 f"framework's API and read back equal in every worker"],
            ["thread environment given to the workers", ", ".join(f"{k}={v}" for k, v in (th.get("env") or {}).items())],
            ["memory allocator environment given to the workers", allocator_text(env)],
            *execution_rows(m),
            ["GPUs", ", ".join(g.get("name", "?") for g in env.get("gpus") or []) or "none"]]
    rows += [[f"package {k}", v] for k, v in (env.get("packages") or {}).items() if v]
    out = [md_table(["", ""], rows)]
    rts = {}
    for c in run.framework_cases():
        rt = next((w.get("runtime") for w in c.workers if w.get("runtime")), None)
        if rt:
            rts[c.id] = rt
    if rts:
        out += ["", md_table(["case", "framework version", "device", "intra-op read back", "inter-op read back", "TF32",
                              "denormals flushed (measured)", "cores read back (per process)"],
                             [[k, r.get("version"), r.get("device_name"), r.get("intra_op_threads"),
                               r.get("inter_op_threads"), r.get("tf32"),
                               "not recorded" if r.get("flush_denormal") is None else r.get("flush_denormal"),
                               affinity_text(run.cases[k])]
                              for k, r in rts.items()])]
        notes = [f"- {md_code(k)}: threads {md_escape(r['extra']['thread_setting'])}; read back: "
                 f"{md_escape(r['extra'].get('thread_readback', 'not said'))}"
                 for k, r in rts.items() if (r.get("extra") or {}).get("thread_setting")]
        if notes:  # a framework without a thread API (JAX) says how it was set and how it was measured
            out += ["", *notes]
        flushed = [k for k, r in rts.items() if r.get("flush_denormal") is True]  # in case order: a report is reproducible
        if flushed and len(flushed) < len(rts):
            out += ["", "The cases differ in how their threads treat denormal floats (measured above): flushed to zero "
                        "in " + ", ".join(f"`{k}`" for k in flushed) + ", computed in full elsewhere. Adam's state on this "
                        "workload holds denormal values, which some x86 CPUs compute many times slower than normal ones "
                        "(how much is the processor's: `torch:ftz` against `torch:eager` measures it); "
                        "TensorFlow flushes them by default, PyTorch does not (the tutorial's workload as it is; "
                        "`torch:ftz` is PyTorch with flushing switched on)."]
    return out


def allocator_text(env: dict) -> str:
    """The allocator variables the workers inherited (shared/environment.ALLOCATOR_VARS): they move
    PyTorch's CPU times by 10-50% here, so a reader must see whether any was set."""
    if "allocator_env" not in env:
        return "not recorded (a run from before fwbench recorded it)"
    from shared.environment import allocator_words
    return allocator_words(env["allocator_env"] or {}) or "none set: glibc malloc's and each framework's own defaults"


def execution_rows(manifest: dict) -> list[list]:
    """How the workers executed (--pin, --gc; a run from before these options: the defaults)."""
    ex = manifest.get("execution") or {}
    duet = manifest.get("duet")
    pin = ("one core per case, from the duet's pairs (see Duet)" if duet
           else f"every worker pinned to cores {', '.join(map(str, ex['pin']))}" if ex.get("pin") else "not pinned (the scheduler places them)")
    gc_off = ex.get("gc") == "off"
    return [["worker CPU pinning", pin],
            ["Python garbage collector in timed rounds", "off (collected, frozen and disabled before each phase's rounds)"
             if gc_off else "on (as a program runs)"]]


def affinity_text(case) -> str:
    """The cores each worker process of a case read back after pinning itself, in process order."""
    got = [(w.get("index"), w.get("affinity")) for w in case.workers if w.get("affinity") is not None]
    if not got:
        return "not recorded"
    return "; ".join(f"#{i}: {','.join(str(c) for c in a)}" for i, a in sorted(got, key=lambda x: x[0] or 0))


def method_text(run: Run) -> str:
    m = run.manifest
    conf = stats.CONFIDENCE
    phases = "\n".join(f"- **{PHASES[p].label}** (`{p}`): {PHASES[p].times}; "
                       f"{m['rounds'][p]['rounds']} rounds after {m['rounds'][p]['warmup']} warm-up per process"
                       + ("; every round on a fresh model" if PHASES[p].fresh_model else "")
                       for p in run.phases())
    schedule = ("as pairs of simultaneous processes, the two cases' rounds synchronised (see Duet)" if m.get("duet")
                else "scheduled in interleaved rounds (each round runs\nevery case once, the order rotated by one each "
                     "round), so drift over the run is spread over all cases")
    return f"""\
Every case ran in {m.get('processes')} worker processes, {schedule}.
Phases, what each round times, and rounds per process:

{phases}

A case's time is the geometric mean over its processes of each process's median round, with a t interval on the log scale. A speedup is the
baseline's time over the case's (above 1: the case is faster). Its {conf:.0%} interval is Welch's t
interval on the log of the per-process medians: the processes, not the rounds, are the independent
samples, because the spread between processes is larger than within one on shared machines, and an
interval from pooled rounds would not cover a rerun (tests/test_stats.py measures both coverages).
Verdicts, with the minimum effect of {run.min_effect:.0%} (m): "{stats.FASTER}"/"{stats.SLOWER}" when the {conf:.0%}
interval excludes 1 and the speedup is beyond m; "{stats.EQUIVALENT}" when the {2 * conf - 1:.0%} interval (two
one-sided tests at level {1 - conf:.0%}) lies within [1/(1+m), 1+m]; otherwise "{stats.INCONCLUSIVE}", with the
smallest difference the run could detect (the half-width of its {conf:.0%} interval as a ratio) and the
processes a side that would give, at the observed spread and a true ratio of 1, a {2 * conf - 1:.0%} interval
within the bounds. Derived figures (warm-up,
input pipeline) are differences of two phases within each process, with a paired t interval; one
whose interval contains 0 reads "not measurable". Latency percentiles are per-process quantiles of
the rounds, averaged over processes with a t interval. A row is warned of when its per-process
medians spread beyond what the run's typical spread gives by chance {stats.UNUSUAL_LEVEL:.0%} of the time (a
chi-square test of the variance; never for a spread below {stats.SPREAD_FLOOR:.0%}), or when its rounds are
shorter than {stats.SHORT_ROUND_S * 1e3:.0f} ms."""


# --------------------------------------------------------------------------- assembling

def build_model(run: Run, frame, made: dict[str, Path], notes: list[str]) -> model.Report:
    """The report as blocks (benchmarks/reports/model.py): report.md and report.html are both rendered from it."""
    m = run.manifest
    fig = model.Figure
    # the workload after the run's name: its label may hold parentheses of its own
    parts = [f"# fwbench report: {md_escape(run.name)}, workload {md_escape(run.workload_label)}"]
    if run.kind != "full" and kind_banner(run):  # a kind without a banner gets no empty bold line
        parts.append(f"**{kind_banner(run)}**")
    if m.get("label"):
        parts.append(f"Run: {md_escape(m['label'])}.")
    parts += ["## Headline", "\n".join(f"- {md_escape(s)}" for s in headline(run, frame)) or "No comparisons."]
    parts += duet_report.section(run)  # [] unless a duet run
    parts += calibration.aa_section(run, frame)  # --aa: how many of the A/A comparisons named a winner
    pooled = pooled_section(run, frame)
    if pooled:
        parts += ["## Pooled evidence", *pooled]
    main = made.get("forest-cpu") or next((p for n, p in made.items() if n.startswith("forest-")), None)
    if main:
        parts += [fig(main.stem[4:], "main figure: speedup over the baseline per case and phase, 95% CI, coloured "
                      "by verdict", main), f"Regenerate: `{figs.regenerate_command(run)}`."]
    for name, p in made.items():
        if name.startswith("forest-") and p is not main:
            parts.append(fig(name, name, p))
    w = warnings_section(run, frame)
    typical = typical_spread(run)
    parts += ["## Warnings", ("" if typical is None else md_escape(
        f"Typical between-process spread in this run: {typical:.1%} (sd of log per-process medians, pooled over its "
        f"rows); a row is marked unstable only when its spread is beyond what that gives by chance 1% of the "
        f"time.") + "\n\n") + ("\n".join(f"- {md_escape(x)}" for x in w) if w else "None.")]
    skipped = int((frame["status"] == "skipped").sum()) if "status" in frame else 0
    parts += ["## Missing results", "\n".join(f"- {md_escape(n)}" for n in run.notes + notes) if run.notes or notes
              else "None: every case and phase the run asked for produced results" + (
                  f", except {skipped} skipped on purpose (their reasons are in the tables)." if skipped else ".")]
    for dev in run.devices():
        base = run.baseline(dev)
        parts.append(f"## Timings on {md_escape(dev.upper())} (baseline: {md_escape(base.label) if base else 'none'})")
        parts.append(timing_markdown(frame, dev))
        if f"phases-{dev}" in made:
            parts.append(fig(f"phases-{dev}", f"phases on {dev}", made[f"phases-{dev}"]))
        parts.append(fig(f"samples-{dev}", f"every worker process's median round on {dev}"))  # HTML only
        if f"memory-{dev}" in made:
            parts += [fig(f"memory-{dev}", f"memory on {dev}", made[f"memory-{dev}"]),
                      "Peak memory: the worker process's peak resident set (host RAM) and, on a GPU, the peak device "
                      "memory allocated, each the maximum over processes."]
        mx = matrix_section(run, frame, dev)
        if mx:
            parts += [f"### Execution-mode matrix on {dev.upper()}",
                      "Each cell: speedup over the baseline (95% CI); "
                      + "; ".join(f"`{m}`: {w}" for w, m in figs.NO_WINNER_MARKS.items()) + ".", mx]
            if f"matrix-{dev}" in made:
                parts.append(fig(f"matrix-{dev}", f"matrix on {dev}", made[f"matrix-{dev}"]))
        bd = breakdown_section(run, dev)
        if bd:
            parts += [f"### The training step taken apart on {dev.upper()}",
                      "Measured in a separate pass after the timed phases, on a fresh model; median over processes "
                      "of the median per step.", *bd]
            if f"breakdown-{dev}" in made:
                parts.append(fig(f"breakdown-{dev}", f"step breakdown on {dev}", made[f"breakdown-{dev}"]))
        lim = limits_section(run, frame, dev)
        if lim:
            parts += [f"### Distance to the machine's limit on {dev.upper()}",
                      "FLOPs and bytes per epoch are counted from the layer shapes (shared/costs.py); the floor is "
                      "the larger of compute (FLOPs / peak) and memory (bytes / bandwidth).", *lim]
    d = derived_section(run)
    if d:
        parts += ["## Warm-up and input pipeline", d]
    from benchmarks.plain.report import section_for
    plain = section_for(run.path)  # `fwbench plain --into RUN`: each twin against its plain script
    if plain:
        parts.append(plain)
    lat = latency_section(frame)
    if lat:
        parts += ["## Latency distribution", lat]
        for dev in run.devices():
            if f"latency-{dev}" in made:
                parts.append(fig(f"latency-{dev}", f"latency on {dev}", made[f"latency-{dev}"]))
    parts += disturbance.section(run) + disturbance.sizing_section(run)  # the machine per phase; --pilot's choice
    parts += ["## Accuracy and parity", *(parity_section(run, frame) or ["No accuracy was measured."])]
    if "loss" in made:
        parts.append(fig("loss", "training loss", made["loss"]))
    cfg = m.get("config") or {}
    parts += ["## Configuration", md_table(["setting", "value"], [[k, v] for k, v in cfg.items()])]
    if m.get("data"):
        parts.append(md_table(["data", "value"], [[k, v] for k, v in m["data"].items()]))
    parts += ["## Cases", md_table(["case", "label", "what it runs", "input", "status"],
                                   [[c.id, c.label, c.about, c.input, c.status + (f": {c.reason}" if c.reason else "")]
                                    for c in run.cases.values()])]
    parts += ["## Environment", *environment_section(run)]
    parts += ["## Command", md_fence(m.get("command")),
              f"Started {m.get('started_utc')}, finished {m.get('finished_utc')}, {m.get('duration_s')} s; "
              f"fwbench {m.get('fwbench_version')}."]
    parts += ["## How to read this report", method_text(run)]
    return model.from_parts(f"fwbench report: {run.name}, workload {run.workload_label}", parts)


def build_markdown(run: Run, frame, made: dict[str, Path], notes: list[str]) -> str:
    return build_model(run, frame, made, notes).markdown()


def draw_figures(run: Run, frame) -> tuple[dict[str, Path], list[str]]:
    """Every figure the data allow; a figure that fails becomes a note, not a failed report."""
    jobs = {}
    for dev in run.devices():
        jobs[f"forest-{dev}"] = lambda p, d=dev: figs.forest_figure(run, frame, d, p)
        jobs[f"phases-{dev}"] = lambda p, d=dev: figs.phases_figure(run, frame, d, p)
        jobs[f"memory-{dev}"] = lambda p, d=dev: figs.memory_figure(run, frame, d, p)
        jobs[f"latency-{dev}"] = lambda p, d=dev: figs.latency_figure(run, d, p)
        if len(run.framework_cases(dev)) > 2:
            jobs[f"matrix-{dev}"] = lambda p, d=dev: figs.matrix_figure(run, frame, d, p)
        jobs[f"breakdown-{dev}"] = lambda p, d=dev: figs.breakdown_figure(breakdown_rows(run, d), p,
                                                                         figs.regenerate_command(run))
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


def write_report(run_dir: Path | Run) -> Path:
    """report.md and its figures in the run folder. The run is read (and a damaged one refused)
    before anything is written, so a good report is never replaced by a reduced one."""
    from benchmarks.analysis.rundata import write_tables
    from benchmarks.plain.report import section_for
    run = run_dir if isinstance(run_dir, Run) else load_run(run_dir)
    section_for(run.path)  # a damaged plain.json is refused here, before a figure is redrawn
    frame = summary(run)
    made, problems = draw_figures(run, frame)
    # results.csv/.md come from the same reader: rewritten with the report, so a table written when
    # the run finished never disagrees with a report regenerated by a later fwbench
    write_tables(run, run.path)
    doc = build_model(run, frame, made, problems)  # built once, rendered twice
    path = write_atomic(run.path / REPORT_NAME, doc.markdown())
    from benchmarks.reports import html, interactive
    interactive.fill(doc, run, frame, lambda dev: breakdown_rows(run, dev))
    doc.samples = interactive.raw_samples(run)
    html.write(doc, run.path)
    return path


__all__ = ["write_report", "headline", "summary", "DERIVED"]


def write_pooled_report(runs: list[Run], output: Path, command: str) -> tuple[Run, Path]:
    """A pooled run (benchmarks/analysis/pool.py) written out: pooled.json (the sources, relative to
    the folder), results.csv/.md, report.md, figures."""
    import json
    import os

    from benchmarks.analysis import pool
    from benchmarks.analysis.rundata import write_tables
    from shared.atomic import write_atomic
    from benchmarks.analysis.rundata import check_output
    output = check_output(output, [r.path for r in runs], "pooled.json")
    pool.check_poolable(runs)  # refused before the folder is made
    output.mkdir(parents=True, exist_ok=True)
    run = pool.pool(runs, output, command)
    rel = [Path(os.path.relpath(r.path, output.resolve())).as_posix() for r in runs]
    write_atomic(output / "pooled.json", json.dumps({"command": command, "runs": rel}, indent=2) + "\n")
    write_tables(run, output)
    return run, write_report(run)
