"""The MLP as Keras layers, trained through tf.function steps with fixed input signatures; its
variants (impl_tf/variants.py): eager, XLA, and a sparse-input first layer."""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import scipy.sparse as sp
import tensorflow as tf

from impl_tf.twin_base import BaseTwin
from shared import batches
from shared.contract import DeviceBatch
from shared.weights import Layer, sizes_of


def build_mlp(sizes: list[int]) -> keras.Sequential:
    layers = [keras.Input(shape=(sizes[0],), dtype="float32")]
    layers += [keras.layers.Dense(n, activation="relu") for n in sizes[1:-1]]
    layers.append(keras.layers.Dense(sizes[-1]))
    return keras.Sequential(layers)


class Twin(BaseTwin):
    """The MLP's own part, the sparse input's included; the rest (steps, breakdown) is
    impl_tf/twin_base.py's."""

    def _build(self, weights: Sequence[Layer]) -> list:
        sizes = sizes_of(weights)
        self.model = build_mlp(sizes)
        for layer, (w, b) in zip(self.model.layers, weights):
            layer.kernel.assign(w)  # Keras kernels are (in, out): the shared layout as is
            layer.bias.assign(b)
        self.sparse = self.spec.input == "sparse"
        self.n_features = sizes[0]
        return self.model.trainable_variables

    def _input_spec(self):
        """Counts, (None, n_features): float32, or a SparseTensor for the sparse variant."""
        return (tf.SparseTensorSpec([None, self.n_features], tf.float32) if self.sparse
                else tf.TensorSpec([None, self.n_features], tf.float32))

    def _model_forward(self, x, training: bool):
        """The Keras model; for sparse input its first Dense layer is applied here as
        relu(sparse_dense_matmul(x, kernel) + bias) on that layer's own variables (Keras 3 layers
        take no SparseTensor), then the other layers as they are."""
        if not self.sparse:
            return self.model(x, training=training)
        first = self.model.layers[0]
        h = tf.nn.relu(tf.sparse.sparse_dense_matmul(x, first.kernel.value) + first.bias.value)
        for layer in self.model.layers[1:]:
            h = layer(h, training=training)
        return h

    def get_weights(self) -> list[Layer]:
        return [(l.kernel.numpy().copy(), l.bias.numpy().copy()) for l in self.model.layers]

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        with tf.device(self.device):
            # identity forces the copy onto the device now, not at the first step that uses it
            if self.sparse:
                tx = self._sparse_tensor(x if sp.issparse(x) else sp.csr_matrix(np.asarray(x, np.float32)))
            else:
                tx = tf.identity(tf.convert_to_tensor(x, dtype=tf.float32))
            ty = tf.identity(tf.convert_to_tensor(np.asarray(y, dtype=np.int64))) if y is not None else None
        return DeviceBatch(tx, ty, x.shape[0])

    def rows_to_device(self, x: sp.csr_matrix, rows, y: np.ndarray | None = None) -> DeviceBatch:
        if not self.sparse:
            return super().rows_to_device(x, rows, y)
        return self.to_device(batches.sparse_rows(x, rows), y[rows] if y is not None else None)

    def _sparse_tensor(self, x: sp.csr_matrix) -> tf.SparseTensor:
        """A tf.SparseTensor (COO: (nnz, 2) int64 indices in row-major order, float32 values) on
        the device, from a CSR batch."""
        x = sp.csr_matrix(x)
        if not x.has_canonical_format:
            x = x.copy()
            x.sum_duplicates()
        rows = np.repeat(np.arange(x.shape[0], dtype=np.int64), np.diff(x.indptr))
        indices = np.stack([rows, x.indices.astype(np.int64)], axis=1)
        return tf.SparseTensor(tf.identity(tf.convert_to_tensor(indices)),
                               tf.identity(tf.convert_to_tensor(np.asarray(x.data, np.float32))),
                               tf.identity(tf.constant(x.shape, tf.int64)))
