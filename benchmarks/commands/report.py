"""`fwbench report`: report.md and figures for run folders; several runs side by side; the
regression gate.

    fwbench report [RUN ...]                             report.md + fig-*.png in each run folder
    fwbench report RUN1 RUN2 ... --compare [--output DIR]   one comparison report across runs
    fwbench report --baseline OLD NEW [--threshold 10]   exit 1 when NEW regressed or lost a result
    fwbench report --sweep SWEEP ...                     a sweep folder's report and figures, rewritten
    fwbench report --pool RUN RUN ... [--output DIR]     one report over runs with the same fingerprint
                                                         (or --pool FOLDER: the run folders in it)
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from shared.errors import UserError

REPO = Path(__file__).resolve().parents[2]
COMPARE_DEFAULT = Path("results") / "compare"


def default_run() -> Path:
    """results/latest here, else the checkout's. A link that exists but points nowhere is taken
    as it is (load_run then says it dangles): falling back would report another run."""
    here = Path("results") / "latest"
    return here if here.exists() or here.is_symlink() else REPO / "results" / "latest"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="*", metavar="RUN",
                   help="run folders (default: results/latest); each gets report.md and fig-*.png")
    p.add_argument("--compare", action="store_true", help="write one report comparing the RUNs side by side")
    p.add_argument("--output", type=Path, default=None,
                   help=f"folder for the --compare report (default: {COMPARE_DEFAULT})")
    p.add_argument("--baseline", metavar="OLD", type=Path, default=None,
                   help="regression gate: exit 1 when a (case, phase) of RUN is slower than in OLD by more than "
                        "--threshold percent with an interval excluding no change, or is missing from RUN")
    p.add_argument("--pool", action="store_true",
                   help="pool runs with the same fingerprint (configuration, cases, package versions, CPU model, "
                        "thread budget) into one report; a RUN that is a folder of run folders stands for them")
    p.add_argument("--sweep", action="store_true",
                   help="the RUNs are sweep folders: rewrite each one's report and figures from its point runs")
    p.add_argument("--threshold", type=float, default=10.0,
                   help="percent slowdown that counts as a regression (default 10)")


def main(args: argparse.Namespace) -> int:
    from benchmarks.reports import compare, report
    from benchmarks.analysis.rundata import load_run, one_workload

    runs = [Path(r) for r in args.runs]
    if not (math.isfinite(args.threshold) and args.threshold >= 0):
        raise UserError(f"--threshold must be a finite percentage >= 0, got {args.threshold}")
    if args.baseline is not None:
        if args.compare:
            raise UserError("--baseline and --compare are separate modes: use one")
        if not runs:
            raise UserError("--baseline OLD needs the run to check after it: fwbench report --baseline OLD NEW")
        from benchmarks.analysis.rundata import copied_run
        old = load_run(args.baseline)
        news = [load_run(r) for r in runs]
        one_workload([old, *news], "gate")
        for new in news:  # a run against itself (or its copy) would pass as "equivalent" for nothing
            if new.path == old.path:
                raise UserError(f"{new.path} is both the baseline and the run to check: name the new run after "
                                f"--baseline OLD")
            copy = copied_run([old, new], whole=True)
            if copy:
                raise UserError(f"{copy}: the gate compares two measurements; name a run measured after the "
                                f"baseline")
        failed = False
        for new in news:
            old_name, new_name = compare.display_names([old, new])
            print(f"{new_name} against baseline {old_name} (threshold {args.threshold:g}%):")
            for w in compare.env_differences([old, new]):
                print(f"  warning: {w}")
            for n in compare.gate_notes(old, new):
                print(f"  note: {n}")
            fails, other = compare.gate(old, new, args.threshold)
            for line in fails + other:
                print(f"  {line}")
            if not fails and not other:
                print(f"  {old_name} measured nothing to compare against")
            failed |= bool(fails) or not (fails or other)
        print("REGRESSION or MISSING RESULTS: the gate fails" if failed else "no regression")
        return 1 if failed else 0
    if args.sweep:
        from benchmarks.reports import sweep_report
        from benchmarks.model.sweeps import SWEEP_FILE
        if args.pool or args.compare or args.baseline is not None:
            raise UserError("--sweep is a mode of its own: not with --pool, --compare or --baseline")
        if not runs:
            raise UserError("--sweep needs the sweep folders: fwbench report --sweep results/sweeps/<stamp>-<param>")
        for r in runs:
            if not (r / SWEEP_FILE).is_file():
                raise UserError(f"{r}: not a sweep folder (no {SWEEP_FILE}); give one `fwbench sweep` wrote")
        for r in runs:
            print(f"wrote {sweep_report.write(r)}")
        return 0
    if args.pool:
        from benchmarks.analysis import pool
        if args.compare:
            raise UserError("--pool and --compare are separate modes: use one")
        if args.output is None:
            raise UserError("--pool needs --output DIR, the folder for the pooled report")
        loaded = [load_run(r) for r in pool.expand(runs)]
        one_workload(loaded, "pool")
        command = "fwbench report --pool " + " ".join(str(r) for r in runs) + f" --output {args.output}"
        run, path = report.write_pooled_report(loaded, args.output, command)
        print(f"wrote {path} (pooled from {len(loaded)} runs)")
        for line in report.headline(run, report.summary(run)):
            print(f"  {line}")
        return 0
    if args.compare:
        from benchmarks.analysis.rundata import copied_run
        if len(runs) < 2:
            raise UserError("--compare needs at least two run folders")
        from benchmarks.analysis import pool
        # a pooled folder (--pool's output) compares as the run it stands for: two machines' pooled sets
        loaded = [pool.load_pooled(r) if (r / "pooled.json").is_file() else load_run(r) for r in runs]
        one_workload(loaded, "compare")
        paths = [str(r.path) for r in loaded]
        twice = next((p for p in paths if paths.count(p) > 1), None)
        if twice:  # the same run twice would read as a perfectly stable comparison
            raise UserError(f"run folder {twice} is named twice in --compare: name each run once")
        copy = copied_run(loaded)
        if copy:  # so would a copy of a run under another name
            raise UserError(f"{copy}: name each run once")
        command = ("fwbench report " + " ".join(str(r) for r in runs) + " --compare"
                   + (f" --output {args.output}" if args.output else ""))
        path, flagged = compare.write_comparison(loaded, args.output or COMPARE_DEFAULT, command)
        for w in compare.env_differences(loaded):
            print(f"warning: {w}", file=sys.stderr)
        print(f"wrote {path} ({flagged} comparison(s) different between runs)")
        return 0
    if args.output is not None:
        raise UserError("--output applies to --compare and --pool; single reports go into their run folder")
    if not runs and not (default_run().exists() or default_run().is_symlink()):
        raise UserError("no results/latest yet: run `fwbench run` first, or name a run folder")
    for r in runs or [default_run()]:
        run = load_run(r)  # a damaged folder is refused here, before its report is touched
        path = report.write_report(run)
        print(f"wrote {path}")
        for line in report.headline(run, report.summary(run)):
            print(f"  {line}")
    return 0
