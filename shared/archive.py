"""The 20news-bydate archive: check it, then extract what is needed into a cache keyed by its sha256.

One streaming pass over the archive checks every member (no path outside it, no links),
records the full file listing (which fixes scikit-learn's document order, see
shared/corpus.py) and extracts only the newsgroups asked for: writing all 18,846 posts
costs seconds on a slow disk, the three tutorial groups a fraction of that. Groups asked
for later are extracted then, into the same folder.

Nothing extracted is trusted blindly: each group folder's posts are digested as they are
written, and checked against that digest every time they are about to be parsed, so the
data used is always the data of the archive whose sha256 names the folder. A folder that
fails the check is extracted again (one line on stderr says so).

Cache layout, under <cache>/archives/:
    digests.json                       archive path -> (size, mtime, sha256): skips re-hashing
    <sha256>/listing.json              split -> group -> post names, of the whole archive
    <sha256>/contents/<split>/<group>.json   digest of that group folder's posts
    <sha256>/<split>/<group>/<post>    the extracted posts
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from shared.atomic import (Damaged, cache_write_error, expect, is_sha256, make_temp_dir, read_json, report_rebuilt,
                           sweep_stale, write_json, writing_cache)
from shared.config import ALL_CATEGORIES
from shared.errors import UserError
from shared.paths import ARCHIVE_ENV

TRAIN_FOLDER = "20news-bydate-train"
TEST_FOLDER = "20news-bydate-test"
SPLITS = (TRAIN_FOLDER, TEST_FOLDER)
LISTING = "listing.json"
CONTENTS = "contents"
DIGESTS = "digests.json"
_FIX = f"pass --archive PATH or set {ARCHIVE_ENV} to a copy of 20news-bydate.tar.gz"
# The largest post of 20news-bydate is well under 1 MB. A member above this is refused from its
# header, before a byte of it is read: a small archive must not unpack into gigabytes.
MAX_MEMBER_BYTES = 16 * 1024 * 1024
# The whole archive unpacks to about 50 MB in some 19,000 members. Many members each just under
# the per-member cap would still unpack without end: the total and the count have limits too,
# checked from the headers as they come, before the member past the limit is read.
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 100_000

# split -> newsgroup -> file names in that newsgroup's folder
Listing = dict[str, dict[str, list[str]]]


def _unreadable(archive: Path, e: OSError) -> UserError:
    # Said here so it never reaches the CLI's generic OSError handler, whose advice
    # ("check the path is writable") is about output paths, not an input archive.
    return UserError(f"archive {archive} cannot be read ({e.strerror or e}): check its permissions, or {_FIX}")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_memo(memo) -> None:
    expect(isinstance(memo, dict), f"a JSON {type(memo).__name__}, not an object")
    for path, entry in memo.items():
        expect(isinstance(entry, dict) and entry.keys() == {"size", "mtime_ns", "sha256"},
               f"entry for {path!r} is not a (size, mtime_ns, sha256) record")
        expect(isinstance(entry["size"], int) and isinstance(entry["mtime_ns"], int) and is_sha256(entry["sha256"]),
               f"entry for {path!r} holds values of the wrong type")


def archive_digest(archive: Path, cache: Path) -> str:
    """sha256 of the archive, remembered per (path, size, mtime) so a warm start does not
    re-hash 14 MB (that would be most of the cost of loading the prepared data). The digest
    names cache folders, so a remembered one must look like a sha256 or it is not used."""
    try:
        st = archive.stat()
    except OSError as e:
        raise _unreadable(archive, e) from None
    memo_path = cache / "archives" / DIGESTS
    path_key = str(archive.resolve())
    damage = None
    try:
        memo = read_json(memo_path, _check_memo) or {}
    except Damaged as d:
        memo, damage = {}, str(d)
    entry = memo.get(path_key)
    if entry is not None and (entry["size"], entry["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
        return entry["sha256"]
    try:
        digest = sha256_of(archive)
    except OSError as e:
        raise _unreadable(archive, e) from None
    # One entry per path: a changed archive replaces its old entry instead of piling up.
    memo[path_key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    with writing_cache(cache):
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(memo_path.parent)
        write_json(memo_path, memo)
    if damage:
        report_rebuilt(memo_path, damage)
    return digest


def _check_member(member: tarfile.TarInfo) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        raise UserError(f"archive member {member.name!r} points outside the archive: refusing it; {_FIX}")
    if not (member.isfile() or member.isdir()):
        raise UserError(f"archive member {member.name!r} is a link or device file: refusing it; {_FIX}")
    if member.size > MAX_MEMBER_BYTES:
        raise UserError(f"archive member {member.name!r} is {member.size:,} bytes, more than the "
                        f"{MAX_MEMBER_BYTES // (1024 * 1024)} MiB a newsgroup post can be: refusing the archive; {_FIX}")


def _write_post(path: Path, blob: bytes) -> None:
    path.write_bytes(blob)


def _group_digest(post_digests: dict[str, bytes]) -> str:
    """One sha256 per group folder, over its posts' (name, content digest) in name order, so
    it is the same whatever order the archive stored them in."""
    h = hashlib.sha256()
    for name in sorted(post_digests):
        h.update(name.encode("utf-8", "surrogateescape") + b"\0" + post_digests[name])
    return h.hexdigest()


def _stream(archive: Path, staging: Path, wanted: set[tuple[str, str]] | None,
            cache: Path) -> tuple[Listing, dict[tuple[str, str], str]]:
    """Read the archive once: check each member, list every post, write the wanted (split,
    group) folders' posts into `staging`. Returns the listing and each written folder's digest."""
    listing: Listing = {split: {} for split in SPLITS}
    written: dict[tuple[str, str], dict[str, bytes]] = {}
    tops, seen = set(), set()
    total, count = 0, 0
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                _check_member(member)
                total, count = total + member.size, count + 1
                if total > MAX_TOTAL_BYTES or count > MAX_MEMBERS:
                    raise UserError(f"archive {archive} unpacks to more than {MAX_TOTAL_BYTES // (1024 * 1024)} MiB "
                                    f"or {MAX_MEMBERS:,} members (at {member.name!r}), far beyond 20news-bydate: "
                                    f"refusing it; {_FIX}")
                parts = PurePosixPath(member.name).parts
                if parts:
                    tops.add(parts[0])
                if len(parts) != 3 or parts[0] not in listing or not member.isfile():
                    continue
                split, group, name = parts
                if (split, group, name) in seen:
                    # A tar may hold one path twice (the later wins on extraction), but the listing
                    # would count the post twice: refused, an unmodified archive holds each post once.
                    raise UserError(f"archive {archive} holds the post {member.name} twice: refusing it; {_FIX}")
                seen.add((split, group, name))
                listing[split].setdefault(group, []).append(name)
                if wanted is None or (split, group) in wanted:
                    blob = tar.extractfile(member).read()
                    # Plain bytes to a checked path (3 parts, no '..', regular file): what the
                    # 'data' filter would allow, without its chmod/utime calls per post.
                    target = staging / split / group
                    try:
                        target.mkdir(parents=True, exist_ok=True)
                        _write_post(target / name, blob)
                    except OSError as e:  # the cache's fault, not the archive's: say so
                        raise cache_write_error(e, cache) from None
                    written.setdefault((split, group), {})[name] = hashlib.sha256(blob).digest()
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise UserError(f"archive {archive} is truncated or not a gzip tar ({type(e).__name__}: {e}): {_FIX}") from None
    except OSError as e:
        raise _unreadable(archive, e) from None
    missing = set(SPLITS) - tops
    if missing:
        raise UserError(f"archive {archive} lacks the folder(s) {', '.join(sorted(missing))} of the "
                        f"20news-bydate layout (found: {', '.join(sorted(tops))[:200] or 'nothing'}): {_FIX}")
    for split in SPLITS:
        if sorted(listing[split]) != sorted(ALL_CATEGORIES):
            raise UserError(f"{split} in archive {archive} does not hold the 20 newsgroup folders (found "
                            f"{len(listing[split])}): pass --archive PATH or set {ARCHIVE_ENV} to an unmodified "
                            f"20news-bydate.tar.gz")
    listing = {split: {g: sorted(names) for g, names in groups.items()} for split, groups in listing.items()}
    return listing, {key: _group_digest(posts) for key, posts in written.items()}


def _check_listing(listing) -> None:
    expect(isinstance(listing, dict) and sorted(listing) == sorted(SPLITS),
           f"not a {{{TRAIN_FOLDER}, {TEST_FOLDER}}} object")
    for split, groups in listing.items():
        expect(isinstance(groups, dict) and sorted(groups) == sorted(ALL_CATEGORIES),
               f"{split} does not list the 20 newsgroups")
        for group, names in groups.items():
            expect(isinstance(names, list) and all(isinstance(n, str) and n and "/" not in n and n not in (".", "..")
                                                   for n in names), f"{split}/{group} is not a list of post names")


def _check_record(record) -> None:
    expect(isinstance(record, dict) and record.keys() == {"sha256", "posts"} and is_sha256(record["sha256"])
           and isinstance(record["posts"], int), "not a (sha256, posts) record")


def _record_path(root: Path, split: str, group: str) -> Path:
    return root / CONTENTS / split / f"{group}.json"


def _verify_group(root: Path, split: str, group: str, names: list[str]) -> str | None:
    """None when root/split/group holds exactly the posts extracted there, else why not.
    Costs one read of the folder's posts (the three tutorial groups: ~5 MB, tens of ms),
    paid only when they are about to be parsed anyway."""
    try:
        record = read_json(_record_path(root, split, group), _check_record)
    except Damaged as d:
        return f"the digest of its posts is damaged: {d}"
    if record is None:
        return "no digest of its posts was recorded"
    folder = root / split / group
    try:
        present = set(os.listdir(folder))
    except OSError as e:
        return f"the folder cannot be listed ({e.strerror or e})"
    missing, extra = set(names) - present, present - set(names)
    if missing:
        return f"{len(missing)} post(s) missing, e.g. {min(missing)}"
    if extra:
        return f"{len(extra)} file(s) that are not posts of the archive, e.g. {min(extra)}"
    posts = {}
    for name in names:
        try:
            with open(folder / name, "rb") as f:
                posts[name] = hashlib.sha256(f.read()).digest()
        except OSError as e:
            return f"post {name} cannot be read ({e.strerror or e})"
    if _group_digest(posts) != record["sha256"]:
        return "a post's content differs from what was extracted"
    return None


def _put_in_place(new: Path, dest: Path, trash: Path) -> None:
    """Rename a complete group folder into place, replacing a damaged one (moved aside into
    `trash`, which is deleted with the staging folder)."""
    try:
        os.rename(new, dest)
        return
    except OSError:
        if not dest.is_dir():
            raise
    trash.mkdir(exist_ok=True)
    try:
        os.rename(dest, trash / f"{dest.parent.name}--{dest.name}")
    except FileNotFoundError:
        pass  # a concurrent extraction moved it first
    try:
        os.rename(new, dest)
    except OSError:
        if not dest.is_dir():
            raise  # anything but "a concurrent extraction got there first" (same archive, same posts)


def extract(archive: Path, cache: Path, digest: str | None = None,
            groups: tuple[str, ...] | None = None) -> tuple[Path, Listing]:
    """Return (folder holding <split>/<group>/<post>, full listing of the archive).

    `groups`: the newsgroups whose posts must be on disk (None: all), checked against the
    digests recorded when they were extracted. The folder is named by the archive's sha256,
    so a changed archive never reuses a stale extraction; each group folder appears only once
    complete (extracted aside, then renamed into place).
    """
    if not archive.exists():
        raise UserError(f"archive {archive} does not exist: {_FIX}")
    if not archive.is_file():
        raise UserError(f"archive {archive} is not a file: {_FIX}")
    if digest is None:
        try:
            digest = sha256_of(archive)
        except OSError as e:
            raise _unreadable(archive, e) from None
    root = cache / "archives" / digest
    listing_path = root / LISTING
    damage: list[tuple[Path, str]] = []
    listing = None
    if root.is_dir():
        # Leftovers of a run killed mid-extraction (a dead pid, or over an hour old).
        sweep_stale(root)
        try:
            listing = read_json(listing_path, _check_listing)
        except Damaged as d:
            damage.append((listing_path, str(d)))
    wanted: set[tuple[str, str]] | None
    if listing is not None:
        needed = set(groups) if groups is not None else set(ALL_CATEGORIES)
        wanted = set()
        for split in SPLITS:
            for group in sorted(needed & set(listing[split])):
                if not (root / split / group).is_dir():
                    wanted.add((split, group))  # not extracted yet
                    continue
                why = _verify_group(root, split, group, listing[split][group])
                if why is not None:
                    damage.append((root / split / group, why))
                    wanted.add((split, group))
        if not wanted and not damage:
            return root, listing
    else:
        # No usable listing: one pass rebuilds it and (re-)extracts the groups needed,
        # replacing whatever was there, since nothing can be checked without a listing.
        wanted = None if groups is None else {(split, g) for split in SPLITS for g in groups}
    created = not root.exists()
    with writing_cache(cache):
        root.mkdir(parents=True, exist_ok=True)
        staging = make_temp_dir(root, "extract")
        try:
            listing, group_digests = _stream(archive, staging, wanted, cache)
            # The listing first: killed after it, the next run finds the missing groups
            # absent and extracts them, rather than having to re-check everything.
            write_json(listing_path, listing)
            for (split, group), group_digest in sorted(group_digests.items()):
                # The digest goes first: a folder in place without its digest is re-extracted,
                # one with a digest is checked against it.
                record = _record_path(root, split, group)
                record.parent.mkdir(parents=True, exist_ok=True)
                sweep_stale(record.parent)
                write_json(record, {"sha256": group_digest, "posts": len(listing[split][group])})
                (root / split).mkdir(exist_ok=True)
                _put_in_place(staging / split / group, root / split / group, staging / "replaced")
        finally:  # SIGTERM and Ctrl-C included (the CLI turns SIGTERM into an exception)
            shutil.rmtree(staging, ignore_errors=True)
            if created:
                # A rejected archive leaves no empty folder. rmdir, not rmtree: a concurrent
                # process may be extracting into it, and then it is not empty.
                try:
                    root.rmdir()
                except OSError:
                    pass
    if len(damage) == 1:
        report_rebuilt(*damage[0])
    elif damage:  # still one line: one healing, however many files it took
        report_rebuilt(root, "; ".join(f"{path.relative_to(root)}: {why}" for path, why in damage))
    return root, listing
