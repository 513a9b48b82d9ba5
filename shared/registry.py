"""Framework name -> package holding its runtime.py and twin.py. Imported lazily, so that
listing frameworks never imports one, and each benchmark process imports only its own.

Adding a framework (JAX, say) = a new folder with runtime.py and twin.py + one line here.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from shared.errors import UserError

FRAMEWORKS: dict[str, str] = {
    "torch": "impl_torch",
    "tensorflow": "impl_tf",
    "jax": "impl_jax",
}

# Short names users type.
ALIASES = {"pytorch": "torch", "pt": "torch", "tf": "tensorflow"}


def canonical(name: str) -> str:
    name = ALIASES.get(name.lower(), name.lower())
    if name not in FRAMEWORKS:
        raise UserError(f"unknown framework {name!r}: choose from {', '.join(FRAMEWORKS)}")
    return name


def _module(name: str, part: str) -> ModuleType:
    package = FRAMEWORKS[canonical(name)]
    try:
        return importlib.import_module(f"{package}.{part}")
    except ModuleNotFoundError as e:
        # Only a missing third-party module means "not installed"; our own import errors are bugs.
        if (e.name or "").split(".")[0] in {"shared", "benchmarks", *FRAMEWORKS.values()}:
            raise
        raise UserError(f"{name} is not installed in this environment ({e}): run `make venv`, or "
                        f"`pip install -e '.[cpu]'` (CPU) / `pip install -e '.[gpu]'` (GPU)") from None


def runtime(name: str) -> ModuleType:
    return _module(name, "runtime")


def twin_class(name: str):
    return _module(name, "twin").Twin


def variants(name: str) -> dict:
    """name -> shared.contract.Variant, without importing the framework itself."""
    return importlib.import_module(f"{FRAMEWORKS[canonical(name)]}.variants").VARIANTS


def default_variant(name: str) -> str:
    return importlib.import_module(f"{FRAMEWORKS[canonical(name)]}.variants").DEFAULT_VARIANT


def variant(name: str, variant_name: str | None = None):
    """The Variant `variant_name` of framework `name` (its default when None)."""
    fw = canonical(name)
    table = variants(fw)
    chosen = variant_name or default_variant(fw)
    if chosen not in table:
        raise UserError(f"{fw} has no variant {chosen!r}: choose from {', '.join(table)}")
    return table[chosen]


def probe(name: str) -> ModuleType:
    """The framework's machine probe (its own matmul and copy rates), impl_*/probe.py."""
    return _module(name, "probe")
