"""The training and evaluation loop, written once for every framework (d2l's Trainer.fit idea:
the loop is shared, the step is the framework's)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shared.batches import dense_rows, distinct_epochs, epoch_order, eval_chunks
from shared.config import ExperimentConfig
from shared.contract import DeviceBatch, FrameworkTwin
from shared.dataset import PreparedData
from shared.weights import initial_weights, layer_sizes


def start_weights(cfg: ExperimentConfig, data: PreparedData):
    return initial_weights(layer_sizes(data.vocab_size, cfg.hidden, data.n_classes), cfg.seed)


def build(framework_cls, cfg: ExperimentConfig, data: PreparedData, variant: str | None = None,
          weights=None) -> FrameworkTwin:
    return framework_cls(cfg, weights if weights is not None else start_weights(cfg, data), variant)


def device_epoch(twin: FrameworkTwin, data: PreparedData, index_batches: list[np.ndarray]) -> list[DeviceBatch]:
    """The input pipeline: sparse rows -> dense float32 -> framework tensors on the device."""
    return [twin.to_device(dense_rows(data.x_train, idx), data.y_train[idx]) for idx in index_batches]


def device_epochs(twin: FrameworkTwin, cfg: ExperimentConfig, data: PreparedData) -> list[list[DeviceBatch]]:
    """Every distinct epoch of a run, converted ahead of time (one list in tutorial order)."""
    n = data.x_train.shape[0]
    return [device_epoch(twin, data, epoch_order(cfg, n, e)) for e in range(distinct_epochs(cfg))]


def run_epoch(twin: FrameworkTwin, batches: list[DeviceBatch]) -> np.ndarray:
    """One pass of training steps; returns the per-step losses (reading them syncs the device)."""
    return twin.losses_to_numpy([twin.train_step(b) for b in batches])


def predict_classes(twin: FrameworkTwin, x, eval_batch_size: int) -> np.ndarray:
    """Argmax predictions over a sparse matrix, in chunks so the dense matrix never exists whole."""
    out = [twin.logits(twin.to_device(dense_rows(x, s))).argmax(axis=1) for s in eval_chunks(x.shape[0], eval_batch_size)]
    return np.concatenate(out)


@dataclass
class FitResult:
    epoch_losses: list[np.ndarray] = field(default_factory=list)  # per epoch, per step
    test_predictions: np.ndarray | None = None
    test_accuracy: float | None = None

    @property
    def mean_epoch_loss(self) -> list[float]:
        return [float(np.mean(l)) for l in self.epoch_losses]


def epoch_fits_in_memory(cfg: ExperimentConfig, data: PreparedData, share: float = 0.25) -> bool:
    """Whether one pre-converted epoch (dense float32) takes at most `share` of available RAM."""
    import psutil

    need = (data.x_train.shape[0] // cfg.batch_size) * cfg.batch_size * data.vocab_size * 4
    return need <= share * psutil.virtual_memory().available


def fit(twin: FrameworkTwin, cfg: ExperimentConfig, data: PreparedData) -> FitResult:
    """Train for cfg.epochs, then score the test set.

    One epoch's batches are converted ahead of it and reused while the order repeats (the
    tutorial's); where an epoch would not fit in memory (all 20 groups: V = 591,932) each
    batch is built and converted just before its step instead."""
    n = data.x_train.shape[0]
    resident = epoch_fits_in_memory(cfg, data)
    result = FitResult()
    batches = None
    for e in range(cfg.epochs):
        order = epoch_order(cfg, n, e)
        if not resident:
            losses = twin.losses_to_numpy([twin.train_step(b) for b in
                                           (twin.to_device(dense_rows(data.x_train, i), data.y_train[i]) for i in order)])
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
