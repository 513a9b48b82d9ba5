"""What every PyTorch workload twin shares (impl_torch/workloads/<workload>.py): the device, the
denormal setting, the loss, the optimizer and torch.compile around the workload's nn.Module, the
training step, inference, synchronisation and the step breakdown. A workload twin subclasses
BaseTwin and adds only what is its network's own: building the module from the shared weights
(_build), reading them back (get_weights), and its input representation (to_device)."""
from __future__ import annotations

import abc
import time
from typing import Sequence

import numpy as np
import torch
from torch import nn

from impl_torch._compile import CountingBackend, compile_unavailable_reason
from impl_torch.optim import make_optimizer
from impl_torch.runtime import device_of
from shared.config import ExperimentConfig
from shared.contract import BREAKDOWN_PARTS, DeviceBatch, FrameworkTwin, breakdown_medians
from shared.errors import Unavailable


class BaseTwin(FrameworkTwin):
    """A workload's nn.Module (self.model), trained eagerly with nn.CrossEntropyLoss and the
    configured optimizer; the `compile` variant runs the model through torch.compile."""

    framework = "torch"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence, variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        # Process-wide in PyTorch (every intra-op thread): set for every twin, so one variant's
        # setting never leaks into the next twin built in the same process (tests, checks).
        torch.set_flush_denormal(bool(self.spec.flush_denormal))
        if self.spec.execution == "compile":
            reason = compile_unavailable_reason(self.device)
            if reason:
                raise Unavailable(reason)
        self.model = self._build(weights)
        self.loss_fn = nn.CrossEntropyLoss()  # mean over the batch, integer labels
        self.optimizer = make_optimizer(list(self.model.parameters()), cfg, fused=self.spec.optimizer_impl == "fused")
        self._backend = None
        self._forward = self.model
        if self.spec.execution == "compile":
            from torch import _dynamo
            # A fresh model compiles afresh, as a fresh tf.function traces afresh: dynamo's cache
            # (keyed on the model's forward code, shared by every instance) is dropped, so each twin's
            # first epoch pays its own tracing (inductor's on-disk cache may still spare it part of
            # the C++ compilation), its trace_count() is its own, and the many twins of a test or a
            # check never reach dynamo's recompile limit (past which it would silently run eager).
            _dynamo.reset()
            self._backend = CountingBackend()
            self._forward = torch.compile(self.model, backend=self._backend)  # default mode: no cudagraphs

    @abc.abstractmethod
    def _build(self, weights: Sequence) -> nn.Module:
        """The workload's network on self.device, holding the shared initial weights (copied in,
        in the module's own layout)."""

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        if self._backend is None:
            return self._forward(x)
        try:
            return self._forward(x)
        except torch._dynamo.exc.BackendCompilerFailed as e:  # e.g. the compiler is there but cannot build
            raise Unavailable(f"torch.compile (inductor) failed to compile the model on this machine: "
                              f"{str(e).splitlines()[0][:300]}") from e

    def train_step(self, batch: DeviceBatch):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self._run(batch.x), batch.y)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def losses_to_numpy(self, losses: list) -> np.ndarray:
        return torch.stack(losses).cpu().numpy() if losses else np.zeros(0, np.float32)

    @torch.no_grad()
    def logits(self, batch: DeviceBatch) -> np.ndarray:
        return self._run(batch.x).cpu().numpy()

    @torch.no_grad()
    def loss(self, batch: DeviceBatch) -> float:
        return float(self.loss_fn(self._run(batch.x), batch.y))

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def step_breakdown(self, batch: DeviceBatch, repeats: int) -> dict[str, float]:
        """Each part synchronised (torch.cuda.synchronize on GPU; CPU ops are synchronous): forward
        = zero_grad + forward (compiled, for `compile`) + loss, backward = loss.backward(),
        optimizer = optimizer.step(), readback = losses_to_numpy([loss]); then one whole
        train_step + losses_to_numpy. Trains: see FrameworkTwin.step_breakdown."""
        clock, sync = time.perf_counter, self.synchronize
        self.losses_to_numpy([self.train_step(batch)])  # warm-up: first use, compilation
        self._timed_parts(batch)
        samples = {k: [] for k in (*BREAKDOWN_PARTS, "step")}
        for _ in range(repeats):
            for k, v in self._timed_parts(batch).items():
                samples[k].append(v)
            sync()
            t0 = clock()
            self.losses_to_numpy([self.train_step(batch)])
            sync()
            samples["step"].append(clock() - t0)
        return breakdown_medians(samples)

    def _timed_parts(self, batch: DeviceBatch) -> dict[str, float]:
        clock, sync = time.perf_counter, self.synchronize
        sync()
        t0 = clock()
        self.optimizer.zero_grad()
        loss = self.loss_fn(self._run(batch.x), batch.y)
        sync()
        t1 = clock()
        loss.backward()
        sync()
        t2 = clock()
        self.optimizer.step()
        sync()
        t3 = clock()
        self.losses_to_numpy([loss.detach()])
        t4 = clock()
        return {"forward": t1 - t0, "backward": t2 - t1, "optimizer": t3 - t2, "readback": t4 - t3}

    def trace_count(self) -> int | None:
        """compile: graphs handed to inductor so far (the first compilation and every
        recompilation, e.g. for a new batch size or for no-grad inference); None otherwise."""
        return self._backend.count if self._backend is not None else None
