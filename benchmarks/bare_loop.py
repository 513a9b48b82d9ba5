"""The harness-overhead check: time train_epoch with a bare time.perf_counter loop in one process,
over the same pre-converted batches and the same timed callable as benchmarks/test_bench.py.

    python -m benchmarks.bare_loop --fw torch --rounds 10 --compare results/latest

prints the bare median and, with --compare (a run folder or a bench-*.json), the harness's
train_epoch median for the same framework and the difference in percent.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks.cli import add_config_arguments, config_from_args
from shared.errors import UserError


def harness_median(path: Path, fw: str, device: str) -> float:
    if path.is_dir():
        path = path / f"bench-{fw}-{device}.json"
    if not path.is_file():
        raise UserError(f"{path}: no such results file: give a run folder or a bench-{fw}-{device}.json")
    for b in json.loads(path.read_text())["benchmarks"]:
        if b["extra_info"].get("phase") == "train_epoch" and b["extra_info"].get("framework") == fw:
            return b["stats"]["median"]
    raise UserError(f"{path} has no train_epoch result for {fw}")


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    q1, med, q3 = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else (xs[0],) * 3
    return q1, med, q3


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args, device=args.device)
    # The same thread environment `fwbench run` gives its processes, before any framework loads.
    from benchmarks.runner import child_env
    os.environ.update({k: v for k, v in child_env(cfg.thread_count, Path(".")).items()
                       if k.endswith("_THREADS")})
    from benchmarks import phases
    from shared import registry
    from shared.dataset import check_fits, prepare
    from shared.training import build, device_epoch

    fw = registry.canonical(args.fw)
    info = registry.runtime(fw).configure(cfg.thread_count, cfg.device)  # first, as in the harness
    data = prepare(cfg, args.archive)
    check_fits(cfg, data)
    twin = build(registry.twin_class(fw), cfg, data, args.variant)
    batches = device_epoch(twin, data, phases.epoch0_indices(cfg, data))
    phases.train_epoch(twin, batches)  # the warm-up epoch the harness also excludes
    times = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        phases.train_epoch(twin, batches)
        times.append(time.perf_counter() - t0)
    q1, med, q3 = quartiles(times)
    print(f"{twin.variant_label} on {info.device_name}, {info.intra_op_threads} intra-op threads, "
          f"{len(batches)} steps of {cfg.batch_size}, V = {data.vocab_size:,}")
    print(f"bare loop   train_epoch median {med:.4f} s  IQR {q3 - q1:.4f} s  ({args.rounds} rounds after 1 warm-up)")
    if args.compare:
        h = harness_median(Path(args.compare), fw, cfg.device)
        print(f"harness     train_epoch median {h:.4f} s  ({args.compare})")
        print(f"difference  {100 * (h - med) / med:+.1f}% (harness vs bare)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bare_loop", description=__doc__.split("\n\n")[0])
    add_config_arguments(p)
    p.add_argument("--fw", default="torch", help="torch or tensorflow")
    p.add_argument("--variant", default=None, help="execution mode (default: the framework's default)")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--compare", default=None, help="run folder or bench-<fw>-<device>.json to compare against")
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
