"""What every plain JAX script shares after building its step: the loop over the batches in dataset
order, its timing, and the read-back (imports jax; the scripts' own parts stay in each script)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.plain.common import emit, timed_epochs
from impl_jax import runtime
from shared.environment import threads_named


def train_and_emit(args, train_step, params, opt_state, batches) -> None:
    def run_epoch():
        nonlocal params, opt_state
        losses = []
        for xb, yb in batches:
            params, opt_state, loss = train_step(params, opt_state, xb, yb)
            losses.append(loss)
        # JAX dispatches asynchronously: wait for the last update too, as JAX's FAQ on timing says
        jax.block_until_ready((params, opt_state))
        return np.asarray(jnp.stack(losses))

    times, losses = timed_epochs(run_epoch, args.epochs)
    # read back after timing as the twin reads it (JAX has no getter, impl_jax/runtime.py): XLA's pool
    # threads counted in /proc, and its denormal probe (a 64 MB buffer: malloc's thresholds stay as they are)
    emit(args, "jax", times, losses, {"intra_op_threads": threads_named(runtime.POOL_THREAD),
                                      "inter_op_threads": 1,  # XLA:CPU has no inter-op pool to size
                                      "flush_denormal": runtime.flushes_denormals(),
                                      "version": jax.__version__})
