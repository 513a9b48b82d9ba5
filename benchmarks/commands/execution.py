"""`fwbench run`'s execution options (--pin, --gc, --duet): checked and resolved into the Plan's
fields (benchmarks/harness/runner.Plan: affinity, gc, duet_cores). Bad input is a UserError
before any worker starts. `sweep` has none of these options, hence the getattr defaults."""
from __future__ import annotations

import argparse

from shared.config import ExperimentConfig
from shared.errors import UserError


def check_duet_args(args: argparse.Namespace, cfg: ExperimentConfig, cores: int, default_frameworks: str) -> None:
    """What --duet cannot be combined with, and what it needs of the machine."""
    from benchmarks.model.cases import split_items
    aa = getattr(args, "aa", None)
    if not args.duet:  # `--aa CASE --duet`: CASE against its A/A copy
        if aa is None or len(split_items(aa)) != 1:
            raise UserError("--duet without cases is an A/A duet and needs --aa with exactly one case: e.g. "
                            "--aa torch:eager --duet; or name two cases: --duet torch:eager,torch:fused")
    elif aa is not None:
        raise UserError("--duet with its own cases and --aa contradict each other: --aa CASE --duet runs CASE against "
                        "its copy, --duet A,B runs A against B")
    elif len(split_items(args.duet)) != 2:
        raise UserError(f"--duet takes exactly two cases, got {len(split_items(args.duet))} in {args.duet!r}: "
                        f"e.g. --duet torch:eager,torch:fused")
    if cores < 2:
        raise UserError(f"--duet runs its two cases on two cores at once, and this process may use {cores}: "
                        f"run it where two or more cores are usable, or compare the cases with --frameworks")
    if cfg.threads is not None and cfg.threads != 1:
        raise UserError(f"--duet measures one thread per case, each on its own core: leave out --threads "
                        f"{cfg.threads} (or give --threads 1)")
    for flag, given in (("--pin", getattr(args, "pin", False)), ("--matrix", args.matrix)):
        if given:
            raise UserError(f"--duet chooses its cases and cores itself: leave out {flag}")
    if args.frameworks != default_frameworks:
        raise UserError("--duet names the two cases it runs: leave out --frameworks")
    if args.baseline is not None:
        raise UserError("--duet compares its first case with its second: leave out --baseline")
    if args.devices not in ("auto", "cpu"):
        raise UserError(f"--duet runs its cases on CPU cores: leave out --devices {args.devices}")


def duet_cases(text: str) -> list:
    """The two cases, A and B, in the order given (the ratio is A's time over B's)."""
    from benchmarks.model.cases import parse_case, split_items
    cases = [parse_case(item, "cpu") for item in split_items(text)]
    gpu = [c.id for c in cases if c.device != "cpu"]
    if gpu:
        raise UserError(f"--duet pins each case to one CPU core, so {gpu[0]} cannot be in a duet: name CPU cases")
    if cases[0] == cases[1]:
        raise UserError(f"--duet names {cases[0].id} twice: name two different cases")
    return cases


def execution_fields(args: argparse.Namespace, cfg: ExperimentConfig, duet: bool) -> dict:
    """The Plan's execution fields: the cores are the lowest usable ones, resolved here once."""
    from shared.environment import usable_core_ids
    ids = usable_core_ids()
    pin = getattr(args, "pin", False)
    if pin and cfg.thread_count > len(ids):
        raise UserError(f"--pin gives each of the {cfg.thread_count} threads its own core, and only {len(ids)} are "
                        f"usable: use --threads <= {len(ids)}, or leave out --pin")
    return {"gc": getattr(args, "gc", "on"), "affinity": ids[:cfg.thread_count] if pin else None,
            "duet_cores": ids[:2] if duet else None}
