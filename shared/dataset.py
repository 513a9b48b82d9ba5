"""The prepared dataset every framework consumes, and its on-disk cache.

Preparing means: read the posts (shared/corpus.py), then turn them into the workload's input
(Workload.featurize: bag-of-words counts, shared/vocabulary.py, or token ids, shared/tokens.py).
The result is cached under the cache root, keyed by the archive's sha256 and the data part
of the configuration, so a second run skips parsing entirely.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from shared.archive import archive_digest
from shared.atomic import Damaged, expect, report_rebuilt, sweep_stale, write_atomic, writing_cache
from shared.config import ExperimentConfig
from shared.errors import UserError
from shared.paths import archive_from_env, cache_root

# Bump when the prepared format or the preparation itself changes.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PreparedData:
    x_train: sp.csr_matrix | np.ndarray  # float32 counts (n_train, V), or int32 token ids (n_train, seq_len)
    y_train: np.ndarray  # int64
    x_test: sp.csr_matrix | np.ndarray
    y_test: np.ndarray
    category_names: tuple[str, ...]
    source: str  # where the posts came from: "archive:<sha256>" or "sklearn-download"
    key: str  # cache key: identical keys mean identical data
    # Token ids: the embedding table's rows (kept tokens + padding + out-of-vocabulary). Counts: None
    # (the vocabulary is the matrix's width).
    n_ids: int | None = None

    @property
    def is_tokens(self) -> bool:
        return isinstance(self.x_train, np.ndarray)

    @property
    def vocab_size(self) -> int:
        """The rows of the network's first weight: V counts, or the token ids' table."""
        return self.n_ids if self.is_tokens else self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.category_names)

    def summary(self) -> dict:
        nonzeros = (lambda x: int(np.count_nonzero(x))) if self.is_tokens else (lambda x: int(x.nnz))
        out = {
            "categories": list(self.category_names),
            "n_train": int(self.x_train.shape[0]),
            "n_test": int(self.x_test.shape[0]),
            "vocab_size": int(self.vocab_size),
            # counts: stored values; token ids: tokens that are not padding
            "train_nonzeros": nonzeros(self.x_train),
            "test_nonzeros": nonzeros(self.x_test),
            "train_class_counts": np.bincount(self.y_train, minlength=self.n_classes).tolist(),
            "test_class_counts": np.bincount(self.y_test, minlength=self.n_classes).tolist(),
            "source": self.source,
            "key": self.key,
        }
        if self.is_tokens:
            out["seq_len"] = int(self.x_train.shape[1])
        else:
            out["dense_batch_mb"] = round(self.vocab_size * 4 / 2**20, 3)  # per post, float32
        return out


def _cache_key(source_id: str, cfg: ExperimentConfig) -> str:
    blob = json.dumps({"v": FORMAT_VERSION, "source": source_id, **cfg.data_key()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _save(path: Path, data: PreparedData) -> None:
    arrays = {"y_train": data.y_train, "y_test": data.y_test}
    for name in ("x_train", "x_test"):
        m = getattr(data, name)
        if data.is_tokens:
            arrays[f"{name}_ids"] = m
        else:
            arrays.update({f"{name}_data": m.data, f"{name}_indices": m.indices, f"{name}_indptr": m.indptr,
                           f"{name}_shape": np.asarray(m.shape)})
    meta = {"category_names": list(data.category_names), "source": data.source, "key": data.key,
            "n_ids": data.n_ids}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    # Uncompressed: loading is a memcpy, compression would cost more than it saves. Through
    # write_atomic: the umask's permissions like the rest of the cache (mkstemp gave 0600).
    write_atomic(path, lambda f: np.savez(f, **arrays))


def _load(path: Path, key: str, source_id: str, cfg: ExperimentConfig) -> PreparedData:
    """The cached dataset, or Damaged. Checks are O(rows), never O(nonzeros): the zip's CRC
    already catches a corrupted array, these catch a file that is not the one the key names."""
    try:
        with open(path, "rb") as f:
            # Else np.load takes a cut or overwritten file for a pickle and says so at length.
            expect(f.read(4) == b"PK\x03\x04", "not an .npz archive: overwritten or truncated")
        with np.load(path) as z:
            meta = json.loads(z["meta"].tobytes())
            mats = {}
            n_ids = meta.get("n_ids")
            for name in ("x_train", "x_test"):
                if n_ids is not None:
                    ids = z[f"{name}_ids"]
                    expect(ids.dtype == np.int32 and ids.ndim == 2 and ids.size > 0 and 0 <= int(ids.min())
                           and int(ids.max()) < int(n_ids), f"{name} is not a token-id matrix below {n_ids}")
                    mats[name] = ids
                    continue
                data, indices, indptr = z[f"{name}_data"], z[f"{name}_indices"], z[f"{name}_indptr"]
                shape = tuple(int(n) for n in z[f"{name}_shape"])
                expect(data.dtype == np.float32 and len(shape) == 2 and indptr.shape == (shape[0] + 1,)
                       and data.shape == indices.shape == (int(indptr[-1]),), f"{name} is not a consistent CSR matrix")
                mats[name] = sp.csr_matrix((data, indices, indptr), shape=shape)
            y_train, y_test = z["y_train"], z["y_test"]
        expect(isinstance(meta, dict) and meta.get("key") == key and meta.get("source") == source_id,
               "it records another key or source than its name")
        expect(meta.get("category_names") == list(cfg.category_names), "it holds other categories")
        expect(y_train.dtype == y_test.dtype == np.int64 and y_train.shape == (mats["x_train"].shape[0],)
               and y_test.shape == (mats["x_test"].shape[0],) and mats["x_train"].shape[1] == mats["x_test"].shape[1],
               "its labels or vocabularies do not line up")
    except Damaged:
        raise
    except Exception as e:  # whatever a cut or foreign file makes numpy/zipfile/json raise
        raise Damaged(f"not a readable prepared dataset: {type(e).__name__}: {e}") from None
    return PreparedData(mats["x_train"], y_train, mats["x_test"], y_test, cfg.category_names, source_id, key, n_ids)


def prepare(cfg: ExperimentConfig, archive: str | os.PathLike | None = None,
            cache: Path | None = None, use_cache: bool = True) -> PreparedData:
    """The dataset for `cfg`, from the archive (option, else FWBENCH_ARCHIVE), else a download.

    A warm start is the archive's remembered digest plus one .npz read: the key already names
    the archive's sha256, so the extracted posts are not re-checked then; they are checked
    (shared/archive.py) whenever they are parsed."""
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
    damage = None
    if use_cache and cached.is_file():
        try:
            return _load(cached, key, source_id, cfg)
        except Damaged as d:  # never trusted, never fatal: rebuilt below, and said once it is
            damage = str(d)
    # scikit-learn is imported only on a cache miss: a warm start stays well under a second.
    from shared import workloads
    from shared.corpus import load_by_download, load_from_archive

    corpus = load_from_archive(path, cache, cfg, digest) if path is not None else load_by_download(cfg)
    if len(corpus.train.texts) == 0 or len(corpus.test.texts) == 0:
        raise UserError(f"the selection {list(cfg.category_names)} has no posts: check the archive and --categories")
    x_train, x_test, n_ids = workloads.get(cfg.workload).featurize(corpus.train.texts, corpus.test.texts, cfg)
    data = PreparedData(x_train, corpus.train.labels, x_test, corpus.test.labels,
                        corpus.category_names, corpus.source, key, n_ids)
    if use_cache:
        with writing_cache(cache):
            cached.parent.mkdir(parents=True, exist_ok=True)
            sweep_stale(cached.parent)  # .npz halves of runs killed mid-write
            _save(cached, data)
    if damage is not None:
        report_rebuilt(cached, damage)
    return data


def check_fits(cfg: ExperimentConfig, data: PreparedData) -> None:
    """Reject hyper-parameters this dataset cannot honour, before any work starts."""
    n = data.x_train.shape[0]
    if cfg.batch_size > n:
        raise UserError(f"batch size {cfg.batch_size} is larger than the {n} training posts: choose --batch-size <= {n}")
