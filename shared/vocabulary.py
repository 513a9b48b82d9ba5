"""Bag-of-words counts with scikit-learn, in the tutorial's tokenisation.

The tutorial lower-cased each token of `text.split(' ')`; lower-casing the whole post first
and then splitting on ' ' yields the same tokens (lower() never makes or removes a space).
Empty strings and tokens with newlines inside are words too, as they were in the tutorial.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer


def split_on_space(text: str) -> list[str]:
    return text.split(" ")


def _vectorizer() -> CountVectorizer:
    return CountVectorizer(tokenizer=split_on_space, lowercase=True, token_pattern=None, dtype=np.float32)


def vectorize(train_texts: list[str], test_texts: list[str], mode: str) -> tuple[sp.csr_matrix, sp.csr_matrix, int]:
    """Return (X_train, X_test, V): CSR float32 counts over the vocabulary the mode defines.

    "tutorial": vocabulary from train + test (the tutorial's leak, kept for fidelity).
    "train": vocabulary from train only; test words never seen in training are dropped.
    """
    vec = _vectorizer()
    if mode == "tutorial":
        # One pass over train + test (each post tokenised once), then split the rows.
        both = vec.fit_transform(train_texts + test_texts).tocsr()
        x_train, x_test = both[: len(train_texts)], both[len(train_texts):]
    elif mode == "train":
        x_train = vec.fit_transform(train_texts).tocsr()
        x_test = vec.transform(test_texts).tocsr()
    else:  # ExperimentConfig.validate() has already rejected it; guard direct callers
        raise ValueError(f"unknown vocabulary mode {mode!r}")
    for x in (x_train, x_test):
        x.sort_indices()
    return x_train, x_test, len(vec.vocabulary_)
