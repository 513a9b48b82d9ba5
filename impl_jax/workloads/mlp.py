"""The MLP as pure functions over a list of (W, b), W held (in, out) as Keras stores a kernel
(the shared layout as is); its variants (impl_jax/variants.py): the whole train step under
jax.jit (default) or op by op."""
from __future__ import annotations

import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax.experimental import sparse as jsparse

from impl_jax.optim import make_optimizer, mean_cross_entropy
from impl_jax.runtime import device_of
from shared import batches
from shared.config import ExperimentConfig
from shared.contract import BREAKDOWN_PARTS, DeviceBatch, FrameworkTwin, breakdown_medians
from shared.weights import Layer


def forward(params, x):
    """relu(x @ W + b) for every layer but the last, which gives the logits. x dense, or a BCOO
    batch (the sparse variant), whose x @ W is bcoo_dot_general: the same function serves both."""
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)  # relu's gradient at 0 is 0, as in PyTorch and TensorFlow
    w, b = params[-1]
    return x @ w + b


def loss_of(params, x, y):
    return mean_cross_entropy(forward(params, x), y)


MIN_STORED = 1024  # the sparse variant's smallest padded nnz (one post has ~100-300 non-zeros)


def padded_nnz(nnz: int) -> int:
    """The sparse variant's stored-entry count for a batch of nnz non-zeros: the next power of two,
    at least MIN_STORED. A BCOO's nnz is part of its shape, and jit traces once per shape: unpadded,
    every batch and every single post would trace and compile anew; padded, all of an epoch's
    batches share one or two traces, for at most twice the entries (zeros, which add exactly 0)."""
    return max(MIN_STORED, 1 << max(int(nnz) - 1, 0).bit_length())


class Twin(FrameworkTwin):
    framework = "jax"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[Layer], variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        # Private copies: the jit step donates (overwrites) its parameters, which must never be the
        # caller's shared initial weights; jax.device_put copies a numpy array today (checked with
        # jax 0.10.2), but may alias one on the CPU (its may_alias option), and a copy costs once.
        self.params = [(jax.device_put(np.array(w, np.float32), self.device),
                        jax.device_put(np.array(b, np.float32), self.device)) for w, b in weights]
        self.sparse = self.spec.input == "sparse"
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

    def _compiled(self, fn, donate=()):
        """The variant's execution of fn: op by op as is; else jax.jit (a fresh model traces and
        compiles afresh, as a fresh tf.function does; each new input shape traces again)."""
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
        if self.sparse:
            tx = self._bcoo(x if sp.issparse(x) else sp.csr_matrix(np.asarray(x, np.float32)))
        else:
            tx = jax.device_put(np.asarray(x, np.float32), self.device)
        # int32: JAX without x64 mode has no int64 (labels are class indices, far below 2^31)
        ty = jax.device_put(np.asarray(y, np.int32), self.device) if y is not None else None
        jax.block_until_ready((tx, ty))  # the copy happens now, not inside the first step that uses it
        return DeviceBatch(tx, ty, x.shape[0])

    def rows_to_device(self, x: sp.csr_matrix, rows, y: np.ndarray | None = None) -> DeviceBatch:
        if not self.sparse:
            return super().rows_to_device(x, rows, y)
        return self.to_device(batches.sparse_rows(x, rows), y[rows] if y is not None else None)

    def _bcoo(self, x: sp.csr_matrix) -> jsparse.BCOO:
        """A BCOO batch on the device from a CSR one: (row, column) int32 indices in row-major
        order and float32 values, padded to padded_nnz with zero values at (0, 0), which add
        exactly 0 to the product and to its gradient (so the flags say neither sorted nor unique)."""
        x = sp.csr_matrix(x)
        if not x.has_canonical_format:
            x = x.copy()
            x.sum_duplicates()
        stored = padded_nnz(x.nnz)
        data = np.zeros(stored, np.float32)
        indices = np.zeros((stored, 2), np.int32)
        data[:x.nnz] = x.data
        indices[:x.nnz, 0] = np.repeat(np.arange(x.shape[0], dtype=np.int32), np.diff(x.indptr))
        indices[:x.nnz, 1] = x.indices
        return jsparse.BCOO((jax.device_put(data, self.device), jax.device_put(indices, self.device)),
                            shape=x.shape, indices_sorted=False, unique_indices=False)

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

    def get_weights(self) -> list[Layer]:
        return [(np.array(w, np.float32), np.array(b, np.float32)) for w, b in self.params]  # copies

    def synchronize(self) -> None:
        # JAX dispatches asynchronously: wait for the last step's outputs (parameters and
        # optimizer state), so the device work is inside the caller's timed region.
        jax.block_until_ready((self.params, self._state))

    def trace_count(self) -> int | None:
        """jit: traces of the train and predict functions, one per new input shape
        (step_breakdown's own functions not counted); None op by op (nothing is traced)."""
        return None if self.spec.execution == "eager" else self._traces

    def _breakdown_functions(self):
        """forward+loss (jax.vjp: the forward that keeps what the gradients need, returning the
        pullback), backward (the pullback applied to 1), the update: separate functions, compiled
        as the variant compiles its train step (jit or none)."""
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
        """forward = forward_loss(params, x, y) (jax.vjp), backward = pullback(1.0), optimizer =
        apply(params, state, grads), each waited for with jax.block_until_ready before its clock
        stops; readback = losses_to_numpy([loss]); then one whole train_step + losses_to_numpy.
        Trains: see FrameworkTwin.step_breakdown."""
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
