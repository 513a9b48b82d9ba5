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


@dataclass(frozen=True)
class ExperimentConfig:
    # --- data -------------------------------------------------------------------------
    # Newsgroups to classify; None means all 20 (the larger workload).
    categories: tuple[str, ...] | None = TUTORIAL_CATEGORIES
    # "tutorial": lower-cased text.split(' ') over train AND test, as the tutorial did
    #   (V = 119,928 for the three groups; the test set leaks into the vocabulary).
    # "train": the same tokens, fitted on the training posts only; unseen test words dropped.
    vocab_mode: str = "tutorial"
    # Keep only the N most frequent tokens of that vocabulary (frequency: total count over the
    # posts it is fitted on; ties broken by token); None keeps them all, as the tutorial did.
    vocab_size: int | None = None

    # --- model: V -> hidden[0] -> ReLU -> hidden[1] -> ReLU -> n_classes -----------------
    hidden: tuple[int, ...] = (100, 100)

    # --- optimisation -------------------------------------------------------------------
    learning_rate: float = 0.01
    batch_size: int = 150
    epochs: int = 10
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
    eval_batch_size: int = 1200

    # --- reproducibility and execution ------------------------------------------------------
    # Seeds the initial weights and, when enabled, the per-epoch shuffles.
    seed: int = 0
    device: str = "cpu"
    # Intra-op threads given to each framework through its own API (inter-op: 1, see
    # impl_*/runtime.py). None: the number of cores the process may use.
    threads: int | None = None

    def __post_init__(self) -> None:
        self.validate()

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
        if not self.hidden or not all(_is_int(h) and h > 0 for h in self.hidden):
            raise UserError(f"hidden sizes must be positive integers, got {self.hidden}: e.g. --hidden 100,100")
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

    # The settings that decide what accuracy a run can reach; the tutorial's accuracy floor
    # (shared/metrics.py) was measured with all of them at their defaults.
    _ACCURACY_SETTINGS = ("categories", "vocab_mode", "vocab_size", "hidden", "learning_rate", "batch_size",
                          "epochs", "beta1", "beta2", "adam_eps", "shuffle_each_epoch")

    @property
    def is_tutorial_workload(self) -> bool:
        """Whether this is the tutorial's workload, the one with a known accuracy to reach."""
        default = ExperimentConfig()
        return all(getattr(self, f) == getattr(default, f) for f in self._ACCURACY_SETTINGS)

    @property
    def thread_count(self) -> int:
        return int(self.threads) if self.threads is not None else usable_cores()

    def data_key(self) -> dict:
        """The part of the configuration that decides the prepared dataset."""
        return {"categories": list(self.category_names), "vocab_mode": self.vocab_mode, "vocab_size": self.vocab_size}

    def replace(self, **changes) -> "ExperimentConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["categories"] = list(self.categories) if self.categories is not None else None
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
        d = {k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(cls)}}
        if d.get("categories") is not None:
            d["categories"] = tuple(d["categories"])
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)


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


def parse_hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(h) for h in text.split(","))
    except ValueError:
        raise UserError(f"hidden sizes must be comma-separated integers, got {text!r}: e.g. --hidden 100,100") from None
