"""The MLP as pure functions over a list of (W, b), W held (in, out) as Keras stores a kernel
(the shared layout as is); its variants (impl_jax/variants.py): the whole train step under
jax.jit (default) or op by op."""
from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
import scipy.sparse as sp
from jax.experimental import sparse as jsparse

from impl_jax.twin_base import BaseTwin
from shared import batches
from shared.contract import DeviceBatch
from shared.weights import Layer


def forward(params, x):
    """relu(x @ W + b) for every layer but the last, which gives the logits. x dense, or a BCOO
    batch (the sparse variant), whose x @ W is bcoo_dot_general: the same function serves both."""
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)  # relu's gradient at 0 is 0, as in PyTorch and TensorFlow
    w, b = params[-1]
    return x @ w + b


MIN_STORED = 1024  # the sparse variant's smallest padded nnz (one post has ~100-300 non-zeros)


def padded_nnz(nnz: int) -> int:
    """The sparse variant's stored-entry count for a batch of nnz non-zeros: the next power of two,
    at least MIN_STORED. A BCOO's nnz is part of its shape, and jit traces once per shape: unpadded,
    every batch and every single post would trace and compile anew; padded, all of an epoch's
    batches share one or two traces, for at most twice the entries (zeros, which add exactly 0)."""
    return max(MIN_STORED, 1 << max(int(nnz) - 1, 0).bit_length())


class Twin(BaseTwin):
    """The MLP's own part, the sparse input's included; the rest (steps, breakdown) is
    impl_jax/twin_base.py's."""

    _logits_of = staticmethod(forward)  # the module's function itself: no extra call in the step

    def _build(self, weights: Sequence[Layer]) -> list:
        self.sparse = self.spec.input == "sparse"
        return [(self._device_copy(w), self._device_copy(b)) for w, b in weights]

    def get_weights(self) -> list[Layer]:
        return [(np.array(w, np.float32), np.array(b, np.float32)) for w, b in self.params]  # copies

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        if self.sparse:
            tx = self._bcoo(x if sp.issparse(x) else sp.csr_matrix(np.asarray(x, np.float32)))
        else:
            tx = jax.device_put(np.asarray(x, np.float32), self.device)
        # int32: JAX without x64 mode has no int64 (labels are class indices, far below 2^31)
        ty = jax.device_put(np.asarray(y, np.int32), self.device) if y is not None else None
        jax.block_until_ready((tx, ty))  # the copy happens now, not inside the first step that uses it
        return DeviceBatch(tx, ty, x.shape[0])

    def rows_to_device(self, x: sp.csr_matrix, rows, y: np.ndarray | None = None) -> DeviceBatch:
        if not self.sparse:
            return super().rows_to_device(x, rows, y)
        return self.to_device(batches.sparse_rows(x, rows), y[rows] if y is not None else None)

    def _bcoo(self, x: sp.csr_matrix) -> jsparse.BCOO:
        """A BCOO batch on the device from a CSR one: (row, column) int32 indices in row-major
        order and float32 values, padded to padded_nnz with zero values at (0, 0), which add
        exactly 0 to the product and to its gradient (so the flags say neither sorted nor unique)."""
        x = sp.csr_matrix(x)
        if not x.has_canonical_format:
            x = x.copy()
            x.sum_duplicates()
        stored = padded_nnz(x.nnz)
        data = np.zeros(stored, np.float32)
        indices = np.zeros((stored, 2), np.int32)
        data[:x.nnz] = x.data
        indices[:x.nnz, 0] = np.repeat(np.arange(x.shape[0], dtype=np.int32), np.diff(x.indptr))
        indices[:x.nnz, 1] = x.indices
        return jsparse.BCOO((jax.device_put(data, self.device), jax.device_put(indices, self.device)),
                            shape=x.shape, indices_sorted=False, unique_indices=False)
