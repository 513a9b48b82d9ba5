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
    """The Variant `variant_name` of framework `name` (its default when None). A name may combine
    named variants of different axes with '+' (torch:sparse+fused): the result takes each one's
    setting on its own axis and the default's elsewhere, and is named in the axes' order with the
    default execution left out (torch:eager+fused is torch:fused)."""
    import dataclasses

    from shared.variant import AXES
    fw = canonical(name)
    table = variants(fw)
    default = table[default_variant(fw)]
    chosen = variant_name or default.name
    parts = []
    for word in chosen.split("+"):
        if word not in table:
            raise UserError(f"{fw} has no variant {word!r}: choose from {_choices(table)} "
                            f"(values of different axes combine with '+')")
        if table[word] in parts:
            raise UserError(f"{fw}:{chosen} names {word!r} twice: name each value once")
        clash = next((p for p in parts if p.axis == table[word].axis), None)
        if clash:
            values = ", ".join(v.name for v in table.values() if v.axis == clash.axis)
            raise UserError(f"{fw}:{chosen} sets the {clash.axis} axis twice ({clash.name} and {word}): "
                            f"choose one of {values}")
        parts.append(table[word])
    parts.sort(key=lambda p: AXES.index(p.axis))
    module = importlib.import_module(f"{FRAMEWORKS[fw]}.variants")
    for combo, why in getattr(module, "UNSUPPORTED", {}).items():
        if set(combo) <= {p.name for p in parts}:
            raise UserError(f"{fw}:{chosen} is not offered: {why}")
    shown = [p for p in parts if p != default]  # the default execution goes without saying
    if len(shown) <= 1:
        return shown[0] if shown else default
    by_axis = {p.axis: p for p in parts}
    run = by_axis.get("execution", default)
    pick = lambda field, axis: getattr(by_axis.get(axis, default), field)
    extra = [p.tag or p.name for p in shown if p.axis != "execution"]
    return dataclasses.replace(
        default, name="+".join(p.name for p in shown),
        label=f"{run.label[:-1]}, {', '.join(extra)})" if run.label.endswith(")") else f"{run.label} ({', '.join(extra)})",
        about="; ".join(p.about for p in shown), execution=run.execution, input=pick("input", "input"),
        optimizer_impl=pick("optimizer_impl", "optimizer_impl"), flush_denormal=pick("flush_denormal", "denormals"),
        dtype=pick("dtype", "dtype"), axis="execution" if "execution" in by_axis else shown[0].axis, tag="")


def _choices(table: dict) -> str:
    """The values a framework offers, by axis: 'execution: eager, compile; input: sparse'."""
    from shared.variant import AXES
    by_axis: dict[str, list[str]] = {}
    for v in table.values():
        by_axis.setdefault(v.axis, []).append(v.name)
    return "; ".join(f"{a}: {', '.join(by_axis[a])}" for a in AXES if a in by_axis)


def matrix_variants(name: str) -> list[str]:
    """The variants `--matrix` runs: every named one, default first, then the framework's
    declared combinations (variants.py MATRIX_COMBINATIONS)."""
    fw = canonical(name)
    module = importlib.import_module(f"{FRAMEWORKS[fw]}.variants")
    default = module.DEFAULT_VARIANT
    names = [default] + [v for v in module.VARIANTS if v != default]
    return names + [variant(fw, c).name for c in getattr(module, "MATRIX_COMBINATIONS", ())]


def probe(name: str) -> ModuleType:
    """The framework's machine probe (its own matmul and copy rates), impl_*/probe.py."""
    return _module(name, "probe")
