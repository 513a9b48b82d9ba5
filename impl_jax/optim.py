"""The optimizers and the loss every JAX twin uses: optax.adam (native), PyTorch's Adam written out
op by op (strict), optax.sgd (sgd); the mean cross-entropy over integer labels."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from shared.config import ExperimentConfig


def mean_cross_entropy(logits, y):
    """Mean over the batch of -log softmax(logits)[y] (integer labels): nn.CrossEntropyLoss's and
    tf.nn.sparse_softmax_cross_entropy_with_logits' loss."""
    return jnp.mean(optax.losses.softmax_cross_entropy_with_integer_labels(logits, y))


class StrictAdam:
    """PyTorch's Adam update written out by hand, op for op as impl_torch/optim.py's and
    impl_tf/optim.py's StrictAdam: the step count and the bias corrections live on the host (float64,
    then passed as float32 scalars, as the others use them), the update is a pure function."""

    def __init__(self, cfg: ExperimentConfig):
        self.cfg, self.t = cfg, 0

    def init(self, params):
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return zeros, jax.tree_util.tree_map(jnp.zeros_like, params)

    def host_scalars(self) -> tuple:
        """One step's bias corrections; call once per update (it counts the step)."""
        c = self.cfg
        self.t += 1
        return np.float32(1.0 - c.beta1 ** self.t), np.float32(1.0 - c.beta2 ** self.t)

    def apply(self, params, state, grads, bc1, bc2):
        c = self.cfg
        leaves, tree = jax.tree_util.tree_flatten(params)
        m_in, v_in = (jax.tree_util.tree_leaves(s) for s in state)
        out_p, out_m, out_v = [], [], []
        # The same ops in the same order as the other twins' StrictAdam, each rounded once.
        for p, m, v, g in zip(leaves, m_in, v_in, jax.tree_util.tree_leaves(grads)):
            m = m * c.beta1 + g * (1.0 - c.beta1)
            v = v * c.beta2 + g * g * (1.0 - c.beta2)
            denom = jnp.sqrt(v / bc2) + c.adam_eps
            out_p.append(p - c.learning_rate * ((m / bc1) / denom))
            out_m.append(m)
            out_v.append(v)
        unflat = lambda xs: jax.tree_util.tree_unflatten(tree, xs)  # noqa: E731
        return unflat(out_p), (unflat(out_m), unflat(out_v))


class OptaxOptimizer:
    """An optax GradientTransformation behind StrictAdam's interface (no host scalars)."""

    def __init__(self, tx: optax.GradientTransformation):
        self.tx = tx

    def init(self, params):
        return self.tx.init(params)

    def host_scalars(self) -> tuple:
        return ()

    def apply(self, params, state, grads):
        updates, state = self.tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state


def make_optimizer(cfg: ExperimentConfig):
    """native: optax.adam, whose update is m_hat / (sqrt(v_hat) + eps) with both moments
    bias-corrected: epsilon sits where torch.optim.Adam puts it (Keras adds it to the uncorrected
    sqrt(v), see tests/test_equivalence.py), so native JAX and native PyTorch differ by rounding
    only. strict: StrictAdam. sgd: optax.sgd, p - lr * g."""
    if cfg.optimizer == "native":
        return OptaxOptimizer(optax.adam(learning_rate=cfg.learning_rate, b1=cfg.beta1, b2=cfg.beta2, eps=cfg.adam_eps))
    if cfg.optimizer == "strict":
        return StrictAdam(cfg)
    return OptaxOptimizer(optax.sgd(learning_rate=cfg.learning_rate))
