"""Thread budget, device and numerics for TensorFlow, set through TensorFlow's own API."""
from __future__ import annotations

import os

import tensorflow as tf

from shared.contract import RuntimeInfo
from shared.errors import UserError


def device_of(device: str) -> str:
    return "/GPU:0" if device == "gpu" else "/CPU:0"



# 64 MB: every buffer of the probe lies above glibc malloc's 32 MB ceiling for its dynamic mmap
# threshold, so freeing it leaves the process's mmap and trim thresholds as a plain script has
# them (impl_torch/runtime.flushes_denormals says what a 16 MB probe did to the text CNN).
_PROBE_ELEMENTS = 1 << 24


@tf.function
def _halved_sum(x):
    # a sum, not count_nonzero: that would allocate a bool tensor of 16 MB, under the ceiling
    return tf.reduce_sum(x * 0.5)


def flushes_denormals(device: str = "cpu") -> bool:
    """Measured, not asked: a denormal float32 (1e-39) halved in a tf.function on TensorFlow's
    intra-op pool comes out as zero when its threads flush denormals to zero (TensorFlow sets
    flush-to-zero on its own compute threads; there is no public switch): the halves then sum
    to 0, else to a positive normal number."""
    with tf.device(device_of(device)):
        return float(_halved_sum(tf.fill([_PROBE_ELEMENTS], tf.constant(1e-39, tf.float32)))) == 0.0


def configure(threads: int, device: str) -> RuntimeInfo:
    """Call before building a twin: TensorFlow fixes its thread pools at the first op.
    Inter-op threads: 1 on both frameworks, so the budget compared is intra-op."""
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise UserError("a GPU was asked for but TensorFlow sees no GPU: use the CPU (run: --devices cpu; check: --device cpu), "
                        "or install fwbench[gpu] (tensorflow[and-cuda]) on a machine with a GPU")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        if device == "cpu" and gpus:
            tf.config.set_visible_devices([], "GPU")  # a CPU run must not place ops on a GPU
        for gpu in gpus:  # allocate as needed, as PyTorch's caching allocator does, not all memory up front
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        pass  # already initialised in this process (tests): the read-back below tells the truth
    # TF32 would make GPU matmuls lower precision than full float32: off, as on the torch side.
    tf.config.experimental.enable_tensor_float_32_execution(False)
    name = "/CPU:0"
    extra = {"onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
             "built_with_cuda": tf.test.is_built_with_cuda()}
    if device == "gpu":
        details = tf.config.experimental.get_device_details(gpus[0])
        name = f"/GPU:0 ({details.get('device_name', 'GPU')})"
        extra["compute_capability"] = details.get("compute_capability")
    return RuntimeInfo(
        framework="tensorflow", version=tf.__version__, device=device, device_name=name,
        intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
        inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads(),
        tf32=bool(tf.config.experimental.tensor_float_32_execution_enabled()),
        flush_denormal=flushes_denormals(device), extra=extra)


def reset_peak_device_memory(device: str) -> None:
    if device == "gpu":
        tf.config.experimental.reset_memory_stats("GPU:0")


def peak_device_memory_mb(device: str) -> float | None:
    """Peak bytes held by TensorFlow's allocator on the GPU since the last reset."""
    if device != "gpu":
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
