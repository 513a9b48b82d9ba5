"""`fwbench noise`: the noise study and the A/A calibration, into one folder and one report.

    fwbench noise                         every setting of benchmarks/model/noise.py, one A/A run each
    fwbench noise --settings threads1     some of them
    fwbench noise --report                rewrite report.md from the folder, timing nothing

Each setting is one `fwbench run --aa CASES ...` in a fresh subprocess (the run command is the
only way a run is made, so the study measures what a user's run does), written to
<output>/<setting>/runs/. The report reads every run folder under <output>, so A/A runs made by
hand there (a default-configuration A/A run, A/A duets) count in the false-positive rate too.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from benchmarks.model import noise
from shared.errors import UserError

DEFAULT_OUTPUT = Path("results") / "noise-cpu"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings", default=",".join(s.name for s in noise.SETTINGS),
                   help="comma-separated settings to run: " + "; ".join(f"{s.name}: {s.about}" for s in noise.SETTINGS))
    p.add_argument("--cases", default=",".join(noise.CASES), help="cases run against a copy of themselves")
    p.add_argument("--phases", default=",".join(noise.PHASES), help="phases each A/A run times")
    p.add_argument("--processes", type=int, default=noise.PROCESSES, help="processes per copy")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"study folder (default {DEFAULT_OUTPUT})")
    p.add_argument("--report", action="store_true", help="only rewrite the study's report from its run folders")


def parse_settings(text: str) -> list[noise.Setting]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UserError("--settings is empty: name one or more of " + ", ".join(noise.BY_NAME))
    bad = [n for n in names if n not in noise.BY_NAME]
    if bad:
        raise UserError(f"--settings: unknown setting {bad[0]!r}; choose from {', '.join(noise.BY_NAME)}")
    if len(set(names)) != len(names):
        raise UserError("--settings names a setting twice: list each once")
    return [noise.BY_NAME[n] for n in names]


def run_command(setting: noise.Setting, args: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "benchmarks.cli", "run", "--aa", args.cases, "--phases", args.phases,
            "--processes", str(args.processes), "--output", str(args.output / setting.name), *setting.options]


def main(args: argparse.Namespace) -> int:
    from benchmarks.reports import noise_report
    if args.report:
        if not args.output.is_dir():
            raise UserError(f"{args.output}: no study folder there; run `fwbench noise` first")
        print(f"wrote {noise_report.write(args.output)}")
        return 0
    settings = parse_settings(args.settings)
    # Every option is checked by the run command itself before anything is timed: a dry check of
    # the first setting's command line catches a bad case or phase before the first run starts.
    from benchmarks.cli import build_parser
    from benchmarks.commands.run import plan_from_args
    for s in settings:
        plan_from_args(build_parser("run").parse_args(run_command(s, args)[3:]))
    for s in settings:
        print(f"== noise study: {s.name} ({s.about})", flush=True)
        rc = subprocess.call(run_command(s, args))
        if rc != 0:
            print(f"fwbench noise: the {s.name} run failed (exit {rc}); earlier settings' runs are kept in "
                  f"{args.output}", file=sys.stderr)
            return rc
    print(f"wrote {noise_report.write(args.output)}")
    return 0
