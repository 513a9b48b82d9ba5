"""Batch order and batches: the same indices, in the same order, for every framework, and what one
batch takes in each input representation."""
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


def dense_rows(x, rows: np.ndarray | slice) -> np.ndarray:
    """One dense batch: float32 rows of CSR counts (only ever a batch, never the whole matrix:
    V can be ~600k), or the int32 rows of a token-id matrix, contiguous."""
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x[rows])
    return np.ascontiguousarray(x[rows].toarray(), dtype=np.float32)


def sparse_rows(x: sp.csr_matrix, rows: np.ndarray | slice) -> sp.csr_matrix:
    """One batch as a CSR float32 slice with sorted, duplicate-free column indices per row (what
    the sparse variants hand to their framework); nothing is densified."""
    batch = x[rows]
    if batch.dtype != np.float32:
        batch = batch.astype(np.float32)
    if not batch.has_canonical_format:
        batch = batch.copy()
        batch.sum_duplicates()  # sorts the indices too
    return batch


def eval_chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


# What one batch of x holds, per input representation (labels, n_rows int64, not counted).
FLOAT32, INT64 = 4, 8


def dense_batch_bytes(n_rows: int, n_cols: int) -> int:
    return n_rows * n_cols * FLOAT32


def coo_batch_bytes(n_rows: int, nnz: int) -> int:
    """tf.SparseTensor (impl_tf sparse): float32 values, (nnz, 2) int64 indices, int64 dense_shape."""
    return nnz * (FLOAT32 + 2 * INT64) + 2 * INT64


def csr_batch_bytes(n_rows: int, nnz: int) -> int:
    """torch sparse CSR (impl_torch sparse): float32 values, int64 column indices, n_rows+1 int64 row pointers."""
    return nnz * (FLOAT32 + INT64) + (n_rows + 1) * INT64


def batch_bytes(input: str, n_rows: int, n_cols: int, nnz: int) -> int:
    """Bytes of one batch's x in a variant's input representation (Variant.input), for the
    harness's memory-fit check.

    dense: n_rows x n_cols float32. sparse: the larger of the two twins' layouts (TensorFlow's
    COO, PyTorch's CSR; COO whenever nnz > 0), so one figure bounds either framework; it is
    exact for TensorFlow and over-counts PyTorch's CSR by about 8 bytes per non-zero."""
    if input == "dense":
        return dense_batch_bytes(n_rows, n_cols)
    if input == "sparse":
        return max(coo_batch_bytes(n_rows, nnz), csr_batch_bytes(n_rows, nnz))
    raise ValueError(f"unknown input representation {input!r}: 'dense' or 'sparse'")


def rows_nnz(x, rows: np.ndarray | slice) -> int:
    """Non-zeros in x[rows]: for CSR counts from the row pointers (no slice is built); for a
    token-id matrix, the tokens that are not padding (id 0)."""
    if isinstance(x, np.ndarray):
        return int(np.count_nonzero(x[rows]))
    lengths = np.diff(x.indptr)
    return int(lengths[rows].sum())


def rows_bytes(x, rows: np.ndarray | slice, input: str) -> int:
    """Bytes of the batch x[rows] in a variant's input representation: batch_bytes for CSR
    counts; for a token-id matrix, its rows as they are (int32 ids, one input representation)."""
    if isinstance(x, np.ndarray):
        n = len(range(*rows.indices(x.shape[0]))) if isinstance(rows, slice) else len(rows)
        return n * x.shape[1] * x.itemsize
    n = len(range(*rows.indices(x.shape[0]))) if isinstance(rows, slice) else len(rows)
    return batch_bytes(input, n, x.shape[1], rows_nnz(x, rows))
