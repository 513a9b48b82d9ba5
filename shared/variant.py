"""What a variant of a framework's twin is: a value on each of a few independent axes. Kept apart
from the twin contract (shared/contract.py) so that the registry, the case model and the
frameworks' variants.py files can read it without importing any twin."""
from __future__ import annotations

from dataclasses import dataclass

# The independent settings a variant is made of, in the order a composed name lists them
# (torch:sparse+fused, tensorflow:sparse+xla). Each framework's variants.py declares the values it
# supports as named variants, one axis each; shared/registry.variant composes them.
AXES = ("input", "execution", "optimizer_impl", "denormals", "dtype")


@dataclass(frozen=True)
class Variant:
    """One variant of a framework's twin: a value on each axis. A framework's variants.py declares
    its named variants (importable without the framework, so a run can validate and label cases
    up front), each setting one axis (`axis`) away from the framework's default; combinations
    are composed from them (shared/registry.variant). The twins read the settings below, never
    the name."""
    name: str  # what users type after "framework:", e.g. "eager", "xla", "sparse+fused"
    label: str  # how reports name the case, e.g. "TensorFlow (graph, XLA)"
    about: str  # one honest line: what this mode changes against the framework's default
    input: str = "dense"  # "dense" or "sparse": the batch representation its input pipeline builds
    # True: the twin switches its framework's threads to flush denormal floats to zero, where the
    # framework offers a switch (PyTorch); None: the framework's default, measured and recorded
    # in every worker's runtime read-back (RuntimeInfo.flush_denormal).
    flush_denormal: bool | None = None
    execution: str | None = None  # eager, graph, compile, xla, jit...; None: the framework default's
    optimizer_impl: str = "default"  # "default" or "fused" (one fused kernel per parameter)
    dtype: str = "float32"  # declared; float32 is the only value offered
    axis: str = "execution"  # the axis this named variant sets
    tag: str = ""  # what it adds to a composed label, e.g. "fused Adam" (default: its name)

    def __post_init__(self):
        if self.axis not in AXES:
            raise ValueError(f"variant {self.name!r}: unknown axis {self.axis!r} (axes: {', '.join(AXES)})")
        if self.axis == "execution" and self.execution is None:
            object.__setattr__(self, "execution", self.name)

    @property
    def settings(self) -> dict:
        """The variant as axis values (what a report can attribute an effect to)."""
        return {"input": self.input, "execution": self.execution, "optimizer_impl": self.optimizer_impl,
                "denormals": "flush" if self.flush_denormal else "framework default", "dtype": self.dtype}
