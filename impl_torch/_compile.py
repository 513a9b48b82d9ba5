"""torch.compile for every torch twin (a helper of this framework only, hence private): whether
inductor can run here, and a backend that counts the graphs it compiles (a twin's trace_count)."""
from __future__ import annotations

import sys

import torch


def compile_unavailable_reason(device: torch.device) -> str | None:
    """Why torch.compile's default (inductor) backend cannot run here, or None. Cheap: no
    compilation, only the checks of what inductor will need at the first call."""
    from torch import _dynamo
    if not _dynamo.is_dynamo_supported():
        return f"torch.compile does not support Python {sys.version.split()[0]} with torch {torch.__version__}"
    if device.type == "cpu":
        from torch._inductor import config
        from torch._inductor.cpp_builder import get_cpp_compiler
        try:
            get_cpp_compiler()  # what inductor runs for CPU kernels: $CXX / config.cpp.cxx, tried with --version
        except Exception as e:  # torch._inductor.exc.InvalidCxxCompiler, or anything it raises on the way
            tried = config.cpp.cxx if isinstance(config.cpp.cxx, (list, tuple)) else (config.cpp.cxx,)
            return (f"torch.compile (inductor) needs a C++ compiler for CPU code and found none "
                    f"(tried {', '.join(str(c) for c in tried if c)}: {type(e).__name__}); install g++ or set CXX")
    else:
        from torch.utils._triton import has_triton
        if not has_triton():
            return "torch.compile (inductor) needs Triton for GPU code and it is not installed"
    return None


class CountingBackend:
    """The default inductor backend, counting the graphs it is handed: one per (re)compilation."""

    def __init__(self):
        from torch import _dynamo
        self.inner = _dynamo.lookup_backend("inductor")
        self.count = 0

    def __call__(self, gm, example_inputs):
        self.count += 1
        return self.inner(gm, example_inputs)
