"""The MLP as Keras layers, trained through tf.function steps with fixed input signatures; its
variants (impl_tf/variants.py): eager, XLA, and a sparse-input first layer."""
from __future__ import annotations

import time
from typing import Sequence

import keras
import numpy as np
import scipy.sparse as sp
import tensorflow as tf

from impl_tf.optim import make_optimizer
from impl_tf.runtime import device_of
from shared import batches
from shared.config import ExperimentConfig
from shared.contract import BREAKDOWN_PARTS, DeviceBatch, FrameworkTwin, breakdown_medians
from shared.weights import Layer, sizes_of


def build_mlp(sizes: list[int]) -> keras.Sequential:
    layers = [keras.Input(shape=(sizes[0],), dtype="float32")]
    layers += [keras.layers.Dense(n, activation="relu") for n in sizes[1:-1]]
    layers.append(keras.layers.Dense(sizes[-1]))
    return keras.Sequential(layers)


class Twin(FrameworkTwin):
    framework = "tensorflow"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[Layer], variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        sizes = sizes_of(weights)
        with tf.device(self.device):
            self.model = build_mlp(sizes)
            for layer, (w, b) in zip(self.model.layers, weights):
                layer.kernel.assign(w)  # Keras kernels are (in, out): the shared layout as is
                layer.bias.assign(b)
            self.variables = self.model.trainable_variables
            self.optimizer = make_optimizer(self.variables, cfg)
        self._traces = 0
        self.sparse = self.spec.input == "sparse"
        self.n_features = sizes[0]
        x_spec = (tf.SparseTensorSpec([None, sizes[0]], tf.float32) if self.sparse
                  else tf.TensorSpec([None, sizes[0]], tf.float32))
        y_spec = tf.TensorSpec([None], tf.int64)
        self._specs = (x_spec, y_spec)
        self._parts = None  # step_breakdown's functions, built at its first call
        self._train = self._compiled(self._train_impl, [x_spec, y_spec])
        self._forward = self._compiled(self._forward_impl, [x_spec])

    def _compiled(self, fn, signature):
        """The variant's execution of fn: eager as is; else tf.function with a fixed signature
        (a free batch dimension: one trace whatever the batch size), XLA-compiled for `xla`."""
        if self.spec.execution == "eager":
            return fn
        return tf.function(fn, input_signature=signature, jit_compile=self.spec.execution == "xla")

    def _loss(self, logits, y):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))

    def _model_forward(self, x, training: bool):
        """The Keras model; for sparse input its first Dense layer is applied here as
        relu(sparse_dense_matmul(x, kernel) + bias) on that layer's own variables (Keras 3 layers
        take no SparseTensor), then the other layers as they are."""
        if not self.sparse:
            return self.model(x, training=training)
        first = self.model.layers[0]
        h = tf.nn.relu(tf.sparse.sparse_dense_matmul(x, first.kernel.value) + first.bias.value)
        for layer in self.model.layers[1:]:
            h = layer(h, training=training)
        return h

    def _train_impl(self, x, y):
        self._traces += 1  # Python side effect: runs once per trace, never per call
        loss, grads = self._loss_and_grads(x, y)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        return loss

    def _loss_and_grads(self, x, y):
        with tf.GradientTape() as tape:
            loss = self._loss(self._model_forward(x, training=True), y)
        return loss, tape.gradient(loss, self.variables)

    def _forward_impl(self, x):
        self._traces += 1
        return self._model_forward(x, training=False)

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        with tf.device(self.device):
            # identity forces the copy onto the device now, not at the first step that uses it
            if self.sparse:
                tx = self._sparse_tensor(x if sp.issparse(x) else sp.csr_matrix(np.asarray(x, np.float32)))
            else:
                tx = tf.identity(tf.convert_to_tensor(x, dtype=tf.float32))
            ty = tf.identity(tf.convert_to_tensor(np.asarray(y, dtype=np.int64))) if y is not None else None
        return DeviceBatch(tx, ty, x.shape[0])

    def rows_to_device(self, x: sp.csr_matrix, rows, y: np.ndarray | None = None) -> DeviceBatch:
        if not self.sparse:
            return super().rows_to_device(x, rows, y)
        return self.to_device(batches.sparse_rows(x, rows), y[rows] if y is not None else None)

    def _sparse_tensor(self, x: sp.csr_matrix) -> tf.SparseTensor:
        """A tf.SparseTensor (COO: (nnz, 2) int64 indices in row-major order, float32 values) on
        the device, from a CSR batch."""
        x = sp.csr_matrix(x)
        if not x.has_canonical_format:
            x = x.copy()
            x.sum_duplicates()
        rows = np.repeat(np.arange(x.shape[0], dtype=np.int64), np.diff(x.indptr))
        indices = np.stack([rows, x.indices.astype(np.int64)], axis=1)
        return tf.SparseTensor(tf.identity(tf.convert_to_tensor(indices)),
                               tf.identity(tf.convert_to_tensor(np.asarray(x.data, np.float32))),
                               tf.identity(tf.constant(x.shape, tf.int64)))

    def train_step(self, batch: DeviceBatch):
        with tf.device(self.device):
            return self._train(batch.x, batch.y)

    def losses_to_numpy(self, losses: list) -> np.ndarray:
        return tf.stack(losses).numpy() if losses else np.zeros(0, np.float32)  # one read-back, as torch

    def logits(self, batch: DeviceBatch) -> np.ndarray:
        with tf.device(self.device):
            return self._forward(batch.x).numpy()

    def loss(self, batch: DeviceBatch) -> float:
        with tf.device(self.device):
            return float(self._loss(self._forward(batch.x), batch.y))

    def get_weights(self) -> list[Layer]:
        return [(l.kernel.numpy().copy(), l.bias.numpy().copy()) for l in self.model.layers]

    def synchronize(self) -> None:
        # TF has no device-wide barrier in Python; callers read a result back (losses_to_numpy,
        # logits) inside the timed region, which waits for the work that produced it.
        pass

    def trace_count(self) -> int | None:
        """Traces of the train and predict functions (step_breakdown's own functions not counted)."""
        return None if self.spec.execution == "eager" else self._traces

    def _sync(self) -> None:
        """A device-wide barrier for step_breakdown: on GPU tf.test.experimental.sync_devices();
        CPU execution of an eager op or a tf.function call is done when the call returns."""
        if self.cfg.device == "gpu":
            tf.test.experimental.sync_devices()

    def _breakdown_functions(self):
        """forward+loss, forward+gradients, apply-gradients: separate functions with fixed
        signatures, compiled as the variant compiles its train step (none, tf.function, XLA)."""
        if self._parts is None:
            x_spec, y_spec = self._specs
            g_spec = [tf.TensorSpec(v.shape, v.dtype) for v in self.variables]

            def forward_loss(x, y):
                return self._loss(self._model_forward(x, training=True), y)

            def apply(grads):
                self.optimizer.apply_gradients(zip(grads, self.variables))
                return tf.constant(0.0)

            self._parts = (self._compiled(forward_loss, [x_spec, y_spec]),
                           self._compiled(self._loss_and_grads, [x_spec, y_spec]),
                           self._compiled(apply, [g_spec]))
        return self._parts

    def step_breakdown(self, batch: DeviceBatch, repeats: int) -> dict[str, float]:
        """forward = forward_loss(x, y); backward = median of loss_and_grads(x, y) minus the median
        forward (TF computes gradients only with their forward; floored at 0, which only noise on
        a tiny model can reach); optimizer = apply(grads); readback = losses_to_numpy([loss]);
        then one whole train_step + losses_to_numpy. Each part ends with a device barrier (GPU)
        before its clock stops. Trains: see FrameworkTwin.step_breakdown."""
        clock, sync = time.perf_counter, self._sync
        forward_loss, loss_and_grads, apply = self._breakdown_functions()
        with tf.device(self.device):
            self.losses_to_numpy([self.train_step(batch)])  # warm-up: builds the optimizer's slots
            for _ in range(2):  # warm-up: traces (and compiles) the parts
                forward_loss(batch.x, batch.y)
                apply(loss_and_grads(batch.x, batch.y)[1])
            sync()
            samples = {k: [] for k in (*BREAKDOWN_PARTS, "step", "forward_and_gradients")}
            for _ in range(repeats):
                t0 = clock()
                forward_loss(batch.x, batch.y)
                sync()
                t1 = clock()
                loss, grads = loss_and_grads(batch.x, batch.y)
                sync()
                t2 = clock()
                apply(grads)
                sync()
                t3 = clock()
                self.losses_to_numpy([loss])
                t4 = clock()
                samples["forward"].append(t1 - t0)
                samples["forward_and_gradients"].append(t2 - t1)
                samples["optimizer"].append(t3 - t2)
                samples["readback"].append(t4 - t3)
                t0 = clock()
                self.losses_to_numpy([self.train_step(batch)])
                sync()
                samples["step"].append(clock() - t0)
        samples["backward"] = [max(float(np.median(samples.pop("forward_and_gradients")) - np.median(samples["forward"])), 0.0)]
        return breakdown_medians(samples)
