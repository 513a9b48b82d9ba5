"""What a training step costs, in FLOPs and bytes, and the least time a machine can do it in.

Framework-neutral (numpy only). Each workload counts its own network's work exactly
(shared/workloads/<name>/costs.py) into these types; the report divides them by the machine's
measured rates (floor_seconds). A multiply-add counts as 2 FLOPs; float32 is 4 bytes; GB = 1e9.
Adam: ADAM_FLOPS_PER_PARAM = 13 per parameter, PyTorch's formula written out:
m = b1*m + (1-b1)*g (3), v = b2*v + (1-b2)*g*g (4), denom = sqrt(v)/sqrt(bc2) + eps (3),
p = p - (lr/bc1) * m/denom (3); sqrt and division count 1 each; ADAM_ARRAYS_PER_PARAM = 7 float32
per parameter: read p, g, m, v; write p, m, v.
"""
from __future__ import annotations

from dataclasses import dataclass
import numpy as np

FLOAT_BYTES = 4  # float32 everywhere: weights, activations, gradients, Adam moments
INDEX_BYTES = 4  # CSR column indices and row pointers (int32, as scipy stores them)
ADAM_FLOPS_PER_PARAM = 13
ADAM_ARRAYS_PER_PARAM = 7  # read p, g, m, v; write p, m, v


@dataclass(frozen=True)
class Part:
    """FLOPs and bytes of one part of a step (forward, backward or optimizer).
    matmul_flops: the share of `flops` that is matrix multiply-adds (2 per multiply-add)."""

    flops: int
    bytes: int
    matmul_flops: int = 0

    def __add__(self, other: "Part") -> "Part":
        return Part(self.flops + other.flops, self.bytes + other.bytes, self.matmul_flops + other.matmul_flops)

    def times(self, k: int) -> "Part":
        return Part(self.flops * k, self.bytes * k, self.matmul_flops * k)

    def to_dict(self) -> dict:
        return {"flops": self.flops, "bytes": self.bytes, "matmul_flops": self.matmul_flops}


@dataclass(frozen=True)
class Cost:
    """Work of one step or of several (an epoch): totals are the sum of the three parts."""

    forward: Part
    backward: Part
    optimizer: Part
    steps: int = 1

    @property
    def flops(self) -> int:
        return self.forward.flops + self.backward.flops + self.optimizer.flops

    @property
    def bytes(self) -> int:
        return self.forward.bytes + self.backward.bytes + self.optimizer.bytes

    @property
    def matmul_flops(self) -> int:
        """Forward + backward matrix multiply-adds only (the customary "training FLOPs")."""
        return self.forward.matmul_flops + self.backward.matmul_flops

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.forward + other.forward, self.backward + other.backward,
                    self.optimizer + other.optimizer, self.steps + other.steps)

    def to_dict(self) -> dict:
        return {"steps": self.steps, "flops": self.flops, "bytes": self.bytes, "matmul_flops": self.matmul_flops,
                "forward": self.forward.to_dict(), "backward": self.backward.to_dict(),
                "optimizer": self.optimizer.to_dict()}


@dataclass(frozen=True)
class Floor:
    """The least time a cost can take on a machine: the larger of its compute and memory floors."""

    compute_s: float
    memory_s: float
    floor_s: float
    binding: str  # "compute" or "memory": which floor is the larger (compute on a tie)

    def to_dict(self) -> dict:
        return {"compute_s": self.compute_s, "memory_s": self.memory_s, "floor_s": self.floor_s, "binding": self.binding}


def floor_seconds(cost: Cost, peak_gflops: float, bandwidth_gbs: float) -> Floor:
    """Compute floor = flops / (peak_gflops * 1e9); memory floor = bytes / (bandwidth_gbs * 1e9);
    the floor is the larger one, and `binding` names it (compute on a tie)."""
    if not (peak_gflops > 0 and bandwidth_gbs > 0 and np.isfinite(peak_gflops) and np.isfinite(bandwidth_gbs)):
        raise ValueError(f"peak_gflops and bandwidth_gbs must be positive and finite; got {peak_gflops}, {bandwidth_gbs}")
    compute_s = cost.flops / (peak_gflops * 1e9)
    memory_s = cost.bytes / (bandwidth_gbs * 1e9)
    binding = "memory" if memory_s > compute_s else "compute"
    return Floor(compute_s, memory_s, max(compute_s, memory_s), binding)


def adam_part(parameters: int) -> Part:
    """One Adam update of `parameters` float32 parameters (dense moments)."""
    return Part(ADAM_FLOPS_PER_PARAM * parameters, ADAM_ARRAYS_PER_PARAM * FLOAT_BYTES * parameters)


def repeat(one: Cost, steps: int) -> Cost:
    """`steps` identical steps."""
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be positive; got {steps}")
    return Cost(one.forward.times(steps), one.backward.times(steps), one.optimizer.times(steps), steps)
