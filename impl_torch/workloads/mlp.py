"""The MLP as an nn.Module, trained eagerly; its variants (impl_torch/variants.py): fused Adam,
torch.compile of the model, and a sparse-input first layer."""
from __future__ import annotations

import time
import warnings
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from impl_torch._compile import CountingBackend, compile_unavailable_reason
from impl_torch.optim import make_optimizer
from impl_torch.runtime import device_of
from shared import batches
from shared.config import ExperimentConfig
from shared.contract import BREAKDOWN_PARTS, DeviceBatch, FrameworkTwin, breakdown_medians
from shared.errors import Unavailable
from shared.weights import Layer, sizes_of

# Said once per process by torch when the first CSR tensor is built; the sparse variant knows.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


class KernelLinear(nn.Module):
    """x @ kernel + bias with the weight held (in, out), Keras' layout: the sparse variant's first
    layer. A CSR @ dense product wants its dense operand row-major (in, out); nn.Linear's (out, in)
    weight would be transposed into a fresh 48 MB copy at every forward (measured here for the
    tutorial batch: ~2 ms for the CSR product against ~35-50 ms with the transposed copy). The
    values, the initial weights and the Adam update (elementwise) are the dense twin's."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.kernel = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.empty(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x, self.kernel)  # x: sparse CSR (batch, V)


class MLP(nn.Module):
    def __init__(self, sizes: list[int], sparse_input: bool = False):
        super().__init__()
        first = KernelLinear if sparse_input else nn.Linear
        self.layers = nn.ModuleList(
            (first if k == 0 else nn.Linear)(i, o) for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


class Twin(FrameworkTwin):
    framework = "torch"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[Layer], variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        self.sparse = self.spec.input == "sparse"
        # Process-wide in PyTorch (every intra-op thread): set for every twin, so one variant's
        # setting never leaks into the next twin built in the same process (tests, checks).
        torch.set_flush_denormal(bool(self.spec.flush_denormal))
        if self.spec.execution == "compile":
            reason = compile_unavailable_reason(self.device)
            if reason:
                raise Unavailable(reason)
        sizes = sizes_of(weights)
        self.model = MLP(sizes, sparse_input=self.sparse).to(self.device)
        with torch.no_grad():
            for layer, (w, b) in zip(self.model.layers, weights):
                if isinstance(layer, KernelLinear):
                    layer.kernel.copy_(torch.from_numpy(w))  # (in, out): the shared layout as is
                else:
                    layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))  # Linear stores (out, in)
                layer.bias.copy_(torch.from_numpy(b))
        self.loss_fn = nn.CrossEntropyLoss()  # mean over the batch, integer labels
        self.optimizer = make_optimizer(list(self.model.parameters()), cfg, fused=self.spec.optimizer_impl == "fused")
        self._backend = None
        self._forward = self.model
        if self.spec.execution == "compile":
            from torch import _dynamo
            # A fresh model compiles afresh, as a fresh tf.function traces afresh: dynamo's cache
            # (keyed on MLP.forward's code, shared by every instance) is dropped, so each twin's
            # first epoch pays its own tracing (inductor's on-disk cache may still spare it part of
            # the C++ compilation), its trace_count() is its own, and the many twins of a test or a
            # check never reach dynamo's recompile limit (past which it would silently run eager).
            _dynamo.reset()
            self._backend = CountingBackend()
            self._forward = torch.compile(self.model, backend=self._backend)  # default mode: no cudagraphs

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        if self._backend is None:
            return self._forward(x)
        try:
            return self._forward(x)
        except torch._dynamo.exc.BackendCompilerFailed as e:  # e.g. the compiler is there but cannot build
            raise Unavailable(f"torch.compile (inductor) failed to compile the model on this machine: "
                              f"{str(e).splitlines()[0][:300]}") from e

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        if self.sparse:
            tx = self._csr_tensor(x if sp.issparse(x) else sp.csr_matrix(np.asarray(x, np.float32)))
        else:
            tx = torch.from_numpy(x).to(self.device)
        ty = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(self.device) if y is not None else None
        return DeviceBatch(tx, ty, x.shape[0])

    def rows_to_device(self, x: sp.csr_matrix, rows, y: np.ndarray | None = None) -> DeviceBatch:
        if not self.sparse:
            return super().rows_to_device(x, rows, y)
        return self.to_device(batches.sparse_rows(x, rows), y[rows] if y is not None else None)

    def _csr_tensor(self, x: sp.csr_matrix) -> torch.Tensor:
        """A torch sparse CSR tensor (float32 values, int64 indices) on the device."""
        x = sp.csr_matrix(x)
        if not x.has_canonical_format:
            x = x.copy()
            x.sum_duplicates()
        t = torch.sparse_csr_tensor(torch.from_numpy(x.indptr.astype(np.int64)),
                                    torch.from_numpy(x.indices.astype(np.int64)),
                                    torch.from_numpy(np.asarray(x.data, np.float32)), size=x.shape,
                                    check_invariants=False)
        return t.to(self.device)

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

    def get_weights(self) -> list[Layer]:
        def shared_layout(layer):
            w = layer.kernel if isinstance(layer, KernelLinear) else layer.weight.T
            return w.detach().cpu().numpy().copy(), layer.bias.detach().cpu().numpy().copy()
        return [shared_layout(l) for l in self.model.layers]

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
