"""What every framework twin implements. The loop that drives it is written once (shared/training.py).

A twin lives in its own package (impl_torch/, impl_tf/, ...) with the same module names:

    runtime.py               configure(threads, device) -> RuntimeInfo   (before any tensor exists)
    workloads/<workload>.py  class Twin(FrameworkTwin)                    (build, steps, weights)

and one line in shared/registry.py; a workload (shared/workloads/) is the network the twin builds. The harness only ever talks to this interface, so the
numbers it reports differ only where the frameworks differ. The timed twins (torch, TensorFlow, JAX)
each also hold twin_base.py: the framework's BaseTwin, with the steps and scaffolding its workload
twins share, so that each workloads/<workload>.py keeps only its network's own part.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from shared import batches
from shared.config import ExperimentConfig


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
    # Whether the framework's compute threads flush denormal floats to zero, measured by an op on
    # the configured runtime (None: not measured). Denormal Adam state costs PyTorch time on CPU
    # that TensorFlow's threads, which flush by default, never pay (README, "Fairness").
    flush_denormal: bool | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class DeviceBatch:
    """A batch already on the target device in the framework's own tensors."""
    x: Any
    y: Any
    size: int


class FrameworkTwin(abc.ABC):
    """One framework's implementation of a workload's network and its training step.

    Variants are execution modes of the same computation (e.g. "eager", "graph", "xla"),
    declared once in the package's variants.py (VARIANTS, DEFAULT_VARIANT).
    """

    framework: str  # registry name

    def __init__(self, cfg: ExperimentConfig, weights: Sequence, variant: str | None = None):
        from shared import registry, workloads
        from shared.errors import Unavailable
        self.cfg = cfg
        self.spec = registry.variant(self.framework, variant)  # a UserError lists the valid names
        self.variant = self.spec.name
        workload = workloads.get(cfg.workload)
        if self.spec.input not in workload.variant_inputs:
            raise Unavailable(f"{self.spec.name} feeds the network {self.spec.input} input; workload {workload.name} "
                              f"takes {' or '.join(workload.variant_inputs)} input only")

    @property
    def variant_label(self) -> str:
        return self.spec.label

    # --- moving data in --------------------------------------------------------------------
    @abc.abstractmethod
    def to_device(self, x: np.ndarray, y: np.ndarray | None = None) -> DeviceBatch:
        """Copy a batch (and int64 labels) into framework tensors on the device, in the variant's
        input representation: for a counts workload, dense variants take a float32 array and
        sparse variants a scipy CSR batch (a dense array is converted to sparse, never the other
        way); for a tokens workload, an int32 (n, seq_len) array of token ids."""

    def rows_to_device(self, x: sp.csr_matrix, rows, y: np.ndarray | None = None) -> DeviceBatch:
        """The input pipeline for one batch: rows (an index array or a slice) of the prepared
        input x (CSR counts or int32 token ids), and y[rows] when labels are given, as a
        DeviceBatch in the variant's input representation. This default densifies CSR rows
        (dense variants) and takes token rows as they are; sparse variants override it to hand
        the CSR slice to their framework, so no dense batch ever exists. Every caller
        (shared/training.py, the harness) goes through here."""
        return self.to_device(batches.dense_rows(x, rows), y[rows] if y is not None else None)

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
    def get_weights(self) -> list:
        """Current weights in the structure Workload.initial_weights returns (for the MLP, (W (in,
        out), b) per layer), float32 numpy."""

    @abc.abstractmethod
    def synchronize(self) -> None:
        """Wait until all queued device work is done (a no-op where execution is synchronous)."""

    @abc.abstractmethod
    def step_breakdown(self, batch: DeviceBatch, repeats: int) -> dict[str, float]:
        """The training step taken apart: median seconds per step over `repeats` of each part,
        every part synchronised with the device before its clock stops:

          "forward"    forward pass + loss
          "backward"   the gradients (where a framework can only time forward+gradients
                       together, that minus "forward")
          "optimizer"  the update
          "readback"   the loss to the host
          "step"       the whole train_step + losses_to_numpy, measured in the same pass (each
                       repeat runs one decomposed step and one whole step), to check that the
                       parts add up

        It TRAINS (2 x repeats steps, plus warm-up steps that trace or compile the parts): the
        weights and optimizer state change. The harness calls it in a separate pass, on a freshly
        built model, after the timed phases; never between timed rounds."""

    def trace_count(self) -> int | None:
        """How many times a compiled step has been traced or compiled, recompilations included
        (None where nothing is traced)."""
        return None


BREAKDOWN_PARTS = ("forward", "backward", "optimizer", "readback")


def breakdown_medians(samples: dict[str, list[float]]) -> dict[str, float]:
    """Per-repeat seconds -> the median of each part, keys BREAKDOWN_PARTS + ("step",)."""
    return {k: float(np.median(samples[k])) for k in (*BREAKDOWN_PARTS, "step")}
