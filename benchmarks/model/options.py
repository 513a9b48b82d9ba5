"""The command-line options that build an ExperimentConfig, declared once for every command
that takes them (fwbench data, check, run, sweep, and the bare-loop check)."""
from __future__ import annotations

import argparse

from shared.config import ExperimentConfig, parse_categories, parse_hidden
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


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """Overrides of ExperimentConfig; unset ones keep the dataclass defaults."""
    add_data_arguments(p)
    p.add_argument("--hidden", default=None, help="hidden layer sizes, comma-separated (default 100,100)")
    p.add_argument("--lr", dest="learning_rate", type=float, default=None, help="learning rate (default 0.01)")
    p.add_argument("--batch-size", type=int, default=None, help="training batch size (default 150)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 10)")
    p.add_argument("--seed", type=int, default=None, help="seed of the initial weights and shuffles (default 0)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads per framework (default: usable cores)")
    p.add_argument("--shuffle", dest="shuffle_each_epoch", action="store_true", default=None,
                   help="reshuffle the training posts every epoch (default: the tutorial's fixed order)")


def config_from_args(args: argparse.Namespace, **fixed) -> ExperimentConfig:
    changes = {}
    if getattr(args, "categories", None) is not None:
        changes["categories"] = parse_categories(args.categories)
    if getattr(args, "hidden", None) is not None:
        changes["hidden"] = parse_hidden(args.hidden)
    for name in ("vocab_mode", "vocab_size", "learning_rate", "batch_size", "epochs", "seed", "threads", "shuffle_each_epoch",
                 "optimizer", "device"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    changes.update(fixed)
    return ExperimentConfig(**changes)
