"""Framework name -> its package. Imported lazily, so that listing frameworks never imports one,
and each benchmark process imports only its own.

A framework's package holds everything about it: variants.py (its variants and its facts: label,
aliases, packages, thread variables, install hints; importable without the framework),
runtime.py, probe.py and workloads/<workload>.py (its twin of each workload, shared/workloads).
Adding a framework = that folder + one line here (+ its
dependencies in pyproject.toml); tests/test_twin_contract.py proves it with a NumPy twin.
"""
from __future__ import annotations

import importlib
import os
import re
from types import ModuleType

from shared.errors import UserError

FRAMEWORKS: dict[str, str] = {
    "torch": "impl_torch",
    "tensorflow": "impl_tf",
    "jax": "impl_jax",
}

# A framework kept out of this tree registers the same way, through the environment:
# FWBENCH_FRAMEWORKS="name=package,..." with the package importable (on PYTHONPATH). Worker
# processes inherit it, so such a framework runs through the whole harness. A bad item breaks
# only the commands that use its name (REFUSED holds its one-line reason): a typo in one plug-in
# must not stop a run of the built-in frameworks, and a plug-in never takes a built-in's name.
EXTRA_ENV = "FWBENCH_FRAMEWORKS"
BUILTIN: dict[str, str] = dict(FRAMEWORKS)
REFUSED: dict[str, str] = {}  # framework name (or the raw item) -> why its plug-in item is refused
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PACKAGE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _register(text: str) -> None:
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, package = (x.strip() for x in item.partition("="))
        name = name.lower()
        if not _NAME.match(name) or not _PACKAGE.match(package):
            REFUSED[name or item] = f"{EXTRA_ENV} item {item!r}: write name=package, e.g. numpy=impl_numpy"
        elif name in BUILTIN:  # `torch=...` would silently keep the built-in: refused instead
            REFUSED[name] = (f"{EXTRA_ENV} item {item!r}: {name} is a built-in framework and a plug-in cannot "
                             f"replace it: give the plug-in another name, or drop the item")
        elif name in FRAMEWORKS or name in REFUSED:
            REFUSED[name] = f"{EXTRA_ENV} names {name} twice: give each plug-in once"
            FRAMEWORKS.pop(name, None)
        else:
            FRAMEWORKS[name] = package


_register(os.environ.get(EXTRA_ENV, ""))


# The framework that every other case is compared with by default (its default variant).
BASELINE_FRAMEWORK = "torch"


def facts(name: str) -> ModuleType:
    """The framework's own declarations, importable without the framework: its variants and the
    facts about it (LABEL, ALIASES, PACKAGES, THREAD_ENV, INSTALL) in impl_*/variants.py. A plug-in
    that cannot be imported, or whose aliases take a built-in's name, is refused in one line."""
    if name in BUILTIN:  # a refused `torch=...` item is refused where torch is named (canonical)
        return importlib.import_module(f"{FRAMEWORKS[name]}.variants")
    if name in REFUSED:
        raise UserError(REFUSED[name])
    item = f"{EXTRA_ENV} item {name}={FRAMEWORKS[name]}"
    try:
        module = importlib.import_module(f"{FRAMEWORKS[name]}.variants")
    except Exception as e:  # any failure of someone else's module is that plug-in's, named in one line
        raise UserError(f"{item}: cannot import {FRAMEWORKS[name]}.variants ({e.__class__.__name__}: {e}): "
                        f"put the package on PYTHONPATH or drop the item") from None
    taken = {*BUILTIN, *_builtin_aliases()}
    clash = sorted({a.lower() for a in getattr(module, "ALIASES", ()) if isinstance(a, str)} & taken)
    if clash:  # `torch` as a plug-in's alias would take over the default run
        raise UserError(f"{item}: its aliases {', '.join(clash)} belong to a built-in framework: a plug-in "
                        f"cannot take them; remove them from its ALIASES")
    return module


def _builtin_aliases() -> dict[str, str]:
    return {a: fw for fw in BUILTIN for a in importlib.import_module(f"{BUILTIN[fw]}.variants").ALIASES}


def usable() -> list[str]:
    """The registered frameworks whose declarations load: what listings iterate over, so a broken
    plug-in breaks only the commands that name it."""
    out = []
    for fw in FRAMEWORKS:
        try:
            facts(fw)
        except UserError:
            continue
        out.append(fw)
    return out


def aliases() -> dict[str, str]:
    """Short names users type -> framework, from each framework's ALIASES (built-ins win; a
    plug-in's own aliases only when it loads)."""
    return {**{a: fw for fw in usable() for a in facts(fw).ALIASES}, **_builtin_aliases()}


def label(name: str) -> str:
    return facts(canonical(name)).LABEL


def packages() -> tuple[str, ...]:
    """Every framework's distributions, in registry order."""
    return tuple(p for fw in usable() for p in facts(fw).PACKAGES)


def thread_env(intra_op: int, inter_op: int) -> dict[str, str]:
    """Every framework's thread variables set to the run's budget (each worker gets them all, so
    every worker starts in the same environment whatever its framework)."""
    budget = {"intra_op": str(intra_op), "inter_op": str(inter_op)}
    return {k: budget[v] for fw in usable() for k, v in facts(fw).THREAD_ENV.items()}


def canonical(name: str) -> str:
    name = name.lower()
    if name in REFUSED:
        raise UserError(REFUSED[name])
    name = aliases().get(name, name)
    if name in REFUSED:  # `TensorFlow=...` refused, and so is its alias tf
        raise UserError(REFUSED[name])
    if name not in FRAMEWORKS:
        bad = [k for k in REFUSED if k not in FRAMEWORKS]
        raise UserError(f"unknown framework {name!r}: choose from {', '.join(usable())}"
                        + (f" ({EXTRA_ENV} items refused: {'; '.join(REFUSED[k] for k in bad)})" if bad else ""))
    facts(name)  # a plug-in that does not load is refused here, by name
    return name


def _module(name: str, part: str) -> ModuleType:
    package = FRAMEWORKS[canonical(name)]
    try:
        return importlib.import_module(f"{package}.{part}")
    except ModuleNotFoundError as e:
        # Only a missing third-party module means "not installed"; our own import errors are bugs.
        if (e.name or "").split(".")[0] in {"shared", "benchmarks", *FRAMEWORKS.values()}:
            raise
        install = facts(canonical(name)).INSTALL
        raise UserError(f"{name} is not installed in this environment ({e}): on a CPU machine {install['cpu']}; "
                        f"on a GPU machine {install['gpu']}") from None


def runtime(name: str) -> ModuleType:
    return _module(name, "runtime")


def twin_class(name: str, workload: str | None = None):
    """The framework's twin of the workload (the default workload when None)."""
    from shared import workloads
    w = workloads.get(workload)
    fw = canonical(name)
    module = w.twin_module(fw, FRAMEWORKS[fw])
    try:
        return importlib.import_module(module).Twin
    except ModuleNotFoundError as e:
        if e.name == module:
            raise UserError(f"{label(fw)} has no twin of workload {w.name} ({module} does not exist)") from None
        if (e.name or "").split(".")[0] in {"shared", "benchmarks", *FRAMEWORKS.values()}:
            raise
        install = facts(fw).INSTALL
        raise UserError(f"{name} is not installed in this environment ({e}): on a CPU machine {install['cpu']}; "
                        f"on a GPU machine {install['gpu']}") from None


def variants(name: str) -> dict:
    """name -> shared.contract.Variant, without importing the framework itself."""
    return facts(canonical(name)).VARIANTS


def default_variant(name: str) -> str:
    return facts(canonical(name)).DEFAULT_VARIANT


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
    module = facts(fw)
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
    module = facts(fw)
    default = module.DEFAULT_VARIANT
    names = [default] + [v for v in module.VARIANTS if v != default]
    return names + [variant(fw, c).name for c in getattr(module, "MATRIX_COMBINATIONS", ())]


def probe(name: str) -> ModuleType:
    """The framework's machine probe (its own matmul and copy rates), impl_*/probe.py."""
    return _module(name, "probe")
