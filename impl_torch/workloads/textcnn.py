"""The text CNN (shared/workloads/textcnn) as an nn.Module, trained eagerly; its variants
(impl_torch/variants.py) that apply to token ids: fused Adam, torch.compile of the model,
denormals flushed (the sparse-input variant is refused by FrameworkTwin: token ids have no
sparse form). Layout: nn.Embedding, then the embedded batch transposed to Conv1d's (B, E, L);
each kernel copied from the shared (w, E, F) layout into Conv1d's (F, E, w) and back."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from impl_torch.twin_base import BaseTwin
from shared.contract import DeviceBatch


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


class Twin(BaseTwin):
    """The text CNN's own part; the rest (steps, compile, breakdown) is impl_torch/twin_base.py's."""

    def _build(self, weights: Sequence[np.ndarray]) -> TextCNN:
        s = self.cfg.settings
        embedding, *convs, head_w, head_b = weights
        n_ids, n_classes = embedding.shape[0], head_w.shape[1]
        model = TextCNN(n_ids, s.embed_dim, s.widths, s.filters, n_classes).to(self.device)
        with torch.no_grad():
            model.embedding.weight.copy_(torch.from_numpy(embedding))
            for conv, k, b in zip(model.convs, convs[0::2], convs[1::2]):
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(k.transpose(2, 1, 0))))  # (w,E,F)->(F,E,w)
                conv.bias.copy_(torch.from_numpy(b))
            model.head.weight.copy_(torch.from_numpy(np.ascontiguousarray(head_w.T)))  # Linear: (out, in)
            model.head.bias.copy_(torch.from_numpy(head_b))
        return model

    def get_weights(self) -> list[np.ndarray]:
        def host(t):
            return t.detach().cpu().numpy().copy()
        out = [host(self.model.embedding.weight)]
        for conv in self.model.convs:
            out += [np.ascontiguousarray(host(conv.weight).transpose(2, 1, 0)), host(conv.bias)]  # -> (w, E, F)
        return out + [np.ascontiguousarray(host(self.model.head.weight).T), host(self.model.head.bias)]

    def to_device(self, x, y: np.ndarray | None = None) -> DeviceBatch:
        # int32 ids as prepared: nn.Embedding takes int32 as well as int64 indices
        tx = torch.from_numpy(np.ascontiguousarray(x, dtype=np.int32)).to(self.device)
        ty = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(self.device) if y is not None else None
        return DeviceBatch(tx, ty, x.shape[0])
