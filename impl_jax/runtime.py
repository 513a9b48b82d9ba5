"""Thread budget, device and numerics for JAX, set through what JAX/XLA offers.

JAX has no thread API: jaxlib sizes XLA:CPU's intra-op pool (the Eigen pool its matmuls and
parallel loops run on, threads named "tf_XLAEigen") from the environment variable PJRT_NPROC,
read once, when JAX creates its CPU client (the first jax.devices() or array). So configure()
sets it before that, and, with no getter to read it back, measures the pool instead: the
tf_XLAEigen threads that appeared in /proc/self/task when the client started.

Checked on jax 0.10.2, 2-core CPU: PJRT_NPROC=1 starts 1 such thread and a 3000^3 matmul runs on
one thread at a time; PJRT_NPROC=2 starts 2 and the matmul runs on 2 at once (the dispatching
thread plus one pool thread, sampled from /proc). XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
changed neither (XLA:CPU's thunk runtime parallelises on the same pool regardless), so it is not
used. Setting PJRT_NPROC after `import jax` but before the client starts works; afterwards it has
no effect (the read-back then tells what the client really has, as TensorFlow's does).
"""
from __future__ import annotations

import os

import numpy as np

from impl_jax.variants import INSTALL
from shared.contract import RuntimeInfo
from shared.environment import threads_named
from shared.errors import UserError

try:
    import jax
    import jax.numpy as jnp
    import optax  # the native and sgd optimizers: a twin without it cannot build
except ModuleNotFoundError as e:  # only a missing jax/jaxlib/optax means "not installed"
    if (e.name or "").split(".")[0] not in ("jax", "jaxlib", "optax"):
        raise
    raise UserError(f"jax is not installed in this environment ({e}): on a CPU machine {INSTALL['cpu']}; "
                    f"on a GPU machine {INSTALL['gpu']}") from None

from jax._src import xla_bridge  # noqa: E402  whether the client exists yet: no public API says so

THREAD_ENV = "PJRT_NPROC"
POOL_THREAD = "tf_XLAEigen"  # what tsl names XLA:CPU's intra-op pool threads (Linux comm, 15 chars)
# What this process's CPU client was started with, measured once when configure() started it.
_client: dict = {}


def _start_client(threads: int) -> None:
    """Start JAX's clients with an intra-op pool of `threads`, and measure the pool."""
    before = threads_named(POOL_THREAD)
    os.environ[THREAD_ENV] = str(threads)
    # A GPU client would otherwise take 75% of the GPU's memory up front; grow as needed instead,
    # as PyTorch's caching allocator and TensorFlow (memory growth, set in impl_tf) do.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    jax.devices()  # creates the clients now: the pool starts here, with its size fixed
    after = threads_named(POOL_THREAD)
    _client.update(requested=threads, measured=None if before is None or after is None else after - before)


def device_of(device: str):
    """The jax.Device a twin places its arrays on (a UserError for an absent GPU)."""
    if device == "gpu":
        try:
            return jax.devices("gpu")[0]
        except RuntimeError:  # jax: "Unknown backend: 'gpu' requested, but no platforms ..."
            raise UserError("a GPU was asked for but JAX sees no GPU: use the CPU (run: --devices cpu; check: --device cpu), "
                            "or install JAX's CUDA plugin (pip install 'jax[cuda13]') on a machine with a GPU") from None
    return jax.devices("cpu")[0]


def flushes_denormals(device: str = "cpu") -> bool:
    """Whether XLA's compiled code flushes float32 denormals to zero: 1e-39 (denormal) * 0.5 in a
    jitted op over an array large enough to be split across the pool; all zero = flushed."""
    # 64 MB, above glibc malloc's 32 MB ceiling for its dynamic mmap threshold: freeing the probe
    # leaves the process's thresholds as a plain script has them (impl_torch/runtime says why)
    x = jax.device_put(np.full(1 << 24, 1e-39, np.float32), device_of(device))
    return int(jax.jit(lambda a: jnp.count_nonzero(a * np.float32(0.5)))(x)) == 0


def configure(threads: int, device: str) -> RuntimeInfo:
    """Call before building a twin: the pool size is fixed when JAX's client starts. Inter-op
    threads: 1, as on the other frameworks; XLA:CPU has no inter-op pool to set (one dispatch
    thread runs each compiled step, whose parallel parts use the intra-op pool measured here)."""
    started_here = not xla_bridge.backends_are_initialized()
    if started_here:
        _start_client(threads)
    dev = device_of(device)
    # Every op whose inputs name no device (optax's zeros, jnp constants) goes to this one.
    jax.config.update("jax_default_device", dev)
    # Full float32 matmuls: JAX's default on a GPU may use TF32, which the other twins turn off.
    jax.config.update("jax_default_matmul_precision", "highest")
    measured = _client.get("measured")
    extra = {"thread_setting": f"{THREAD_ENV}={_client.get('requested', os.environ.get(THREAD_ENV))}, set in the "
                               "environment before JAX started its CPU client (no thread API in JAX)",
             "thread_readback": (f"measured: {POOL_THREAD} threads started with the CPU client, counted in /proc/self/task"
                                 if measured is not None else
                                 "not measured: JAX's client was started before configure(), or /proc is absent; "
                                 f"reported: {THREAD_ENV} as set"),
             "jaxlib": _jaxlib_version(), "optax": optax.__version__,
             "x64": bool(jax.config.jax_enable_x64), "matmul_precision": jax.config.jax_default_matmul_precision,
             "xla_flags": os.environ.get("XLA_FLAGS"), "platform": dev.platform}
    intra = measured if measured is not None else int(os.environ.get(THREAD_ENV) or 0) or None
    if device == "gpu":
        extra.update(device_kind=dev.device_kind, gpu_memory_gb=_gpu_memory_gb(dev))
    return RuntimeInfo(
        framework="jax", version=jax.__version__, device=device,
        device_name=f"{dev.platform}:{dev.id}" + (f" ({dev.device_kind})" if device == "gpu" else ""),
        intra_op_threads=intra, inter_op_threads=1,
        tf32=jax.config.jax_default_matmul_precision not in ("highest", "float32"),
        flush_denormal=flushes_denormals(device), extra=extra)


def _jaxlib_version() -> str | None:
    from importlib import metadata
    try:
        return metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        return None


def _gpu_memory_gb(dev) -> float | None:
    stats = dev.memory_stats() or {}
    return round(stats["bytes_limit"] / 2**30, 1) if "bytes_limit" in stats else None


def reset_peak_device_memory(device: str) -> None:
    """JAX offers no reset of its allocator's peak: peak_device_memory_mb is the process's peak."""


def peak_device_memory_mb(device: str) -> float | None:
    """Peak bytes held by JAX's GPU allocator since the process started (no reset exists)."""
    if device != "gpu":
        return None
    stats = device_of("gpu").memory_stats() or {}
    return stats["peak_bytes_in_use"] / 2**20 if "peak_bytes_in_use" in stats else None
