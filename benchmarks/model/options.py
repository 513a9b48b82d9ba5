"""The command-line options that build an ExperimentConfig, declared once for every command
that takes them (fwbench data, check, run, sweep, and the bare-loop check)."""
from __future__ import annotations

import argparse

from shared import workloads
from shared.config import ExperimentConfig, parse_categories
from shared.errors import UserError
from shared.paths import ARCHIVE_ENV


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Options that decide the dataset, shared by every subcommand that prepares it."""
    p.add_argument("--archive", help=f"path to 20news-bydate.tar.gz (default: ${ARCHIVE_ENV}, else scikit-learn's download)")
    p.add_argument("--categories", default=None,
                   help="'tutorial' (comp.graphics, sci.space, rec.sport.baseball; default), 'all', or a comma-separated list")
    p.add_argument("--vocab", dest="vocab_mode", choices=["tutorial", "train"], default=None,
                   help="tutorial: split(' ') over train+test (V=119,928, the tutorial's leak); train: train posts only")
    p.add_argument("--vocab-size", dest="vocab_size", type=int, default=None, metavar="N",
                   help="keep only the N most frequent tokens of that vocabulary (default: all)")


def add_workload_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workload", default=None, metavar="NAME",
                   help=f"the network (default {workloads.DEFAULT_WORKLOAD}; `fwbench workloads` lists them with their settings)")


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """Overrides of ExperimentConfig; unset ones keep the workload's recipe and the defaults."""
    add_workload_argument(p)
    add_data_arguments(p)
    p.add_argument("--model", default=None, metavar="NAME=VALUE,...",
                   help="settings of the workload's network, e.g. hidden=50x50 (mlp) or heads=2,layers=1 (transformer)")
    p.add_argument("--hidden", default=None, help="the mlp's hidden layer sizes, comma-separated (default 100,100); "
                                                  "the same as --model hidden=100x100")
    p.add_argument("--lr", dest="learning_rate", type=float, default=None, help="learning rate (default: the workload's recipe)")
    p.add_argument("--batch-size", type=int, default=None, help="training batch size (default: the workload's recipe)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the workload's recipe)")
    p.add_argument("--seed", type=int, default=None, help="seed of the initial weights and shuffles (default 0)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads per framework (default: usable cores)")
    p.add_argument("--shuffle", dest="shuffle_each_epoch", action="store_true", default=None,
                   help="reshuffle the training posts every epoch (default: the tutorial's fixed order)")


def config_from_args(args: argparse.Namespace, **fixed) -> ExperimentConfig:
    changes = {}
    workload = workloads.get(getattr(args, "workload", None))  # an unknown name lists the known ones
    changes["workload"] = workload.name
    if getattr(args, "categories", None) is not None:
        changes["categories"] = parse_categories(args.categories)
    model = parse_model(workload, getattr(args, "model", None))
    if getattr(args, "hidden", None) is not None:
        if "hidden" in model:
            raise UserError("--hidden and --model hidden=... both set the hidden sizes: give one")
        model["hidden"] = workload.parse_setting("hidden", args.hidden)
    if model:
        changes["model"] = model
    for name in ("vocab_mode", "vocab_size", "learning_rate", "batch_size", "epochs", "seed", "threads", "shuffle_each_epoch",
                 "optimizer", "device"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if "model" in fixed:  # a sweep point's setting on top of --model's
        fixed = {**fixed, "model": {**changes.get("model", {}), **fixed["model"]}}
    changes.update(fixed)
    return ExperimentConfig(**changes)


def parse_model(workload, text: str | None) -> dict:
    """--model 'heads=2,layers=1' -> {"heads": 2, "layers": 1}, typed and checked by the workload."""
    out = {}
    for item in [t.strip() for t in (text or "").split(",") if t.strip()]:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--model item {item!r} is not NAME=VALUE: e.g. --model hidden=50x50")
        name = name.strip()
        if name in out:
            raise UserError(f"--model sets {name} twice: give each setting once")
        out[name] = workload.parse_setting(name, value.strip())
    workload.settings(out)  # a combination the network cannot be built with is refused here
    return out
