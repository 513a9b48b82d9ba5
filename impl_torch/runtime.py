"""Thread budget, device and numerics for PyTorch, set through PyTorch's own API."""
from __future__ import annotations

import torch

from shared.contract import RuntimeInfo
from shared.errors import UserError


def device_of(device: str) -> torch.device:
    return torch.device("cuda:0" if device == "gpu" else "cpu")



def flushes_denormals(device: str = "cpu") -> bool:
    """Measured, not asked: a denormal float32 (1e-39) halved on the intra-op pool (4M elements,
    so the op is split over the threads) comes out as zero when the threads flush denormals to
    zero. torch.set_flush_denormal(True) switches this on for the pool; PyTorch's default is off.

    On the CPU the probe leaves glibc's malloc as it found it: its 16 MB live in an anonymous
    mmap of this function's own, halved in place and counted by numpy, so no tensor between
    malloc's mmap threshold and its 32 MB ceiling is allocated and freed. Freeing one raises the
    process's mmap and trim thresholds for good, and a 16 MB probe tensor freed before training
    took the text CNN from ~151,000 minor page faults per warm epoch (as in a plain script) to 0:
    the twin then ran 13% faster than its plain script (fwbench plain, AMD EPYC, 2026-12-07)."""
    n = 1 << 22
    if device_of(device).type != "cpu":
        x = torch.full((n,), 1e-39, dtype=torch.float32, device=device_of(device))
        return int(torch.count_nonzero(x * 0.5)) == 0
    import mmap

    import numpy as np
    with mmap.mmap(-1, n * 4) as buf:
        a = np.frombuffer(buf, dtype=np.float32)
        a.fill(np.float32(1e-39))
        torch.from_numpy(a).mul_(0.5)  # on the pool, in place: no allocation
        flushed = int(np.count_nonzero(a)) == 0
        del a  # the buffer's export ends before the mmap closes
    return flushed


def configure(threads: int, device: str) -> RuntimeInfo:
    """Call before building a twin. Inter-op threads: 1 on both frameworks, so the budget
    compared is intra-op (one MLP's ops run one after another anyway)."""
    if device == "gpu" and not torch.cuda.is_available():
        raise UserError("a GPU was asked for but PyTorch sees no CUDA device: use the CPU (run: --devices cpu; check: --device cpu), "
                        "or install a CUDA build of torch on a machine with a GPU")
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only settable before the first parallel work; keep what is there
        pass
    # TF32 would make GPU matmuls lower precision than TensorFlow's (also off): off on both.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    name = "cpu"
    extra = {"mkldnn": torch.backends.mkldnn.is_available(), "cuda_build": torch.version.cuda}
    if device == "gpu":
        props = torch.cuda.get_device_properties(0)
        name = f"cuda:0 ({props.name})"
        extra.update(cudnn=torch.backends.cudnn.version(), gpu_memory_gb=round(props.total_memory / 2**30, 1))
    return RuntimeInfo(
        framework="torch", version=torch.__version__, device=device, device_name=name,
        intra_op_threads=torch.get_num_threads(), inter_op_threads=torch.get_num_interop_threads(),
        tf32=bool(torch.backends.cuda.matmul.allow_tf32), flush_denormal=flushes_denormals(device), extra=extra)


def reset_peak_device_memory(device: str) -> None:
    if device == "gpu":
        torch.cuda.reset_peak_memory_stats()


def peak_device_memory_mb(device: str) -> float | None:
    """Peak bytes held by PyTorch's allocator on the GPU since the last reset."""
    if device != "gpu":
        return None
    return torch.cuda.max_memory_allocated() / 2**20
