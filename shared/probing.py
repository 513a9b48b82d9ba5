"""What every framework's machine probe (impl_*/probe.py) shares: the timing loop and the record
of a rate, so that the probes differ only in the framework's own call and how it waits for it."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def timed(call: Callable, repeats: int, wait: Callable = lambda out: None) -> list[float]:
    """One warm-up call, then `repeats` timed calls; wait(out) returns once the call's device work
    is done (a GPU synchronise, JAX's block_until_ready), inside the clock."""
    wait(call())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        wait(call())
        times.append(time.perf_counter() - t0)
    return times


def matmul_record(n: int, times: list[float], device: str, tf32: bool, method: str) -> dict:
    """GFLOP/s of float32 n x n @ n x n (2*n^3 FLOPs a call), best and median of the calls."""
    flops = 2 * n ** 3
    best, median = min(times), statistics.median(times)
    return {"gflops_best": flops / best / 1e9, "gflops_median": flops / median / 1e9,
            "seconds_best": best, "seconds_median": median, "flops_per_call": flops,
            "n": n, "repeats": len(times), "device": device, "tf32": tf32, "method": method}


def copy_record(n_floats: int, times: list[float], device: str, method: str) -> dict:
    """GB/s (1e9 bytes) of copying n_floats float32, read + write counted (2 * 4 * n bytes a call)."""
    moved = 2 * n_floats * 4
    best, median = min(times), statistics.median(times)
    return {"gbs_best": moved / best / 1e9, "gbs_median": moved / median / 1e9,
            "seconds_best": best, "seconds_median": median, "bytes_per_call": moved,
            "nbytes": n_floats * 4, "repeats": len(times), "device": device, "method": method}
