"""The MLP as an nn.Module, trained eagerly; its variants (impl_torch/variants.py): fused Adam,
torch.compile of the model, and a sparse-input first layer."""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from impl_torch.twin_base import BaseTwin
from shared import batches
from shared.contract import DeviceBatch
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


class Twin(BaseTwin):
    """The MLP's own part; the rest (steps, compile, breakdown) is impl_torch/twin_base.py's."""

    def _build(self, weights: Sequence[Layer]) -> MLP:
        self.sparse = self.spec.input == "sparse"
        model = MLP(sizes_of(weights), sparse_input=self.sparse).to(self.device)
        with torch.no_grad():
            for layer, (w, b) in zip(model.layers, weights):
                if isinstance(layer, KernelLinear):
                    layer.kernel.copy_(torch.from_numpy(w))  # (in, out): the shared layout as is
                else:
                    layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))  # Linear stores (out, in)
                layer.bias.copy_(torch.from_numpy(b))
        return model

    def get_weights(self) -> list[Layer]:
        def shared_layout(layer):
            w = layer.kernel if isinstance(layer, KernelLinear) else layer.weight.T
            return w.detach().cpu().numpy().copy(), layer.bias.detach().cpu().numpy().copy()
        return [shared_layout(l) for l in self.model.layers]

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
