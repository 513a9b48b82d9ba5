"""The Transformer encoder classifier (shared/workloads/transformer) as pure JAX functions over a
list of parameter arrays in the workload's declared order, written out op by op: the same formula
in the same order as the PyTorch and TensorFlow twins (fair: the same computation; no
jax.nn.dot_product_attention). Variants (impl_jax/variants.py): the whole train step under
jax.jit (default) or op by op."""
from __future__ import annotations

import math
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from impl_jax.optim import make_optimizer, mean_cross_entropy
from impl_jax.runtime import device_of
from shared.config import ExperimentConfig
from shared.contract import BREAKDOWN_PARTS, DeviceBatch, FrameworkTwin, breakdown_medians

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


class Twin(FrameworkTwin):
    framework = "jax"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[np.ndarray], variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        s = cfg.settings
        self._shape = (s.heads, s.layers, s.ln_eps)
        # private copies: the jit step donates its parameters (see impl_jax/workloads/mlp.py)
        self.params = [jax.device_put(np.array(w, np.float32), self.device) for w in weights]
        self.optimizer = make_optimizer(cfg)
        self._state = None  # built at the first step, as torch.optim.Adam and Keras build theirs
        self._traces = 0
        self._parts = None
        self._train = self._compiled(self._train_impl, donate=(0, 1))
        self._forward = self._compiled(self._forward_impl)

    def _compiled(self, fn, donate=()):
        if self.spec.execution == "eager":
            return fn
        return jax.jit(fn, donate_argnums=donate)

    def _loss_of(self, params, x, y):
        return mean_cross_entropy(encoder(params, x, *self._shape), y)

    def _train_impl(self, params, state, x, y, *scalars):
        self._traces += 1  # Python side effect: under jit once per trace, never per call
        loss, grads = jax.value_and_grad(self._loss_of)(params, x, y)
        params, state = self.optimizer.apply(params, state, grads, *scalars)
        return params, state, loss

    def _forward_impl(self, params, x):
        self._traces += 1
        return encoder(params, x, *self._shape)

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        tx = jax.device_put(np.asarray(x, np.int32), self.device)
        ty = jax.device_put(np.asarray(y, np.int32), self.device) if y is not None else None
        jax.block_until_ready((tx, ty))
        return DeviceBatch(tx, ty, x.shape[0])

    def _ensure_state(self) -> None:
        if self._state is None:
            self._state = self.optimizer.init(self.params)

    def train_step(self, batch: DeviceBatch):
        self._ensure_state()
        self.params, self._state, loss = self._train(self.params, self._state, batch.x, batch.y,
                                                     *self.optimizer.host_scalars())
        return loss

    def losses_to_numpy(self, losses: list) -> np.ndarray:
        return np.asarray(jnp.stack(losses)) if losses else np.zeros(0, np.float32)

    def logits(self, batch: DeviceBatch) -> np.ndarray:
        return np.asarray(self._forward(self.params, batch.x))

    def loss(self, batch: DeviceBatch) -> float:
        return float(mean_cross_entropy(self._forward(self.params, batch.x), batch.y))

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(w, np.float32) for w in self.params]

    def synchronize(self) -> None:
        jax.block_until_ready((self.params, self._state))

    def trace_count(self) -> int | None:
        return None if self.spec.execution == "eager" else self._traces

    def _breakdown_functions(self):
        if self._parts is None:
            def forward_loss(params, x, y):
                return jax.vjp(lambda p: self._loss_of(p, x, y), params)

            def backward(pullback):
                return pullback(jnp.ones((), jnp.float32))[0]

            def apply(params, state, grads, *scalars):
                return self.optimizer.apply(params, state, grads, *scalars)

            self._parts = (self._compiled(forward_loss), self._compiled(backward), self._compiled(apply, donate=(0, 1)))
        return self._parts

    def step_breakdown(self, batch: DeviceBatch, repeats: int) -> dict[str, float]:
        """As the MLP's twin: forward = forward_loss (jax.vjp), backward = pullback(1.0), optimizer
        = apply, each waited for; readback = losses_to_numpy([loss]); then one whole train_step +
        losses_to_numpy. Trains: see FrameworkTwin.step_breakdown."""
        clock, sync = time.perf_counter, jax.block_until_ready
        forward_loss, backward, apply = self._breakdown_functions()
        self.losses_to_numpy([self.train_step(batch)])
        for _ in range(2):
            _, pullback = forward_loss(self.params, batch.x, batch.y)
            self.params, self._state = apply(self.params, self._state, backward(pullback),
                                             *self.optimizer.host_scalars())
        self.synchronize()
        samples = {k: [] for k in (*BREAKDOWN_PARTS, "step")}
        for _ in range(repeats):
            t0 = clock()
            loss, pullback = sync(forward_loss(self.params, batch.x, batch.y))
            t1 = clock()
            grads = sync(backward(pullback))
            t2 = clock()
            self.params, self._state = sync(apply(self.params, self._state, grads, *self.optimizer.host_scalars()))
            t3 = clock()
            self.losses_to_numpy([loss])
            t4 = clock()
            samples["forward"].append(t1 - t0)
            samples["backward"].append(t2 - t1)
            samples["optimizer"].append(t3 - t2)
            samples["readback"].append(t4 - t3)
            t0 = clock()
            self.losses_to_numpy([self.train_step(batch)])
            self.synchronize()
            samples["step"].append(clock() - t0)
        return breakdown_medians(samples)
