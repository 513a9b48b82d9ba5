"""`fwbench run --pilot SECONDS [--target-width PCT]`: a short pilot run sizes the real one.

The pilot runs the plan's cases and phases with 2 processes per case and few rounds
(PILOT_ROUNDS: the quick rounds, at least 3 a phase) into a temporary folder that is removed
afterwards; benchmarks/analysis/pilot.py turns its rounds and worker times into processes K and
rounds R per phase, stated on the terminal and recorded in the manifest as `pilot` (the report's
Sizing paragraph). The real run then gets SECONDS minus what the pilot took.
"""
from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from shared.errors import UserError

PILOT_PROCESSES = 2
PILOT_MIN_ROUNDS = 3


def add_pilot_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pilot", type=float, default=None, metavar="SECONDS",
                   help="size the run from a short pilot (2 processes per case, a few rounds): choose the "
                        "processes and rounds per phase that reach --target-width within SECONDS in all, pilot "
                        "included (Kalibera & Jones 2013); replaces --processes, --rounds and --quick")
    p.add_argument("--target-width", type=float, default=None, metavar="PCT",
                   help="with --pilot: the 95%% interval of each speedup should be at most ±PCT percent (default 10)")


def check_pilot_args(args: argparse.Namespace) -> None:
    """Bad combinations, refused before anything runs."""
    seconds, width = getattr(args, "pilot", None), getattr(args, "target_width", None)
    if seconds is None:
        if width is not None:
            raise UserError("--target-width sizes a run from a pilot: add --pilot SECONDS, or drop --target-width")
        return
    if not (math.isfinite(seconds) and seconds > 0):
        raise UserError(f"--pilot takes the seconds the whole run may take, a positive number, got {seconds:g}")
    if width is not None and not (math.isfinite(width) and width > 0):
        raise UserError(f"--target-width must be a positive percentage, got {width:g}: e.g. --target-width 10")
    for given, what in ((args.processes is not None, "--processes"), (args.quick, "--quick"),
                        (getattr(args, "rounds", None) is not None, "--rounds")):
        if given:
            raise UserError(f"--pilot chooses the processes and rounds itself: drop {what}")


def pilot_plan(plan):
    """The plan's cases and phases, 2 processes, quick-like rounds (at least 3 a phase)."""
    from benchmarks.model.phases import Rounds, rounds_for
    rounds = {}
    for p in plan.phases:
        q = rounds_for(p, True)
        rounds[p] = Rounds(max(q.rounds, PILOT_MIN_ROUNDS), q.warmup)
    return replace(plan, processes=PILOT_PROCESSES, rounds=rounds, kind="pilot", label="pilot (sizing)",
                   anatomy=False, pilot=None)


def estimates(run, plan) -> tuple[list, float]:
    """The per-phase estimates and the process start cost c_p from a pilot run folder."""
    from benchmarks.analysis.pilot import estimate_phase
    ests = []
    for phase in run.phases():
        cases = [pd_.processes for c in run.cases.values() if (pd_ := c.phases.get(phase))]
        samples = [[p.rounds for p in procs] for procs in cases]
        if not any(samples):
            continue
        ests.append(estimate_phase(phase, samples, plan.rounds_of(phase).warmup))
    mean_round = {e.phase: e.c_r for e in ests}
    starts = []
    for c in run.cases.values():
        for w in c.workers:
            if w.get("status") != "ok" or not isinstance(w.get("seconds"), (int, float)):
                continue
            spent = 0.0
            for phase, pd_ in c.phases.items():
                for p in pd_.processes:
                    if p.index == w.get("index", 0):
                        warm = run.manifest["rounds"].get(phase, {}).get("warmup", 0)
                        spent += float(p.rounds.sum()) + warm * mean_round.get(phase, 0.0)
            starts.append(max(w["seconds"] - spent, 0.0))
    if not ests or not starts:
        raise UserError("the pilot measured nothing to size the run from (no case ran): run without --pilot")
    return ests, sum(starts) / len(starts)


def size_plan(plan, args: argparse.Namespace, clock):
    """Run the pilot, choose K and R, and return the real plan (UserError: nothing kept)."""
    from benchmarks.analysis import rundata
    from benchmarks.analysis.pilot import DEFAULT_TARGET, choose, describe
    from benchmarks.harness.runner import RunFailed, run_plan, worker_plan
    from benchmarks.model.phases import DEFAULT_PROCESSES
    from benchmarks.model.phases import Rounds

    target = DEFAULT_TARGET if args.target_width is None else args.target_width / 100
    t0 = time.perf_counter()
    clock.say(f"pilot: {PILOT_PROCESSES} processes per case, a few rounds per phase, to size the run "
              f"(budget {args.pilot:.0f} s in all, target ±{target:.0%}) ...")
    tmp = Path(tempfile.mkdtemp(prefix="fwbench-pilot-"))
    try:
        folder = run_plan(pilot_plan(plan), tmp, clock)
        run = rundata.load_run(folder)
        ests, c_p = estimates(run, plan)
    except RunFailed as e:  # a failing worker fails the run as it would have without the pilot: keep its record
        kept = rundata.publish(e.path, Path(args.output) / "failed", e.path.name)
        clock.say(f"the pilot failed; its record is kept in {kept}")
        raise RunFailed(kept) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the pilot is evidence for the choice only: its figures are kept
    pilot_s = time.perf_counter() - t0
    cases = [worker_plan(c, 0, plan, Path("-"))["phases"] for c in plan.all_cases() if c.id not in plan.unavailable]
    sizing = choose(ests, c_p, cases, args.pilot - pilot_s, target,
                    fewest={p: plan.rounds_of(p).rounds for p in plan.phases})
    clock.say(f"pilot took {pilot_s:.0f} s; chose {describe(sizing)}")
    record = {"budget_s": args.pilot, "pilot_s": round(pilot_s, 1), "pilot_processes": PILOT_PROCESSES,
              "estimates": [vars(e) for e in ests], **sizing.to_dict(), "text": describe(sizing)}
    rounds = {p.phase: Rounds(p.rounds, plan.rounds_of(p.phase).warmup) for p in sizing.phases}
    kind = "partial" if plan.kind == "full" and sizing.processes < DEFAULT_PROCESSES else plan.kind
    return replace(plan, processes=sizing.processes, rounds={**plan.rounds, **rounds}, pilot=record, kind=kind)
