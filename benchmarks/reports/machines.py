"""Machines side by side: each machine's verdicts on the same plan in its own column, and where
they differ (asv's machine model: a result belongs to its machine, and machines are compared,
never averaged).

Every cell is one part's own figure (its speedup against the baseline measured in the same
interleaved comparison on that machine, with its interval and verdict); nothing is pooled or
averaged across machines. Rows are (part, case, phase) of one plan; a machine that did not
measure a row says so.

    rows = side_by_side(parts)              one dict per row: key, case, phase, {machine: cell}
    differ, unsettled = differences(rows)   rows whose verdicts conflict / could not be told on some
"""
from __future__ import annotations

from benchmarks.analysis import stats
from benchmarks.analysis.collection import Machine, Part
from benchmarks.analysis.rundata import fmt_interval, fmt_ratio, load_run, md_escape, md_table, summary
from benchmarks.model.phases import PHASES

# A verdict that settles the question (a winner, or equal within the minimum effect) ...
DECISIVE = (stats.FASTER, stats.SLOWER, stats.EQUIVALENT)
# ... and one that does not ("could not tell" is not "equal").
UNSETTLED = (stats.INCONCLUSIVE, stats.NO_INTERVAL)


def machines_of(parts: list[Part]) -> list[Machine]:
    """In one order wherever they are listed (by CPU, cores, GPUs), so machine A is the same machine
    in the collection's report and in the answer, whatever order the folders were given in."""
    return sorted(dict.fromkeys(p.machine for p in parts), key=lambda m: (m.cpu, m.cores or 0, m.gpus))


def side_by_side(parts: list[Part]) -> list[dict]:
    """One row per (point, case, phase) of the parts' plan(s) that has a verdict against a
    baseline; cells per machine: {verdict, speedup, low, high, status, text}."""
    rows: dict[tuple, dict] = {}
    for part in parts:
        run = load_run(part.path)
        frame = summary(run)
        point = part.name if part.sweep is not None else ""
        for _, r in frame.iterrows():
            if r["framework"] == "shared" or r["verdict"] == stats.BASELINE or (r["status"] == "ok" and not r["verdict"]):
                continue  # the baseline against itself and the shared data case carry no verdict
            key = (part.plan, point, r["case"], r["phase"])
            row = rows.setdefault(key, {"plan": part.plan, "about": part.about, "point": point, "case": r["case"],
                                        "label": r["label"], "phase": r["phase"], "cells": {}})
            row["cells"][part.machine] = _cell(r)
    return list(rows.values())


def _cell(r) -> dict:
    if r["status"] != "ok":
        return {"verdict": None, "status": r["status"], "text": f"{r['status']}: {r['note'] or ''}".strip(": ")}
    iv = fmt_interval(r["speedup_low"], r["speedup_high"]) if r["speedup_low"] == r["speedup_low"] else "no interval"
    return {"verdict": r["verdict"], "status": "ok", "speedup": float(r["speedup"]),
            "low": r["speedup_low"], "high": r["speedup_high"],
            "text": f"{r['verdict']} {fmt_ratio(r['speedup'])}x ({iv})"}


def differences(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(rows where two machines settle the question differently, rows that some machine settled
    and another could not tell). Rows measured on one machine only are in neither."""
    differ, unsettled = [], []
    for row in rows:
        words = {m: c["verdict"] for m, c in row["cells"].items() if c["verdict"]}
        settled = {w for w in words.values() if w in DECISIVE}
        if len(settled) > 1:
            differ.append(row)
        elif settled and any(w in UNSETTLED for w in words.values()):
            unsettled.append(row)
    return differ, unsettled


def _ordered(row: dict, names: dict[Machine, str]) -> list:
    return sorted(row["cells"].items(), key=lambda mc: names[mc[0]])


def _where(row: dict) -> str:
    point = f"{row['point'][len('point '):]} " if row["point"] else ""
    return f"{point}{row['label']}, {PHASES[row['phase']].label}"


def difference_lines(rows: list[dict], names: dict[Machine, str]) -> list[str]:
    differ, unsettled = differences(rows)
    out = []
    for row in differ:
        out.append(f"verdicts differ: {_where(row)}: " + "; ".join(
            f"{c['verdict']} on {names[m]}" for m, c in _ordered(row, names) if c["verdict"]))
    for row in unsettled:
        out.append(f"settled on some machines only: {_where(row)}: " + "; ".join(
            f"{c['verdict']} on {names[m]}" for m, c in _ordered(row, names) if c["verdict"]))
    return out


def summary_sentence(rows: list[dict], names: dict[Machine, str]) -> str:
    """One sentence: on how many rows the machines were compared, and whether their verdicts agree."""
    shared = [r for r in rows if sum(1 for c in r["cells"].values() if c["verdict"]) > 1]
    differ, unsettled = differences(rows)
    if not shared:
        return "No row has a verdict on more than one machine, so no verdicts are compared."
    text = (f"Of {len(shared)} row(s) with a verdict on more than one machine, the verdicts differ in {len(differ)}"
            + (": " + "; ".join(_where(r) + " (" + ", ".join(f"{c['verdict']} on {names[m]}"
                                                           for m, c in _ordered(r, names) if c["verdict"]) + ")"
                                for r in differ) if differ else "")
            + f"; {len(unsettled)} settled on some machines and not on others.")
    return text


def machine_names(machines: list[Machine]) -> dict[Machine, str]:
    """Short column names (machine A, B, ...), each defined in the machines table."""
    return {m: f"machine {chr(ord('A') + i)}" if i < 26 else f"machine {i + 1}" for i, m in enumerate(machines)}


def markdown(parts: list[Part], missing: list[tuple], hosts: dict[Machine, list[str]]) -> str:
    """The collection's report: the machines, then per plan the side-by-side table and its differences."""
    machines = machines_of(parts)
    names = machine_names(machines)
    out = ["# fwbench collection: machines side by side",
           "Generated by `fwbench collect` from the run folders below; every cell is one machine's own interleaved "
           "comparison against its baseline (speedup = baseline time / case time, 95% interval over worker "
           "processes). Machines are never merged: nothing here is pooled or averaged across them.",
           "## Machines",
           md_table(["machine", "CPU", "usable cores", "GPUs", "hosts", "parts"],
                    [[names[m], m.cpu, m.cores, ", ".join(m.gpus) or "none", ", ".join(sorted(hosts.get(m, []))),
                      sum(1 for p in parts if p.machine == m)] for m in machines])]
    plans = list(dict.fromkeys(p.plan for p in parts))
    rows = side_by_side(parts)
    for plan in plans:
        mine = [p for p in parts if p.plan == plan]
        cols = machines_of(mine)
        out.append(f"## {md_escape(mine[0].about[0].upper() + mine[0].about[1:])}")
        prows = [r for r in rows if r["plan"] == plan]
        out.append(summary_sentence(prows, names))
        gaps = [f"{names[m]}: {n} missing" for m, pl, _, n in missing if pl == plan]
        if gaps:
            out.append("Missing parts (no run folder collected): " + "; ".join(gaps) + ".")
        out.append(md_table(["point", "case", "phase", *[names[m] for m in cols]],
                            [[r["point"][len("point "):] if r["point"] else "", r["label"], PHASES[r["phase"]].label,
                              *[(r["cells"][m]["text"] if m in r["cells"] else "not measured") for m in cols]]
                             for r in prows]) if prows else "No row with a verdict against a baseline.")
        lines = difference_lines(prows, names)
        if lines:
            out.append("\n".join(f"- {md_escape(x)}" for x in lines))
        out.append("Parts: " + "; ".join(f"{names[p.machine]} {p.name}: `{p.path.name}`" for p in mine) + ".")
    return "\n\n".join(out) + "\n"
