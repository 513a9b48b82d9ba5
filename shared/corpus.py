"""Posts and labels, in exactly the order `fetch_20newsgroups(subset=..., categories=...)` gives.

The tutorial's batches were consecutive slices of that order, so reproducing the tutorial
means reproducing scikit-learn's two shuffles: `load_files` (random_state=0, over all 20
groups) when its cache is built, then `fetch_20newsgroups` (random_state=42) after the
category mask. Only the selected groups are extracted and read.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_files
from sklearn.utils import check_random_state

from shared.archive import TEST_FOLDER, TRAIN_FOLDER, extract
from shared.config import ExperimentConfig
from shared.errors import UserError
from shared.paths import ARCHIVE_ENV

# fetch_20newsgroups' default shuffle seed.
FETCH_RANDOM_STATE = 42


@dataclass(frozen=True)
class Split:
    texts: list[str]
    labels: np.ndarray  # int64, 0..n_classes-1 in category_names order
    filenames: list[str]  # relative to the split folder, for provenance


@dataclass(frozen=True)
class Corpus:
    train: Split
    test: Split
    category_names: tuple[str, ...]
    source: str  # "archive:<sha256>" or "sklearn-download"


def load_files_order(groups: dict[str, list[str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(relative paths, labels, group names) in the order `load_files(split_folder)` returns
    with its defaults: groups sorted, files sorted within each, then shuffled by
    RandomState(0). Computed from the archive's listing, so only the selected groups need be
    on disk; tests/test_data.py checks it against fetch_20newsgroups itself."""
    names = sorted(groups)
    filenames, target = [], []
    for label, group in enumerate(names):
        files = sorted(groups[group])
        filenames += [f"{group}/{f}" for f in files]
        target += [label] * len(files)
    filenames, target = np.array(filenames), np.array(target)
    indices = np.arange(filenames.shape[0])
    check_random_state(0).shuffle(indices)
    return filenames[indices], target[indices], names


def _select_and_shuffle(filenames: np.ndarray, target: np.ndarray, target_names: list[str],
                        categories: tuple[str, ...] | None):
    """fetch_20newsgroups' own masking and shuffling, applied to (filenames, target)."""
    names = list(target_names)
    if categories is not None:
        labels = sorted((names.index(c), c) for c in categories)
        label_ids, names = zip(*labels)
        mask = np.isin(target, label_ids)
        filenames, target = filenames[mask], np.searchsorted(label_ids, target[mask])
        names = list(names)
    indices = np.arange(target.shape[0])
    check_random_state(FETCH_RANDOM_STATE).shuffle(indices)
    return filenames[indices], target[indices], names


def _read_split(folder: Path, groups: dict[str, list[str]], categories: tuple[str, ...] | None) -> tuple[Split, list[str]]:
    # `groups` names all 20 newsgroups: extract() refuses an archive (or a cached listing) without them.
    filenames, target, names = _select_and_shuffle(*load_files_order(groups), categories)
    # The posts themselves are read by scikit-learn, as fetch_20newsgroups reads them.
    bunch = load_files(str(folder), categories=names, shuffle=False, encoding="latin1")
    text_of = {str(Path(f).relative_to(folder)): t for f, t in zip(bunch.filenames, bunch.data)}
    texts = [text_of[f] for f in filenames]
    return Split(texts, target.astype(np.int64), list(filenames)), names


def load_from_archive(archive: Path, cache: Path, cfg: ExperimentConfig, digest: str | None = None) -> Corpus:
    # extract() checks the selected groups' posts against the digests recorded when they were
    # extracted, so the source named below ("archive:<sha256>") is the data actually read.
    root, listing = extract(archive, cache, digest, cfg.categories)
    train, names = _read_split(root / TRAIN_FOLDER, listing[TRAIN_FOLDER], cfg.categories)
    test, _ = _read_split(root / TEST_FOLDER, listing[TEST_FOLDER], cfg.categories)
    return Corpus(train, test, tuple(names), f"archive:{root.name}")


def load_by_download(cfg: ExperimentConfig) -> Corpus:
    """For users with a network: scikit-learn's own download and cache."""
    from sklearn.datasets import fetch_20newsgroups

    splits = {}
    try:
        for subset in ("train", "test"):
            # scikit-learn warns on every retry; the error below says it once, with the fix.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                b = fetch_20newsgroups(subset=subset, categories=cfg.categories, download_if_missing=True)
            splits[subset] = Split(list(b.data), np.asarray(b.target, dtype=np.int64), list(b.filenames))
    except (OSError, ValueError) as e:  # URLError is an OSError
        raise UserError(f"no archive given and scikit-learn could not download 20 Newsgroups ({e}): "
                        f"pass --archive PATH or set {ARCHIVE_ENV} to a copy of 20news-bydate.tar.gz") from None
    return Corpus(splits["train"], splits["test"], cfg.category_names, "sklearn-download")
