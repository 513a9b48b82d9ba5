"""PyTorch's execution modes, declared without importing torch (a run validates and labels
cases before any framework process starts). The twin (twin.py) implements each."""
from shared.contract import Variant

DEFAULT_VARIANT = "eager"

VARIANTS = {v.name: v for v in (
    Variant("eager", "PyTorch (eager)", "eager nn.Module, torch.optim.Adam defaults (single-tensor loop on CPU)"),
)}
