"""The Transformer encoder classifier (shared/workloads/transformer) as an nn.Module whose forward
is written out op by op, the same formula in the same order as the TensorFlow and JAX twins
(fair: the same computation; torch's fused scaled_dot_product_attention is not used), except the
layer norm, the token lookup and the dense layers, which use PyTorch's own kernels as nn.LayerNorm,
nn.Embedding and nn.Linear do (layer_norm and dense say why). Variants
(impl_torch/variants.py): eager, fused Adam, torch.compile of the model, denormals flushed."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from impl_torch.twin_base import BaseTwin
from shared.contract import DeviceBatch

MASKED = -1e9  # added to the scores of padding keys: exp underflows to exactly 0, never a NaN


def layer_norm(x, gamma, beta, eps: float):
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last axis, the biased variance: the
    twins' common formula, computed by PyTorch's own kernel (what nn.LayerNorm calls), as a user's
    model gets it. Written out op by op instead (as the TensorFlow and JAX twins write it, which is
    what Keras' LayerNormalization and flax compose too) it cost 3.4x per call in eager PyTorch
    (1.42 against 0.42 ms forward and backward at 32 x 128 x 64, AMD EPYC, 2 threads), about a tenth
    of the step (`fwbench plain` read the twin at 1.09 (0.92-1.30) of the plain script then).
    Its rounding differs from the written-out formula by float32 rounding only (the strict
    first-epoch step losses stay within the workload's tolerance)."""
    return F.layer_norm(x, (x.shape[-1],), gamma, beta, eps)


def dense(x, kernel, bias):
    """x @ kernel + bias, kernel held (in, out), by PyTorch's own kernel for it (what nn.Linear
    calls: one addmm over the folded rows, the bias added inside it). Written as `x @ kernel +
    bias` it allocates a second (B*L, out) result per call (1-2 MB for the 12 in the encoder layers); with
    glibc malloc's default (dynamic) mmap threshold those fresh blocks cost page faults, and the
    twin took 500,000 minor faults per warm epoch against the plain script's 300,000-370,000 and
    ran 1.19x slower than the same nn.Module code in a process of the same setup (AMD EPYC, 6
    processes each, 2026-12-07; with the thresholds fixed, no faults on either and no gap). The
    same function; only the rounding of the bias add differs."""
    return F.linear(x, kernel.t(), bias)


class Encoder(nn.Module):
    """Parameters in the workload's declared order (parameter_names), kernels held (in, out)."""

    def __init__(self, shapes: list[tuple[int, ...]], heads: int, layers: int, eps: float):
        super().__init__()
        self.params = nn.ParameterList(nn.Parameter(torch.empty(s)) for s in shapes)
        self.heads, self.layers, self.eps = heads, layers, eps

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        p = list(self.params)
        table, position = p[0], p[1]
        B, L = ids.shape
        d = table.shape[1]
        H = self.heads
        dh = d // H
        keep = (ids != 0).to(table.dtype)  # (B, L): 1 for a token, 0 for padding
        mask_add = (1.0 - keep) * MASKED  # (B, L)
        x = F.embedding(ids, table) + position[:L]  # nn.Embedding's kernel (indexing's backward is slower)
        for l in range(self.layers):
            (g1, b1, wq, bq, wk, bk, wv, bv, wo, bo, g2, b2, w1, c1, w2, c2) = p[2 + 16 * l: 18 + 16 * l]
            h = layer_norm(x, g1, b1, self.eps)
            q = dense(h, wq, bq).reshape(B, L, H, dh).transpose(1, 2)  # (B, H, L, dh)
            k = dense(h, wk, bk).reshape(B, L, H, dh).transpose(1, 2)
            v = dense(h, wv, bv).reshape(B, L, H, dh).transpose(1, 2)
            scores = (q @ k.transpose(2, 3)) * (1.0 / math.sqrt(dh)) + mask_add[:, None, None, :]
            context = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, L, d)
            x = x + dense(context, wo, bo)
            h = layer_norm(x, g2, b2, self.eps)
            x = x + dense(torch.relu(dense(h, w1, c1)), w2, c2)
        gf, bf, wh, bh = p[-4:]
        x = layer_norm(x, gf, bf, self.eps)
        pooled = (x * keep[:, :, None]).sum(dim=1) / torch.clamp(keep.sum(dim=1, keepdim=True), min=1.0)
        return dense(pooled, wh, bh)


class Twin(BaseTwin):
    """The encoder's own part; the rest (steps, compile, breakdown) is impl_torch/twin_base.py's."""

    def _build(self, weights: Sequence[np.ndarray]) -> Encoder:
        s = self.cfg.settings
        model = Encoder([np.shape(w) for w in weights], s.heads, s.layers, s.ln_eps).to(self.device)
        with torch.no_grad():
            for p, w in zip(model.params, weights):
                p.copy_(torch.from_numpy(np.asarray(w, np.float32)))  # the shared layout as is
        return model

    def get_weights(self) -> list[np.ndarray]:
        return [p.detach().cpu().numpy().copy() for p in self.model.params]

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        # int64 ids: what indexing a table takes without a conversion inside the step
        tx = torch.from_numpy(np.asarray(x, np.int64)).to(self.device)
        ty = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(self.device) if y is not None else None
        return DeviceBatch(tx, ty, x.shape[0])
