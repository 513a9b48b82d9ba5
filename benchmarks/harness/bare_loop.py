"""The harness-overhead check: time train_epoch with a bare time.perf_counter loop in one process,
over the same pre-converted batches and the same timed callable as benchmarks/harness/test_bench.py.

    python -m benchmarks.harness.bare_loop --fw torch --rounds 10 --compare results/latest

prints the bare median and, with --compare (a run folder), the harness's train_epoch time for
the same case (the mean of its per-process medians) and the difference in percent.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks.model.options import add_config_arguments, config_from_args
from shared.errors import UserError


def harness_time(path: Path, case_id: str) -> float:
    from benchmarks.analysis import rundata, stats
    run = rundata.load_run(path)
    case = run.cases.get(case_id)
    pd = case.phases.get("train_epoch") if case else None
    if not pd or not pd.samples():
        raise UserError(f"{path} has no train_epoch result for {case_id}")
    return stats.location(pd.samples()).value


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    q1, med, q3 = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else (xs[0],) * 3
    return q1, med, q3


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args, device=args.device)
    # The same thread environment `fwbench run` gives its processes, before any framework loads.
    from benchmarks.model.cases import parse_case
    from benchmarks.harness.runner import thread_env
    os.environ.update(thread_env(cfg.thread_count))
    from benchmarks.model import phases
    from shared import registry
    from shared.dataset import check_fits, prepare
    from shared.training import build, device_epoch

    fw = registry.canonical(args.fw)
    info = registry.runtime(fw).configure(cfg.thread_count, cfg.device)  # first, as in the harness
    data = prepare(cfg, args.archive)
    check_fits(cfg, data)
    twin = build(registry.twin_class(fw, cfg.workload), cfg, data, args.variant)
    case = parse_case(f"{fw}:{twin.variant}", cfg.device)
    batches = device_epoch(twin, data, phases.epoch0_indices(cfg, data))
    times, losses = [], []
    for _ in range(1 + args.rounds):  # the first: the warm-up epoch the harness also excludes
        t0 = time.perf_counter()
        out = phases.train_epoch(twin, batches)
        times.append(time.perf_counter() - t0)
        losses.append([float(x) for x in out])
    warmup, times = times[0], times[1:]
    if args.json:  # for `fwbench plain`: every epoch, the warm-up first, as the plain scripts write it
        runtime = registry.runtime(fw)
        args.json.write_text(json.dumps({
            "kind": "twin", "framework": fw, "variant": twin.variant, "epoch_seconds": [warmup, *times],
            "epoch_losses": losses, "read_back": {"intra_op_threads": info.intra_op_threads,
                                                  "inter_op_threads": info.inter_op_threads,
                                                  "flush_denormal": runtime.flushes_denormals(cfg.device),
                                                  "version": info.version}}))
    q1, med, q3 = quartiles(times)
    print(f"{twin.variant_label} on {info.device_name}, {info.intra_op_threads} intra-op threads, "
          f"{len(batches)} steps of {cfg.batch_size}, V = {data.vocab_size:,}")
    print(f"bare loop   train_epoch median {med:.4f} s  IQR {q3 - q1:.4f} s  ({args.rounds} rounds after 1 warm-up)")
    if args.compare:
        h = harness_time(Path(args.compare), case.id)
        print(f"harness     train_epoch median {h:.4f} s  ({args.compare})")
        print(f"difference  {100 * (h - med) / med:+.1f}% (harness vs bare)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.harness.bare_loop", description=__doc__.split("\n\n")[0])
    add_config_arguments(p)
    p.add_argument("--fw", default="torch", help="a framework of shared/registry.py (default torch)")
    p.add_argument("--variant", default=None, help="execution mode (default: the framework's default)")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--compare", default=None, help="run folder to compare against")
    p.add_argument("--json", type=Path, default=None, help="also write every epoch's time and losses here")
    args = p.parse_args(argv)
    try:
        if args.rounds < 1:
            raise UserError("--rounds must be at least 1")
        return run(args)
    except UserError as e:
        print(f"bare_loop: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
