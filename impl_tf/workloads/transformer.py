"""The Transformer encoder classifier (shared/workloads/transformer) in TensorFlow ops, written out
op by op: the same formula in the same order as the PyTorch and JAX twins (fair: the same
computation; keras MultiHeadAttention is not used), over tf.Variables in the workload's declared
order, trained through tf.function steps with a fixed input signature. Variants
(impl_tf/variants.py): graph (default), eager, XLA.

The token table's gradient is what tf.gather gives, tf.IndexedSlices (one row per token of the
batch, a repeated token repeated): keras Adam (native mode) takes it as it is, as a user's Keras
model with an Embedding layer would. Its moments then change only on the looked-up rows, one term
per occurrence, each from the same old moment (m += (1-b1) * sum_i (g_i - m), v += (1-b2) *
sum_i (g_i^2 - v): keras/src/optimizers/adam.py through the TF backend's scatter_add), while the
step itself is applied to every row. Measured with Keras 3.15: a row looked up twice with
gradient 1 each moves by sqrt(2)*lr at the first step; torch.optim.Adam, on the summed gradient
2, moves it by lr. That is Keras' sparse Adam, part of the native optimizers' difference (as is
where each adds epsilon). Strict mode densifies the gradient first (tf.convert_to_tensor sums the
repeated rows), so its update is PyTorch's formula on the same dense gradient as the other twins."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import tensorflow as tf

from impl_tf.twin_base import BaseTwin

MASKED = -1e9  # added to the scores of padding keys: exp underflows to exactly 0, never a NaN


def layer_norm(x, gamma, beta, eps: float):
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last axis, the biased variance."""
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    centred = x - mean
    var = tf.reduce_mean(centred * centred, axis=-1, keepdims=True)
    return centred / tf.sqrt(var + eps) * gamma + beta


def encoder(p: Sequence, ids, heads: int, layers: int, eps: float):
    """Logits (B, C) of token ids (B, L) under the parameters p (parameter_names' order)."""
    table, position = p[0], p[1]
    B, L = tf.shape(ids)[0], ids.shape[1]
    d = table.shape[1]
    H = heads
    dh = d // H
    keep = tf.cast(tf.not_equal(ids, 0), tf.float32)  # (B, L): 1 for a token, 0 for padding
    mask_add = (1.0 - keep) * MASKED

    def split(t):  # (B, L, d) -> (B, H, L, dh)
        return tf.transpose(tf.reshape(t, [B, L, H, dh]), [0, 2, 1, 3])

    x = tf.gather(table, ids) + position[:L]
    for l in range(layers):
        (g1, b1, wq, bq, wk, bk, wv, bv, wo, bo, g2, b2, w1, c1, w2, c2) = p[2 + 16 * l: 18 + 16 * l]
        h = layer_norm(x, g1, b1, eps)
        q, k, v = split(h @ wq + bq), split(h @ wk + bk), split(h @ wv + bv)
        scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(dh)) + mask_add[:, None, None, :]
        context = tf.reshape(tf.transpose(tf.nn.softmax(scores, axis=-1) @ v, [0, 2, 1, 3]), [B, L, d])
        x = x + (context @ wo + bo)
        h = layer_norm(x, g2, b2, eps)
        x = x + (tf.nn.relu(h @ w1 + c1) @ w2 + c2)
    gf, bf, wh, bh = p[-4:]
    x = layer_norm(x, gf, bf, eps)
    pooled = tf.reduce_sum(x * keep[:, :, None], axis=1) / tf.maximum(tf.reduce_sum(keep, axis=1, keepdims=True), 1.0)
    return pooled @ wh + bh


class Twin(BaseTwin):
    """The encoder's own part; the rest (steps, breakdown) is impl_tf/twin_base.py's."""

    def _build(self, weights: Sequence[np.ndarray]) -> list:
        self.settings = self.cfg.settings
        return [tf.Variable(np.asarray(w, np.float32), name=f"p{i}") for i, w in enumerate(weights)]

    def _densify_gradients(self) -> bool:
        # StrictAdam's formula wants dense gradients (the table's is IndexedSlices; see the module)
        return self.cfg.optimizer == "strict"

    def _model_forward(self, x, training: bool):
        # the encoder over self.variables, no Keras model: nothing in it depends on training
        s = self.settings
        return encoder(self.variables, x, s.heads, s.layers, s.ln_eps)

    def _breakdown_gradients(self):
        # no signature for the update: it takes the gradients as loss_and_grads returns them,
        # the table's as IndexedSlices (of a batch-dependent row count) unless densified
        return self._loss_and_grads, None

    def get_weights(self) -> list[np.ndarray]:
        return [v.numpy().copy() for v in self.variables]
