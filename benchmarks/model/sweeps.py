"""The model of a sweep: which parameters can be swept, the sized presets, and the names a sweep
folder uses. Declared once here; the sweep command (benchmarks/commands/sweep.py) runs them and
the sweep report (benchmarks/reports/sweep_report.py) reads them."""
from __future__ import annotations

from dataclasses import dataclass

from benchmarks.model.phases import Rounds
from shared.config import ALL_CATEGORIES, TUTORIAL_CATEGORIES
from shared.errors import UserError

SWEEP_FILE = "sweep.json"
POINTS = "points"


def _categories(n: int):
    """The first n newsgroups: the tutorial's three, then the others in label order."""
    if not 2 <= n <= len(ALL_CATEGORIES):
        raise UserError(f"number of categories must lie in 2..{len(ALL_CATEGORIES)}, got {n}")
    rest = [c for c in ALL_CATEGORIES if c not in TUTORIAL_CATEGORIES]
    return (TUTORIAL_CATEGORIES + tuple(rest))[:n] if n < len(ALL_CATEGORIES) else None


@dataclass(frozen=True)
class Parameter:
    name: str  # what users type
    field: str  # the ExperimentConfig field it sets ("model" for a setting of the workload's network)
    about: str
    to_config: callable  # value -> field value

    def overrides(self, value: int) -> dict:
        if self.field == "model":
            return {"model": {self.name: self.to_config(value)}}
        return {self.field: self.to_config(value)}


PARAMETERS = {p.name: p for p in (
    Parameter("batch_size", "batch_size", "training batch size (1 to the training set)", int),
    Parameter("vocab_size", "vocab_size", "the V most frequent tokens kept (about 1,000 up to the full vocabulary)", int),
    Parameter("categories", "categories", "number of newsgroups (3 to 20): the tutorial's three, then the others",
              _categories),
    Parameter("threads", "threads", "intra-op threads per framework (1 to the usable cores)", int),
)}


def parameters(workload: str | None = None) -> dict[str, Parameter]:
    """What a sweep may vary for a workload: PARAMETERS, and every integer setting of its network
    (a tuple of ints, such as the MLP's hidden widths, is swept as one width w for all: (w, w))."""
    import dataclasses

    from shared import workloads
    w = workloads.get(workload)
    out = dict(PARAMETERS)
    for f in dataclasses.fields(w.Settings):
        d = f.default
        if isinstance(d, bool) or f.name in out:
            continue
        if isinstance(d, int):
            out[f.name] = Parameter(f.name, "model", f"{w.name} setting {f.name} (default {d})", int)
        elif isinstance(d, tuple) and d and all(isinstance(i, int) for i in d):
            n = len(d)
            out[f.name] = Parameter(f.name, "model", f"{w.name} setting {f.name}: one value w for all {n} ({'x'.join(['w'] * n)})",
                                    lambda v, n=n: (int(v),) * n)
    return out


@dataclass(frozen=True)
class Preset:
    param: str
    values: tuple[int, ...]
    frameworks: str
    phases: tuple[str, ...]
    processes: int
    rounds: dict
    about: str


# Sized to finish in under 15 minutes each on the 2-core reference machine: two phases, two
# processes per case and fewer rounds per point than a full run (stated in the sweep report).
PRESETS = {
    "batch": Preset("batch_size", (32, 64, 150, 512, 1024), "torch,tensorflow", ("train_epoch", "predict_one"), 2,
                    {"train_epoch": Rounds(3, 1), "predict_one": Rounds(100, 10)},
                    "batch size 32 to 1024, PyTorch (eager) vs TensorFlow (graph), dense input"),
    "vocab": Preset("vocab_size", (1000, 4000, 16000, 64000, 119928),
                    "torch,tensorflow,torch:sparse,tensorflow:sparse", ("train_epoch", "predict_all"), 2,
                    {"train_epoch": Rounds(3, 1), "predict_all": Rounds(5, 1)},
                    "vocabulary size 1,000 to 119,928 (the tutorial's whole vocabulary), dense and sparse cases"),
}


def point_name(param: str, value: int) -> str:
    return f"{param}={value}"
