"""The 20news-bydate archive: check it, then extract what is needed into a cache keyed by its sha256.

One streaming pass over the archive checks every member (no path outside it, no links),
records the full file listing (which fixes scikit-learn's document order, see
shared/corpus.py) and extracts only the newsgroups asked for: writing all 18,846 posts
costs seconds on a slow disk, the three tutorial groups a fraction of that. Groups asked
for later are extracted then, into the same folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from shared.atomic import write_atomic
from shared.errors import UserError
from shared.paths import ARCHIVE_ENV

TRAIN_FOLDER = "20news-bydate-train"
TEST_FOLDER = "20news-bydate-test"
SPLITS = (TRAIN_FOLDER, TEST_FOLDER)
LISTING = "listing.json"
_FIX = f"pass --archive PATH or set {ARCHIVE_ENV} to a copy of 20news-bydate.tar.gz"

# split -> newsgroup -> file names in that newsgroup's folder
Listing = dict[str, dict[str, list[str]]]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def archive_digest(archive: Path, cache: Path) -> str:
    """sha256 of the archive, remembered per (path, size, mtime) so a warm start does not
    re-hash 14 MB (that would be most of the cost of loading the prepared data)."""
    st = archive.stat()
    memo_path = cache / "archives" / "digests.json"
    key = f"{archive.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if key not in memo:
        memo[key] = sha256_of(archive)
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(memo_path, json.dumps(memo))
    return memo[key]


def _check_member(member: tarfile.TarInfo) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        raise UserError(f"archive member {member.name!r} points outside the archive: refusing it; {_FIX}")
    if not (member.isfile() or member.isdir()):
        raise UserError(f"archive member {member.name!r} is a link or device file: refusing it; {_FIX}")


def _stream(archive: Path, staging: Path, wanted: set[str] | None) -> Listing:
    """Read the archive once: check each member, list every post, write the wanted groups' posts."""
    listing: Listing = {split: {} for split in SPLITS}
    tops = set()
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                _check_member(member)
                parts = PurePosixPath(member.name).parts
                if parts:
                    tops.add(parts[0])
                if len(parts) != 3 or parts[0] not in listing or not member.isfile():
                    continue
                split, group, name = parts
                listing[split].setdefault(group, []).append(name)
                if wanted is None or group in wanted:
                    # Plain bytes to a checked path (3 parts, no '..', regular file): what the
                    # 'data' filter would allow, without its chmod/utime calls per post.
                    target = staging / split / group
                    target.mkdir(parents=True, exist_ok=True)
                    (target / name).write_bytes(tar.extractfile(member).read())
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise UserError(f"archive {archive} is truncated or not a gzip tar ({type(e).__name__}: {e}): {_FIX}") from None
    except OSError as e:
        raise UserError(f"cannot read archive {archive} ({e.strerror or e}): {_FIX}") from None
    missing = set(SPLITS) - tops
    if missing:
        raise UserError(f"archive {archive} lacks the folder(s) {', '.join(sorted(missing))} of the "
                        f"20news-bydate layout (found: {', '.join(sorted(tops))[:200] or 'nothing'}): {_FIX}")
    return {split: {g: sorted(names) for g, names in groups.items()} for split, groups in listing.items()}


def extract(archive: Path, cache: Path, digest: str | None = None,
            groups: tuple[str, ...] | None = None) -> tuple[Path, Listing]:
    """Return (folder holding <split>/<group>/<post>, full listing of the archive).

    `groups`: the newsgroups whose posts must be on disk (None: all). The folder is named by
    the archive's sha256, so a changed archive never reuses a stale extraction; each group
    folder appears only once complete (extracted aside, then renamed into place).
    """
    if not archive.exists():
        raise UserError(f"archive {archive} does not exist: {_FIX}")
    if not archive.is_file():
        raise UserError(f"archive {archive} is not a file: {_FIX}")
    root = cache / "archives" / (digest or sha256_of(archive))
    listing_path = root / LISTING
    if listing_path.is_file():
        listing = json.loads(listing_path.read_text())
        needed = set(groups) if groups is not None else set(listing[TRAIN_FOLDER]) | set(listing[TEST_FOLDER])
        if all((root / split / g).is_dir() for split in SPLITS for g in needed if g in listing[split]):
            return root, listing
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
    try:
        listing = _stream(archive, staging, set(groups) if groups is not None else None)
        write_atomic(listing_path, json.dumps(listing))
        for split in SPLITS:
            (root / split).mkdir(exist_ok=True)
            for group_dir in (staging / split).iterdir() if (staging / split).is_dir() else ():
                try:
                    os.rename(group_dir, root / split / group_dir.name)
                except OSError:
                    if not (root / split / group_dir.name).is_dir():
                        raise  # anything but "a concurrent extraction got there first"
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root, listing
