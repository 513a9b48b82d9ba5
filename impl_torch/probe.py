"""What PyTorch itself achieves on this device: a large float32 matmul (GFLOP/s) and a large
copy (GB/s), the yardsticks against which shared/costs.floor_seconds sets the MLP's floor.

Runs inside the framework's own benchmark process after runtime.configure set its threads
(nothing here touches threads). Mirrors impl_tf/probe.py: same functions, same keys.
Timing: one untimed warm-up call, then `repeats` timed calls, each one synchronised
(torch.cuda.synchronize on the GPU; CPU ops return when done). Best = shortest call.
"""
from __future__ import annotations

import torch

from impl_torch.runtime import device_of
from shared.probing import copy_record, matmul_record, timed


def _tf32(device: str) -> bool:
    """True when float32 matmuls may run as TF32 (the runtime turns it off; on the GPU a probe
    with it on would measure TF32, not float32, so that is refused)."""
    on = bool(torch.backends.cuda.matmul.allow_tf32) or torch.get_float32_matmul_precision() != "highest"
    if device == "gpu" and on:
        raise RuntimeError("TF32 is enabled: call runtime.configure first (float32 matmul must be full precision)")
    return on


def _wait(device: str):
    return (lambda out: torch.cuda.synchronize()) if device == "gpu" else (lambda out: None)


def matmul_gflops(n: int = 2048, repeats: int = 5, device: str = "cpu") -> dict:
    """Achieved GFLOP/s of torch.matmul on float32 n x n @ n x n (2*n^3 FLOPs a call) into a
    preallocated output (out=), best and median over `repeats` timed calls."""
    if n < 1 or repeats < 1:
        raise ValueError("n and repeats must be positive")
    dev = device_of(device)
    tf32 = _tf32(device)
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.rand(n, n, generator=gen, dtype=torch.float32).to(dev)
    b = torch.rand(n, n, generator=gen, dtype=torch.float32).to(dev)
    c = torch.empty(n, n, dtype=torch.float32, device=dev)
    times = timed(lambda: torch.matmul(a, b, out=c), repeats, _wait(device))
    return matmul_record(n, times, device, tf32, f"torch.matmul(a, b, out=c) float32 {n}^3, 1 warm-up call"
                         + (", torch.cuda.synchronize after each call" if device == "gpu" else ""))


def copy_bandwidth_gbs(nbytes: int = 256 * 2**20, repeats: int = 5, device: str = "cpu") -> dict:
    """Achieved GB/s (1e9 bytes) of dst.copy_(src) for a float32 tensor of nbytes (rounded down
    to whole floats), counting bytes read + written = 2 * nbytes a call; best and median."""
    n = int(nbytes) // 4
    if n < 1 or repeats < 1:
        raise ValueError("nbytes must hold at least one float32 and repeats must be positive")
    dev = device_of(device)
    src = torch.ones(n, dtype=torch.float32, device=dev)
    dst = torch.zeros(n, dtype=torch.float32, device=dev)  # written once, so its pages exist
    times = timed(lambda: dst.copy_(src), repeats, _wait(device))
    return copy_record(n, times, device, f"dst.copy_(src) float32 {n * 4} bytes into a preallocated tensor, read + "
                       "write counted, 1 warm-up call" + (", torch.cuda.synchronize after each call" if device == "gpu" else ""))
