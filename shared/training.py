"""The training and evaluation loop, written once for every framework (d2l's Trainer.fit idea:
the loop is shared, the step is the framework's)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shared.batches import distinct_epochs, epoch_order, eval_chunks, rows_bytes
from shared.config import ExperimentConfig
from shared.contract import DeviceBatch, FrameworkTwin
from shared.dataset import PreparedData


def start_weights(cfg: ExperimentConfig, data: PreparedData):
    """The workload's initial weights for cfg.seed: what every twin of a comparison starts from."""
    from shared import workloads
    return workloads.get(cfg.workload).initial_weights(cfg, data)


def build(framework_cls, cfg: ExperimentConfig, data: PreparedData, variant: str | None = None,
          weights=None) -> FrameworkTwin:
    return framework_cls(cfg, weights if weights is not None else start_weights(cfg, data), variant)


def device_epoch(twin: FrameworkTwin, data: PreparedData, index_batches: list[np.ndarray]) -> list[DeviceBatch]:
    """The input pipeline: sparse rows -> framework tensors on the device, in the twin's own
    input representation (dense float32 batches, or sparse ones for sparse variants)."""
    return [twin.rows_to_device(data.x_train, idx, data.y_train) for idx in index_batches]


def device_epochs(twin: FrameworkTwin, cfg: ExperimentConfig, data: PreparedData) -> list[list[DeviceBatch]]:
    """Every distinct epoch of a run, converted ahead of time (one list in tutorial order)."""
    n = data.x_train.shape[0]
    return [device_epoch(twin, data, epoch_order(cfg, n, e)) for e in range(distinct_epochs(cfg))]


def run_epoch(twin: FrameworkTwin, batches: list[DeviceBatch]) -> np.ndarray:
    """One pass of training steps; returns the per-step losses (reading them syncs the device)."""
    return twin.losses_to_numpy([twin.train_step(b) for b in batches])


def predict_classes(twin: FrameworkTwin, x, eval_batch_size: int) -> np.ndarray:
    """Argmax predictions over a sparse matrix, in chunks so the dense matrix never exists whole."""
    out = [twin.logits(twin.rows_to_device(x, s)).argmax(axis=1) for s in eval_chunks(x.shape[0], eval_batch_size)]
    return np.concatenate(out)


@dataclass
class FitResult:
    epoch_losses: list[np.ndarray] = field(default_factory=list)  # per epoch, per step
    test_predictions: np.ndarray | None = None
    test_accuracy: float | None = None

    @property
    def mean_epoch_loss(self) -> list[float]:
        return [float(np.mean(l)) for l in self.epoch_losses]


def epoch_bytes(cfg: ExperimentConfig, data: PreparedData, input: str = "dense", epoch: int = 0) -> int:
    """Bytes of one pre-converted epoch's batches in an input representation (Variant.input)."""
    x = data.x_train
    return sum(rows_bytes(x, idx, input) for idx in epoch_order(cfg, x.shape[0], epoch))


def epoch_fits_in_memory(cfg: ExperimentConfig, data: PreparedData, share: float = 0.25, input: str = "dense") -> bool:
    """Whether one pre-converted epoch, in the given input representation, takes at most `share`
    of available RAM."""
    import psutil

    return epoch_bytes(cfg, data, input) <= share * psutil.virtual_memory().available


def fit(twin: FrameworkTwin, cfg: ExperimentConfig, data: PreparedData) -> FitResult:
    """Train for cfg.epochs, then score the test set.

    One epoch's batches are converted ahead of it and reused while the order repeats (the
    tutorial's); where an epoch would not fit in memory in the twin's input representation
    (all 20 groups dense: V = 591,932) each batch is built and converted just before its step
    instead. Batches come from twin.rows_to_device, so sparse variants never densify."""
    n = data.x_train.shape[0]
    resident = epoch_fits_in_memory(cfg, data, input=twin.spec.input)
    result = FitResult()
    batches = None
    for e in range(cfg.epochs):
        order = epoch_order(cfg, n, e)
        if not resident:
            losses = twin.losses_to_numpy([twin.train_step(twin.rows_to_device(data.x_train, i, data.y_train))
                                           for i in order])
        else:
            if batches is None or cfg.shuffle_each_epoch:
                batches = None  # release the previous epoch before building the next
                batches = device_epoch(twin, data, order)
            losses = run_epoch(twin, batches)
        result.epoch_losses.append(losses)
    batches = None
    result.test_predictions = predict_classes(twin, data.x_test, cfg.eval_batch_size)
    result.test_accuracy = float(np.mean(result.test_predictions == data.y_test))
    return result
