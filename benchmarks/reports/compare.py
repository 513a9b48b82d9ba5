"""Several runs side by side, and the regression gate, both from the one reader's summary frame
and with the same process-level intervals as a single run's report.

- `comparison(runs)`: for every (case, phase), each run's speedup over its baseline with its
  interval and verdict, and for every pair of runs the ratio of their two speedups with its own
  interval (stats.ratio_of_ratios: se = sqrt(se1^2 + se2^2) on the log scale, Welch-Satterthwaite
  df over the four samples behind them) and the suite's verdict on it, in the words RUN_WORDS:
  "different" (the 95% interval excludes 1 and the ratio is beyond the minimum effect),
  "consistent" (equivalent: the 90% interval lies within the minimum effect of 1), "inconclusive"
  (neither: the runs' spread cannot tell), "no interval". A point estimate lying outside the other
  run's interval is not a difference (two runs from one distribution do that far more often than
  5% of the time: tests/test_verdicts.py), so it is no longer flagged.
- `gate(old, new, threshold)`: fails closed. A (case, phase) measured in the old run that is
  missing, failed or unreadable in the new one is a failure, named; for the rest the new/old
  time ratio gets the suite's verdict with the threshold as the minimum effect: "slower" (its
  interval excludes 1 and the ratio is above the threshold) is a regression, and so is a ratio
  above the threshold with too few processes for an interval; "faster", "equivalent" and
  "inconclusive" pass, each said as such.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from benchmarks.analysis import stats
from benchmarks.model.phases import PHASES
from benchmarks.reports.report_figures import compare_figure
from benchmarks.analysis.rundata import (Run, fmt_interval, fmt_ratio, fmt_time, kind_banner, md_code, md_escape, md_table,
                                missing_text, summary)
from shared.atomic import write_atomic

REPORT_NAME = "report.md"


def _get(d, dotted: str):
    for k in dotted.split("."):
        d = d.get(k) if isinstance(d, dict) else None
    return d


def _allocator(given: dict | None) -> str | None:
    from shared.environment import allocator_words
    return None if given is None else allocator_words(given) or "none set"


def env_differences(runs: list[Run]) -> list[str]:
    """The differences that change timings: threads, versions, devices, CPU, configuration.
    A value a run does not have (a framework it did not run) is not a difference."""
    checks = {"CPU model": [_get(r.manifest, "environment.cpu") for r in runs],
              "usable cores": [_get(r.manifest, "environment.cores_usable") for r in runs],
              "intra-op threads": [_get(r.manifest, "threads.intra_op") for r in runs],
              "inter-op threads": [_get(r.manifest, "threads.inter_op") for r in runs],
              "Python": [_get(r.manifest, "environment.python") for r in runs],
              # recorded since 2026-12-07; an older run has None, never counted as a difference
              "memory allocator environment": [_allocator(_get(r.manifest, "environment.allocator_env")) for r in runs],
              "GPUs": [[g.get("name") for g in (_get(r.manifest, "environment.gpus") or [])] for r in runs]}
    from shared import registry
    owner = {p: fw for fw in registry.usable() for p in registry.facts(fw).PACKAGES}
    for pkg in (*owner, "numpy"):
        used = [owner.get(pkg) in {c.framework for c in r.cases.values()} or pkg not in owner for r in runs]
        checks[f"{pkg} version"] = [(_get(r.manifest, "environment.packages") or {}).get(pkg) if u else None
                                    for r, u in zip(runs, used)]
    for k in sorted({k for r in runs for k in (r.manifest.get("config") or {})}):
        checks[f"configuration {k}"] = [(r.manifest.get("config") or {}).get(k) for r in runs]
    warn, names = [], display_names(runs)
    for label, values in checks.items():
        present = [(r, v) for r, v in zip(runs, values) if v is not None]
        if len({repr(v) for _, v in present}) > 1:
            warn.append(f"{label} differs: " + "; ".join(f"{names[runs.index(r)]}: {v}" for r, v in present))
    return warn


def _shown(path: Path) -> str:
    """A run's path as the user would type it: relative to the working folder when inside it."""
    import os
    rel = os.path.relpath(Path(path).resolve(), Path.cwd().resolve())
    return str(path) if rel.startswith("..") else Path(rel).as_posix()


def display_names(runs: list[Run]) -> list[str]:
    """A name per run, unique among `runs`: the folder name when that is unique, else the full
    path (sweep points share folder names: points/batch_size=64), so no two runs share a column
    or a key."""
    names = [r.name for r in runs]
    out = [n if names.count(n) == 1 else _shown(r.path) for n, r in zip(names, runs)]
    return [n if out.count(n) == 1 else f"{n} ({out[:i].count(n) + 1})" for i, n in enumerate(out)]


# The run-to-run words: stats' verdict on the ratio of two runs' speedups, said of the runs.
DIFFERENT = "different"
CONSISTENT = "consistent"
RUN_WORDS = {stats.FASTER: DIFFERENT, stats.SLOWER: DIFFERENT, stats.EQUIVALENT: CONSISTENT,
             stats.INCONCLUSIVE: stats.INCONCLUSIVE, stats.NO_INTERVAL: stats.NO_INTERVAL}


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


@dataclass
class Cell:
    speedup: float | None
    low: float | None
    high: float | None
    verdict: str | None
    se: float | None = None  # log-scale se and Welch df of the speedup (stats.Interval)
    df: float | None = None
    n: int = 0

    def interval(self) -> stats.Interval:
        return stats.Interval(self.speedup, self.low, self.high, self.n, stats.CONFIDENCE, self.se, self.df)


def run_to_run(a: Cell, b: Cell, min_effect: float) -> tuple[stats.Interval, stats.Verdict]:
    """The ratio of run a's speedup to run b's, with its interval, and the verdict on it."""
    rr = stats.ratio_of_ratios(a.interval(), b.interval())
    return rr, stats.verdict(rr, min_effect)


def _cells(runs: list[Run]) -> tuple[list[tuple[str, str]], dict, list]:
    frames = [summary(r) for r in runs]
    keys, cells = [], {}
    for name, f in zip(display_names(runs), frames):
        for _, row in f.iterrows():
            k = (row["case"], row["phase"])
            if row["verdict"] == stats.BASELINE or row["framework"] == "shared":
                continue
            if k not in keys:
                keys.append(k)
            ok = not _nan(row["speedup"])
            nan = (lambda x: None if _nan(x) else float(x))
            cells[(name, *k)] = Cell(row["speedup"] if ok else None, nan(row["speedup_low"]),
                                     nan(row["speedup_high"]), row["verdict"] if ok else row["status"],
                                     nan(row["speedup_se"]), nan(row["speedup_df"]),
                                     0 if _nan(row["processes"]) else int(row["processes"]))
    return keys, cells, frames


def pairs_of(runs: list[Run], cells: dict, key: tuple[str, str]) -> list[tuple[str, str, stats.Interval, stats.Verdict]]:
    """Every pair of runs that measured `key`, in the order given: (name, other name, ratio of the
    first's speedup to the second's with its interval, the verdict on it)."""
    got = [(n, cells.get((n, *key))) for n in display_names(runs)]
    got = [(n, c) for n, c in got if c is not None and c.speedup is not None]
    min_effect = runs[0].min_effect
    return [(n, m, *run_to_run(c, d, min_effect)) for i, (n, c) in enumerate(got) for m, d in got[i + 1:]]


def across(pairs: list) -> str:
    """The row's word across all its pairs: "different" if any pair differs, "consistent" only if
    every pair is, else "inconclusive" (or "no interval" when no pair has one)."""
    words = [RUN_WORDS[v.word] for *_, v in pairs]
    if not words:
        return stats.NO_INTERVAL
    if DIFFERENT in words:
        return DIFFERENT
    if all(w == CONSISTENT for w in words):
        return CONSISTENT
    return stats.INCONCLUSIVE if stats.INCONCLUSIVE in words else stats.NO_INTERVAL


def pair_text(n: str, m: str, rr: stats.Interval, v: stats.Verdict) -> str:
    word = RUN_WORDS[v.word]
    if word == CONSISTENT:
        word += f" (within {v.min_effect:.0%}, 90% CI {fmt_interval(v.equivalence.low, v.equivalence.high)}x)" \
            if v.equivalence else f" (within {v.min_effect:.0%})"
    elif word == stats.INCONCLUSIVE and v.detectable is not None:
        # no "processes needed" between runs: the runs are done, and each has its own
        word += f" ({stats.inconclusive_detail(v.detectable, None, rr.n, v.min_effect, 'the two runs')})"
    ci = f"95% CI {fmt_interval(rr.low, rr.high)}x" if rr.has_interval else "no interval"
    return f"{n}/{m}: {fmt_ratio(rr.value)}x ({ci}) {word}"


def comparison_markdown(runs: list[Run], figure: Path | None) -> tuple[str, int]:
    """The comparison report, and how many (case, phase) rows differ between runs."""
    keys, cells, _ = _cells(runs)
    names = display_names(runs)
    parts = [f"# fwbench comparison ({md_escape(runs[0].workload_label)})", md_table(
        ["run", "label in the figure", "kind", "host", "started (UTC)", "processes", "command"],
        [[n, lab, r.kind, _get(r.manifest, "environment.host"), r.manifest.get("started_utc"),
          r.manifest.get("processes"), md_code(r.manifest.get("command"))]
         for n, lab, r in zip(names, figure_labels(runs), runs)])]
    warn = env_differences(runs)
    parts += ["## Environments", "\n".join(f"- {md_escape(w)}" for w in warn) if warn else
              "Threads, versions, devices, CPU and configuration match."]
    missing = [f"{name}: {n}" for name, r in zip(names, runs) for n in r.notes]
    if missing:
        parts += ["## Missing results", "\n".join(f"- {md_escape(n)}" for n in missing)]
    if figure:
        parts.append(f"![speedups across runs]({figure.name})")
    rows, count, never = [], {}, []
    for case, phase in keys:
        if not any((cells.get((n, case, phase)) or Cell(None, None, None, None)).speedup is not None
                   for n in names):
            never.append(f"{case} {PHASES[phase].label}")  # not a comparison: no run measured it
            continue
        cols = []
        for n in names:
            c = cells.get((n, case, phase))
            if c is None or c.speedup is None:
                cols.append(c.verdict if c else "not run")
            else:
                cols.append(f"{fmt_ratio(c.speedup)}x ({fmt_interval(c.low, c.high)}) {c.verdict}")
        pairs = pairs_of(runs, cells, (case, phase))
        word = across(pairs)
        count[word] = count.get(word, 0) + 1
        rows.append([case, PHASES[phase].label, *cols, "; ".join(pair_text(*p) for p in pairs) or "one run only",
                     word])
    m = runs[0].min_effect
    parts += ["## Speedup over each run's baseline (95% CI) and verdict",
              f"Between runs: for each pair, the ratio of the two runs' speedups with its 95% interval (log-scale "
              f"standard errors added in quadrature, Welch-Satterthwaite degrees of freedom over the four samples "
              f"behind them) and the suite's verdict on it with the minimum effect {m:.0%}: **{DIFFERENT}** when the "
              f"interval excludes 1 and the ratio is beyond {m:.0%}; **{CONSISTENT}** when its 90% interval lies "
              f"within {m:.0%} of 1 (equivalent, two one-sided tests); **{stats.INCONCLUSIVE}** otherwise (the runs' "
              f"spread cannot tell agreement within {m:.0%} from a difference). A row is {DIFFERENT} if any pair "
              f"is, {CONSISTENT} if every pair is.",
              md_table(["case", "phase", *names, "between runs (ratio of speedups, 95% CI)", "across runs"], rows),
              f"{count.get(CONSISTENT, 0)} of {len(rows)} comparisons are consistent across the runs (equivalent "
              f"within {m:.0%}); {count.get(DIFFERENT, 0)} different; {count.get(stats.INCONCLUSIVE, 0)} "
              f"inconclusive" + (f"; {count[stats.NO_INTERVAL]} without an interval" if count.get(stats.NO_INTERVAL)
                                 else "") + "."]
    same = [k for k in keys if len({(cells.get((n, *k)) or Cell(None, None, None, None)).verdict for n in names}) == 1
            and (cells.get((names[0], *k)) or Cell(None, None, None, None)).speedup is not None]
    compared = [k for k in keys if all((cells.get((n, *k)) or Cell(None, None, None, None)).speedup is not None
                                       for n in names)]
    parts.append(f"Same verdict word in every run: {len(same)} of {len(compared)} (case, phase) comparisons that "
                 f"every run measured.")
    if never:
        parts.append("Not measured in any of the runs: " + md_escape("; ".join(never)) + ".")
    parts += ["## Instability warnings", md_escape(
        "Rows (case and phase, 2+ processes) each run's report marks as unstable: by the suite's rule (a spread "
        "beyond what the run's typical spread gives by chance 1% of the time) and, for comparison, by pyperf's "
        f"fixed rule (per-process medians spread by more than {stats.FIXED_SPREAD_RULE:.0%} of their mean), which "
        "the suite used before."),
        md_table(["run", "rows", "typical spread", "marked (suite's rule)", "marked (fixed 10% rule)"],
                 [[n, *warning_counts(r)] for n, r in zip(names, runs)])]
    return "\n\n".join(parts) + "\n", count.get(DIFFERENT, 0)


def warning_counts(run: Run) -> list:
    """[rows, typical spread, rows marked by the suite's rule, rows marked by the fixed rule]."""
    from benchmarks.analysis.rundata import typical_spread, unusual_rows
    typical = typical_spread(run)
    groups = [pd.samples() for c in run.cases.values() for pd in c.phases.values() if len(pd.samples()) >= 2]
    marked = len(unusual_rows(run))
    fixed = sum(stats.fixed_rule_warns(g) for g in groups)
    return [len(groups), "n/a" if typical is None else f"{typical:.1%}", f"{marked} ({marked / max(len(groups), 1):.0%})",
            f"{fixed} ({fixed / max(len(groups), 1):.0%})"]


def figure_labels(runs: list[Run]) -> list[str]:
    """Short legend labels: a run's own --label, else "run N" in the order given (the report's
    first table maps each to its folder; timestamps in a legend are unreadable)."""
    return [f"run {i}" + (f": {r.manifest['label']}" if r.manifest.get("label") else "")
            for i, r in enumerate(runs, 1)]


def write_comparison(runs: list[Run], out_dir: Path, command: str | None = None) -> tuple[Path, int]:
    from benchmarks.analysis.rundata import check_output
    check_output(out_dir, [r.path for r in runs], REPORT_NAME)
    out_dir.mkdir(parents=True, exist_ok=True)
    _, _, frames = _cells(runs)
    figure = compare_figure(list(zip(figure_labels(runs), frames)), out_dir / "fig-compare.png", command)
    text, flagged = comparison_markdown(runs, figure)
    from benchmarks.reports import html, interactive
    plot, _ = interactive.compare(list(zip(figure_labels(runs), frames)))
    return html.publish_markdown(out_dir / REPORT_NAME, text, {"fig-compare": plot}), flagged  # .md and .html


def gate_notes(old: Run, new: Run) -> list[str]:
    """What the gate's reader should know about the two runs: a quick or partial run is not a
    measurement of the whole suite, whichever side it is on."""
    out = []
    for side, r, name in zip(("baseline", "new run"), (old, new), display_names([old, new])):
        if r.kind in ("quick", "partial"):
            out.append(f"the {side} {name} is a {r.kind} run: {kind_banner(r)}")
    for cid, case in old.cases.items():  # the baseline's own holes: its figures are from fewer processes
        for phase, pd_ in case.phases.items():
            if pd_.missing:
                out.append(f"the baseline {display_names([old, new])[0]} lacks results for {cid} {phase}: "
                           f"{missing_text(pd_)}")
    return out


def gate(old: Run, new: Run, threshold: float) -> tuple[list[str], list[str]]:
    """(failures, other lines) for every (case, phase) the old run measured; threshold in percent.
    The loop runs over the baseline's devices, cases and phases, never the new run's: what the
    baseline measured and the new run lacks is a failure, named."""
    fails, other = [], []
    old_name, new_name = display_names([old, new])  # sweep points share folder names: then full paths
    for dev in old.devices():
        if any(c.phases for c in old.framework_cases(dev)) and dev not in new.devices():
            fails.append(tag("MISSING") + f"device {dev.upper()}: measured in {old_name}, not in {new_name}")
    for cid, case in old.cases.items():
        for phase in old.phases():
            pd_old = case.phases.get(phase)
            if not pd_old or not pd_old.samples():
                continue
            name = f"{cid} {phase}"
            new_case = new.cases.get(cid)
            pd_new = new_case.phases.get(phase) if new_case else None
            if not pd_new or not pd_new.samples():
                why = ("case not in the new run" if new_case is None else
                       "phase not run in the new run" if phase not in new.phases() else
                       "; ".join(pd_new.notes + ([missing_text(pd_new)] if pd_new.missing else []))
                       if pd_new and (pd_new.notes or pd_new.missing) else
                       f"{new_case.status}: {new_case.reason}" if new_case.status != "ok" else
                       "results missing or unreadable")
                fails.append(tag("MISSING") + f"{name}: measured in {old_name}, not in {new_name} ({why})")
                continue
            if pd_new.missing:  # some workers' results lost: the others alone must not pass
                fails.append(tag("MISSING") + f"{name}: {missing_text(pd_new)} in {new_name}")
                continue
            r = stats.ratio(pd_new.samples(), pd_old.samples())
            v = stats.verdict(r, threshold / 100)
            change = (r.value - 1) * 100
            ci = f"95% CI {fmt_interval(r.low, r.high)}x" if r.has_interval else "no interval"
            if v.word == stats.EQUIVALENT and v.equivalence:
                ci += f"; 90% CI {fmt_interval(v.equivalence.low, v.equivalence.high)}x within {threshold:g}%"
            elif v.word == stats.INCONCLUSIVE:
                ci += "; " + stats.inconclusive_detail(v.detectable, None, r.n, v.min_effect, "the two runs")
            line = (f"{name}: {fmt_time(stats.location(pd_old.samples()).value)} -> "
                    f"{fmt_time(stats.location(pd_new.samples()).value)} ({change:+.1f}%, {ci})")
            # no interval: judged on the ratio alone, so a slowdown beyond the threshold still fails
            if v.word == stats.SLOWER or (v.word == stats.NO_INTERVAL and r.value > 1 + threshold / 100):
                fails.append(tag(stats.SLOWER.upper()) + line)
            else:
                other.append(tag(v.word) + line)
    return fails, other


def tag(word: str) -> str:
    """A gate line's leading word, padded so the lines align."""
    return f"{word:<12} "
