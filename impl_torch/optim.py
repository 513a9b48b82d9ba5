"""The optimizers every torch twin uses, by ExperimentConfig.optimizer: torch.optim.Adam (native,
fused for the `fused` variant), PyTorch's Adam written out op by op (strict), plain SGD (sgd)."""
from __future__ import annotations

import torch

from shared.config import ExperimentConfig


class StrictAdam:
    """PyTorch's Adam update written out by hand, op for op as impl_tf/optim.py's StrictAdam,
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


def make_optimizer(params: list[torch.Tensor], cfg: ExperimentConfig, fused: bool = False):
    """fused: torch.optim.Adam(fused=True) (the `fused` variant); only native mode has a fused
    kernel to use: strict (StrictAdam, written out op by op) and sgd run as in every variant."""
    if cfg.optimizer == "native":
        return torch.optim.Adam(params, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps,
                                fused=True if fused else None)
    if cfg.optimizer == "strict":
        return StrictAdam(params, cfg)
    return torch.optim.SGD(params, lr=cfg.learning_rate)
