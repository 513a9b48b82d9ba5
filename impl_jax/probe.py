"""What JAX itself achieves on this device: a large float32 matmul (GFLOP/s) and a large
streaming read + write (GB/s), the yardsticks against which shared/costs.floor_seconds sets the
MLP's floor.

Runs inside the framework's own benchmark process after runtime.configure started JAX's client
with the run's threads (nothing here touches threads). Mirrors impl_torch/probe.py: same
functions, same keys. Timing: one untimed warm-up call (it also compiles), then `repeats` timed
calls of a jitted function, each ended by jax.block_until_ready on its output (JAX dispatches
asynchronously, on the CPU too). Best = shortest call.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from impl_jax.runtime import device_of
from shared.probing import copy_record, matmul_record, timed


def _tf32(device: str) -> bool:
    """True when float32 matmuls may run below full precision (the runtime sets "highest"; on the
    GPU a probe with it off would measure TF32, not float32, so that is refused)."""
    on = jax.config.jax_default_matmul_precision not in ("highest", "float32")
    if device == "gpu" and on:
        raise RuntimeError("TF32 is enabled: call runtime.configure first (float32 matmul must be full precision)")
    return on


def matmul_gflops(n: int = 2048, repeats: int = 5, device: str = "cpu") -> dict:
    """Achieved GFLOP/s of a jitted a @ b on float32 n x n @ n x n (2*n^3 FLOPs a call), best and
    median over `repeats` timed calls (XLA allocates each output; no out= in JAX)."""
    if n < 1 or repeats < 1:
        raise ValueError("n and repeats must be positive")
    dev = device_of(device)
    tf32 = _tf32(device)
    rng = np.random.default_rng(0)
    a = jax.device_put(rng.random((n, n), dtype=np.float32), dev)
    b = jax.device_put(rng.random((n, n), dtype=np.float32), dev)
    matmul = jax.jit(jnp.matmul)
    times = timed(lambda: matmul(a, b), repeats, jax.block_until_ready)
    return matmul_record(n, times, device, tf32, f"jax.jit(jnp.matmul)(a, b) float32 {n}^3, jax.block_until_ready "
                         "after each call, 1 warm-up call (compiles)")


def copy_bandwidth_gbs(nbytes: int = 256 * 2**20, repeats: int = 5, device: str = "cpu") -> dict:
    """Achieved GB/s (1e9 bytes) of a jitted src + 1 written into a preallocated (donated) dst, float32
    arrays of nbytes (rounded down to whole floats), counting bytes read + written = 2 * nbytes a
    call; best and median.

    Not a plain copy: XLA forwards a jitted identity's input as its output and simplifies
    jnp.copy or x * 1 away, so nothing would be moved; x + 1 streams every byte in and out once,
    the same traffic as a copy, and its one add per float is far below the memory's rate."""
    n = int(nbytes) // 4
    if n < 1 or repeats < 1:
        raise ValueError("nbytes must hold at least one float32 and repeats must be positive")
    dev = device_of(device)
    # dst donated: XLA writes src + 1 into dst's buffer, a preallocated array whose pages exist,
    # as torch's dst.copy_(src) (a fresh output every call would time page faults; writing in
    # place into src would save the separate destination's traffic that a copy pays). keep_unused:
    # jit drops an argument its result does not read, and a dropped dst is never aliased (measured:
    # the same rate as a fresh output each call).
    stream = jax.jit(lambda dst, src: src + np.float32(1.0), donate_argnums=0, keep_unused=True)
    src = jax.device_put(np.ones(n, np.float32), dev)
    dst = [jax.device_put(np.zeros(n, np.float32), dev)]

    def call():
        dst[0] = stream(dst[0], src)
        return dst[0]

    times = timed(call, repeats, jax.block_until_ready)
    return copy_record(n, times, device, "dst = jax.jit(lambda dst, src: src + 1, donate_argnums=0, keep_unused=True)"
                       f"(dst, src) float32 {n * 4} bytes into the preallocated dst, read + write counted, "
                       "jax.block_until_ready after each call, 1 warm-up call")
