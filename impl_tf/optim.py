"""The optimizers every TensorFlow twin uses, by ExperimentConfig.optimizer: keras Adam (native),
PyTorch's Adam written out op by op (strict), plain SGD (sgd)."""
from __future__ import annotations

import keras
import tensorflow as tf

from shared.config import ExperimentConfig


class StrictAdam:
    """PyTorch's Adam update written out by hand, op for op as impl_torch/optim.py's StrictAdam
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
