"""Batch order and dense batches: the same indices, in the same order, for every framework."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shared.config import ExperimentConfig


def epoch_order(cfg: ExperimentConfig, n_train: int, epoch: int) -> list[np.ndarray]:
    """Index arrays of the batches of one epoch, the tail batch dropped (as the tutorial did).

    Tutorial order: consecutive slices of the dataset order, the same every epoch.
    With shuffle_each_epoch: a permutation from a generator seeded by (seed, epoch), so any
    epoch's order can be rebuilt on its own, in any process.
    """
    if cfg.shuffle_each_epoch:
        order = np.random.default_rng([cfg.seed, epoch]).permutation(n_train)
    else:
        order = np.arange(n_train)
    n_batches = n_train // cfg.batch_size
    return [order[i * cfg.batch_size:(i + 1) * cfg.batch_size] for i in range(n_batches)]


def distinct_epochs(cfg: ExperimentConfig) -> int:
    """How many different epoch orders a run visits (1 in tutorial order)."""
    return cfg.epochs if cfg.shuffle_each_epoch else 1


def dense_rows(x: sp.csr_matrix, rows: np.ndarray | slice) -> np.ndarray:
    """One dense float32 batch; only ever a batch, never the whole matrix (V can be ~600k)."""
    return np.ascontiguousarray(x[rows].toarray(), dtype=np.float32)


def eval_chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]
