"""Workload name -> its folder. Imported lazily, as frameworks are (shared/registry.py): listing
workloads imports no framework, and a worker process imports only its own workload's twin.

Adding a workload = its folder (shared/workloads/<name>/ declaring WORKLOAD, see base.py, and its
twin module in each framework folder) + one line here. A workload kept out of this tree registers
through the environment: FWBENCH_WORKLOADS="name=package,..." (package importable, declaring
WORKLOAD); worker processes inherit it. tests/test_workloads.py proves it with a workload the test
itself writes.
"""
from __future__ import annotations

import importlib
import os

from shared.errors import UserError

WORKLOADS: dict[str, str] = {
    "mlp": "shared.workloads.mlp",
    "transformer": "shared.workloads.transformer",
    "textcnn": "shared.workloads.textcnn",
}

# The tutorial's network; a manifest written before workloads existed reads as this one.
DEFAULT_WORKLOAD = "mlp"

EXTRA_ENV = "FWBENCH_WORKLOADS"


def _extra() -> dict[str, str]:
    """FWBENCH_WORKLOADS entries, checked when read: a bad entry is a UserError for the command
    that reads workloads, never an import-time failure of every command."""
    out = {}
    for item in filter(None, (t.strip() for t in os.environ.get(EXTRA_ENV, "").split(","))):
        name, _, package = item.partition("=")
        name, package = name.strip().lower(), package.strip()
        if not name or not package:
            raise UserError(f"{EXTRA_ENV} item {item!r}: write name=package, e.g. rnn=my_rnn_workload")
        if name in WORKLOADS:
            raise UserError(f"{EXTRA_ENV} item {item!r}: {name!r} is a built-in workload; give yours another name")
        if name in out:
            raise UserError(f"{EXTRA_ENV} names {name!r} twice: name each workload once")
        out[name] = package
    return out


def table() -> dict[str, str]:
    return {**WORKLOADS, **_extra()}


def names() -> tuple[str, ...]:
    return tuple(table())


def canonical(name: str | None) -> str:
    """A workload name as typed -> its registry name (None: the default)."""
    if name is None:
        return DEFAULT_WORKLOAD
    key = str(name).strip().lower()
    if key not in table():
        raise UserError(f"unknown workload {name!r}: choose from {', '.join(table())}")
    return key


def get(name: str | None = None):
    """The Workload instance declared by the workload's folder."""
    key = canonical(name)
    module = importlib.import_module(table()[key])
    workload = getattr(module, "WORKLOAD", None)
    from shared.workloads.base import Workload
    if not isinstance(workload, Workload) or workload.name != key:
        raise UserError(f"workload package {table()[key]} must declare WORKLOAD, a Workload named {key!r}")
    return workload
