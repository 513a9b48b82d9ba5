"""TensorFlow's execution modes, declared without importing tensorflow (a run validates and
labels cases before any framework process starts). The twin (twin.py) implements each."""
from shared.contract import Variant

DEFAULT_VARIANT = "graph"

VARIANTS = {v.name: v for v in (
    Variant("graph", "TensorFlow (graph)", "Keras layers, tf.function train and predict steps, keras Adam"),
    Variant("eager", "TensorFlow (eager)", "the same steps run eagerly, without tf.function"),
    Variant("xla", "TensorFlow (graph, XLA)", "tf.function(jit_compile=True): XLA-compiled train and predict steps"),
    Variant("sparse", "TensorFlow (graph, sparse input)",
            "graph steps on batches as tf.SparseTensor (COO), never densified: the first Dense layer's own "
            "kernel and bias applied through tf.sparse.sparse_dense_matmul, the rest as graph", input="sparse"),
)}
