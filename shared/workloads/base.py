"""What a workload declares, once: the network and everything about it that is not a framework.

A workload is a folder, as a framework is (TorchBench's shape: a model is a folder behind one
base class). Its framework-neutral half lives in ``shared/workloads/<name>/`` and declares

    WORKLOAD = <a Workload instance>

with its settings (the network's knobs and the recipe it trains with), its data preparation on
top of the shared corpus loader (``input``: bag-of-words counts or token ids, shared/tokens.py),
its initial weights, its cost model (for the floor), its parity tolerances and accuracy targets,
and the module paths of its twin per framework and of its plain script per framework. The twins
themselves import a framework, so by the fixed layout they live in the framework's folder under
the same module name in each (Keras 3's backends: ``impl_torch/workloads/<name>.py``,
``impl_tf/workloads/<name>.py``, ``impl_jax/workloads/<name>.py``), each holding
``class Twin(shared.contract.FrameworkTwin)`` (in the timed frameworks through the folder's
twin_base.BaseTwin, which holds the steps every workload shares). The harness, the analysis and
the reports only ever see this interface (and a workload's name as data), so a new workload
registers with one line in shared/workloads/__init__.py (or FWBENCH_WORKLOADS) and touches
nothing else.
"""
from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from shared.errors import UserError

# What a twin's rows_to_device receives as x, by Workload.input:
#   "counts": scipy CSR float32 (n, V), bag-of-words counts (shared/vocabulary.py)
#   "tokens": numpy int32 (n, seq_len), token ids, 0 = padding, 1 = out of vocabulary (shared/tokens.py)
INPUTS = ("counts", "tokens")


@dataclass(frozen=True)
class Tolerances:
    """How close twins must stay in strict mode (the same optimizer formula in every framework),
    measured for the workload and stated with why (see each workload's module)."""
    # first epoch, per step: max |loss_b - loss_a| / loss_a, median over seeds and on any seed
    step_loss_rtol: float
    step_loss_rtol_any_seed: float
    # end of training, over seeds: median prediction agreement and median |accuracy difference|
    min_median_agreement: float
    max_median_accuracy_difference: float
    # one optimizer step from the same weights (tests): max relative difference of every weight
    one_step_weight_rtol: float = 1e-4


@dataclass(frozen=True)
class AccuracyTarget:
    """A mean test accuracy (over seeds, native optimizers) the workload is known to reach on a
    selection of newsgroups, measured and stated in the workload's module."""
    n_groups: int  # 3 (the tutorial's) or 20
    min_mean_accuracy: float
    measured: str  # where and how it was measured, in words


class Workload(abc.ABC):
    """One network on the shared corpus. Subclasses set the class attributes and implement the
    methods; instances are stateless (one per module, ``WORKLOAD``)."""

    name: str  # registry name, lower case: "mlp", "transformer", "textcnn"
    label: str  # what a reader sees in titles and tables: "MLP (bag of words)"
    about: str  # one sentence: the network, its kernels
    input: str  # one of INPUTS
    # Variant.input values a twin of this workload accepts (shared/variant.py): a counts input may
    # reach the network as a sparse matrix, token ids only as a dense array.
    variant_inputs: tuple[str, ...] = ("dense",)
    # The network's knobs: a frozen dataclass whose fields all have defaults. A field's default
    # decides how a value typed by a user is read (int, float, bool, str; a tuple of ints is
    # written 100x100 in a case and 100,100 on the command line).
    Settings: type
    # ExperimentConfig fields this workload trains with when the user sets none (learning_rate,
    # batch_size, epochs, vocab_mode, vocab_size, eval_batch_size ...). Fields not named here
    # take ExperimentConfig's own defaults (the tutorial's recipe).
    recipe: Mapping[str, Any] = {}
    # Settings that decide the prepared data (they enter the cache key), e.g. ("seq_len",).
    data_settings: tuple[str, ...] = ()
    # framework -> importable module holding `class Twin`, for frameworks whose twin is not at
    # the convention's place, <framework package>.workloads.<name> (an out-of-tree workload
    # names its own modules here).
    twins: Mapping[str, str] = {}
    # framework -> importable module that is the workload's plain script for it (run as
    # `python -m MODULE ...` by `fwbench plain`); frameworks not named have none.
    plain: Mapping[str, str] = {}
    tolerances: Tolerances
    accuracy_targets: tuple[AccuracyTarget, ...] = ()

    def twin_module(self, framework: str, package: str) -> str:
        """Where `framework`'s twin of this workload lives (package: the framework's folder)."""
        return self.twins.get(framework, f"{package}.workloads.{self.name}")

    # --- settings --------------------------------------------------------------------------
    def settings(self, model: Mapping[str, Any] | None = None):
        """The Settings with `model`'s values over the defaults; unknown names are refused."""
        model = dict(model or {})
        known = {f.name for f in dataclasses.fields(self.Settings)}
        unknown = sorted(set(model) - known)
        if unknown:
            raise UserError(f"workload {self.name} has no setting {unknown[0]!r}: choose from {', '.join(sorted(known))}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in model.items()}
        s = self.Settings(**values)
        self.validate(s)
        return s

    def validate(self, settings) -> None:
        """Refuse settings this network cannot be built with (a UserError naming the fix). The
        default checks each value against its default's type: an int (or each int of a tuple)
        a positive integer, a float a finite number, a bool a bool; a workload adds its own rules."""
        import math
        import numbers
        for f in dataclasses.fields(settings):
            v, d = getattr(settings, f.name), f.default
            is_int = lambda x: isinstance(x, numbers.Integral) and not isinstance(x, bool)  # noqa: E731
            if isinstance(d, bool):
                ok = isinstance(v, bool)
            elif isinstance(d, int):
                ok = is_int(v) and v > 0
            elif isinstance(d, tuple):
                ok = isinstance(v, tuple) and len(v) > 0 and all(is_int(i) and i > 0 for i in v)
            elif isinstance(d, float):
                ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
            else:
                ok = isinstance(v, type(d))
            if not ok:
                what = ("positive integers" if isinstance(d, tuple) else "a positive integer" if isinstance(d, int)
                        and not isinstance(d, bool) else "a finite number" if isinstance(d, float) else type(d).__name__)
                raise UserError(f"{self.name} setting {f.name} must be {what}, got {v!r} (default {d!r})")

    def parse_setting(self, name: str, text: str):
        """A setting's value from text ('100x100' or '100,100' for a tuple of ints)."""
        fields = {f.name: f for f in dataclasses.fields(self.Settings)}
        if name not in fields:
            raise UserError(f"workload {self.name} has no setting {name!r}: choose from {', '.join(sorted(fields))}")
        default = fields[name].default
        try:
            if isinstance(default, tuple):
                return tuple(int(p) for p in text.replace(",", "x").split("x"))
            if isinstance(default, bool):
                if text.lower() not in ("true", "false"):
                    raise ValueError(text)
                return text.lower() == "true"
            if isinstance(default, int):
                return int(text)
            if isinstance(default, float):
                return float(text)
            return text
        except ValueError:
            raise UserError(f"{self.name} setting {name}={text!r} is not a valid value (default {default!r})") from None

    # --- data --------------------------------------------------------------------------------
    @abc.abstractmethod
    def featurize(self, train_texts: list[str], test_texts: list[str], cfg) -> tuple[Any, Any, int | None]:
        """The posts (shared corpus: same posts, split and order for every workload) as the
        network's input: (x_train, x_test, n_ids) in the form `input` names; n_ids is the
        token-id table's size for "tokens" (shared/tokens.token_ids' third value), None for
        "counts"."""

    # --- weights -----------------------------------------------------------------------------
    @abc.abstractmethod
    def initial_weights(self, cfg, data) -> list[np.ndarray] | list[tuple[np.ndarray, ...]]:
        """The start every twin copies, drawn once in numpy from cfg.seed (the same on every
        machine). A list of parameter arrays in the workload's declared order (or, for the MLP,
        of (W, b) pairs); each twin's get_weights() returns the same structure."""

    def parameter_names(self, cfg, data) -> list[str]:
        """A name per array of flatten(initial_weights), in order (for messages and tests)."""
        return [f"p{i}" for i, _ in enumerate(flatten(self.initial_weights(cfg, data)))]

    # --- cost model ----------------------------------------------------------------------------
    @abc.abstractmethod
    def step_cost(self, cfg, data_summary: Mapping[str, Any], batch: int, input_nnz: int | None = None):
        """shared.costs.Cost of one training step (forward, backward, Adam) on `batch` posts.
        data_summary: PreparedData.summary() (also what a run folder's manifest records), so a
        report can rebuild the floor from a run folder alone. input_nnz: the batch's stored
        values, for a sparse-input variant of a counts workload (None: dense)."""

    def inference_cost(self, cfg, data_summary: Mapping[str, Any], batch: int):
        """shared.costs.Cost of a forward pass on `batch` posts (None: not modelled)."""
        return None

    # --- accuracy ------------------------------------------------------------------------------
    def accuracy_floor(self, cfg) -> float | None:
        """The mean accuracy over seeds this workload must reach under cfg, where a target was
        measured for exactly this recipe (the workload's defaults and 3 or 20 groups); else None."""
        return None

    def __repr__(self) -> str:
        return f"<workload {self.name}>"


def flatten(weights) -> list[np.ndarray]:
    """Every array of a weight structure, in order: a list of arrays, or of tuples of arrays."""
    out = []
    for w in weights:
        out.extend(w if isinstance(w, (tuple, list)) else (w,))
    return [np.asarray(a) for a in out]
