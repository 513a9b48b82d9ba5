"""The 20news-bydate archive: check it, then extract it once into a cache keyed by its sha256."""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from shared.errors import UserError
from shared.paths import ARCHIVE_ENV

TRAIN_FOLDER = "20news-bydate-train"
TEST_FOLDER = "20news-bydate-test"
_FIX = f"pass --archive PATH or set {ARCHIVE_ENV} to a copy of 20news-bydate.tar.gz"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_member(member: tarfile.TarInfo) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        raise UserError(f"archive member {member.name!r} points outside the archive: refusing it; {_FIX}")
    if not (member.isfile() or member.isdir()):
        raise UserError(f"archive member {member.name!r} is a link or device file: refusing it; {_FIX}")


def extract(archive: Path, cache: Path, digest: str | None = None) -> Path:
    """Return a folder holding the archive's train and test folders, extracting on first use.

    The folder is named by the archive's sha256, so a changed archive never reuses a stale
    extraction, and it appears only once complete (extracted beside it, then renamed).
    """
    if not archive.exists():
        raise UserError(f"archive {archive} does not exist: {_FIX}")
    if not archive.is_file():
        raise UserError(f"archive {archive} is not a file: {_FIX}")
    digest = digest or sha256_of(archive)
    target = cache / "archives" / digest
    if (target / TRAIN_FOLDER).is_dir() and (target / TEST_FOLDER).is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=target.parent))
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = tar.getmembers()
                tops = {PurePosixPath(m.name).parts[0] for m in members if m.name.strip("/")}
                missing = {TRAIN_FOLDER, TEST_FOLDER} - tops
                if missing:
                    raise UserError(
                        f"archive {archive} lacks the folder(s) {', '.join(sorted(missing))} of the "
                        f"20news-bydate layout (found: {', '.join(sorted(tops))[:200] or 'nothing'}): {_FIX}")
                for m in members:
                    _check_member(m)
                wanted = [m for m in members if PurePosixPath(m.name).parts[0] in (TRAIN_FOLDER, TEST_FOLDER)]
                tar.extractall(staging, members=wanted, filter="data")
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            if isinstance(e, OSError) and not isinstance(e, (tarfile.TarError, EOFError)) and e.errno is not None:
                raise UserError(f"cannot read archive {archive} ({e.strerror}): {_FIX}") from None
            raise UserError(f"archive {archive} is truncated or not a gzip tar ({type(e).__name__}: {e}): {_FIX}") from None
        try:
            os.replace(staging, target)
        except OSError:
            # Another process finished first: its copy is as good as ours.
            if not (target / TRAIN_FOLDER).is_dir():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
