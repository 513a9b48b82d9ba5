"""What TensorFlow itself achieves on this device: a large float32 matmul (GFLOP/s) and a large
copy (GB/s), the yardsticks against which shared/costs.floor_seconds sets the MLP's floor.

Runs inside the framework's own benchmark process after runtime.configure set its threads
(nothing here touches threads). Mirrors impl_torch/probe.py: same functions, same keys.
Timing: one untimed warm-up call, then `repeats` timed calls, each ended by reading one
element back to the host (`x[0].numpy()`), which waits for the device: eager ops may return
before a GPU finishes. The read-back of one element is negligible next to the timed work
(a 4-byte transfer and a slice, microseconds). Best = shortest call.
"""
from __future__ import annotations

import tensorflow as tf

from impl_tf.runtime import device_of
from shared.probing import copy_record, matmul_record, timed


def _tf32(device: str) -> bool:
    """True when float32 matmuls may run as TF32 (the runtime turns it off; on the GPU a probe
    with it on would measure TF32, not float32, so that is refused)."""
    on = bool(tf.config.experimental.tensor_float_32_execution_enabled())
    if device == "gpu" and on:
        raise RuntimeError("TF32 is enabled: call runtime.configure first (float32 matmul must be full precision)")
    return on


def matmul_gflops(n: int = 2048, repeats: int = 5, device: str = "cpu") -> dict:
    """Achieved GFLOP/s of tf.matmul on float32 n x n @ n x n (2*n^3 FLOPs a call), best and
    median over `repeats` timed calls (TF allocates each output; no out= in TensorFlow)."""
    if n < 1 or repeats < 1:
        raise ValueError("n and repeats must be positive")
    tf32 = _tf32(device)
    with tf.device(device_of(device)):
        gen = tf.random.Generator.from_seed(0)
        a = gen.uniform((n, n), dtype=tf.float32)
        b = gen.uniform((n, n), dtype=tf.float32)

        def call():
            c = tf.matmul(a, b)
            _ = c[0, 0].numpy()

        times = timed(call, repeats)  # the call reads back c[0, 0]: its device work is done
    return matmul_record(n, times, device, tf32, f"c = tf.matmul(a, b) float32 {n}^3 (eager), c[0, 0].numpy() "
                         "read-back after each call, 1 warm-up call")


def copy_bandwidth_gbs(nbytes: int = 256 * 2**20, repeats: int = 5, device: str = "cpu") -> dict:
    """Achieved GB/s (1e9 bytes) of tf.raw_ops.DeepCopy on a float32 tensor of nbytes (rounded
    down to whole floats), counting bytes read + written = 2 * nbytes a call; best and median.

    TensorFlow offers no copy into a preallocated tensor that really copies: tf.identity and
    tf.Variable.assign hand over the source buffer without touching its bytes (measured at
    800-1600 GB/s on a machine whose copy runs at ~18 GB/s), and a strided-slice assign or
    scatter into a variable copies on one thread (2-5 GB/s). DeepCopy allocates its output,
    but the allocator hands back the block freed by the previous call: on the 2-core CPU it
    measured the same GB/s as torch's dst.copy_(src) in the same process (~18-19 GB/s)."""
    n = int(nbytes) // 4
    if n < 1 or repeats < 1:
        raise ValueError("nbytes must hold at least one float32 and repeats must be positive")
    with tf.device(device_of(device)):
        src = tf.ones((n,), dtype=tf.float32)

        def call():
            dst = tf.raw_ops.DeepCopy(x=src)
            _ = dst[0].numpy()

        times = timed(call, repeats)
    return copy_record(n, times, device, f"tf.raw_ops.DeepCopy(x=src) float32 {n * 4} bytes (output allocated per "
                       "call, freed block reused), read + write counted, dst[0].numpy() read-back after each call, "
                       "1 warm-up call")
