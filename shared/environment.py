"""What machine and software produced a result: recorded with every run, shown in every report.

Framework-neutral: the framework's own versions and thread read-backs come from its
runtime.configure() (impl_*/runtime.py) and are merged in by the caller.
"""
from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata

# The framework-neutral packages; each framework's own come from its impl_*/variants.py PACKAGES.
SHARED_PACKAGES = ("numpy", "scipy", "scikit-learn", "pandas", "pytest", "pytest-benchmark", "matplotlib", "fwbench")
# numpy's BLAS (data preparation, the shared worker) sizes its pool from this at load.
SHARED_THREAD_ENV = ("OPENBLAS_NUM_THREADS",)
# Recorded as found, never set: settings of this machine that change how libraries run.
MACHINE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TF_ENABLE_ONEDNN_OPTS", "CUDA_VISIBLE_DEVICES")
# Also recorded as found, never set: how memory is allocated. A framework that frees its large
# temporaries to the kernel and maps them in afresh each call pays page faults (PyTorch on CPU:
# 300k-640k a Transformer epoch or predict-all here); glibc's thresholds, a preloaded jemalloc or
# tcmalloc, or PyTorch's huge-page switch change that, and with it PyTorch's times by 10-50% on
# this machine. Workers inherit them from the caller's shell, so two runs that differ in them
# must be told apart.
ALLOCATOR_VARS = ("LD_PRELOAD", "GLIBC_TUNABLES", "THP_MEM_ALLOC_ENABLE")
ALLOCATOR_PREFIXES = ("MALLOC_", "TCMALLOC_", "JEMALLOC_", "_RJEM_MALLOC_CONF")


def packages() -> tuple[str, ...]:
    from shared import registry
    return SHARED_PACKAGES + registry.packages()


def thread_vars() -> tuple[str, ...]:
    from shared import registry
    return (*SHARED_THREAD_ENV, *(k for fw in registry.usable() for k in registry.facts(fw).THREAD_ENV),
            *MACHINE_VARS)


def allocator_env(environ=None) -> dict[str, str]:
    """The allocator settings among the variables (default: this process's, which every worker
    inherits), sorted by name; empty: glibc malloc's defaults and PyTorch's own."""
    environ = os.environ if environ is None else environ
    return {k: environ[k] for k in sorted(environ) if k in ALLOCATOR_VARS or k.startswith(ALLOCATOR_PREFIXES)}


def allocator_words(given: dict[str, str]) -> str:
    """The recorded allocator variables as a reader sees them: NAME=value, comma-separated; "" for none."""
    return ", ".join(f"{k}={v}" for k, v in given.items())


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def usable_core_ids() -> list[int]:
    """The cores this process may run on, lowest first (what --pin and --duet pin workers to)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # no affinity API: all the machine's cores
        return list(range(os.cpu_count() or 1))


def usable_cores() -> int:
    return len(usable_core_ids())


def threads_named(name: str) -> int | None:
    """Threads of this process whose Linux name (comm, 15 characters) is `name` now, counted in
    /proc/self/task (None where /proc is not there): how a pool that no API reports is read back
    (XLA:CPU's, impl_jax/runtime.py and the JAX plain scripts)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    n = 0
    for t in tasks:
        try:
            with open(f"/proc/self/task/{t}/comm") as f:
                n += f.read().strip() == name
        except OSError:  # a thread that ended meanwhile
            pass
    return n


def package_versions() -> dict[str, str | None]:
    out = {}
    for name in packages():
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def gpus() -> list[dict]:
    """GPUs as nvidia-smi sees them (name, driver, memory); [] where there is none or no tool."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            rows.append({"name": parts[0], "driver": parts[1], "memory": parts[2]})
    return rows


def cuda_version() -> str | None:
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for token in out.split("|"):
        if "CUDA Version" in token:
            return token.split("CUDA Version:")[1].strip().split()[0]
    return None


def capture() -> dict:
    return {
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_usable": usable_cores(),
        "ram_gb": ram_gb(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "gpus": gpus(),
        "cuda_driver_version": cuda_version(),
        "thread_env": {k: os.environ[k] for k in thread_vars() if k in os.environ},
        "allocator_env": allocator_env(),
    }
