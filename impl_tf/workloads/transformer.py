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
import time
from typing import Sequence

import numpy as np
import tensorflow as tf

from impl_tf.optim import make_optimizer
from impl_tf.runtime import device_of
from shared.config import ExperimentConfig
from shared.contract import BREAKDOWN_PARTS, DeviceBatch, FrameworkTwin, breakdown_medians

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


class Twin(FrameworkTwin):
    framework = "tensorflow"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[np.ndarray], variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        s = self.settings = cfg.settings
        with tf.device(self.device):
            self.variables = [tf.Variable(np.asarray(w, np.float32), name=f"p{i}") for i, w in enumerate(weights)]
            self.optimizer = make_optimizer(self.variables, cfg)
        self._dense_grads = cfg.optimizer == "strict"  # StrictAdam's formula wants dense gradients
        self._traces = 0
        x_spec = tf.TensorSpec([None, s.seq_len], tf.int32)
        y_spec = tf.TensorSpec([None], tf.int64)
        self._specs = (x_spec, y_spec)
        self._parts = None
        self._train = self._compiled(self._train_impl, [x_spec, y_spec])
        self._forward = self._compiled(self._forward_impl, [x_spec])

    def _compiled(self, fn, signature):
        """eager: fn as is; else tf.function with a fixed signature (a free batch dimension), XLA-
        compiled for `xla`."""
        if self.spec.execution == "eager":
            return fn
        return tf.function(fn, input_signature=signature, jit_compile=self.spec.execution == "xla")

    def _logits(self, x):
        s = self.settings
        return encoder(self.variables, x, s.heads, s.layers, s.ln_eps)

    def _loss(self, logits, y):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))

    def _loss_and_grads(self, x, y):
        with tf.GradientTape() as tape:
            loss = self._loss(self._logits(x), y)
        grads = tape.gradient(loss, self.variables)
        if self._dense_grads:
            grads = [tf.convert_to_tensor(g) for g in grads]
        return loss, grads

    def _train_impl(self, x, y):
        self._traces += 1  # Python side effect: once per trace, never per call
        loss, grads = self._loss_and_grads(x, y)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        return loss

    def _forward_impl(self, x):
        self._traces += 1
        return self._logits(x)

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        with tf.device(self.device):
            tx = tf.identity(tf.convert_to_tensor(np.asarray(x, np.int32)))
            ty = tf.identity(tf.convert_to_tensor(np.asarray(y, dtype=np.int64))) if y is not None else None
        return DeviceBatch(tx, ty, x.shape[0])

    def train_step(self, batch: DeviceBatch):
        with tf.device(self.device):
            return self._train(batch.x, batch.y)

    def losses_to_numpy(self, losses: list) -> np.ndarray:
        return tf.stack(losses).numpy() if losses else np.zeros(0, np.float32)

    def logits(self, batch: DeviceBatch) -> np.ndarray:
        with tf.device(self.device):
            return self._forward(batch.x).numpy()

    def loss(self, batch: DeviceBatch) -> float:
        with tf.device(self.device):
            return float(self._loss(self._forward(batch.x), batch.y))

    def get_weights(self) -> list[np.ndarray]:
        return [v.numpy().copy() for v in self.variables]

    def synchronize(self) -> None:
        # as the MLP's twin: callers read a result back inside the timed region
        pass

    def trace_count(self) -> int | None:
        return None if self.spec.execution == "eager" else self._traces

    def _sync(self) -> None:
        if self.cfg.device == "gpu":
            tf.test.experimental.sync_devices()

    def _breakdown_functions(self):
        if self._parts is None:
            x_spec, y_spec = self._specs

            def forward_loss(x, y):
                return self._loss(self._logits(x), y)

            def apply(grads):
                self.optimizer.apply_gradients(zip(grads, self.variables))
                return tf.constant(0.0)

            # no signature for the update: it takes the gradients as loss_and_grads returns them,
            # the table's as IndexedSlices (of a batch-dependent row count) unless densified
            self._parts = (self._compiled(forward_loss, [x_spec, y_spec]),
                           self._compiled(self._loss_and_grads, [x_spec, y_spec]),
                           self._compiled(apply, None))
        return self._parts

    def step_breakdown(self, batch: DeviceBatch, repeats: int) -> dict[str, float]:
        """As the MLP's twin: forward = forward_loss, backward = loss_and_grads minus forward (TF
        computes gradients only with their forward; floored at 0), optimizer = apply(grads),
        readback = losses_to_numpy([loss]); then one whole train_step + losses_to_numpy.
        Trains: see FrameworkTwin.step_breakdown."""
        clock, sync = time.perf_counter, self._sync
        forward_loss, loss_and_grads, apply = self._breakdown_functions()
        with tf.device(self.device):
            self.losses_to_numpy([self.train_step(batch)])
            for _ in range(2):
                forward_loss(batch.x, batch.y)
                apply(loss_and_grads(batch.x, batch.y)[1])
            sync()
            samples = {k: [] for k in (*BREAKDOWN_PARTS, "step", "forward_and_gradients")}
            for _ in range(repeats):
                t0 = clock()
                forward_loss(batch.x, batch.y)
                sync()
                t1 = clock()
                loss, grads = loss_and_grads(batch.x, batch.y)
                sync()
                t2 = clock()
                apply(grads)
                sync()
                t3 = clock()
                self.losses_to_numpy([loss])
                t4 = clock()
                samples["forward"].append(t1 - t0)
                samples["forward_and_gradients"].append(t2 - t1)
                samples["optimizer"].append(t3 - t2)
                samples["readback"].append(t4 - t3)
                t0 = clock()
                self.losses_to_numpy([self.train_step(batch)])
                sync()
                samples["step"].append(clock() - t0)
        samples["backward"] = [max(float(np.median(samples.pop("forward_and_gradients")) - np.median(samples["forward"])), 0.0)]
        return breakdown_medians(samples)
