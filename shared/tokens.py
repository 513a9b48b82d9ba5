"""Token ids for the sequence networks, from the same posts (same split, same order) that the
bag-of-words counts come from (shared/corpus.py).

Tokens: the lower-cased post cut into runs of word characters (regex \\w+). The tutorial's
``split(' ')`` suits counting but not sequences: it keeps newlines and punctuation inside tokens
("space.\\n\\nthe" is one word), so a sequence network would see a vocabulary of fragments.
Vocabulary: the `vocab_size` most frequent tokens (total count; ties broken by the token, so the
same on every machine) over the posts the mode names ("tutorial": train and test, the tutorial's
leak; "train": train only). Ids: 0 is padding, 1 an out-of-vocabulary token, 2.. the kept tokens
by descending frequency. Each post becomes its first `seq_len` tokens, padded with 0 at the end.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

from shared.errors import UserError

PAD, OOV = 0, 1
RESERVED = 2  # ids below this are PAD and OOV
_WORD = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def build_vocabulary(token_lists: list[list[str]], size: int | None) -> dict[str, int]:
    """token -> id (from RESERVED on), the `size` most frequent tokens (all when None)."""
    counts = Counter(t for tokens in token_lists for t in tokens)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if size is not None:
        if size > len(ranked):
            raise UserError(f"vocabulary size {size} is larger than the {len(ranked):,} distinct tokens of this "
                            f"selection: choose --vocab-size <= {len(ranked)}")
        ranked = ranked[:size]
    return {tok: RESERVED + i for i, (tok, _) in enumerate(ranked)}


def encode(token_lists: list[list[str]], vocab: dict[str, int], seq_len: int) -> np.ndarray:
    """int32 (n, seq_len): the first seq_len ids of each post, PAD after its end."""
    out = np.full((len(token_lists), seq_len), PAD, dtype=np.int32)
    for row, tokens in enumerate(token_lists):
        ids = [vocab.get(t, OOV) for t in tokens[:seq_len]]
        out[row, :len(ids)] = ids
    return out


def token_ids(train_texts: list[str], test_texts: list[str], mode: str, vocab_size: int | None,
              seq_len: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(ids_train, ids_test, n_ids): int32 token-id matrices and the embedding table's row count
    (kept tokens + RESERVED)."""
    train = [tokenize(t) for t in train_texts]
    test = [tokenize(t) for t in test_texts]
    if mode == "tutorial":
        fitted = train + test
    elif mode == "train":
        fitted = train
    else:
        raise ValueError(f"unknown vocabulary mode {mode!r}")
    vocab = build_vocabulary(fitted, vocab_size)
    return encode(train, vocab, seq_len), encode(test, vocab, seq_len), len(vocab) + RESERVED
