"""JAX's execution modes, declared without importing jax (a run validates and labels cases
before any framework process starts). The twins (twin_base.py, workloads/) implement each."""
from shared.variant import Variant

DEFAULT_VARIANT = "jit"

# Where optax.adam (native mode) puts epsilon: update = m_hat / (sqrt(v_hat) + eps), both moments
# bias-corrected, as torch.optim.Adam does; Keras adds epsilon to the uncorrected sqrt(v) instead
# (epsilon effectively 1/sqrt(1-b2^t) times larger), so native JAX tracks PyTorch, not Keras.
_OPTIMIZER = ("native optimizer: optax.adam, epsilon added to the bias-corrected sqrt(v_hat) as in torch.optim.Adam "
              "(Keras adds it to the uncorrected sqrt(v))")

VARIANTS = {v.name: v for v in (
    Variant("jit", "JAX (jit)",
            "pure functions, the whole train step (forward, gradients, update) and the predict step under jax.jit, "
            "parameters and optimizer state donated so XLA updates them in place; a new batch shape traces and "
            "compiles again (counted); " + _OPTIMIZER),
    Variant("eager", "JAX (op by op)",
            "the same functions without jax.jit: every primitive dispatched on its own (JAX's eager mode), "
            "gradients by jax.value_and_grad, the update op by op; " + _OPTIMIZER),
    Variant("sparse", "JAX (jit, sparse input)", axis="input", tag="sparse input", execution="jit",
            about="jit steps on batches as jax.experimental.sparse BCOO (int32 (nnz, 2) indices, float32 values), never "
            "densified: the first layer is BCOO @ W (bcoo_dot_general), the rest as jit; the stored entries are "
            "padded with zeros to a power of two (at least 1024), so batches of similar size share one trace "
            "instead of tracing for every new nnz", input="sparse"),
)}

# --- framework facts (read by shared/registry.py; nothing else names them) ----------------------
LABEL = "JAX"
ALIASES = ()
PACKAGES = ("jax", "jaxlib", "optax")
# None: JAX's pool size is set by runtime.configure (PJRT_NPROC before the client starts) and
# measured there; no variable needs to reach the worker before import.
THREAD_ENV: dict = {}
INSTALL = {"cpu": "pip install -e '.[jax]' (CPU jaxlib), or `make venv`",
           "gpu": "pip install -e '.[jax]' plus JAX's CUDA plugin, e.g. pip install 'jax[cuda13]'"}
