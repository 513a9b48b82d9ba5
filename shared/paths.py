"""Where fwbench keeps its caches and finds the data archive."""
from __future__ import annotations

import os
from pathlib import Path

ARCHIVE_ENV = "FWBENCH_ARCHIVE"
CACHE_ENV = "FWBENCH_CACHE"


def cache_root() -> Path:
    """Extracted archives and prepared datasets; FWBENCH_CACHE overrides ~/.cache/fwbench."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fwbench"


def archive_from_env(option: str | os.PathLike | None) -> Path | None:
    """The archive named by the CLI option, else by FWBENCH_ARCHIVE, else None (download)."""
    value = option if option not in (None, "") else os.environ.get(ARCHIVE_ENV)
    return Path(value).expanduser() if value else None
