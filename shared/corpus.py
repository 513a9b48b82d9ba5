"""Posts and labels, in exactly the order `fetch_20newsgroups(subset=..., categories=...)` gives.

The tutorial's batches were consecutive slices of that order, so reproducing the tutorial
means reproducing scikit-learn's two shuffles: `load_files` (random_state=0, over all 20
groups) when its cache is built, then `fetch_20newsgroups` (random_state=42) after the
category mask. Only the selected posts are read from disk.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_files
from sklearn.utils import check_random_state

from shared.archive import TEST_FOLDER, TRAIN_FOLDER, extract
from shared.config import ALL_CATEGORIES, ExperimentConfig
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


def _read_split(folder: Path, categories: tuple[str, ...] | None) -> tuple[Split, list[str]]:
    # load_content=False lists the files in load_files' shuffled order without reading them.
    bunch = load_files(str(folder), load_content=False, shuffle=True, random_state=0)
    if list(bunch.target_names) != list(ALL_CATEGORIES):
        raise UserError(f"{folder} does not hold the 20 newsgroup folders (found {len(bunch.target_names)}): "
                        f"pass --archive PATH or set {ARCHIVE_ENV} to an unmodified 20news-bydate.tar.gz")
    filenames, target, names = _select_and_shuffle(np.asarray(bunch.filenames), np.asarray(bunch.target),
                                                   bunch.target_names, categories)
    texts = []
    for f in filenames:
        with open(f, "rb") as fh:
            texts.append(fh.read().decode("latin1"))  # load_files(encoding="latin1") does the same
    rel = [str(Path(f).relative_to(folder)) for f in filenames]
    return Split(texts, target.astype(np.int64), rel), names


def load_from_archive(archive: Path, cache: Path, cfg: ExperimentConfig, digest: str | None = None) -> Corpus:
    root = extract(archive, cache, digest)
    train, names = _read_split(root / TRAIN_FOLDER, cfg.categories)
    test, _ = _read_split(root / TEST_FOLDER, cfg.categories)
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
