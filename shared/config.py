"""The one experiment configuration, shared by data preparation, both twins and the harness.

Every knob of a run lives here, frozen, so that a run folder's manifest (``asdict(cfg)``)
says exactly what produced it and two processes built from the same manifest do the same work.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

from shared.environment import usable_cores
from shared.errors import UserError

# The tutorial pair's three newsgroups. Labels follow scikit-learn's rule: the selected
# categories sorted by their index among all 20, i.e. alphabetically.
TUTORIAL_CATEGORIES = ("comp.graphics", "sci.space", "rec.sport.baseball")

ALL_CATEGORIES = (
    "alt.atheism", "comp.graphics", "comp.os.ms-windows.misc", "comp.sys.ibm.pc.hardware",
    "comp.sys.mac.hardware", "comp.windows.x", "misc.forsale", "rec.autos", "rec.motorcycles",
    "rec.sport.baseball", "rec.sport.hockey", "sci.crypt", "sci.electronics", "sci.med",
    "sci.space", "soc.religion.christian", "talk.politics.guns", "talk.politics.mideast",
    "talk.politics.misc", "talk.religion.misc",
)

VOCAB_MODES = ("tutorial", "train")
OPTIMIZER_MODES = ("native", "strict", "sgd")
DEVICES = ("cpu", "gpu")


class _Recipe:
    """The default of a recipe field: the workload's recipe decides it (shared/workloads)."""

    def __repr__(self) -> str:
        return "<the workload's recipe>"


RECIPE = _Recipe()

# The tutorial's recipe: what a recipe field takes when the workload's recipe does not name it.
TUTORIAL_RECIPE = {"vocab_mode": "tutorial", "vocab_size": None, "learning_rate": 0.01, "batch_size": 150,
                   "epochs": 10, "eval_batch_size": 1200}


@dataclass(frozen=True)
class ExperimentConfig:
    # --- the network ---------------------------------------------------------------------
    # Which workload (shared/workloads/<name>/): the network and how it reads the posts.
    workload: str = "mlp"
    # The workload's settings (its Settings dataclass), as sorted (name, value) pairs; given
    # partly, the rest take the workload's defaults; stored whole, so a manifest says them all.
    model: tuple = ()

    # --- data -------------------------------------------------------------------------
    # Newsgroups to classify; None means all 20 (the larger workload).
    categories: tuple[str, ...] | None = TUTORIAL_CATEGORIES
    # "tutorial": lower-cased text.split(' ') over train AND test, as the tutorial did
    #   (V = 119,928 for the three groups; the test set leaks into the vocabulary).
    # "train": the same tokens, fitted on the training posts only; unseen test words dropped.
    vocab_mode: str = RECIPE  # "tutorial" unless the workload's recipe says otherwise
    # Keep only the N most frequent tokens of that vocabulary (frequency: total count over the
    # posts it is fitted on; ties broken by token); None keeps them all, as the tutorial did.
    vocab_size: int | None = RECIPE  # None (all) unless the workload's recipe says otherwise

    # --- optimisation -------------------------------------------------------------------
    # RECIPE: the workload's recipe, else TUTORIAL_RECIPE (lr 0.01, batch 150, 10 epochs).
    learning_rate: float = RECIPE
    batch_size: int = RECIPE
    epochs: int = RECIPE
    # Adam moments and epsilon, handed to both frameworks. Where epsilon is *added* differs
    # between them (see README, "Optimizer modes"), hence `optimizer`.
    beta1: float = 0.9
    beta2: float = 0.999
    adam_eps: float = 1e-8
    # "native": torch.optim.Adam vs keras.optimizers.Adam, what users run (the timed default).
    # "strict": both apply PyTorch's Adam formula by hand, so runs differ only by rounding.
    # "sgd": plain SGD, used by the equivalence tests for a one-step comparison.
    optimizer: str = "native"
    # False: the tutorial's order (dataset order every epoch, tail batch dropped).
    # True: a fresh permutation per epoch from a numpy generator seeded by `seed`.
    shuffle_each_epoch: bool = False
    # Posts per inference batch; the test set is predicted in chunks of this size so the
    # dense matrix of a large vocabulary never exists whole (1,180 -> one batch by default).
    eval_batch_size: int = RECIPE

    # --- reproducibility and execution ------------------------------------------------------
    # Seeds the initial weights and, when enabled, the per-epoch shuffles.
    seed: int = 0
    device: str = "cpu"
    # Intra-op threads given to each framework through its own API (inter-op: 1, see
    # impl_*/runtime.py). None: the number of cores the process may use.
    threads: int | None = None

    def __post_init__(self) -> None:
        from shared import workloads
        w = workloads.get(self.workload)  # a UserError names the known ones
        object.__setattr__(self, "workload", w.name)
        for name, default in TUTORIAL_RECIPE.items():
            if getattr(self, name) is RECIPE:
                object.__setattr__(self, name, w.recipe.get(name, default))
        given = dict(self.model.items() if isinstance(self.model, dict) else self.model)
        settings = w.settings(given)
        object.__setattr__(self, "model", tuple(sorted(
            (k, tuple(v) if isinstance(v, list) else v) for k, v in dataclasses.asdict(settings).items())))
        self.validate()

    @property
    def settings(self):
        """The workload's Settings for this run (its network's knobs)."""
        from shared import workloads
        return workloads.get(self.workload).settings(dict(self.model))

    # Validation lives here so the CLI, the harness and the tests reject the same things.
    def validate(self) -> None:
        if self.categories is not None:
            if len(self.categories) == 0:
                raise UserError("no categories selected: name at least two, or omit --categories for the tutorial's three")
            unknown = [c for c in self.categories if c not in ALL_CATEGORIES]
            if unknown:
                raise UserError(f"unknown category {unknown[0]!r}: choose from {', '.join(ALL_CATEGORIES)}")
            if len(set(self.categories)) != len(self.categories):
                raise UserError("a category is named twice: list each newsgroup once")
            if len(self.categories) < 2:
                raise UserError("one category gives nothing to classify: name at least two")
        if self.vocab_mode not in VOCAB_MODES:
            raise UserError(f"unknown vocabulary mode {self.vocab_mode!r}: use one of {', '.join(VOCAB_MODES)}")
        if self.optimizer not in OPTIMIZER_MODES:
            raise UserError(f"unknown optimizer mode {self.optimizer!r}: use one of {', '.join(OPTIMIZER_MODES)}")
        if self.device not in DEVICES:
            raise UserError(f"unknown device {self.device!r}: use one of {', '.join(DEVICES)}")
        if self.vocab_size is not None and not (_is_int(self.vocab_size) and self.vocab_size > 0):
            raise UserError(f"vocabulary size must be a positive integer, got {self.vocab_size}: "
                            f"omit --vocab-size to keep every token")
        for name in ("batch_size", "epochs", "eval_batch_size"):
            value = getattr(self, name)
            if not (_is_int(value) and value > 0):
                raise UserError(f"{name.replace('_', ' ')} must be a positive integer, got {value}")
        # inf and nan pass (or dodge) the range tests below and would only surface as a
        # diverged run: refuse them up front, every float field alike.
        for name, label, flag in (("learning_rate", "learning rate", "--lr 0.01"), ("beta1", "Adam beta1", "0.9"),
                                  ("beta2", "Adam beta2", "0.999"), ("adam_eps", "Adam epsilon", "1e-8")):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)):
                raise UserError(f"{label} must be a finite number, got {value}: e.g. {flag}")
        if not (self.learning_rate > 0):
            raise UserError(f"learning rate must be positive, got {self.learning_rate}: e.g. --lr 0.01")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise UserError(f"Adam betas must lie in [0, 1), got {self.beta1}, {self.beta2}")
        if not (self.adam_eps > 0):
            raise UserError(f"Adam epsilon must be positive, got {self.adam_eps}")
        if self.threads is not None and int(self.threads) <= 0:
            raise UserError(f"threads must be a positive integer, got {self.threads}")
        if not (_is_int(self.seed) and self.seed >= 0):
            raise UserError(f"seed must be a non-negative integer, got {self.seed}")

    @property
    def category_names(self) -> tuple[str, ...]:
        """Selected newsgroups in label order (scikit-learn sorts them)."""
        return tuple(sorted(self.categories)) if self.categories is not None else ALL_CATEGORIES

    # The settings that decide what accuracy a run can reach: a workload's accuracy target
    # holds only where all of them are at the workload's defaults (categories aside, which
    # select the target: 3 or 20 groups).
    ACCURACY_SETTINGS = ("model", "vocab_mode", "vocab_size", "learning_rate", "batch_size",
                         "epochs", "beta1", "beta2", "adam_eps", "shuffle_each_epoch")

    def at_workload_defaults(self) -> bool:
        """Whether every accuracy-deciding setting is the workload's default."""
        default = ExperimentConfig(workload=self.workload)
        return all(getattr(self, f) == getattr(default, f) for f in self.ACCURACY_SETTINGS)

    @property
    def accuracy_floor(self) -> float | None:
        """The mean accuracy over seeds this run's workload is known to reach (None: no target)."""
        from shared import workloads
        return workloads.get(self.workload).accuracy_floor(self)

    @property
    def thread_count(self) -> int:
        return int(self.threads) if self.threads is not None else usable_cores()

    def data_key(self) -> dict:
        """The part of the configuration that decides the prepared dataset."""
        from shared import workloads
        w = workloads.get(self.workload)
        key = {"categories": list(self.category_names), "vocab_mode": self.vocab_mode, "vocab_size": self.vocab_size}
        if w.input != "counts":  # the counts' key as it always was, so their caches stay valid
            model = dict(self.model)
            key.update(input=w.input, **{k: _jsonable(model[k]) for k in w.data_settings})
        return key

    def replace(self, **changes) -> "ExperimentConfig":
        """This configuration with `changes`; `model` changes merge into the current settings.
        Another workload is built afresh from the data and execution fields only: the recipe
        and the network are that workload's own unless `changes` name them."""
        if "model" in changes:
            changes["model"] = {**dict(self.model), **dict(changes["model"])}
        if changes.get("workload", self.workload) != self.workload:
            keep = ("categories", "optimizer", "shuffle_each_epoch", "seed", "device", "threads", "beta1", "beta2",
                    "adam_eps")
            return ExperimentConfig(**{**{k: getattr(self, k) for k in keep}, "model": (), **changes})
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["categories"] = list(self.categories) if self.categories is not None else None
        d["model"] = {k: _jsonable(v) for k, v in self.model}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
        """A manifest's configuration; one written before workloads existed is the MLP's, with
        its `hidden` at the top level."""
        d = dict(d)
        if "workload" not in d and "hidden" in d:
            d["model"] = {"hidden": d.pop("hidden")}
        d = {k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(cls)}}
        if d.get("categories") is not None:
            d["categories"] = tuple(d["categories"])
        if isinstance(d.get("model"), dict):
            d["model"] = tuple(sorted(d["model"].items()))
        return cls(**d)


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


def _is_int(value) -> bool:
    """An integer, numpy's included; not a bool (True would pass as 1) nor a float."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def parse_categories(text: str | None) -> tuple[str, ...] | None:
    """CLI spelling: 'tutorial' (default), 'all', or a comma-separated list."""
    if text is None or text == "tutorial":
        return TUTORIAL_CATEGORIES
    if text == "all":
        return None
    return tuple(c.strip() for c in text.split(",") if c.strip())

