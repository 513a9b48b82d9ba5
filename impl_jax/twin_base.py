"""What every JAX workload twin shares (impl_jax/workloads/<workload>.py): the device, the
optimizer and its state, the train and predict steps under jax.jit (or op by op), the loss,
inference, synchronisation, trace counting and the step breakdown. A workload twin subclasses
BaseTwin and adds only what is its network's own: its parameters from the shared weights
(_build), its forward pass (_logits_of), reading the weights back (get_weights), and its input
representation where it is not token ids (to_device)."""
from __future__ import annotations

import abc
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from impl_jax.optim import make_optimizer, mean_cross_entropy
from impl_jax.runtime import device_of
from shared.config import ExperimentConfig
from shared.contract import BREAKDOWN_PARTS, DeviceBatch, FrameworkTwin, breakdown_medians


class BaseTwin(FrameworkTwin):
    """A workload's network as a pure function of its parameters (self.params), the whole train
    step under jax.jit (op by op for `eager`)."""

    framework = "jax"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence, variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        self.params = self._build(weights)
        self.optimizer = make_optimizer(cfg)
        # Built at the first step, as torch.optim.Adam and Keras build their state: the first epoch
        # pays for it in every framework.
        self._state = None
        self._traces = 0
        self._parts = None  # step_breakdown's functions, built at its first call
        # Parameters and optimizer state are donated: XLA writes the update into their buffers,
        # as the other twins update in place, instead of allocating ~150 MB afresh every step.
        self._train = self._compiled(self._train_impl, donate=(0, 1))
        self._forward = self._compiled(self._forward_impl)

    # --- what each workload gives ----------------------------------------------------------
    @abc.abstractmethod
    def _build(self, weights: Sequence):
        """The parameters (a pytree of device arrays, each a _device_copy) from the shared
        initial weights."""

    @abc.abstractmethod
    def _logits_of(self, params, x):
        """The network: logits (B, C) of the input batch x under params (a pure function)."""

    def _device_copy(self, array) -> jax.Array:
        """A private float32 copy of a shared weight array on the device. Private: the jit step
        donates (overwrites) its parameters, which must never be the caller's shared initial
        weights; jax.device_put copies a numpy array today (checked with jax 0.10.2), but may alias
        one on the CPU (its may_alias option), and a copy costs once."""
        return jax.device_put(np.array(array, np.float32), self.device)

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        """Token ids as int32 (n, seq_len), the token workloads' input (the MLP's counts override it)."""
        tx = jax.device_put(np.asarray(x, np.int32), self.device)
        ty = jax.device_put(np.asarray(y, np.int32), self.device) if y is not None else None  # no int64 without x64
        jax.block_until_ready((tx, ty))  # the copy happens now, not inside the first step that uses it
        return DeviceBatch(tx, ty, x.shape[0])

    # --- the steps -------------------------------------------------------------------------
    def _compiled(self, fn, donate=()):
        """The variant's execution of fn: op by op as is; else jax.jit (a fresh model traces and
        compiles afresh, as a fresh tf.function does; each new input shape traces again)."""
        if self.spec.execution == "eager":
            return fn
        return jax.jit(fn, donate_argnums=donate)

    def _loss_of(self, params, x, y):
        return mean_cross_entropy(self._logits_of(params, x), y)

    def _train_impl(self, params, state, x, y, *scalars):
        self._traces += 1  # Python side effect: under jit it runs once per trace, never per call
        loss, grads = jax.value_and_grad(self._loss_of)(params, x, y)
        params, state = self.optimizer.apply(params, state, grads, *scalars)
        return params, state, loss

    def _forward_impl(self, params, x):
        self._traces += 1
        return self._logits_of(params, x)

    def _ensure_state(self) -> None:
        if self._state is None:
            self._state = self.optimizer.init(self.params)

    def train_step(self, batch: DeviceBatch):
        self._ensure_state()
        self.params, self._state, loss = self._train(self.params, self._state, batch.x, batch.y,
                                                     *self.optimizer.host_scalars())
        return loss  # dispatched, not waited for

    def losses_to_numpy(self, losses: list) -> np.ndarray:
        return np.asarray(jnp.stack(losses)) if losses else np.zeros(0, np.float32)  # one read-back, as torch

    def logits(self, batch: DeviceBatch) -> np.ndarray:
        return np.asarray(self._forward(self.params, batch.x))

    def loss(self, batch: DeviceBatch) -> float:
        return float(mean_cross_entropy(self._forward(self.params, batch.x), batch.y))

    def synchronize(self) -> None:
        # JAX dispatches asynchronously: wait for the last step's outputs (parameters and
        # optimizer state), so the device work is inside the caller's timed region.
        jax.block_until_ready((self.params, self._state))

    def trace_count(self) -> int | None:
        """jit: traces of the train and predict functions, one per new input shape
        (step_breakdown's own functions not counted); None op by op (nothing is traced)."""
        return None if self.spec.execution == "eager" else self._traces

    # --- the step taken apart ----------------------------------------------------------------
    def _breakdown_functions(self):
        """forward+loss (jax.vjp: the forward that keeps what the gradients need, returning the
        pullback), backward (the pullback applied to 1), the update: separate functions, compiled
        as the variant compiles its train step (jit or none)."""
        if self._parts is None:
            def forward_loss(params, x, y):
                return jax.vjp(lambda p: self._loss_of(p, x, y), params)

            def backward(pullback):
                return pullback(jnp.ones((), jnp.float32))[0]

            def apply(params, state, grads, *scalars):
                return self.optimizer.apply(params, state, grads, *scalars)

            # The input is donated to forward_loss: the pullback keeps x as a residual, and an
            # output may alias only a donated input, so without it XLA copies x into the residuals
            # (72 MB a batch for the tutorial's counts: forward 87 ms against a 100 ms whole step
            # here, parts / step 1.52), a copy the whole jitted step never makes.
            self._parts = (self._compiled(forward_loss, donate=(1,)), self._compiled(backward),
                           self._compiled(apply, donate=(0, 1)))
        return self._parts

    def step_breakdown(self, batch: DeviceBatch, repeats: int) -> dict[str, float]:
        """forward = forward_loss(params, x, y) (jax.vjp, on a fresh copy of x that it consumes),
        backward = pullback(1.0), optimizer = apply(params, state, grads), each waited for with
        jax.block_until_ready before its clock stops; readback = losses_to_numpy([loss]); then one whole train_step + losses_to_numpy.
        Trains: see FrameworkTwin.step_breakdown."""
        clock, sync = time.perf_counter, jax.block_until_ready
        forward_loss, backward, apply = self._breakdown_functions()
        self.losses_to_numpy([self.train_step(batch)])  # warm-up: the optimizer state, the step's compilation

        def fresh_x():  # forward_loss consumes (donates) its input: a copy a call, made off the clock
            return sync(jax.tree_util.tree_map(jnp.copy, batch.x))

        for _ in range(2):  # warm-up: traces and compiles the parts
            _, pullback = forward_loss(self.params, fresh_x(), batch.y)
            self.params, self._state = apply(self.params, self._state, backward(pullback),
                                             *self.optimizer.host_scalars())
        self.synchronize()
        samples = {k: [] for k in (*BREAKDOWN_PARTS, "step")}
        for _ in range(repeats):
            x = fresh_x()
            t0 = clock()
            loss, pullback = sync(forward_loss(self.params, x, batch.y))
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
