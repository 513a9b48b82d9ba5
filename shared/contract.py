"""What every framework twin implements. The loop that drives it is written once (shared/training.py).

A twin lives in its own package (impl_torch/, impl_tf/, ...) with the same module names:

    runtime.py   configure(threads, device) -> RuntimeInfo   (before any tensor exists)
    twin.py      class Twin(FrameworkTwin)                    (build, steps, weights)

and one line in shared/registry.py. The harness only ever talks to this interface, so the
numbers it reports differ only where the frameworks differ.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from shared.config import ExperimentConfig
from shared.weights import Layer


@dataclass(frozen=True)
class RuntimeInfo:
    """Read back from the framework after configuring it, for the record."""
    framework: str  # "torch", "tensorflow"
    version: str
    device: str  # "cpu" or "gpu"
    device_name: str  # e.g. "cpu", "cuda:0 (NVIDIA H100 80GB HBM3)", "/GPU:0"
    intra_op_threads: int
    inter_op_threads: int
    tf32: bool  # False is what a fair run wants
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Variant:
    """One execution mode of a framework's twin, declared in its package's variants.py
    (importable without the framework, so a run can validate and label cases up front)."""
    name: str  # what users type after "framework:", e.g. "eager", "xla"
    label: str  # how reports name the case, e.g. "TensorFlow (graph, XLA)"
    about: str  # one honest line: what this mode changes against the framework's default
    input: str = "dense"  # "dense" or "sparse": the batch representation its input pipeline builds


@dataclass(frozen=True)
class DeviceBatch:
    """A batch already on the target device in the framework's own tensors."""
    x: Any
    y: Any
    size: int


class FrameworkTwin(abc.ABC):
    """One framework's implementation of the MLP and its training step.

    Variants are execution modes of the same computation (e.g. "eager", "graph", "xla"),
    declared once in the package's variants.py (VARIANTS, DEFAULT_VARIANT).
    """

    framework: str  # registry name

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[Layer], variant: str | None = None):
        from shared import registry
        self.cfg = cfg
        self.spec = registry.variant(self.framework, variant)  # a UserError lists the valid names
        self.variant = self.spec.name

    @property
    def variant_label(self) -> str:
        return self.spec.label

    # --- moving data in --------------------------------------------------------------------
    @abc.abstractmethod
    def to_device(self, x: np.ndarray, y: np.ndarray | None = None) -> DeviceBatch:
        """Copy a dense float32 batch (and int64 labels) into framework tensors on the device."""

    # --- computation ---------------------------------------------------------------------
    @abc.abstractmethod
    def train_step(self, batch: DeviceBatch) -> Any:
        """One optimiser step; returns the batch's mean loss as a framework scalar (no host sync)."""

    @abc.abstractmethod
    def losses_to_numpy(self, losses: list) -> np.ndarray:
        """Bring a list of `train_step` results to the host (this waits for the device)."""

    @abc.abstractmethod
    def logits(self, batch: DeviceBatch) -> np.ndarray:
        """Forward pass; logits on the host as float32 (n, n_classes)."""

    @abc.abstractmethod
    def loss(self, batch: DeviceBatch) -> float:
        """Mean cross-entropy of the batch under the current weights, no update."""

    @abc.abstractmethod
    def get_weights(self) -> list[Layer]:
        """Current weights in the shared layout: (W (in, out), b) per layer, float32 numpy."""

    @abc.abstractmethod
    def synchronize(self) -> None:
        """Wait until all queued device work is done (a no-op where execution is synchronous)."""

    def trace_count(self) -> int | None:
        """How many times a compiled step has been traced (None where nothing is traced)."""
        return None
