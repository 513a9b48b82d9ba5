"""Parts from many machines and shards, read as a collection (`fwbench collect`), never merged
across machines.

A *machine* is what a run's manifest recorded about the hardware it ran on (environment): the CPU
model, the usable cores and the GPUs (asv's machine model, without the host name: N CI runners
or cluster nodes of one type are one machine, and their host names are listed). A *plan* is what
was asked (configuration without the thread budget, which each machine resolves to its own
cores; cases of the whole plan; phases; rounds; processes; minimum effect; kind), so the same
command run on two machines is one plan measured twice. A *part* is one run folder: a whole run,
one shard of it (`--shard I/N`), or one sweep point.

Within one machine and one plan, two parts that hold the same shard or point *overlap*, and two
different splits of the plan do too: both are refused (UserError, one line) instead of one hiding
the other. A plan's parts that a machine lacks are *missing*, named per machine.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.analysis.rundata import MANIFEST
from benchmarks.model.sweeps import POINTS, SWEEP_FILE, point_name
from shared.errors import UserError

# Folders a search for parts never enters: failed runs' records, scheduler job files, workers' files.
SKIP = {"failed", "jobs", "workers"}
COLLECTION_FILE = "collection.json"


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int | None
    gpus: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        gpus = f", {', '.join(self.gpus)}" if self.gpus else ""
        return f"{self.cpu}, {self.cores if self.cores is not None else '?'} usable cores{gpus}"

    @property
    def slug(self) -> str:
        """A folder name: readable, and unique through a hash of the whole identity."""
        words = re.sub(r"[^A-Za-z0-9]+", "-", f"{self.cpu}-{self.cores}c").strip("-")[:48]
        return f"{words}-{_digest([self.cpu, self.cores, list(self.gpus)])}"


def machine_of(manifest: dict) -> Machine:
    env = manifest.get("environment") or {}
    gpus = tuple(str(g.get("name")) for g in env.get("gpus") or [] if isinstance(g, dict))
    cores = env.get("cores_usable")
    return Machine(str(env.get("cpu") or "unknown CPU"), cores if isinstance(cores, int) else None, gpus)


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:8]


@dataclass
class Part:
    path: Path  # the run folder
    machine: Machine
    host: str
    plan: str  # the plan's key
    about: str  # the plan in words
    name: str  # "whole run", "shard 2/3", "point batch_size=64"
    index: int  # 1-based within the split (a sweep: the point's position among all values)
    of: int  # the split's number of parts (a sweep: 0, its points are named, not numbered)
    expected: tuple[str, ...]  # every part name of the plan
    threads: object
    sweep: dict | None = None  # a sweep point's request (sweep.json of its folder)
    impossible: dict = field(default_factory=dict)  # a sweep's points that cannot run, with why


def _read(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot be read ({e.__class__.__name__}): collect folders that fwbench wrote") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path}: not a JSON object: collect folders that fwbench wrote")
    return doc


def run_part(folder: Path) -> Part:
    m = _read(folder / MANIFEST)
    shard = m.get("shard") if isinstance(m.get("shard"), dict) else None
    cases = shard.get("cases") if shard else [c.get("id") for c in m.get("cases") or [] if isinstance(c, dict)]
    index, of = (shard.get("index"), shard.get("of")) if shard else (1, 1)
    if not (isinstance(index, int) and isinstance(of, int) and 1 <= index <= of and isinstance(cases, list)):
        raise UserError(f"{folder / MANIFEST}: its shard record {shard!r} is not I/N: collect folders that fwbench wrote")
    config = {k: v for k, v in (m.get("config") or {}).items() if k not in ("threads", "resolved_threads")}
    kind = m.get("kind")
    what = {"config": config, "cases": cases, "phases": m.get("phases"), "rounds": m.get("rounds"),
            "processes": m.get("processes"), "min_effect": m.get("min_effect"), "kind": kind,
            "aa_pairs": m.get("aa_pairs")}
    workload = f"{config['workload']} workload, " if config.get("workload") else ""
    about = (f"{kind} run ({workload}{', '.join(str(c) for c in cases if not str(c).startswith('shared:'))}) "
             f"of {', '.join(m.get('phases') or [])}")
    return Part(folder, machine_of(m), str((m.get("environment") or {}).get("host")), f"run-{_digest(what)}", about,
                "whole run" if of == 1 else f"shard {index}/{of}", index, of,
                tuple("whole run" if of == 1 else f"shard {i}/{of}" for i in range(1, of + 1)),
                (m.get("threads") or {}).get("intra_op"))


def sweep_parts(folder: Path) -> list[Part]:
    """Each finished point of a sweep folder, a part of the sweep's plan (all its shards' values)."""
    req = _read(folder / SWEEP_FILE)
    param, values = req.get("param"), req.get("values")
    if not isinstance(param, str) or not isinstance(values, list):
        raise UserError(f"{folder / SWEEP_FILE}: no 'param' and 'values': collect sweep folders that fwbench wrote")
    shard = req.get("shard") if isinstance(req.get("shard"), dict) else None
    every = sorted(shard.get("values") if shard else values)
    what = {k: req.get(k) for k in ("param", "frameworks", "phases", "processes", "rounds", "preset")}
    what.update(values=every, config=_config(req.get("argv")))
    workload = (what["config"] or {}).get("workload")
    about = (f"sweep of {param} over {', '.join(str(v) for v in every)} "
             f"({f'{workload} workload, ' if workload else ''}{req.get('frameworks')})")
    names = tuple(f"point {point_name(param, v)}" for v in every)
    found = [(pos, v, folder / POINTS / point_name(param, v)) for pos, v in enumerate(every)]
    found = [(pos, v, p, _read(p / MANIFEST)) for pos, v, p in found if (p / MANIFEST).is_file()]
    if found:  # what the request leaves to the run options (--quick, --min-effect), as its points recorded it
        m = found[0][3]
        what.update({k: m.get(k) for k in ("min_effect", "quick", "rounds", "processes")})
    key = f"sweep-{_digest(what)}"
    out = []
    for pos, v, p, m in found:
        out.append(Part(p, machine_of(m), str((m.get("environment") or {}).get("host")), key, about,
                        f"point {point_name(param, v)}", pos + 1, 0, names, (m.get("threads") or {}).get("intra_op"),
                        sweep=req, impossible=dict(req.get("impossible") or {})))
    return out


def _config(argv) -> dict:
    """The configuration a sweep's command line asks for (the swept field at its default), without
    the thread budget (each machine resolves its own) and without where the archive lies."""
    if not isinstance(argv, list):
        return {}
    import argparse
    import contextlib
    import io
    from benchmarks.model.options import add_config_arguments, config_from_args
    p = argparse.ArgumentParser(add_help=False)
    add_config_arguments(p)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            known, _ = p.parse_known_args([str(a) for a in argv[1:]])
        cfg = config_from_args(known).to_dict()
    except (SystemExit, UserError, ValueError, TypeError):
        return {"argv": [str(a) for a in argv]}
    return {k: v for k, v in cfg.items() if k not in ("threads", "resolved_threads")}


def find(paths: list[Path]) -> list[Part]:
    """Every part under the given folders: a run folder, a sweep folder (its points), or a folder
    holding either (a results folder, a downloaded CI artifact, an earlier collection)."""
    out: list[Part] = []
    for given in paths:
        given = Path(given)
        if not given.is_dir():
            raise UserError(f"{given}: no such folder: name run folders, sweep folders or folders that hold them")
        found = _walk(given, 0)
        if not found:
            raise UserError(f"{given}: no run or sweep folder in it (no {MANIFEST} or {SWEEP_FILE}): name folders "
                            f"that `fwbench run` or `fwbench sweep` wrote")
        out += found
    return out


def _walk(folder: Path, depth: int) -> list[Part]:
    if (folder / SWEEP_FILE).is_file():
        return sweep_parts(folder)
    if (folder / MANIFEST).is_file():
        return [run_part(folder)]
    if depth >= 5:
        return []
    out = []
    for child in sorted(folder.iterdir()):
        # results/latest is a link to a run already in runs/, and an earlier collection inside the
        # folder holds copies of parts found beside it: entering either would count parts twice
        # (a collection named itself is read like any folder)
        if child.is_dir() and not child.is_symlink() and child.name not in SKIP and not child.name.startswith(".") \
                and not (child / COLLECTION_FILE).is_file():
            out += _walk(child, depth + 1)
    return out


def check(parts: list[Part]) -> None:
    """Refuse overlaps: the same folder twice; two parts holding the same shard or point of a plan
    on one machine; two different splits of a plan on one machine; one plan's parts on one machine
    with different thread budgets (their figures would not be one comparison's)."""
    seen: dict[Path, Part] = {}
    for p in parts:
        real = p.path.resolve()
        if real in seen:
            raise UserError(f"{p.path} is reached twice from the folders given: name each folder once")
        seen[real] = p
    groups: dict[tuple, list[Part]] = {}
    for p in parts:
        groups.setdefault((p.machine, p.plan), []).append(p)
    for (machine, _), ps in groups.items():
        first = ps[0]
        for q in ps[1:]:
            if q.of != first.of:
                raise UserError(f"{first.path} ({first.name}) and {q.path} ({q.name}) split the {first.about} "
                                f"differently on {machine.label}: collect the parts of one split")
            if q.threads != first.threads:
                raise UserError(f"{first.path} and {q.path} are parts of the {first.about} on {machine.label} with "
                                f"different thread budgets ({first.threads} against {q.threads}): collect them apart")
        by_name: dict[str, Part] = {}
        for q in ps:
            if q.name in by_name:
                raise UserError(f"{by_name[q.name].path} and {q.path} overlap: both hold {q.name} of the {q.about} "
                                f"on {machine.label}: collect one of them (repeated runs are pooled, "
                                f"`fwbench report --pool`, not collected)")
            by_name[q.name] = q


def missing(parts: list[Part]) -> list[tuple[Machine, str, str, str]]:
    """(machine, plan key, about, part name) for every part of a plan a machine holds some of but not all."""
    out = []
    groups: dict[tuple, list[Part]] = {}
    for p in parts:
        groups.setdefault((p.machine, p.plan), []).append(p)
    for (machine, plan), ps in groups.items():
        have = {p.name for p in ps}
        impossible = {f"point {k}" for p in ps for k in p.impossible}
        out += [(machine, plan, ps[0].about, n) for n in ps[0].expected if n not in have and n not in impossible]
    return out
