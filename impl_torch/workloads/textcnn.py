"""The text CNN (shared/workloads/textcnn) as an nn.Module, trained eagerly; its variants
(impl_torch/variants.py) that apply to token ids: fused Adam, torch.compile of the model,
denormals flushed (the sparse-input variant is refused by FrameworkTwin: token ids have no
sparse form). Layout: nn.Embedding, then the embedded batch transposed to Conv1d's (B, E, L);
each kernel copied from the shared (w, E, F) layout into Conv1d's (F, E, w) and back."""
from __future__ import annotations

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


class TextCNN(nn.Module):
    def __init__(self, n_ids: int, embed_dim: int, widths: Sequence[int], filters: int, n_classes: int):
        super().__init__()
        self.embedding = nn.Embedding(n_ids, embed_dim)  # the padding id is an ordinary row (see the workload)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, filters, w) for w in widths)  # valid padding
        self.head = nn.Linear(len(widths) * filters, n_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids).transpose(1, 2)  # (B, L, E) -> (B, E, L), Conv1d's layout
        # amax, not max(dim)[0]: on tied maxima its gradient is shared equally among them, as
        # TensorFlow's reduce_max and JAX's max are (max(dim) would send it all to one position).
        pooled = [torch.relu(conv(x)).amax(dim=2) for conv in self.convs]  # max over time, (B, F) each
        return self.head(torch.cat(pooled, dim=1))


class Twin(FrameworkTwin):
    framework = "torch"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[np.ndarray], variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        # Process-wide in PyTorch: set for every twin, so one variant's setting never leaks into
        # the next twin built in the same process (tests, checks).
        torch.set_flush_denormal(bool(self.spec.flush_denormal))
        if self.spec.execution == "compile":
            reason = compile_unavailable_reason(self.device)
            if reason:
                raise Unavailable(reason)
        s = cfg.settings
        embedding, *convs, head_w, head_b = weights
        n_ids, n_classes = embedding.shape[0], head_w.shape[1]
        self.model = TextCNN(n_ids, s.embed_dim, s.widths, s.filters, n_classes).to(self.device)
        with torch.no_grad():
            self.model.embedding.weight.copy_(torch.from_numpy(embedding))
            for conv, k, b in zip(self.model.convs, convs[0::2], convs[1::2]):
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(k.transpose(2, 1, 0))))  # (w,E,F)->(F,E,w)
                conv.bias.copy_(torch.from_numpy(b))
            self.model.head.weight.copy_(torch.from_numpy(np.ascontiguousarray(head_w.T)))  # Linear: (out, in)
            self.model.head.bias.copy_(torch.from_numpy(head_b))
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = make_optimizer(list(self.model.parameters()), cfg, fused=self.spec.optimizer_impl == "fused")
        self._backend = None
        self._forward = self.model
        if self.spec.execution == "compile":
            from torch import _dynamo
            # A fresh model compiles afresh (impl_torch/workloads/mlp.py says why): its own
            # first-epoch compilation, its own trace count, never dynamo's recompile limit.
            _dynamo.reset()
            self._backend = CountingBackend()
            self._forward = torch.compile(self.model, backend=self._backend)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        if self._backend is None:
            return self._forward(x)
        try:
            return self._forward(x)
        except torch._dynamo.exc.BackendCompilerFailed as e:
            raise Unavailable(f"torch.compile (inductor) failed to compile the model on this machine: "
                              f"{str(e).splitlines()[0][:300]}") from e

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        # int32 ids as prepared: nn.Embedding takes int32 as well as int64 indices
        tx = torch.from_numpy(np.ascontiguousarray(x, dtype=np.int32)).to(self.device)
        ty = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(self.device) if y is not None else None
        return DeviceBatch(tx, ty, x.shape[0])

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

    def get_weights(self) -> list[np.ndarray]:
        def host(t):
            return t.detach().cpu().numpy().copy()
        out = [host(self.model.embedding.weight)]
        for conv in self.model.convs:
            out += [np.ascontiguousarray(host(conv.weight).transpose(2, 1, 0)), host(conv.bias)]  # -> (w, E, F)
        return out + [np.ascontiguousarray(host(self.model.head.weight).T), host(self.model.head.bias)]

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def step_breakdown(self, batch: DeviceBatch, repeats: int) -> dict[str, float]:
        """As the MLP twin's: forward = zero_grad + forward + loss, backward = loss.backward(),
        optimizer = optimizer.step(), readback = losses_to_numpy([loss]), each synchronised; then
        one whole train_step + losses_to_numpy. Trains: see FrameworkTwin.step_breakdown."""
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
        """compile: graphs handed to inductor so far (first compilation and every recompilation,
        e.g. for a new batch size or for no-grad inference); None otherwise."""
        return self._backend.count if self._backend is not None else None
