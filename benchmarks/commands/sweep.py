"""`fwbench sweep PARAM`: the same cases at each value of one parameter, each point a case-based
run (interleaved worker processes, process-level intervals), then how cost grows and where the
verdict flips.

    fwbench sweep batch_size --values 32,64,150,512,1024
    fwbench sweep --preset batch                          a sized set of values, phases and rounds
    fwbench sweep --resume results/sweeps/<stamp>-batch_size

The sweep folder holds sweep.json (the request), points/<param>=<value>/ (one run folder per
point, published atomically, so an interrupted sweep keeps its finished points and --resume runs
only the rest), sweep.csv (one tidy row per point, case and phase), fig-time-*.png and
fig-memory-*.png (log-log, with each case's fitted cost exponent) and report.md.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.commands.run import add_run_arguments, command_line, plan_from_args
from benchmarks.model.phases import PHASES, Rounds
from benchmarks.model.sweeps import PARAMETERS, POINTS, PRESETS, SWEEP_FILE, parameters, point_name
from shared.atomic import write_atomic
from shared.errors import UserError


def parse_values(text: str | None) -> list[int]:
    if text is None or not text.strip():
        raise UserError("--values is empty: give comma-separated numbers, e.g. --values 32,150,1024")
    out = []
    for item in text.split(","):
        try:
            v = float(item)
        except ValueError:
            raise UserError(f"--values item {item.strip()!r} is not a number: e.g. --values 32,150,1024") from None
        if not math.isfinite(v) or v != int(v) or v < 1:
            raise UserError(f"--values item {item.strip()!r} is not a positive integer")
        out.append(int(v))
    if len(set(out)) != len(out):
        raise UserError("--values names a value twice: list each once")
    return sorted(out)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("param", nargs="?", default=None, help=f"the parameter to sweep: {', '.join(PARAMETERS)}, or an integer setting of the workload's network")
    p.add_argument("--values", default=None, help="comma-separated values of the parameter")
    p.add_argument("--preset", choices=list(PRESETS), default=None,
                   help="; ".join(f"{k}: {v.about}" for k, v in PRESETS.items())
                        + ". --values, --frameworks, --phases, --processes and --rounds given with a preset "
                          "replace the preset's own (explicit options win)")
    p.add_argument("--resume", type=Path, default=None, metavar="SWEEP", help="finish an interrupted sweep folder")
    add_run_arguments(p)
    # None = not given, so a preset can tell an explicit --frameworks from the default one
    p.set_defaults(frameworks=None)
    p.add_argument("--output", default="results", help="results folder; the sweep goes to <output>/sweeps/")


def request_from_args(args) -> dict:
    from benchmarks.commands.run import DEFAULT_FRAMEWORKS
    if args.preset:
        pr = PRESETS[args.preset]
        if args.param not in (None, pr.param):
            raise UserError(f"--preset {args.preset} sweeps {pr.param}, not {args.param}")
        # Explicit options win over the preset's (a seconds-long smoke test must not become the
        # preset's 25-minute sweep); the report names the ones given.
        given = [f"--{k}" for k, v in (("values", args.values), ("frameworks", args.frameworks),
                                      ("phases", args.phases), ("processes", args.processes)) if v is not None]
        return {"param": pr.param, "values": parse_values(args.values) if args.values is not None else list(pr.values),
                "preset": args.preset, "frameworks": args.frameworks or pr.frameworks,
                "phases": args.phases or ",".join(pr.phases),
                "processes": pr.processes if args.processes is None else args.processes,
                "rounds": {k: vars(v) for k, v in pr.rounds.items()}, "preset_about": pr.about,
                "explicit": given}
    if args.param is None:
        raise UserError(f"name the parameter to sweep ({', '.join(PARAMETERS)}) or a --preset ({', '.join(PRESETS)})")
    if args.param not in parameters(getattr(args, "workload", None)):
        raise UserError(f"unknown sweep parameter {args.param!r}: choose from "
                        f"{', '.join(parameters(getattr(args, 'workload', None)))}")
    return {"param": args.param, "values": parse_values(args.values), "preset": None,
            "frameworks": args.frameworks or DEFAULT_FRAMEWORKS, "phases": args.phases, "processes": args.processes,
            "rounds": {}}


def _workload_of(argv) -> str | None:
    """The --workload a sweep's recorded options name (None: the default); a damaged argv is
    read_request's to refuse."""
    if isinstance(argv, list):
        for i, a in enumerate(argv):
            if a == "--workload" and i + 1 < len(argv):
                return argv[i + 1]
            if isinstance(a, str) and a.startswith("--workload="):
                return a.split("=", 1)[1]
    return None


def read_request(folder: Path) -> dict:
    """sweep.json of a sweep folder, checked field by field: an edited or damaged one is one line
    naming the file, never a traceback."""
    path = folder / SWEEP_FILE
    def bad(why: str):
        return UserError(f"{path}: {why}: give a sweep folder that `fwbench sweep` wrote, or start a new sweep")
    if not path.is_file():
        raise UserError(f"{folder}: not a sweep folder (no {SWEEP_FILE}): give one that `fwbench sweep` wrote")
    try:
        req = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise bad(f"cannot be read ({e.__class__.__name__})") from None
    if not isinstance(req, dict):
        raise bad("is not a JSON object")
    known = parameters(_workload_of(req.get("argv")))
    if req.get("param") not in known:
        raise bad(f"'param' {req.get('param')!r} is not one of {', '.join(known)}")
    values = req.get("values")
    if not (isinstance(values, list) and values and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                                        for v in values) and len(set(values)) == len(values)):
        raise bad("'values' is not a list of distinct positive integers")
    argv = req.get("argv")
    if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
        raise bad("'argv' is not the list of the sweep's options")
    for key, kinds in (("frameworks", (str,)), ("phases", (str, type(None))), ("processes", (int, type(None))),
                       ("rounds", (dict, type(None)))):
        if not isinstance(req.get(key), kinds) or isinstance(req.get(key), bool):
            raise bad(f"{key!r} is missing or of the wrong type")
    for k, r in (req.get("rounds") or {}).items():
        if k not in PHASES or not (isinstance(r, dict) and set(r) == {"rounds", "warmup"}
                                   and all(isinstance(x, int) and x >= 0 for x in r.values()) and r["rounds"] >= 1):
            raise bad(f"the rounds of {k!r} are not {{rounds >= 1, warmup >= 0}}")
    return req


def _resume_args(folder: Path, req: dict) -> argparse.Namespace:
    """The sweep's own options, parsed again from its sweep.json (--resume, and a scheduler's job)."""
    from benchmarks.cli import build_parser
    import contextlib
    import io
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # argparse's usage text: several lines
            return build_parser("sweep").parse_args(req["argv"])  # the original options, exactly
    except SystemExit:  # argparse's own message is several lines and exit 2: one line instead
        raise UserError(f"{folder / SWEEP_FILE}: its 'argv' {req['argv']!r} is not a valid sweep command line: "
                        f"start a new sweep") from None


def point_plans(args: argparse.Namespace, req: dict) -> list:
    """(value, plan) for each of the request's points, every one validated before any runs."""
    param = parameters(getattr(args, "workload", None))[req["param"]]
    # Apply the request to the run options, then validate all points before any runs.
    args.frameworks, args.phases, args.processes = req["frameworks"], req["phases"], req["processes"]
    plans = []
    for v in req["values"]:
        plan = plan_from_args(args, **param.overrides(v))
        # a preset's rounds, then any --rounds the user gave on top
        plan.rounds = {**{k: Rounds(**r) for k, r in (req.get("rounds") or {}).items()}, **plan.rounds}
        plan.kind, plan.label, plan.command = "sweep", f"sweep point {point_name(param.name, v)}", command_line()
        plans.append((v, plan))
    return plans


def apply_shard(req: dict, text: str | None) -> dict:
    """--shard I/N of a sweep: its dealt share of the points (benchmarks/model/shards.py), the whole
    sweep's values recorded so `fwbench collect` can name the parts it lacks."""
    from benchmarks.model import shards
    shard = shards.parse(text)
    if shard is None:
        return req
    if shard.index is None:
        raise UserError(f"--shard {text}: each point of a sweep is a run of its own already, so there is nothing to "
                        f"run part by part: give one part, e.g. --shard 1/{shard.of}, or drop --shard")
    return {**req, "values": shards.split_values(req["values"], shard.index, shard.of),
            "shard": {"index": shard.index, "of": shard.of, "values": list(req["values"])}}


def run_point_job(folder: str, value: int, dest: str, cwd: str) -> dict:
    """One sweep point on a scheduler's node (benchmarks/harness/executors.py): the plan built here,
    on the node (its cores, its GPU), from the sweep's sweep.json; published under `dest`, which the
    submitting process moves into the sweep's points/."""
    import os
    from benchmarks.harness.runner import Clock, RunFailed, run_plan
    os.chdir(cwd)
    folder_p = Path(folder)
    req = read_request(folder_p)
    sys.argv = ["fwbench", *req["argv"]]  # the manifest's "command" is the sweep's, not submitit's job runner
    args = _resume_args(folder_p, req)
    plan = dict(point_plans(args, req))[value]
    try:
        return {"path": str(run_plan(plan, Path(dest), Clock(), name=point_name(req["param"], value)))}
    except RunFailed as e:
        return {"failed": str(e.path)}


def main(args: argparse.Namespace) -> int:
    from benchmarks.harness import executors
    from benchmarks.reports import sweep_report
    from benchmarks.harness.runner import Clock, FolderLock, RunFailed, run_plan

    executors.check(args)
    if args.resume is not None:
        if args.shard is not None:
            raise UserError("--resume finishes the sweep folder's own points (its shard, if it has one): drop --shard")
        folder = args.resume
        req = read_request(folder)
        executor_args = args  # how to run the rest is this command's choice; what to run is the sweep's
        args = _resume_args(folder, req)
        for key in ("executor", "slurm_partition", "slurm_time", "slurm_exclusive", "slurm_option"):
            setattr(args, key, getattr(executor_args, key))
    else:
        req = apply_shard(request_from_args(args), args.shard)
        typed = getattr(args, "_argv", None) or sys.argv
        req["argv"] = typed[typed.index("sweep"):] if "sweep" in typed else ["sweep", *typed[1:]]
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        tail = f"-shard{req['shard']['index']}of{req['shard']['of']}" if req.get("shard") else ""
        folder = Path(args.output) / "sweeps" / f"{stamp}-{req['param']}{tail}"
    param = parameters(getattr(args, "workload", None))[req["param"]]
    plans = point_plans(args, req)
    # Every point's data first: a setting the data cannot honour (a vocabulary size above V) is
    # bad input for the whole sweep; a point the recipe cannot run (a batch larger than the
    # training set) is reported as impossible and the others run.
    from shared.dataset import check_fits, prepare
    impossible = {}
    for v, plan in plans:
        data = prepare(plan.cfg, plan.archive)
        try:
            check_fits(plan.cfg, data)
        except UserError as e:
            impossible[point_name(param.name, v)] = str(e)
    if len(impossible) == len(plans):  # nothing would run: bad input, nothing written
        first = next(iter(impossible.items()), ("", ""))
        raise UserError(f"no point of this sweep can run ({len(impossible)} of {len(plans)} impossible; "
                        f"{first[0]}: {first[1]}): choose other --values")
    clock = Clock()
    existed = folder.exists()
    top = next((p for p in reversed([folder, *folder.parents]) if not p.exists()), None)  # the first folder made here
    folder.mkdir(parents=True, exist_ok=True)
    failed, lost = [], {}
    with FolderLock(folder):
        if not (folder / SWEEP_FILE).is_file():
            write_atomic(folder / SWEEP_FILE, json.dumps({**req, "started_utc": datetime.now(timezone.utc)
                                                          .strftime("%Y-%m-%dT%H:%M:%SZ")}, indent=2))
        todo = []
        for i, (v, plan) in enumerate(plans):
            name = point_name(param.name, v)
            if name in impossible:
                clock.say(f"point {i + 1}/{len(plans)} {name}: impossible: {impossible[name]}")
            elif (folder / POINTS / name / "manifest.json").is_file():
                clock.say(f"point {i + 1}/{len(plans)} {name}: done earlier, kept")
            else:
                todo.append((i, v, plan, name))
        if args.executor != executors.LOCAL and todo:
            from benchmarks.commands.submit import submit_points
            try:
                failed, lost = submit_points(args, folder, [(v, name) for _, v, _, name in todo], clock.say,
                                             created=not existed, run_point_job=run_point_job)
            except UserError:
                if top is not None:  # a refused submission leaves nothing this command made
                    import shutil
                    shutil.rmtree(top, ignore_errors=True)
                raise
        for i, v, plan, name in todo if args.executor == executors.LOCAL else []:
            clock.say(f"point {i + 1}/{len(plans)} {name}: running {len(plan.cases)} cases x {plan.processes} processes")
            try:
                run_plan(plan, folder / POINTS, Clock(quiet=True), name=name)
            except RunFailed as e:
                clock.say(f"point {i + 1}/{len(plans)} {name}: a worker failed (record: {e.path})")
                failed.append(name)
                continue
            clock.say(f"point {i + 1}/{len(plans)} {name}: done")
        state = json.loads((folder / SWEEP_FILE).read_text())
        state.setdefault("impossible", {}).update(impossible)
        missing = {**(state.get("missing") or {}), **lost}
        missing = {k: why for k, why in missing.items() if not (folder / POINTS / k / "manifest.json").is_file()}
        if missing or "missing" in state:
            state["missing"] = missing
        write_atomic(folder / SWEEP_FILE, json.dumps(state, indent=2))
        path = sweep_report.write(folder)
    clock.say(f"sweep report: {path}")
    if lost:  # a job that gave no result: a named missing point, the finished ones kept
        raise UserError(f"{len(lost)} point(s) got no result from the scheduler: "
                        + "; ".join(f"{k}: {why}" for k, why in lost.items())
                        + f"; the others are in {folder}: `fwbench sweep --resume {folder}` reruns the missing ones")
    if failed:  # like a run with a failed worker: the report is written, the exit status says so
        clock.say(f"{len(failed)} point(s) failed: {', '.join(failed)}; `fwbench sweep --resume {folder}` reruns them")
        return 1
    return 0
