"""`fwbench collect DIR...`: gather the parts of plans run on several machines, CI runners or
scheduler jobs (`--shard I/N`, `--executor slurm`) into one collection, each machine on its own.

    fwbench collect artifacts/runner-1 artifacts/runner-2 --output results/collections/ci-matrix

Each DIR is a run folder, a sweep folder, or any folder holding them (a results folder, a CI
artifact, an earlier collection). The collection (benchmarks/analysis/collection.py) holds:

    <machine>/runs/<run>                the run parts of that machine, copied unchanged
    <machine>/sweeps/<sweep>/           one sweep per plan and machine: its points from every shard,
                                        sweep.json naming the missing points, its own sweep report
    collection.json                     machines, plans, parts (with their sources) and missing parts
    report.md                           machines side by side (benchmarks/reports/machines.py)

Overlapping parts are refused in one line (exit 2, nothing written); missing parts are named in
the report and on stdout, and make the exit status 1 (the collection is written).
"""
from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.analysis import collection as col
from benchmarks.analysis.rundata import publish, staging_dir
from benchmarks.model.sweeps import POINTS, SWEEP_FILE
from shared.atomic import write_atomic
from shared.errors import UserError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folders", nargs="+", type=Path, metavar="DIR",
                   help="run folders, sweep folders, or folders holding them (results/, a CI artifact)")
    p.add_argument("--output", type=Path, default=None,
                   help="the new collection folder (default results/collections/<time>); never an existing one")


def main(args: argparse.Namespace) -> int:
    parts = col.find(args.folders)
    col.check(parts)
    missing = col.missing(parts)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or Path("results") / "collections" / stamp
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise UserError(f"--output {output} exists: name a new folder (a collection is never written over another)")
    staging = staging_dir(output.parent, output.name)
    try:
        copies = _copy(parts, missing, staging)
        from benchmarks.reports import machines, sweep_report
        hosts: dict = {}
        for p in parts:
            hosts.setdefault(p.machine, set()).add(p.host)
        write_atomic(staging / "report.md", machines.markdown(copies, missing, hosts))
        names = machines.machine_names(machines.machines_of(parts))
        lines = machines.difference_lines(machines.side_by_side(copies), names)
        for folder in sorted({p.path.parent.parent for p in copies if p.sweep is not None}):
            sweep_report.write(folder)
        write_atomic(staging / col.COLLECTION_FILE, json.dumps(_record(parts, copies, missing, staging), indent=2))
        if output.is_dir():
            output.rmdir()  # empty (checked above): publish renames into its place
        final = publish(staging, output.parent, output.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(f"collected {len(parts)} part(s) from {len(names)} machine(s) into {final}")
    for m, n in names.items():
        print(f"  {n}: {m.label} ({sum(1 for p in parts if p.machine == m)} parts)")
    for line in lines:
        print(f"  {line}")
    print(f"report: {final / 'report.md'}")
    for m, _, about, name in missing:
        print(f"missing: {names[m]} ({m.label}) has no {name} of the {about}")
    return 1 if missing else 0


def _copy(parts: list[col.Part], missing: list[tuple], dest: Path) -> list[col.Part]:
    """Copy every part under dest/<machine>/, sweeps merged per (machine, plan); returns the parts
    pointing at their copies."""
    import dataclasses
    out = []
    sweeps: dict[tuple, Path] = {}
    for p in parts:
        home = dest / p.machine.slug
        if p.sweep is None:
            target = _free(home / "runs" / p.path.name)
        else:
            folder = sweeps.get((p.machine, p.plan))
            if folder is None:
                folder = sweeps[(p.machine, p.plan)] = _free(home / "sweeps" / f"{p.sweep['param']}-{p.plan}")
                lacking = {n[len("point "):]: "no part from this machine was collected"
                           for m, pl, _, n in missing if (m, pl) == (p.machine, p.plan)}
                req = {k: v for k, v in p.sweep.items() if k not in ("shard", "missing", "impossible")}
                req.update(values=sorted((p.sweep.get("shard") or {}).get("values") or p.sweep["values"]),
                           impossible={}, missing=lacking, collected_from=[])
                folder.mkdir(parents=True)
                write_atomic(folder / SWEEP_FILE, json.dumps(req, indent=2))
            req = json.loads((folder / SWEEP_FILE).read_text())
            req["impossible"].update(p.impossible)
            source = str(p.path.parent.parent.resolve())
            if source not in req["collected_from"]:
                req["collected_from"].append(source)
            write_atomic(folder / SWEEP_FILE, json.dumps(req, indent=2))
            target = folder / POINTS / p.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(p.path, target, symlinks=True)
        out.append(dataclasses.replace(p, path=target))
    return out


def _free(path: Path) -> Path:
    """path, or path-2, path-3 ... when two machines' parts or two plans share a name."""
    if not path.exists():
        return path
    i = 2
    while path.with_name(f"{path.name}-{i}").exists():
        i += 1
    return path.with_name(f"{path.name}-{i}")


def _record(parts: list[col.Part], copies: list[col.Part], missing: list[tuple], root: Path) -> dict:
    machines = list(dict.fromkeys(p.machine for p in parts))
    return {
        "machines": {m.slug: {"cpu": m.cpu, "cores_usable": m.cores, "gpus": list(m.gpus),
                              "hosts": sorted({p.host for p in parts if p.machine == m})} for m in machines},
        "plans": {p.plan: p.about for p in parts},
        "parts": [{"machine": p.machine.slug, "plan": p.plan, "part": p.name, "source": str(p.path.resolve()),
                   "copy": str(c.path.relative_to(root))} for p, c in zip(parts, copies)],
        "missing": [{"machine": m.slug, "plan": pl, "part": n} for m, pl, _, n in missing],
    }
