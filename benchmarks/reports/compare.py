"""Several runs side by side, and the regression gate, both from the one reader's summary frame
and with the same process-level intervals as a single run's report.

- `comparison(runs)`: for every (case, phase), each run's speedup over its baseline with its
  interval and verdict; flags a verdict that changes direction between runs and a speedup that
  lies outside another run's interval.
- `gate(old, new, threshold)`: fails closed. A (case, phase) measured in the old run that is
  missing, failed or unreadable in the new one is a failure, named; a slowdown counts when the
  new/old time ratio is above the threshold and its interval excludes 1 (or, with too few
  processes for an interval, on the ratio alone).
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


def env_differences(runs: list[Run]) -> list[str]:
    """The differences that change timings: threads, versions, devices, CPU, configuration.
    A value a run does not have (a framework it did not run) is not a difference."""
    checks = {"CPU model": [_get(r.manifest, "environment.cpu") for r in runs],
              "usable cores": [_get(r.manifest, "environment.cores_usable") for r in runs],
              "intra-op threads": [_get(r.manifest, "threads.intra_op") for r in runs],
              "inter-op threads": [_get(r.manifest, "threads.inter_op") for r in runs],
              "Python": [_get(r.manifest, "environment.python") for r in runs],
              "GPUs": [[g.get("name") for g in (_get(r.manifest, "environment.gpus") or [])] for r in runs]}
    from shared import registry
    owner = {p: fw for fw in registry.FRAMEWORKS for p in registry.facts(fw).PACKAGES}
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


def display_names(runs: list[Run]) -> list[str]:
    """A name per run, unique among `runs`: the folder name when that is unique, else the full
    path (sweep points share folder names: points/batch_size=64), so no two runs share a column
    or a key."""
    names = [r.name for r in runs]
    out = [n if names.count(n) == 1 else str(r.path) for n, r in zip(names, runs)]
    return [n if out.count(n) == 1 else f"{n} ({out[:i].count(n) + 1})" for i, n in enumerate(out)]


@dataclass
class Cell:
    speedup: float | None
    low: float | None
    high: float | None
    verdict: str | None


def _cells(runs: list[Run]) -> tuple[list[tuple[str, str]], dict, list]:
    frames = [summary(r) for r in runs]
    keys, cells = [], {}
    for name, f in zip(display_names(runs), frames):
        for _, row in f.iterrows():
            k = (row["case"], row["phase"])
            if row["verdict"] == "baseline" or row["framework"] == "shared":
                continue
            if k not in keys:
                keys.append(k)
            ok = row["speedup"] is not None and not (isinstance(row["speedup"], float) and math.isnan(row["speedup"]))
            nan = (lambda x: None if x is None or (isinstance(x, float) and math.isnan(x)) else x)
            cells[(name, *k)] = Cell(row["speedup"] if ok else None, nan(row["speedup_low"]),
                                       nan(row["speedup_high"]), row["verdict"] if ok else row["status"])
    return keys, cells, frames


def flags(runs: list[Run], cells: dict, key: tuple[str, str]) -> list[str]:
    got = [(n, cells.get((n, *key))) for n in display_names(runs)]
    got = [(n, c) for n, c in got if c is not None and c.speedup is not None]
    out = []
    dirs = {c.verdict for _, c in got if c.verdict in ("faster", "slower")}
    if len(dirs) == 2:
        out.append("verdict changes direction between runs")
    elif len({c.verdict for _, c in got}) > 1:
        out.append("verdict differs between runs (" + ", ".join(c.verdict for _, c in got) + ")")
    for n, c in got:
        for m, d in got:
            if n != m and d.low is not None and not (d.low <= c.speedup <= d.high):
                out.append(f"{n}'s {fmt_ratio(c.speedup)}x lies outside {m}'s interval")
    return out


def comparison_markdown(runs: list[Run], figure: Path | None) -> tuple[str, int]:
    """The comparison report, and how many (case, phase) rows carry a flag."""
    keys, cells, _ = _cells(runs)
    names = display_names(runs)
    parts = ["# fwbench comparison", md_table(
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
    rows, flagged, never = [], 0, []
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
        f = flags(runs, cells, (case, phase))
        flagged += bool(f)
        rows.append([case, PHASES[phase].label, *cols, "; ".join(f) or "stable"])
    parts += ["## Speedup over each run's baseline (95% CI) and verdict",
              md_table(["case", "phase", *names, "across runs"], rows),
              f"{len(rows) - flagged} of {len(rows)} comparisons are stable across the runs (same verdict, each "
              f"speedup inside the other runs' intervals)."]
    if never:
        parts.append("Not measured in any of the runs: " + md_escape("; ".join(never)) + ".")
    return "\n\n".join(parts) + "\n", flagged


def figure_labels(runs: list[Run]) -> list[str]:
    """Short legend labels: a run's own --label, else "run N" in the order given (the report's
    first table maps each to its folder; timestamps in a legend are unreadable)."""
    return [f"run {i}" + (f": {r.manifest['label']}" if r.manifest.get("label") else "")
            for i, r in enumerate(runs, 1)]


def write_comparison(runs: list[Run], out_dir: Path, command: str | None = None) -> tuple[Path, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    _, _, frames = _cells(runs)
    figure = compare_figure(list(zip(figure_labels(runs), frames)), out_dir / "fig-compare.png", command)
    text, flagged = comparison_markdown(runs, figure)
    return write_atomic(out_dir / REPORT_NAME, text), flagged


def gate_notes(old: Run, new: Run) -> list[str]:
    """What the gate's reader should know about the two runs: a quick or partial run is not a
    measurement of the whole suite, whichever side it is on."""
    out = []
    for side, r, name in zip(("baseline", "new run"), (old, new), display_names([old, new])):
        if r.kind in ("quick", "partial"):
            out.append(f"the {side} {name} is a {r.kind} run: {kind_banner(r)}")
    return out


def gate(old: Run, new: Run, threshold: float) -> tuple[list[str], list[str]]:
    """(failures, other lines) for every (case, phase) the old run measured; threshold in percent.
    The loop runs over the baseline's devices, cases and phases, never the new run's: what the
    baseline measured and the new run lacks is a failure, named."""
    fails, other = [], []
    old_name, new_name = display_names([old, new])  # sweep points share folder names: then full paths
    for dev in old.devices():
        if any(c.phases for c in old.framework_cases(dev)) and dev not in new.devices():
            fails.append(f"MISSING  device {dev.upper()}: measured in {old_name}, not in {new_name}")
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
                fails.append(f"MISSING  {name}: measured in {old_name}, not in {new_name} ({why})")
                continue
            if pd_new.missing:  # some workers' results lost: the others alone must not pass
                fails.append(f"MISSING  {name}: {missing_text(pd_new)} in {new_name}")
                continue
            r = stats.ratio(pd_new.samples(), pd_old.samples())
            change = (r.value - 1) * 100
            beyond = r.value > 1 + threshold / 100
            measured = r.excludes(1.0) if r.has_interval else True  # no interval: judge on the ratio alone
            ci = f"95% CI {fmt_interval(r.low, r.high)}x" if r.has_interval else "no interval"
            line = (f"{name}: {fmt_time(stats.location(pd_old.samples()).value)} -> "
                    f"{fmt_time(stats.location(pd_new.samples()).value)} ({change:+.1f}%, {ci})")
            if beyond and measured:
                fails.append("SLOWER   " + line)
            else:
                other.append(("ok       " if not beyond else "unclear  ") + line)
    return fails, other
