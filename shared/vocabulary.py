"""Bag-of-words counts with scikit-learn, in the tutorial's tokenisation.

The tutorial lower-cased each token of `text.split(' ')`; lower-casing the whole post first
and then splitting on ' ' yields the same tokens (lower() never makes or removes a space).
Empty strings and tokens with newlines inside are words too, as they were in the tutorial.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from shared.errors import UserError


def split_on_space(text: str) -> list[str]:
    return text.split(" ")


def _vectorizer() -> CountVectorizer:
    return CountVectorizer(tokenizer=split_on_space, lowercase=True, token_pattern=None, dtype=np.float32)


def _most_frequent(fitted: sp.csr_matrix, n: int) -> np.ndarray:
    """Column indices of the n tokens with the largest total count in `fitted`, ascending.
    CountVectorizer numbers its columns in token order, so breaking ties by column index
    breaks them by token string: the same choice on every run and machine."""
    counts = np.asarray(fitted.sum(axis=0, dtype=np.float64)).ravel()
    order = np.lexsort((np.arange(counts.size), -counts))  # by count descending, then by token
    return np.sort(order[:n])


def vectorize(train_texts: list[str], test_texts: list[str], mode: str,
              max_tokens: int | None = None) -> tuple[sp.csr_matrix, sp.csr_matrix, int]:
    """Return (X_train, X_test, V): CSR float32 counts over the vocabulary the mode defines.

    "tutorial": vocabulary from train + test (the tutorial's leak, kept for fidelity).
    "train": vocabulary from train only; test words never seen in training are dropped.
    `max_tokens`: keep only that many tokens, the most frequent over the posts the vocabulary
    is fitted on (train + test, or train), in the usual token order; None keeps them all.
    """
    vec = _vectorizer()
    if mode == "tutorial":
        # One pass over train + test (each post tokenised once), then split the rows.
        both = vec.fit_transform(train_texts + test_texts).tocsr()
        fitted = both
    elif mode == "train":
        x_train = vec.fit_transform(train_texts).tocsr()
        x_test = vec.transform(test_texts).tocsr()
        fitted = x_train
    else:  # ExperimentConfig.validate() has already rejected it; guard direct callers
        raise ValueError(f"unknown vocabulary mode {mode!r}")
    v = len(vec.vocabulary_)
    if max_tokens is not None:
        if max_tokens > v:
            # Only known once the posts are counted, hence here and not in ExperimentConfig.validate.
            raise UserError(f"vocabulary size {max_tokens} is larger than the V = {v:,} tokens of this selection: "
                            f"choose --vocab-size <= {v}")
        keep = _most_frequent(fitted, max_tokens)
        if mode == "tutorial":
            both = both[:, keep]
        else:
            x_train, x_test = x_train[:, keep], x_test[:, keep]
        v = max_tokens
    if mode == "tutorial":
        x_train, x_test = both[: len(train_texts)], both[len(train_texts):]
    for x in (x_train, x_test):
        x.sort_indices()
    return x_train, x_test, v
