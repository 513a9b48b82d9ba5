"""`fwbench workloads`: the networks a run can measure, each with its input, its settings (what
--model and a case's [NAME=VALUE] may set) and its recipe, read from the workloads' folders."""
from __future__ import annotations

import argparse
import dataclasses


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--names", action="store_true", help="print the names only, one per line (for scripts)")


def main(args: argparse.Namespace) -> int:
    from shared import workloads
    from shared.config import ExperimentConfig
    if args.names:
        print("\n".join(workloads.names()))
        return 0
    for name in workloads.names():
        w = workloads.get(name)
        cfg = ExperimentConfig(workload=name)
        default = " (default)" if name == workloads.DEFAULT_WORKLOAD else ""
        print(f"{name}{default}: {w.label}: {w.about}")
        print(f"  input: {w.input}; variant inputs: {', '.join(w.variant_inputs)}")
        settings = ", ".join(f"{f.name}={_text(f.default)}" for f in dataclasses.fields(w.Settings))
        print(f"  settings (--model, or a case's [NAME=VALUE]): {settings}")
        print(f"  recipe: lr {cfg.learning_rate}, batch {cfg.batch_size}, epochs {cfg.epochs}, vocabulary "
              f"{cfg.vocab_mode}{'' if cfg.vocab_size is None else f' (top {cfg.vocab_size:,})'}")
    return 0


def _text(v) -> str:
    return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)
