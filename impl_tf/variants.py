"""TensorFlow's variants, declared without importing tensorflow (a run validates and labels cases
before any framework process starts): each named variant sets one axis (shared/contract.AXES)
away from the default, and values of different axes combine (tensorflow:sparse+xla). The twin
(twin_base.py, workloads/) reads the settings. TensorFlow offers no fused-optimizer or denormal
switch: its threads flush denormals already (measured in every worker's read-back)."""
from shared.variant import Variant

DEFAULT_VARIANT = "graph"

VARIANTS = {v.name: v for v in (
    Variant("graph", "TensorFlow (graph)", "Keras layers, tf.function train and predict steps, keras Adam"),
    Variant("eager", "TensorFlow (eager)", "the same steps run eagerly, without tf.function"),
    Variant("xla", "TensorFlow (graph, XLA)", "tf.function(jit_compile=True): XLA-compiled train and predict steps"),
    Variant("sparse", "TensorFlow (graph, sparse input)", axis="input", tag="sparse input", execution="graph",
            about="graph steps on batches as tf.SparseTensor (COO), never densified: the first Dense layer's own "
            "kernel and bias applied through tf.sparse.sparse_dense_matmul, the rest as graph", input="sparse"),
)}

# Combinations --matrix runs besides the named variants (each checked for parity like them).
MATRIX_COMBINATIONS = ("sparse+eager",)

# Combinations that cannot run, and why (a case naming one is refused before any process starts).
UNSUPPORTED = {
    ("sparse", "xla"): "XLA has no kernel for tf.sparse.sparse_dense_matmul (SparseTensorDenseMatMul on "
                       "XLA_CPU_JIT, measured with TensorFlow 2.21); run tensorflow:sparse or tensorflow:xla",
}

# --- framework facts (read by shared/registry.py; nothing else names them) ----------------------
LABEL = "TensorFlow"
ALIASES = ("tf",)
PACKAGES = ("tensorflow", "tensorflow-cpu", "keras")
# Read by TensorFlow when its pools start; runtime.configure also sets them through
# tf.config.threading and reads them back.
THREAD_ENV = {"TF_NUM_INTRAOP_THREADS": "intra_op", "TF_NUM_INTEROP_THREADS": "inter_op"}
INSTALL = {"cpu": "pip install -e '.[cpu]' (tensorflow-cpu), or `make venv`",
           "gpu": "pip install -e '.[gpu]' (tensorflow[and-cuda])"}
