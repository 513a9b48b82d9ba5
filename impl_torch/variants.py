"""PyTorch's variants, declared without importing torch (a run validates and labels cases before
any framework process starts): each named variant sets one axis (shared/contract.AXES) away from
the default, and values of different axes combine (torch:sparse+fused). The twin (twin_base.py,
workloads/) reads the settings."""
from shared.variant import Variant

DEFAULT_VARIANT = "eager"

VARIANTS = {v.name: v for v in (
    Variant("eager", "PyTorch (eager)", "eager nn.Module, torch.optim.Adam defaults (single-tensor loop on CPU)"),
    Variant("fused", "PyTorch (eager, fused Adam)", axis="optimizer_impl", optimizer_impl="fused", tag="fused Adam",
            execution="eager",
            about="eager nn.Module, torch.optim.Adam(fused=True): one fused kernel per parameter for the update; "
            "native optimizer mode only: strict (StrictAdam, written out op by op) and sgd run exactly as eager"),
    Variant("compile", "PyTorch (torch.compile)",
            "torch.compile of the model (inductor, default mode, no CUDA graphs), eager optimizer; compilation "
            "happens in the first epoch and every recompilation is counted as a trace; unavailable without "
            "inductor's compiler (C++ on CPU, Triton on GPU)"),
    Variant("ftz", "PyTorch (eager, denormals flushed)", axis="denormals", tag="denormals flushed", execution="eager",
            about="eager as the default, with torch.set_flush_denormal(True): denormal floats flushed to zero, as "
            "TensorFlow's threads do by default. Adam's state on this workload holds ~10^5 denormal values, "
            "which some x86 CPUs compute at many times the normal cost (processor-dependent); the tutorial's PyTorch "
            "script did not flush",
            flush_denormal=True),
    Variant("sparse", "PyTorch (eager, sparse input)", axis="input", tag="sparse input", execution="eager",
            about="eager, batches as torch sparse CSR tensors, never densified: the first layer is CSR @ weight "
            "(held (in, out)), the rest as eager", input="sparse"),
)}

# Combinations --matrix runs besides the named variants (each checked for parity like them).
MATRIX_COMBINATIONS = ("sparse+fused",)

# --- framework facts (read by shared/registry.py; nothing else names them) ----------------------
LABEL = "PyTorch"
ALIASES = ("pytorch", "pt")  # short names users type
PACKAGES = ("torch",)  # distributions whose versions every run records
# Environment variables every worker gets before any import (OpenMP and MKL size their pools at
# load), each set to the run's "intra_op" or "inter_op" budget; runtime.configure then sets the
# budget through torch.set_num_threads / set_num_interop_threads and reads it back.
THREAD_ENV = {"OMP_NUM_THREADS": "intra_op", "MKL_NUM_THREADS": "intra_op"}
INSTALL = {"cpu": "pip install torch==2.13.0 (the CPU build on these machines), or `make venv`",
           "gpu": "a CUDA build of torch from pytorch.org's instructions for your CUDA version"}
