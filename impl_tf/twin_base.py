"""What every TensorFlow workload twin shares (impl_tf/workloads/<workload>.py): the device, the
optimizer, the train and predict steps as tf.function with fixed input signatures (or eager, or
XLA), the loss, inference, trace counting and the step breakdown. A workload twin subclasses
BaseTwin and adds only what is its network's own: building it from the shared weights (_build),
its forward pass where it is not a Keras model (_model_forward), its input signature
(_input_spec), whether its gradients are densified (_densify_gradients), reading the weights back
(get_weights), and its input representation where it is not token ids (to_device)."""
from __future__ import annotations

import abc
import time
from typing import Sequence

import numpy as np
import tensorflow as tf

from impl_tf.optim import make_optimizer
from impl_tf.runtime import device_of
from shared.config import ExperimentConfig
from shared.contract import BREAKDOWN_PARTS, DeviceBatch, FrameworkTwin, breakdown_medians


class BaseTwin(FrameworkTwin):
    """A workload's network over self.variables, trained through tf.function steps with fixed
    input signatures (eager for `eager`, XLA-compiled for `xla`)."""

    framework = "tensorflow"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence, variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        with tf.device(self.device):
            self.variables = self._build(weights)
            self.optimizer = make_optimizer(self.variables, cfg)
        self._dense_grads = self._densify_gradients()
        self._traces = 0
        x_spec = self._input_spec()
        y_spec = tf.TensorSpec([None], tf.int64)
        self._specs = (x_spec, y_spec)
        self._parts = None  # step_breakdown's functions, built at its first call
        self._train = self._compiled(self._train_impl, [x_spec, y_spec])
        self._forward = self._compiled(self._forward_impl, [x_spec])

    # --- what each workload gives ----------------------------------------------------------
    @abc.abstractmethod
    def _build(self, weights: Sequence) -> list:
        """Build the workload's network (under tf.device(self.device)) holding the shared initial
        weights; return its trainable variables in the shared order."""

    def _input_spec(self) -> tf.TensorSpec:
        """The signature of an input batch: int32 token ids (None, seq_len), a free batch dimension."""
        return tf.TensorSpec([None, self.cfg.settings.seq_len], tf.int32)

    def _densify_gradients(self) -> bool:
        """Whether _loss_and_grads turns every gradient into a dense tensor before the update (for
        an optimizer whose formula wants dense gradients, where the network's are IndexedSlices)."""
        return False

    def _model_forward(self, x, training: bool):
        """The network's logits: the Keras model (self.model) by default."""
        return self.model(x, training=training)

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        """Token ids as int32 (n, seq_len), the token workloads' input (the MLP's counts override it)."""
        with tf.device(self.device):
            # identity forces the copy onto the device now, not at the first step that uses it
            tx = tf.identity(tf.convert_to_tensor(np.asarray(x, np.int32)))
            ty = tf.identity(tf.convert_to_tensor(np.asarray(y, dtype=np.int64))) if y is not None else None
        return DeviceBatch(tx, ty, x.shape[0])

    # --- the steps -------------------------------------------------------------------------
    def _compiled(self, fn, signature):
        """The variant's execution of fn: eager as is; else tf.function with a fixed signature
        (a free batch dimension: one trace whatever the batch size), XLA-compiled for `xla`."""
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
            loss = self._loss(self._model_forward(x, training=True), y)
        grads = tape.gradient(loss, self.variables)
        if self._dense_grads:  # the optimizer's formula on a dense gradient (the workload's _densify_gradients)
            grads = [tf.convert_to_tensor(g) for g in grads]
        return loss, grads

    def _forward_impl(self, x):
        self._traces += 1
        return self._model_forward(x, training=False)

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

    def synchronize(self) -> None:
        # TF has no device-wide barrier in Python; callers read a result back (losses_to_numpy,
        # logits) inside the timed region, which waits for the work that produced it.
        pass

    def trace_count(self) -> int | None:
        """Traces of the train and predict functions (step_breakdown's own functions not counted)."""
        return None if self.spec.execution == "eager" else self._traces

    # --- the step taken apart ----------------------------------------------------------------
    def _sync(self) -> None:
        """A device-wide barrier for step_breakdown: on GPU tf.test.experimental.sync_devices();
        CPU execution of an eager op or a tf.function call is done when the call returns."""
        if self.cfg.device == "gpu":
            tf.test.experimental.sync_devices()

    def _breakdown_gradients(self):
        """step_breakdown's forward+gradients function and the update's input signature: _loss_and_grads
        as the train step runs it, and one argument, the gradients, one dense tensor per variable."""
        return self._loss_and_grads, [[tf.TensorSpec(v.shape, v.dtype) for v in self.variables]]

    def _breakdown_functions(self):
        """forward+loss, forward+gradients, apply-gradients: separate functions with fixed
        signatures, compiled as the variant compiles its train step (none, tf.function, XLA)."""
        if self._parts is None:
            x_spec, y_spec = self._specs
            loss_and_grads, apply_signature = self._breakdown_gradients()

            def forward_loss(x, y):
                return self._loss(self._model_forward(x, training=True), y)

            def apply(grads):
                self.optimizer.apply_gradients(zip(grads, self.variables))
                return tf.constant(0.0)

            self._parts = (self._compiled(forward_loss, [x_spec, y_spec]),
                           self._compiled(loss_and_grads, [x_spec, y_spec]),
                           self._compiled(apply, apply_signature))
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
