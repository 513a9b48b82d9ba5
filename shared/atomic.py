"""Atomic writes, and the checks every cache file passes before it is trusted.

Writes: a reader sees the old file or the new one, never half of one (write beside, rename
over). Temporary names carry the writer's pid and host, so the next run can sweep what a
killed process left behind without touching a live process's work in progress.

Reads: a cache file is only ever a copy of something fwbench can rebuild, so one that is
truncated, of the wrong shape or edited is never an error: it is reported in one line on
stderr and rebuilt. Readers raise `Damaged` with the reason; the caller rebuilds and then
calls `report_rebuilt` (after the rebuild, so a rebuild that fails says only its own error).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from shared.errors import UserError
from shared.paths import CACHE_ENV

# A temporary entry this old is a leftover whatever its pid says: pids are reused, and a
# process on another host sharing the cache cannot be asked whether it still runs.
STALE_SECONDS = 3600
# Hashed so any hostname fits the name pattern below.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TEMP_NAME = re.compile(r"^\.(?P<stem>.+)-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[0-9a-f]{8}(?:\.[A-Za-z0-9]+)?$")
# Bumped when the envelope below changes: older files then read as damaged and are rebuilt.
JSON_FORMAT = 1


class Damaged(Exception):
    """A cache file exists but cannot be trusted; str(self) says why, in a few words."""


def temp_name(stem: str, suffix: str = "") -> str:
    return f".{stem}-{os.getpid()}-{_HOST}-{secrets.token_hex(4)}{suffix}"


def make_temp_dir(parent: Path, stem: str) -> Path:
    """A fresh staging folder with the umask's permissions (mkdtemp would make it 0700)."""
    path = parent / temp_name(stem)
    os.mkdir(path)
    return path


def write_atomic(path: Path, content: str | bytes | Callable[[BinaryIO], None]) -> Path:
    """Write beside the target, then rename over it. `content` may be a function that writes
    into the open file (np.savez). A plain open() so the file gets the umask's permissions."""
    path = Path(path)
    tmp = path.with_name(temp_name(path.name, ".tmp"))
    try:
        with open(tmp, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.replace(tmp, path)
    except BaseException:  # a signal or Ctrl-C too: never leave the temporary file behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists under another user; anything else: assume alive
        return True
    return True


def sweep_stale(folder: Path) -> int:
    """Remove temporary entries (named by temp_name) that a crashed or killed process left in
    `folder`: those of a dead pid on this host, or older than STALE_SECONDS. Returns how many."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:  # absent or unreadable: nothing to sweep, and the caller will say why if it matters
        return 0
    now = time.time()
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m is None or int(m["pid"]) == os.getpid():
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
            dead = m["host"] == _HOST and not _pid_alive(int(m["pid"]))
            if not (old or dead):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:  # another process swept it first
            continue
        except OSError:  # a read-only cache: the write that follows reports it properly
            continue
    return removed


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def report_rebuilt(path: Path, reason: str) -> None:
    print(f"fwbench: cache {path} was damaged ({one_line(reason)}): rebuilt", file=sys.stderr)


def cache_write_error(e: OSError, cache: Path) -> UserError:
    """A failed cache write, told in the user's terms: their cache folder (not the internal
    file that failed) and what to do about it."""
    why = e.strerror or str(e)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return UserError(f"the disk holding the cache {cache} is full ({why}): free some space, "
                         f"or set {CACHE_ENV} to a folder on a disk with room")
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UserError(f"cannot write to the cache {cache} ({why}): make it writable, "
                         f"or set {CACHE_ENV} to a writable folder")
    return UserError(f"cannot write to the cache {cache} ({why}): check that folder, or set {CACHE_ENV} to another one")


@contextmanager
def writing_cache(cache: Path):
    """Turn an OSError raised while writing under `cache` into one line naming `cache`."""
    try:
        yield
    except OSError as e:
        raise cache_write_error(e, cache) from None


# --- JSON cache files ------------------------------------------------------------------
# Stored as {"format": JSON_FORMAT, "sha256": <digest of the canonical data>, "data": ...}:
# the digest catches a file that is still valid JSON but was cut or edited, which a shape
# check alone would miss (a listing with one post name less reorders the whole corpus).

def _canonical_digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_json(path: Path, data: Any) -> Path:
    return write_atomic(path, json.dumps({"format": JSON_FORMAT, "sha256": _canonical_digest(data), "data": data}))


def read_json(path: Path, check: Callable[[Any], None]) -> Any:
    """The data of a file written by write_json, or None when there is no file. Raises Damaged
    when it is unreadable, not ours, altered, or when `check` (a shape test that raises
    Damaged, ValueError, TypeError or KeyError) rejects it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise Damaged(f"unreadable: {e.strerror or e}") from None
    try:
        envelope = json.loads(raw)
    except ValueError as e:  # UnicodeDecodeError is a ValueError too
        raise Damaged(f"not valid JSON, truncated? {e}") from None
    if not (isinstance(envelope, dict) and envelope.keys() == {"format", "sha256", "data"}):
        raise Damaged(f"not a fwbench cache record (a JSON {type(envelope).__name__} of another shape)")
    if envelope["format"] != JSON_FORMAT:
        raise Damaged(f"written in format {envelope['format']!r}, this version reads {JSON_FORMAT}")
    data = envelope["data"]
    if envelope["sha256"] != _canonical_digest(data):
        raise Damaged("its content does not match its recorded digest")
    try:
        check(data)
    except Damaged:
        raise
    except (ValueError, TypeError, KeyError) as e:
        raise Damaged(f"wrong shape: {e}") from None
    return data


def expect(condition: bool, reason: str) -> None:
    """For shape checks: raise Damaged(reason) unless `condition`."""
    if not condition:
        raise Damaged(reason)


def is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
