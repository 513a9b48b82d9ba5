"""`fwbench data`: prepare the dataset (or load it from the cache) and describe it."""
from __future__ import annotations

import argparse
import json
import time

from benchmarks.model.options import add_config_arguments, config_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-cache", action="store_true", help="rebuild the prepared dataset even if it is cached")


def main(args: argparse.Namespace) -> int:
    from shared.dataset import check_fits, prepare

    cfg = config_from_args(args)
    t0 = time.perf_counter()
    data = prepare(cfg, archive=args.archive, use_cache=not args.no_cache)
    seconds = time.perf_counter() - t0
    check_fits(cfg, data)
    summary = {**data.summary(), "vocab_mode": cfg.vocab_mode, "vocab_size_limit": cfg.vocab_size,
               "prepare_seconds": round(seconds, 3),
               "train_batches_per_epoch": data.x_train.shape[0] // cfg.batch_size}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    from shared import workloads
    print(f"20 Newsgroups ({summary['source']}), vocabulary mode {cfg.vocab_mode!r}, as the input of workload "
          f"{cfg.workload} ({workloads.get(cfg.workload).input})")
    print(f"  categories : {', '.join(summary['categories'])}")
    print(f"  train      : {summary['n_train']:,} posts {summary['train_class_counts']}, "
          f"{summary['train_batches_per_epoch']} batches of {cfg.batch_size} per epoch (tail dropped)")
    print(f"  test       : {summary['n_test']:,} posts {summary['test_class_counts']}")
    kept = "" if cfg.vocab_size is None else ", the most frequent tokens only (--vocab-size)"
    if "seq_len" in summary:  # token ids
        print(f"  vocabulary : {summary['vocab_size']:,} token ids (padding and out-of-vocabulary included){kept}; "
              f"each post its first {summary['seq_len']} tokens, {summary['train_nonzeros'] / summary['n_train']:.0f} "
              f"on average in the training posts")
    else:
        print(f"  vocabulary : V = {summary['vocab_size']:,}{kept} ({summary['dense_batch_mb']:.3f} MB per dense post, float32)")
    print(f"  prepared in {seconds:.3f} s (cache key {summary['key']})")
    return 0
