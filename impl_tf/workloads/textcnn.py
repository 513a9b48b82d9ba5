"""The text CNN (shared/workloads/textcnn) as a Keras functional model, trained through
tf.function steps with fixed input signatures; its variants (impl_tf/variants.py) that apply to
token ids: eager and XLA (the sparse-input variant is refused by FrameworkTwin). Conv1D takes
the embedded batch as it comes, (B, L, E), and holds its kernel (w, E, F): the shared layout as is.

The embedding's gradient is a tf.IndexedSlices (the gather's rows). Keras' Adam (native) takes it
and turns it dense in its update (every row's moments decay, as in torch.optim.Adam); the strict
and SGD optimizers get it as a dense tensor (tf.convert_to_tensor), the formula the other twins
apply."""
from __future__ import annotations

import time
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from impl_tf.optim import make_optimizer
from impl_tf.runtime import device_of
from shared.config import ExperimentConfig
from shared.contract import BREAKDOWN_PARTS, DeviceBatch, FrameworkTwin, breakdown_medians


def build_textcnn(seq_len: int, n_ids: int, embed_dim: int, widths: Sequence[int], filters: int,
                  n_classes: int) -> keras.Model:
    ids = keras.Input(shape=(seq_len,), dtype="int32")
    x = keras.layers.Embedding(n_ids, embed_dim)(ids)  # no masking: the padding id is an ordinary row
    # relu(conv + bias), then the maximum over time (GlobalMaxPooling1D is reduce_max over axis 1)
    pooled = [keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(filters, w, activation="relu")(x))
              for w in widths]
    h = keras.layers.Concatenate()(pooled) if len(pooled) > 1 else pooled[0]
    return keras.Model(ids, keras.layers.Dense(n_classes)(h))


class Twin(FrameworkTwin):
    framework = "tensorflow"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[np.ndarray], variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        s = cfg.settings
        embedding, *convs, head_w, head_b = weights
        with tf.device(self.device):
            self.model = build_textcnn(s.seq_len, embedding.shape[0], s.embed_dim, s.widths, s.filters,
                                       head_w.shape[1])
            self.embedding = next(l for l in self.model.layers if isinstance(l, keras.layers.Embedding))
            self.convs = [l for l in self.model.layers if isinstance(l, keras.layers.Conv1D)]
            self.head = next(l for l in self.model.layers if isinstance(l, keras.layers.Dense))
            self.embedding.embeddings.assign(embedding)
            for conv, k, b in zip(self.convs, convs[0::2], convs[1::2]):
                conv.kernel.assign(k)  # (w, E, F): the shared layout
                conv.bias.assign(b)
            self.head.kernel.assign(head_w)  # (in, out): the shared layout
            self.head.bias.assign(head_b)
            self.variables = ([self.embedding.embeddings] + [v for c in self.convs for v in (c.kernel, c.bias)]
                              + [self.head.kernel, self.head.bias])  # the shared order
            self.optimizer = make_optimizer(self.variables, cfg)
        self._dense_grads = cfg.optimizer != "native"
        self._traces = 0
        x_spec = tf.TensorSpec([None, s.seq_len], tf.int32)
        y_spec = tf.TensorSpec([None], tf.int64)
        self._specs = (x_spec, y_spec)
        self._parts = None  # step_breakdown's functions, built at its first call
        self._train = self._compiled(self._train_impl, [x_spec, y_spec])
        self._forward = self._compiled(self._forward_impl, [x_spec])

    def _compiled(self, fn, signature):
        """The variant's execution of fn: eager as is; else tf.function with a fixed signature
        (a free batch dimension), XLA-compiled for `xla`."""
        if self.spec.execution == "eager":
            return fn
        return tf.function(fn, input_signature=signature, jit_compile=self.spec.execution == "xla")

    def _loss(self, logits, y):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))

    def _train_impl(self, x, y):
        self._traces += 1  # Python side effect: runs once per trace, never per call
        loss, grads = self._loss_and_grads(x, y)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        return loss

    def _loss_and_grads(self, x, y):
        with tf.GradientTape() as tape:
            loss = self._loss(self.model(x, training=True), y)
        grads = tape.gradient(loss, self.variables)
        if self._dense_grads:  # StrictAdam's and SGD's formula on a dense gradient (see the module)
            grads = [tf.convert_to_tensor(g) for g in grads]
        return loss, grads

    def _forward_impl(self, x):
        self._traces += 1
        return self.model(x, training=False)

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        with tf.device(self.device):
            # identity forces the copy onto the device now, not at the first step that uses it
            tx = tf.identity(tf.convert_to_tensor(np.asarray(x, np.int32)))
            ty = tf.identity(tf.convert_to_tensor(np.asarray(y, dtype=np.int64))) if y is not None else None
        return DeviceBatch(tx, ty, x.shape[0])

    def train_step(self, batch: DeviceBatch):
        with tf.device(self.device):
            return self._train(batch.x, batch.y)

    def losses_to_numpy(self, losses: list) -> np.ndarray:
        return tf.stack(losses).numpy() if losses else np.zeros(0, np.float32)

    def logits(self, batch: DeviceBatch) -> np.ndarray:
        with tf.device(self.device):
            return self._forward(batch.x).numpy()

    def loss(self, batch: DeviceBatch) -> float:
        with tf.device(self.device):
            return float(self._loss(self._forward(batch.x), batch.y))

    def get_weights(self) -> list[np.ndarray]:
        return [v.numpy().copy() for v in self.variables]

    def synchronize(self) -> None:
        # As the MLP twin: callers read a result back inside the timed region.
        pass

    def trace_count(self) -> int | None:
        """Traces of the train and predict functions (step_breakdown's own not counted)."""
        return None if self.spec.execution == "eager" else self._traces

    def _sync(self) -> None:
        if self.cfg.device == "gpu":
            tf.test.experimental.sync_devices()

    def _breakdown_functions(self):
        """forward+loss, forward+gradients, apply-gradients: separate functions with fixed
        signatures, compiled as the variant compiles its train step. The gradients are handed
        from one to the next dense (the embedding's IndexedSlices would need a composite
        signature); the whole step, timed alongside, keeps the variant's own form."""
        if self._parts is None:
            x_spec, y_spec = self._specs
            g_spec = [tf.TensorSpec(v.shape, v.dtype) for v in self.variables]

            def forward_loss(x, y):
                return self._loss(self.model(x, training=True), y)

            def loss_and_dense_grads(x, y):
                loss, grads = self._loss_and_grads(x, y)
                return loss, [tf.convert_to_tensor(g) for g in grads]

            def apply(grads):
                self.optimizer.apply_gradients(zip(grads, self.variables))
                return tf.constant(0.0)

            self._parts = (self._compiled(forward_loss, [x_spec, y_spec]),
                           self._compiled(loss_and_dense_grads, [x_spec, y_spec]),
                           self._compiled(apply, [g_spec]))
        return self._parts

    def step_breakdown(self, batch: DeviceBatch, repeats: int) -> dict[str, float]:
        """As the MLP twin's: forward = forward_loss(x, y); backward = median of
        loss_and_grads(x, y) minus the median forward (floored at 0); optimizer = apply(grads);
        readback = losses_to_numpy([loss]); then one whole train_step + losses_to_numpy. Trains:
        see FrameworkTwin.step_breakdown."""
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
