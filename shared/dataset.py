"""The prepared dataset every framework consumes, and its on-disk cache.

Preparing means: read the posts (shared/corpus.py), count words (shared/vocabulary.py).
The result is cached under the cache root, keyed by the archive's sha256 and the data part
of the configuration, so a second run skips parsing entirely.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from shared.archive import archive_digest
from shared.config import ExperimentConfig
from shared.errors import UserError
from shared.paths import archive_from_env, cache_root

# Bump when the prepared format or the preparation itself changes.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PreparedData:
    x_train: sp.csr_matrix  # float32 counts, (n_train, V)
    y_train: np.ndarray  # int64
    x_test: sp.csr_matrix
    y_test: np.ndarray
    category_names: tuple[str, ...]
    source: str  # where the posts came from: "archive:<sha256>" or "sklearn-download"
    key: str  # cache key: identical keys mean identical data

    @property
    def vocab_size(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.category_names)

    def summary(self) -> dict:
        return {
            "categories": list(self.category_names),
            "n_train": int(self.x_train.shape[0]),
            "n_test": int(self.x_test.shape[0]),
            "vocab_size": int(self.vocab_size),
            "train_nonzeros": int(self.x_train.nnz),
            "test_nonzeros": int(self.x_test.nnz),
            "train_class_counts": np.bincount(self.y_train, minlength=self.n_classes).tolist(),
            "test_class_counts": np.bincount(self.y_test, minlength=self.n_classes).tolist(),
            "dense_batch_mb": round(self.vocab_size * 4 / 2**20, 3),  # per post, float32
            "source": self.source,
            "key": self.key,
        }


def _cache_key(source_id: str, cfg: ExperimentConfig) -> str:
    blob = json.dumps({"v": FORMAT_VERSION, "source": source_id, **cfg.data_key()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _save(path: Path, data: PreparedData) -> None:
    arrays = {"y_train": data.y_train, "y_test": data.y_test}
    for name in ("x_train", "x_test"):
        m = getattr(data, name)
        arrays.update({f"{name}_data": m.data, f"{name}_indices": m.indices, f"{name}_indptr": m.indptr,
                       f"{name}_shape": np.asarray(m.shape)})
    meta = {"category_names": list(data.category_names), "source": data.source, "key": data.key}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".prepared-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # uncompressed: loading is a memcpy, compression would cost more than it saves
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path) -> PreparedData:
    with np.load(path) as z:
        meta = json.loads(z["meta"].tobytes())
        mats = {name: sp.csr_matrix((z[f"{name}_data"], z[f"{name}_indices"], z[f"{name}_indptr"]),
                                    shape=tuple(z[f"{name}_shape"])) for name in ("x_train", "x_test")}
        return PreparedData(mats["x_train"], z["y_train"], mats["x_test"], z["y_test"],
                            tuple(meta["category_names"]), meta["source"], meta["key"])


def prepare(cfg: ExperimentConfig, archive: str | os.PathLike | None = None,
            cache: Path | None = None, use_cache: bool = True) -> PreparedData:
    """The dataset for `cfg`, from the archive (option, else FWBENCH_ARCHIVE), else a download."""
    cache = cache or cache_root()
    path = archive_from_env(archive)
    if path is not None:
        if not path.is_file():
            problem = "is not a file" if path.exists() else "does not exist"
            raise UserError(f"archive {path} {problem}: pass --archive PATH or set FWBENCH_ARCHIVE "
                            f"to a copy of 20news-bydate.tar.gz")
        digest = archive_digest(path, cache)
        source_id = f"archive:{digest}"
    else:
        digest, source_id = None, "sklearn-download"
    key = _cache_key(source_id, cfg)
    cached = cache / "prepared" / f"{key}.npz"
    if use_cache and cached.is_file():
        try:
            return _load(cached)
        except Exception:  # a damaged cache entry is rebuilt, never trusted
            cached.unlink(missing_ok=True)
    # scikit-learn is imported only on a cache miss: a warm start stays well under a second.
    from shared.corpus import load_by_download, load_from_archive
    from shared.vocabulary import vectorize

    corpus = load_from_archive(path, cache, cfg, digest) if path is not None else load_by_download(cfg)
    if len(corpus.train.texts) == 0 or len(corpus.test.texts) == 0:
        raise UserError(f"the selection {list(cfg.category_names)} has no posts: check the archive and --categories")
    x_train, x_test, _ = vectorize(corpus.train.texts, corpus.test.texts, cfg.vocab_mode)
    data = PreparedData(x_train, corpus.train.labels, x_test, corpus.test.labels,
                        corpus.category_names, corpus.source, key)
    if use_cache:
        _save(cached, data)
    return data


def check_fits(cfg: ExperimentConfig, data: PreparedData) -> None:
    """Reject hyper-parameters this dataset cannot honour, before any work starts."""
    n = data.x_train.shape[0]
    if cfg.batch_size > n:
        raise UserError(f"batch size {cfg.batch_size} is larger than the {n} training posts: choose --batch-size <= {n}")
