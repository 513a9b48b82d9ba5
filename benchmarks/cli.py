"""`fwbench` command line: data, check, run, report.

Each subcommand lives in the module that does its work and exposes
`add_arguments(parser)` and `main(args) -> int`; this file only wires them and turns a
UserError into one line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys

from shared.errors import UserError

# subcommand -> (module, one-line help)
COMMANDS = {
    "data": ("benchmarks.commands.data", "prepare the dataset and describe it"),
    "check": ("benchmarks.commands.check", "train both twins from the same start and report whether they agree"),
    "run": ("benchmarks.commands.run", "run the benchmark cases in interleaved worker processes and write a run folder"),
    "report": ("benchmarks.commands.report", "turn run folders into report.md and figures; compare runs; gate regressions"),
    "sweep": ("benchmarks.commands.sweep", "run the cases at each value of one parameter: cost exponents and crossovers"),
    "plain": ("benchmarks.plain.check", "time each twin against a plain training script of the same model, interleaved"),
    "workloads": ("benchmarks.commands.workloads", "list the networks a run can measure, with their settings and recipes"),
    "bisect": ("benchmarks.plain.bisect", "walk from an independent PyTorch script to fwbench's plain script and twin, "
                                          "one difference at a time, each step timed interleaved against the last"),
    "collect": ("benchmarks.commands.collect", "gather run and sweep folders from several machines or shards into "
                                               "one collection, each machine on its own"),
    "noise": ("benchmarks.commands.noise", "the noise study and A/A calibration: how far processes spread, how often "
                                           "identical cases are called different"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, exit 2
        self.exit(2, f"fwbench: error: {message} (see `{self.prog} --help`)\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """All subcommands, or only `only`'s options: importing every command's module (report
    brings matplotlib) would cost a second of start-up that `fwbench data` does not need."""
    parser = _Parser(prog="fwbench", description="PyTorch, TensorFlow and JAX on the same networks and data, side by side.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is not None and name != only:
            continue
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(_main=mod.main)
    return parser


def main_entry(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    args._argv = list(argv)  # as typed: a scheduler's job reruns it on its node (benchmarks/harness/executors.py)
    # SIGTERM unwinds like Ctrl-C, so every `finally` and `except BaseException` that removes a
    # staging folder runs; the default action would kill the process with its leftovers.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args._main(args) or 0)
    except Terminated:
        print(f"fwbench {args.command}: stopped by SIGTERM; nothing half-written was left behind "
              f"(earlier results are intact)", file=sys.stderr)
        return 143
    except UserError as e:
        print(f"fwbench {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a path the user gave (cache, output, --json) that cannot be written
        print(f"fwbench {args.command}: error: {os_error_text(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fwbench {args.command}: interrupted; nothing half-written was left behind (earlier results are "
              f"intact)", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def os_error_text(e: OSError) -> str:
    """The path, the problem and the fix for an OSError no module turned into a UserError."""
    import errno
    where = f"{e.filename}: " if e.filename else ""
    fix = {errno.ENOSPC: "the disk is full: free space there or point the output elsewhere",
           errno.EROFS: "the file system is read-only: choose a writable folder",
           errno.EACCES: "permission denied: choose a folder you can write to",
           errno.EPERM: "permission denied: choose a folder you can write to",
           errno.ENOENT: "no such file or folder: check the path"}.get(e.errno, "check the path")
    return f"{where}{e.strerror or e}: {fix}"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so cleanup code runs as for Ctrl-C."""


def _terminate(signum, frame):
    raise Terminated()


def main() -> None:  # console script
    sys.exit(main_entry())


if __name__ == "__main__":
    main()
