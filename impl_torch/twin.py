"""The MLP as an nn.Module, trained eagerly."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from impl_torch.runtime import device_of
from shared.config import ExperimentConfig
from shared.contract import DeviceBatch, FrameworkTwin
from shared.weights import Layer, sizes_of


class MLP(nn.Module):
    def __init__(self, sizes: list[int]):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


class StrictAdam:
    """PyTorch's Adam update written out by hand, op for op as impl_tf/twin.py's StrictAdam,
    so that both frameworks apply the same formula (bias corrections computed in float64 on
    the host, then used as float32 scalars)."""

    def __init__(self, params: list[torch.Tensor], cfg: ExperimentConfig):
        self.params, self.cfg, self.t = params, cfg, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        # Two scratch buffers per parameter: fresh 48 MB temporaries for the first layer cost
        # page faults that made this step ~5x slower than the rest of the training step.
        self.scratch = [(torch.empty_like(p), torch.empty_like(p)) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        c = self.cfg
        self.t += 1
        bc1 = 1.0 - c.beta1 ** self.t
        bc2 = 1.0 - c.beta2 ** self.t
        # The same ops in the same order as before, each rounded once (no fused alpha, no FMA).
        for p, m, v, (a, b) in zip(self.params, self.m, self.v, self.scratch):
            g = p.grad
            m.mul_(c.beta1).add_(torch.mul(g, 1.0 - c.beta1, out=a))  # m*b1 + g*(1-b1)
            v.mul_(c.beta2).add_(torch.mul(g, g, out=a).mul_(1.0 - c.beta2))  # v*b2 + g*g*(1-b2)
            torch.div(v, bc2, out=a).sqrt_().add_(c.adam_eps)  # sqrt(v/bc2) + eps
            p.sub_(torch.div(m, bc1, out=b).div_(a).mul_(c.learning_rate))  # lr*((m/bc1)/denom)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


def make_optimizer(params: list[torch.Tensor], cfg: ExperimentConfig):
    if cfg.optimizer == "native":
        return torch.optim.Adam(params, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps)
    if cfg.optimizer == "strict":
        return StrictAdam(params, cfg)
    return torch.optim.SGD(params, lr=cfg.learning_rate)


class Twin(FrameworkTwin):
    framework = "torch"

    def __init__(self, cfg: ExperimentConfig, weights: Sequence[Layer], variant: str | None = None):
        super().__init__(cfg, weights, variant)
        self.device = device_of(cfg.device)
        sizes = sizes_of(weights)
        self.model = MLP(sizes).to(self.device)
        with torch.no_grad():
            for layer, (w, b) in zip(self.model.layers, weights):
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))  # Linear stores (out, in)
                layer.bias.copy_(torch.from_numpy(b))
        self.loss_fn = nn.CrossEntropyLoss()  # mean over the batch, integer labels
        self.optimizer = make_optimizer(list(self.model.parameters()), cfg)

    def to_device(self, x: np.ndarray, y: np.ndarray | None = None) -> DeviceBatch:
        tx = torch.from_numpy(x).to(self.device)
        ty = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(self.device) if y is not None else None
        return DeviceBatch(tx, ty, x.shape[0])

    def train_step(self, batch: DeviceBatch):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(batch.x), batch.y)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def losses_to_numpy(self, losses: list) -> np.ndarray:
        return torch.stack(losses).cpu().numpy() if losses else np.zeros(0, np.float32)

    @torch.no_grad()
    def logits(self, batch: DeviceBatch) -> np.ndarray:
        return self.model(batch.x).cpu().numpy()

    @torch.no_grad()
    def loss(self, batch: DeviceBatch) -> float:
        return float(self.loss_fn(self.model(batch.x), batch.y))

    def get_weights(self) -> list[Layer]:
        return [(l.weight.detach().cpu().numpy().T.copy(), l.bias.detach().cpu().numpy().copy())
                for l in self.model.layers]

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
