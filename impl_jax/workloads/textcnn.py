"""The text CNN (shared/workloads/textcnn) as pure functions over the shared weight list; its
variants (impl_jax/variants.py) that apply to token ids: the whole train step under jax.jit
(default) or op by op (the sparse-input variant is refused by FrameworkTwin). The convolutions
are lax.conv_general_dilated on the embedded batch as it comes, (B, L, E) = "NWC", with the
shared (w, E, F) kernel as it is, "WIO": no transposition anywhere."""
from __future__ import annotations

import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from impl_jax.optim import make_optimizer, mean_cross_entropy
from impl_jax.runtime import device_of
from shared.config import ExperimentConfig
from shared.contract import BREAKDOWN_PARTS, DeviceBatch, FrameworkTwin, breakdown_medians

DIMENSIONS = ("NWC", "WIO", "NWC")  # batch-time-channel input and output, (width, in, out) kernel


def forward(params, ids):
    """ids (B, L) int32 -> logits (B, C): embedding gather, per width relu(conv + bias) and its
    maximum over time, concatenated, the linear head."""
    embedding, *convs, head_w, head_b = params
    x = jnp.take(embedding, ids, axis=0)  # (B, L, E); its gradient is a scatter-add into the table
    pooled = []
    for k, b in zip(convs[0::2], convs[1::2]):
        z = jax.lax.conv_general_dilated(x, k, window_strides=(1,), padding="VALID", dimension_numbers=DIMENSIONS)
        pooled.append(jnp.max(jax.nn.relu(z + b), axis=1))  # max over time; ties share the gradient
    return jnp.concatenate(pooled, axis=1) @ head_w + head_b


def loss_of(params, x, y):
    return mean_cross_entropy(forward(params, x), y)


class Twin(FrameworkTwin):
    framework = "jax"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[np.ndarray], variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        # Private copies: the jit step donates its parameters (impl_jax/workloads/mlp.py says why).
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

    def _train_impl(self, params, state, x, y, *scalars):
        self._traces += 1  # Python side effect: under jit it runs once per trace, never per call
        loss, grads = jax.value_and_grad(loss_of)(params, x, y)
        params, state = self.optimizer.apply(params, state, grads, *scalars)
        return params, state, loss

    def _forward_impl(self, params, x):
        self._traces += 1
        return forward(params, x)

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        tx = jax.device_put(np.asarray(x, np.int32), self.device)
        ty = jax.device_put(np.asarray(y, np.int32), self.device) if y is not None else None  # no int64 without x64
        jax.block_until_ready((tx, ty))  # the copy happens now, not inside the first step that uses it
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
        return [np.array(w, np.float32) for w in self.params]  # copies

    def synchronize(self) -> None:
        jax.block_until_ready((self.params, self._state))

    def trace_count(self) -> int | None:
        """jit: traces of the train and predict functions, one per new input shape; None op by op."""
        return None if self.spec.execution == "eager" else self._traces

    def _breakdown_functions(self):
        """As the MLP twin's: forward+loss (jax.vjp), backward (the pullback applied to 1), the
        update, compiled as the variant compiles its train step."""
        if self._parts is None:
            def forward_loss(params, x, y):
                return jax.vjp(lambda p: loss_of(p, x, y), params)

            def backward(pullback):
                return pullback(jnp.ones((), jnp.float32))[0]

            def apply(params, state, grads, *scalars):
                return self.optimizer.apply(params, state, grads, *scalars)

            self._parts = (self._compiled(forward_loss), self._compiled(backward), self._compiled(apply, donate=(0, 1)))
        return self._parts

    def step_breakdown(self, batch: DeviceBatch, repeats: int) -> dict[str, float]:
        """As the MLP twin's: forward = forward_loss (jax.vjp), backward = pullback(1.0), optimizer
        = apply, each waited for before its clock stops; readback = losses_to_numpy([loss]); then
        one whole train_step + losses_to_numpy. Trains: see FrameworkTwin.step_breakdown."""
        clock, sync = time.perf_counter, jax.block_until_ready
        forward_loss, backward, apply = self._breakdown_functions()
        self.losses_to_numpy([self.train_step(batch)])  # warm-up: the optimizer state, the step's compilation
        for _ in range(2):  # warm-up: traces and compiles the parts
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
