"""The MLP as Keras layers, trained through tf.function steps with fixed input signatures."""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from impl_tf.runtime import device_of
from shared.config import ExperimentConfig
from shared.contract import DeviceBatch, FrameworkTwin
from shared.weights import Layer, sizes_of


def build_mlp(sizes: list[int]) -> keras.Sequential:
    layers = [keras.Input(shape=(sizes[0],), dtype="float32")]
    layers += [keras.layers.Dense(n, activation="relu") for n in sizes[1:-1]]
    layers.append(keras.layers.Dense(sizes[-1]))
    return keras.Sequential(layers)


class StrictAdam:
    """PyTorch's Adam update written out by hand, op for op as impl_torch/twin.py's StrictAdam
    (bias corrections in float64, then used as float32 scalars)."""

    def __init__(self, variables: list, cfg: ExperimentConfig):
        self.variables, self.cfg = variables, cfg
        self.t = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]

    def apply_gradients(self, grads_and_vars) -> None:
        c = self.cfg
        self.t.assign_add(1.0)
        bc1 = tf.cast(1.0 - tf.pow(tf.constant(c.beta1, tf.float64), self.t), tf.float32)
        bc2 = tf.cast(1.0 - tf.pow(tf.constant(c.beta2, tf.float64), self.t), tf.float32)
        for (g, p), m, v in zip(grads_and_vars, self.m, self.v):
            m.assign(m * c.beta1 + g * (1.0 - c.beta1))
            v.assign(v * c.beta2 + g * g * (1.0 - c.beta2))
            denom = tf.sqrt(v / bc2) + c.adam_eps
            p.assign_sub(c.learning_rate * ((m / bc1) / denom))


def make_optimizer(variables: list, cfg: ExperimentConfig):
    # Keras' own optimizers are not built here: they create their slots at the first step, as
    # torch.optim.Adam does, so both frameworks pay that first-use cost in the timed first epoch.
    if cfg.optimizer == "native":
        return keras.optimizers.Adam(learning_rate=cfg.learning_rate, beta_1=cfg.beta1, beta_2=cfg.beta2,
                                     epsilon=cfg.adam_eps)
    if cfg.optimizer == "strict":
        return StrictAdam(variables, cfg)
    return keras.optimizers.SGD(learning_rate=cfg.learning_rate)


class Twin(FrameworkTwin):
    framework = "tensorflow"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[Layer], variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        sizes = sizes_of(weights)
        with tf.device(self.device):
            self.model = build_mlp(sizes)
            for layer, (w, b) in zip(self.model.layers, weights):
                layer.kernel.assign(w)  # Keras kernels are (in, out): the shared layout as is
                layer.bias.assign(b)
            self.variables = self.model.trainable_variables
            self.optimizer = make_optimizer(self.variables, cfg)
        self._traces = 0
        x_spec = tf.TensorSpec([None, sizes[0]], tf.float32)
        y_spec = tf.TensorSpec([None], tf.int64)
        if self.variant == "eager":
            self._train, self._forward = self._train_impl, self._forward_impl
        else:
            jit = self.variant == "xla"
            # Fixed signatures with a free batch dimension: one trace each, whatever the batch size.
            self._train = tf.function(self._train_impl, input_signature=[x_spec, y_spec], jit_compile=jit)
            self._forward = tf.function(self._forward_impl, input_signature=[x_spec], jit_compile=jit)

    def _loss(self, logits, y):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))

    def _train_impl(self, x, y):
        self._traces += 1  # Python side effect: runs once per trace, never per call
        with tf.GradientTape() as tape:
            loss = self._loss(self.model(x, training=True), y)
        grads = tape.gradient(loss, self.variables)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        return loss

    def _forward_impl(self, x):
        self._traces += 1
        return self.model(x, training=False)

    def to_device(self, x: np.ndarray, y: np.ndarray | None = None) -> DeviceBatch:
        with tf.device(self.device):
            # identity forces the copy onto the device now, not at the first step that uses it
            tx = tf.identity(tf.convert_to_tensor(x, dtype=tf.float32))
            ty = tf.identity(tf.convert_to_tensor(np.asarray(y, dtype=np.int64))) if y is not None else None
        return DeviceBatch(tx, ty, x.shape[0])

    def train_step(self, batch: DeviceBatch):
        with tf.device(self.device):
            return self._train(batch.x, batch.y)

    def losses_to_numpy(self, losses: list) -> np.ndarray:
        return tf.stack(losses).numpy() if losses else np.zeros(0, np.float32)  # one read-back, as torch

    def logits(self, batch: DeviceBatch) -> np.ndarray:
        with tf.device(self.device):
            return self._forward(batch.x).numpy()

    def loss(self, batch: DeviceBatch) -> float:
        with tf.device(self.device):
            return float(self._loss(self._forward(batch.x), batch.y))

    def get_weights(self) -> list[Layer]:
        return [(l.kernel.numpy().copy(), l.bias.numpy().copy()) for l in self.model.layers]

    def synchronize(self) -> None:
        # TF has no device-wide barrier in Python; callers read a result back (losses_to_numpy,
        # logits) inside the timed region, which waits for the work that produced it.
        pass

    def trace_count(self) -> int | None:
        return None if self.variant == "eager" else self._traces
