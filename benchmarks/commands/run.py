"""`fwbench run`: expand the request into cases, run them in interleaved worker processes
(benchmarks/harness/runner.py), publish the run folder and write its report.

Exit status: 0 when every case this machine can run ran; 1 when a worker failed (its record goes
to <output>/failed/, never to runs/ or latest); 2 on bad input (nothing written).
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
from pathlib import Path

from benchmarks.model.options import add_config_arguments, config_from_args
from benchmarks.model.phases import ALL_PHASES, DEFAULT_PROCESSES, FRAMEWORK_PHASES
from shared import workloads
from shared.errors import UserError

DEFAULT_FRAMEWORKS = "torch,tensorflow"


def matrix_rounds() -> dict:
    """--matrix: eight cases instead of two, so fewer rounds per process than the default
    (stated in the report's method section) keep the whole matrix near 20 minutes on the
    2-core machine; the processes, where the variance lives, stay at 3."""
    from benchmarks.model.phases import Rounds
    return {"first_epoch": Rounds(2, 0), "train_epoch": Rounds(4, 1), "pipeline_epoch": Rounds(3, 1),
            "predict_all": Rounds(5, 1), "predict_one": Rounds(200, 20)}


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by `run` and `sweep`."""
    add_config_arguments(p)
    p.add_argument("--frameworks", default=DEFAULT_FRAMEWORKS,
                   help="comma-separated cases, each FRAMEWORK[:VARIANT][[SETTING=VALUE,...]], e.g. "
                        "torch:eager,torch:fused,tensorflow:xla or 'torch[batch_size=300],tensorflow' "
                        f"(default {DEFAULT_FRAMEWORKS}: each framework's default variant); a case's own setting "
                        "wins over the same option given for every case (--batch-size), and its id says so")
    p.add_argument("--matrix", action="store_true", help="every variant of every framework (the execution-mode matrix)")
    p.add_argument("--devices", default="auto",
                   help="cpu, gpu or auto (cpu, plus the gpu cases: run where a GPU is present, else marked "
                        "'not available on this machine'); comma-separated (default auto)")
    p.add_argument("--baseline", default=None, metavar="CASE",
                   help="the case every other case is compared with, e.g. tensorflow:graph (default: PyTorch's "
                        "default variant on each device)")
    p.add_argument("--processes", type=int, default=None,
                   help="worker processes per case, interleaved with the other cases' (default " + str(DEFAULT_PROCESSES) + ")")
    p.add_argument("--min-effect", type=float, default=5.0,
                   help="smallest speedup in percent that a verdict names a winner for (default 5)")
    p.add_argument("--phases", default=None, help=f"comma-separated subset of {', '.join(ALL_PHASES)} (default all)")
    p.add_argument("--quick", action="store_true", help="a few rounds per phase: a smoke test, not a measurement")
    p.add_argument("--rounds", default=None, metavar="PHASE=N[+W],...",
                   help="rounds (and warm-up rounds) per worker process for some phases, e.g. "
                        "train_epoch=2+1,first_epoch=1: for workloads whose rounds take minutes (all 20 groups); "
                        "recorded in the run and stated in its report")
    p.add_argument("--force", action="store_true", help="allow --threads above the usable cores (recorded in the report)")
    from benchmarks.harness.executors import add_executor_arguments
    add_executor_arguments(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    p.add_argument("--anatomy", action=argparse.BooleanOptionalAction, default=None,
                   help="after the timed phases, take the training step apart and probe the machine "
                        "(default: on with --matrix, off otherwise)")
    p.add_argument("--output", default="results", help="results folder (default results/)")
    p.add_argument("--aa", default=None, metavar="CASE[,CASE...]",
                   help="A/A calibration: run each case against an identical copy of itself (id CASE~aa), "
                        "interleaved, to measure the false-positive rate; replaces --frameworks, --matrix and "
                        "--baseline (each copy's baseline is its original); never results/latest. With --duet "
                        "(no cases after it): one case against its copy, as a duet")
    from benchmarks.commands.pilot import add_pilot_arguments
    add_pilot_arguments(p)
    add_execution_arguments(p)


def add_execution_arguments(p: argparse.ArgumentParser) -> None:
    """How the workers execute (benchmarks/harness/execution.py, duet_runner.py); read by plan_from_args."""
    p.add_argument("--pin", action="store_true",
                   help="pin every worker process to a fixed set of --threads cores, the lowest usable ones "
                        "(default off); the cores each worker read back are in the report")
    p.add_argument("--gc", choices=("on", "off"), default="on",
                   help="Python's garbage collector during the timed rounds: on (default) or off (collected, frozen "
                        "and disabled before each phase's rounds, as timeit does)")
    p.add_argument("--duet", default=None, nargs="?", const="", metavar="CASE_A,CASE_B",
                   help="duet benchmarking: the two cases run at the same time, one thread each on their own core "
                        "(swapped in alternate pairs), every round started together; --processes pairs (default as for --processes). "
                        "E.g. --duet torch:eager,torch:fused; `--aa CASE --duet`: CASE against its A/A copy")


def machine_has_gpu() -> bool:
    from shared.environment import gpus
    nv = Path("/proc/driver/nvidia/gpus")
    return bool(gpus()) or (nv.is_dir() and any(nv.iterdir()))


def parse_devices(text: str, has_gpu: bool) -> list[str]:
    items = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [d for d in items if d not in ("cpu", "gpu", "auto")]
    if bad or not items:
        raise UserError(f"unknown device {bad[0] if bad else text!r} in --devices: use cpu, gpu or auto")
    if "gpu" in items and not has_gpu:
        raise UserError("--devices gpu was asked for but this machine has no NVIDIA GPU: "
                        "use --devices cpu, or auto to mark the GPU cases as not available")
    devices = []
    for d in items:
        for dev in (("cpu", "gpu") if d == "auto" else (d,)):
            if dev not in devices:
                devices.append(dev)
    return devices


def parse_phases(text: str | None) -> list[str]:
    if not text:
        return list(ALL_PHASES)
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [p for p in items if p not in ALL_PHASES]
    if bad or not items:
        raise UserError(f"unknown phase {bad[0] if bad else text!r} in --phases: choose from {', '.join(ALL_PHASES)}")
    return [p for p in ALL_PHASES if p in items]


def parse_rounds(text: str | None, phases: list[str]) -> dict:
    """--rounds 'train_epoch=2+1,first_epoch=1' -> {phase: Rounds}; every phase must be one that runs."""
    from benchmarks.model.phases import Rounds
    if text is None:
        return {}
    out = {}
    for item in [t.strip() for t in text.split(",") if t.strip()] or [text]:
        phase, sep, value = item.partition("=")
        n, plus, w = value.partition("+")
        phase = phase.strip()
        if phase not in ALL_PHASES:
            raise UserError(f"unknown phase {phase!r} in --rounds: choose from {', '.join(ALL_PHASES)}")
        if phase in out:  # the last one would win silently
            raise UserError(f"--rounds names {phase} twice: give each phase once")
        if phase not in phases:
            raise UserError(f"--rounds names {phase}, which this run does not run: add it to --phases or drop it")
        if not sep or not n.strip().isdigit() or int(n) < 1 or (plus and not w.strip().isdigit()):
            raise UserError(f"--rounds takes PHASE=N or PHASE=N+W with N >= 1 rounds and W >= 0 warm-up rounds, "
                            f"got {item!r}: e.g. --rounds train_epoch=2+1")
        out[phase] = Rounds(int(n), int(w) if plus else 0)
    return out


def plan_from_args(args: argparse.Namespace, **fixed):
    """Validate everything and build the Plan; nothing is written and no worker starts."""
    from benchmarks.model import cases as cs
    from benchmarks.harness.runner import Plan
    from shared.environment import usable_cores

    cfg = config_from_args(args, **fixed)
    cores = usable_cores()
    duet = getattr(args, "duet", None)
    if duet is not None:
        from benchmarks.commands.execution import check_duet_args
        check_duet_args(args, cfg, cores, DEFAULT_FRAMEWORKS)
        cfg = cfg.replace(threads=1)  # a duet measures one thread per framework, each on its own core
    if cfg.threads is not None and cfg.threads > cores and not args.force:
        raise UserError(f"--threads {cfg.threads} is more than the {cores} usable cores: oversubscribed threads "
                        f"measure the scheduler, not the framework; use --threads <= {cores}, or --force to run anyway")
    cfg = cfg.replace(threads=cfg.thread_count)  # resolved once, here; every worker gets the number
    from benchmarks.commands.pilot import check_pilot_args
    check_pilot_args(args)
    processes = DEFAULT_PROCESSES if args.processes is None else args.processes
    if processes < 1:
        raise UserError(f"--processes must be at least 1, got {processes}")
    if not (math.isfinite(args.min_effect) and args.min_effect >= 0):
        raise UserError(f"--min-effect must be a finite percentage >= 0, got {args.min_effect}")
    has_gpu = machine_has_gpu()
    devices = parse_devices(args.devices, has_gpu)
    phases = parse_phases(args.phases)
    rounds = parse_rounds(getattr(args, "rounds", None), phases)
    if rounds and args.quick:
        raise UserError("--quick sets its own rounds: give --rounds or --quick, not both")
    if args.matrix and args.frameworks != DEFAULT_FRAMEWORKS:
        raise UserError("--matrix runs every variant: leave out --frameworks, or drop --matrix")
    aa = getattr(args, "aa", None)
    pairs: dict[str, str] = {}
    if aa is not None:  # the copies are the comparison: another case list or baseline would contradict it
        for given, what in ((args.matrix, "--matrix"), (args.frameworks != DEFAULT_FRAMEWORKS, "--frameworks"),
                            (args.baseline is not None, "--baseline")):
            if given:
                raise UserError(f"--aa names its own cases and compares each with its copy: drop {what}")
        cases, pairs = cs.aa_cases(aa, ["cpu"] if duet is not None else devices)
    if duet is not None:
        from benchmarks.commands.execution import duet_cases
        cases, devices = (cases if pairs else duet_cases(duet)), ["cpu"]
        phases = [p for p in phases if p in FRAMEWORK_PHASES]  # the shared data phases have no partner to pair
        if not phases:
            raise UserError("--duet times framework phases, and --phases names none: choose from "
                            f"{', '.join(FRAMEWORK_PHASES)}")
    elif not pairs:
        cases = cs.all_variants(devices, cfg.workload) if args.matrix else cs.expand(args.frameworks, devices)
    for c in cases:  # a setting the workload's network lacks, or a variant it cannot take, is refused now
        c.config(cfg)
        if not c.is_shared and c.spec().input not in workloads.get(cfg.workload).variant_inputs:
            raise UserError(f"case {c.id}: {c.spec().label} feeds the network {c.spec().input} input, which workload "
                            f"{cfg.workload} does not take: choose another variant")
    for c in cases:  # a case's own [threads=N] meets the same cores check as --threads
        t = dict(c.overrides).get("threads")
        if t is not None and t > cores and not args.force:
            raise UserError(f"case {c.id} sets threads={t}, more than the {cores} usable cores: oversubscribed "
                            f"threads measure the scheduler, not the framework; use threads <= {cores}, or --force")
    unavailable = {c.id: "no NVIDIA GPU found" for c in cases if c.device == "gpu" and not has_gpu}
    # a duet's tables: A against B, as its ratio (an A/A duet's copy has its original as baseline already)
    baseline = cases[1].id if duet is not None and not pairs else args.baseline
    cs.baselines(cases, baseline)  # an unknown baseline is bad input now, not after the run
    full = (not args.quick and phases == list(ALL_PHASES) and processes >= DEFAULT_PROCESSES
            and {c.framework for c in cases} >= set(DEFAULT_FRAMEWORKS.split(",")) and cfg.threads <= cores)
    anatomy = args.matrix if getattr(args, "anatomy", None) is None else args.anatomy
    from benchmarks.commands.execution import execution_fields
    kind = "quick" if args.quick else "duet" if duet is not None else "matrix" if args.matrix \
        else "full" if full else "partial"
    label = "execution-mode matrix" if args.matrix else None
    if pairs:  # before quick: a quick A/A run is still no comparison
        kind, label = "aa", "A/A calibration: each case against an identical copy of itself"
    if duet is not None:
        label = f"{'A/A ' if pairs else ''}duet {cases[0].id} vs {cases[1].id}"
    return Plan(cfg=cfg, cases=cases, phases=phases, processes=processes, baseline=baseline,
                min_effect=args.min_effect / 100, quick=args.quick, anatomy=bool(anatomy), archive=args.archive,
                unavailable=unavailable, kind=kind, label=label, command=command_line(),
                rounds={**(matrix_rounds() if args.matrix and not args.quick else {}), **rounds}, pairs=pairs,
                **execution_fields(args, cfg, duet is not None))


def command_line() -> str:
    return shlex.join(["fwbench", *sys.argv[1:]]) if Path(sys.argv[0]).name == "fwbench" else shlex.join(sys.argv)


def shard_plan(plan, index: int, of: int):
    """Part `index` of `of` of the plan (benchmarks/model/shards.py): its share of the cases with
    their baselines, never "full" (so never results/latest), the whole plan's cases recorded."""
    import dataclasses
    from benchmarks.model import cases as cs, shards
    if plan.duet_cores or plan.pairs:
        raise UserError("--shard splits a run's cases into comparisons against their baselines; a duet or an A/A "
                        "run is a single comparison: drop --shard")
    base = {c.id for c in cs.baselines(plan.cases, plan.baseline).values()}
    cases = shards.split_cases(plan.cases, base, index, of, "the matrix" if plan.kind == "matrix" else "the run")
    ids = {c.id for c in cases}
    return dataclasses.replace(
        plan, cases=cases, unavailable={k: v for k, v in plan.unavailable.items() if k in ids},
        kind="partial" if plan.kind == "full" else plan.kind,
        label=f"{plan.label or plan.kind + ' run'}, shard {index}/{of}",
        shard={"index": index, "of": of, "cases": [c.id for c in plan.cases]})


def main(args: argparse.Namespace) -> int:
    from benchmarks.harness import executors
    from benchmarks.model import shards

    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is not a folder: name a folder for the run folders")
    shard = shards.parse(args.shard)
    executors.check(args)
    plan = plan_from_args(args)
    parts = [(None, plan)] if shard is None else [(i, shard_plan(plan, i, shard.of)) for i in shard.parts]
    if args.executor != executors.LOCAL:
        from benchmarks.commands.submit import check_data, submit_run
        check_data([p for _, p in parts])  # what the data cannot honour is bad input here, not on the node
        return submit_run(args, output, shard, parts)
    status = 0
    for i, part in parts:
        if i is not None and len(parts) > 1:
            print(f"--- shard {i}/{shard.of}: {len(part.cases)} cases", flush=True)
        status = max(status, _run_here(args, part, output))
    return status


def _run_here(args: argparse.Namespace, plan, output: Path) -> int:
    """One plan (a whole run or one shard) in this process: today's `fwbench run`."""
    from benchmarks.analysis import rundata
    from benchmarks.harness.runner import Clock, FolderLock, RunFailed, run_plan

    clock = Clock()
    existed = output.exists()
    with FolderLock(output):
        try:
            if getattr(args, "pilot", None) is not None:
                from benchmarks.commands.pilot import size_plan
                plan = size_plan(plan, args, clock)  # a budget too small is refused before the run
            run_dir = run_plan(plan, output / "runs", clock)
        except RunFailed:
            return 1
        except UserError:
            if not existed:  # bad input found late (the pilot's budget): leave no folder behind either
                _remove_if_only_lock(output)
            raise
        # results/latest: the newest full run of the default workload (the one the answer leads with)
        latest = plan.kind == "full" and plan.cfg.workload == workloads.DEFAULT_WORKLOAD
        if latest:
            rundata.point_latest(output, run_dir)
        else:
            clock.say(f"{plan.kind} {plan.cfg.workload} run: kept in {run_dir}; results/latest still names the newest "
                      f"full run of the default workload")
    _report(clock, run_dir)
    print()
    print((run_dir / "results.md").read_text())
    clock.say(f"run folder: {run_dir}" + (f" (also {output / 'latest'})" if latest else ""))
    return 0


def _remove_if_only_lock(folder: Path) -> None:
    """Remove a folder this run created when it holds nothing but its lock file."""
    try:
        if {p.name for p in folder.iterdir()} <= {".fwbench.lock"}:
            (folder / ".fwbench.lock").unlink(missing_ok=True)
            folder.rmdir()
    except OSError:
        pass


def _report(clock, run_dir: Path) -> None:
    """The narrative report is derived from the run folder, so its failure never fails the run."""
    from benchmarks.reports import report
    try:
        clock.say(f"report: {report.write_report(run_dir)}")
    except Exception as e:  # noqa: BLE001 - `fwbench report` can regenerate it
        clock.say(f"report not written ({type(e).__name__}: {e}); run `fwbench report {run_dir}` to retry")
