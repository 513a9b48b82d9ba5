"""The Transformer encoder classifier (shared/workloads/transformer) as pure JAX functions over a
list of parameter arrays in the workload's declared order, written out op by op: the same formula
in the same order as the PyTorch and TensorFlow twins (fair: the same computation; no
jax.nn.dot_product_attention). Variants (impl_jax/variants.py): the whole train step under
jax.jit (default) or op by op."""
from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from impl_jax.twin_base import BaseTwin

MASKED = -1e9  # added to the scores of padding keys: exp underflows to exactly 0, never a NaN


def layer_norm(x, gamma, beta, eps: float):
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last axis, the biased variance."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    centred = x - mean
    var = jnp.mean(centred * centred, axis=-1, keepdims=True)
    return centred / jnp.sqrt(var + eps) * gamma + beta


def encoder(p, ids, heads: int, layers: int, eps: float):
    """Logits (B, C) of token ids (B, L) under the parameters p (parameter_names' order)."""
    table, position = p[0], p[1]
    B, L = ids.shape
    d = table.shape[1]
    H = heads
    dh = d // H
    keep = (ids != 0).astype(jnp.float32)  # (B, L): 1 for a token, 0 for padding
    mask_add = (1.0 - keep) * MASKED

    def split(t):  # (B, L, d) -> (B, H, L, dh)
        return t.reshape(B, L, H, dh).transpose(0, 2, 1, 3)

    x = jnp.take(table, ids, axis=0) + position[:L]
    for l in range(layers):
        (g1, b1, wq, bq, wk, bk, wv, bv, wo, bo, g2, b2, w1, c1, w2, c2) = p[2 + 16 * l: 18 + 16 * l]
        h = layer_norm(x, g1, b1, eps)
        q, k, v = split(h @ wq + bq), split(h @ wk + bk), split(h @ wv + bv)
        scores = (q @ k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(dh)) + mask_add[:, None, None, :]
        context = (jax.nn.softmax(scores, axis=-1) @ v).transpose(0, 2, 1, 3).reshape(B, L, d)
        x = x + (context @ wo + bo)
        h = layer_norm(x, g2, b2, eps)
        x = x + (jax.nn.relu(h @ w1 + c1) @ w2 + c2)
    gf, bf, wh, bh = p[-4:]
    x = layer_norm(x, gf, bf, eps)
    pooled = jnp.sum(x * keep[:, :, None], axis=1) / jnp.maximum(jnp.sum(keep, axis=1, keepdims=True), 1.0)
    return pooled @ wh + bh


class Twin(BaseTwin):
    """The encoder's own part; the rest (steps, breakdown) is impl_jax/twin_base.py's."""

    def _build(self, weights: Sequence[np.ndarray]) -> list:
        s = self.cfg.settings
        self._shape = (s.heads, s.layers, s.ln_eps)
        return [self._device_copy(w) for w in weights]

    def _logits_of(self, params, x):
        return encoder(params, x, *self._shape)

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(w, np.float32) for w in self.params]
