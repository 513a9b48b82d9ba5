"""Data preparation: counts, vocabulary, and document order identical to fetch_20newsgroups."""
from __future__ import annotations

import codecs
import dataclasses
import json
import os
import pickle
from collections import Counter

import numpy as np
import pytest
from sklearn.datasets import fetch_20newsgroups, load_files

from shared.archive import TEST_FOLDER, TRAIN_FOLDER, extract
from shared.config import TUTORIAL_CATEGORIES, ExperimentConfig
from shared.corpus import load_from_archive
from shared.dataset import prepare
from shared.errors import UserError
from shared.vocabulary import vectorize


@pytest.fixture(scope="session")
def sklearn_home(archive_path, corpus_cache, tmp_path_factory):
    """scikit-learn's own 20 Newsgroups cache, written from the archive the way
    _download_20newsgroups writes it after a download, so fetch_20newsgroups runs offline."""
    from sklearn.datasets._base import _pkl_filepath
    from sklearn.datasets._twenty_newsgroups import CACHE_NAME

    root, _ = extract(archive_path, corpus_cache)
    cache = {"train": load_files(str(root / TRAIN_FOLDER), encoding="latin1"),
             "test": load_files(str(root / TEST_FOLDER), encoding="latin1")}
    home = tmp_path_factory.mktemp("sklearn-data")
    with open(_pkl_filepath(str(home), CACHE_NAME), "wb") as f:
        f.write(codecs.encode(pickle.dumps(cache), "zlib_codec"))
    return home


@pytest.mark.corpus
@pytest.mark.parametrize("categories", [TUTORIAL_CATEGORIES, ("sci.space", "alt.atheism"), None],
                         ids=["tutorial", "two-unsorted", "all-20"])
def test_order_matches_fetch_20newsgroups(archive_path, corpus_cache, sklearn_home, categories):
    ours = load_from_archive(archive_path, corpus_cache, ExperimentConfig(categories=categories))
    for subset, split in (("train", ours.train), ("test", ours.test)):
        ref = fetch_20newsgroups(data_home=str(sklearn_home), subset=subset, categories=categories,
                                 download_if_missing=False)
        assert list(ours.category_names) == list(ref.target_names)
        assert len(split.texts) == len(ref.data), subset
        first_bad = next((i for i, (a, b) in enumerate(zip(split.texts, ref.data)) if a != b), None)
        assert first_bad is None, f"{subset}: document {first_bad} differs from fetch_20newsgroups' order"
        np.testing.assert_array_equal(split.labels, ref.target, err_msg=f"{subset} labels differ")


@pytest.mark.corpus
def test_tutorial_counts_and_vocabulary(tutorial_data):
    s = tutorial_data.summary()
    assert (s["n_train"], s["n_test"]) == (1774, 1180)
    assert s["vocab_size"] == 119_928
    assert s["categories"] == ["comp.graphics", "rec.sport.baseball", "sci.space"]
    assert tutorial_data.x_train.dtype == np.float32
    # Every training post contributes its split(' ') token count (counts, not presence).
    assert tutorial_data.x_train.sum() > tutorial_data.x_train.nnz


@pytest.mark.corpus
def test_all_groups_counts(archive_path, corpus_cache):
    data = prepare(ExperimentConfig(categories=None, vocab_mode="train"), archive=archive_path, cache=corpus_cache)
    assert (data.x_train.shape[0], data.x_test.shape[0]) == (11_314, 7_532)
    assert data.n_classes == 20


@pytest.mark.corpus
def test_tutorial_vocabulary_is_the_tutorials_recipe(archive_path, corpus_cache):
    """The tutorial's own loop: a Counter over lower-cased text.split(' ') of train and test."""
    corpus = load_from_archive(archive_path, corpus_cache, ExperimentConfig())
    vocab = set()
    for text in corpus.train.texts + corpus.test.texts:
        vocab.update(w.lower() for w in text.split(" "))
    assert len(vocab) == 119_928
    x_train, _, v = vectorize(corpus.train.texts, corpus.test.texts, "tutorial")
    assert v == len(vocab)
    # Row sums equal the number of tokens the tutorial counted for that post.
    np.testing.assert_array_equal(np.asarray(x_train.sum(axis=1)).ravel()[:50],
                                  [len(t.split(" ")) for t in corpus.train.texts[:50]])


def test_train_vocabulary_drops_unseen_test_words():
    x_train, x_test, v = vectorize(["a b", "b c"], ["c d d", "e"], "train")
    assert v == 3  # a, b, c: d and e only occur in the test posts
    assert x_test.toarray().tolist() == [[0, 0, 1], [0, 0, 0]]
    _, x_test_tut, v_tut = vectorize(["a b", "b c"], ["c d d", "e"], "tutorial")
    assert v_tut == 5 and x_test_tut.toarray()[0].tolist() == [0, 0, 1, 2, 0]


def test_tokens_are_lower_cased_space_split():
    x, _, v = vectorize(["Foo foo  BAR\nbaz"], ["x"], "train")
    # tokens: 'foo', 'foo', '' (double space), 'bar\nbaz'
    assert v == 3 and x.sum() == 4


def test_prepared_cache_is_reused_and_keyed(tiny_archive, tmp_path):
    from tests.conftest import TINY_CONFIG

    first = prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path)
    again = prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path)
    assert again.key == first.key
    assert (again.x_train != first.x_train).nnz == 0
    other = prepare(TINY_CONFIG.replace(vocab_mode="train"), archive=tiny_archive, cache=tmp_path)
    assert other.key != first.key
    assert len(list((tmp_path / "prepared").glob("*.npz"))) == 2


def test_damaged_cache_entry_is_rebuilt(tiny_archive, tmp_path, capsys):
    from tests.conftest import TINY_CONFIG

    first = prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path)
    (entry,) = (tmp_path / "prepared").glob("*.npz")
    entry.write_bytes(b"not an npz")
    again = prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path)
    assert (again.x_train != first.x_train).nnz == 0
    assert capsys.readouterr().err == f"fwbench: cache {entry} was damaged (not an .npz archive: overwritten or truncated): rebuilt\n"


def _counts(texts: list[str]) -> Counter:
    return Counter(w for t in texts for w in t.lower().split(" "))


def _top(counter: Counter, n: int) -> list[str]:
    """The tutorial's own way to pick a vocabulary: most frequent first, ties by token."""
    return sorted(sorted(counter, key=lambda w: (-counter[w], w))[:n])


@pytest.mark.parametrize("mode", ["tutorial", "train"])
def test_vocab_size_keeps_the_most_frequent_tokens(mode):
    train = ["b b b a c", "c c d e e"]
    test = ["a a a a z z z z z z"]  # frequent only in the test posts: counts in tutorial mode alone
    fitted_on = train + test if mode == "tutorial" else train
    counter = _counts(fitted_on)
    full_train, full_test, full_v = vectorize(train, test, mode)
    tokens = sorted(counter)  # CountVectorizer's column order
    for n in range(1, full_v + 1):
        x_train, x_test, v = vectorize(train, test, mode, max_tokens=n)
        assert v == n == x_train.shape[1] == x_test.shape[1]
        kept = _top(counter, n)
        cols = [tokens.index(w) for w in kept]
        # The kept columns are exactly the full matrix's columns of the n most frequent tokens.
        assert (x_train != full_train[:, cols]).nnz == 0 and (x_test != full_test[:, cols]).nnz == 0
    # The counts come from the posts the vocabulary is fitted on: 'z' (6) and 'a' (5) lead only
    # when the test posts count; over train alone 'b' and 'c' (3 each) do, then 'e' (2).
    assert _top(counter, 2) == (["a", "z"] if mode == "tutorial" else ["b", "c"])


def test_vocab_size_ties_are_broken_by_token():
    # 'x' and 'y' both occur twice, 'w' once: keeping 1 token keeps 'x' (before 'y'), on every run.
    x_train, _, v = vectorize(["y x w", "x y"], ["q"], "train", max_tokens=1)
    assert v == 1 and x_train.toarray().ravel().tolist() == [1, 1]
    _, _, v_all = vectorize(["y x w", "x y"], ["q"], "train")
    x_two, _, _ = vectorize(["y x w", "x y"], ["q"], "train", max_tokens=2)
    assert v_all == 3 and x_two.toarray().tolist() == [[1, 1], [1, 1]]


def test_vocab_size_on_prepared_data(tiny_archive, tmp_path):
    from tests.conftest import TINY_CONFIG

    full = prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path)
    corpus = load_from_archive(tiny_archive, tmp_path, TINY_CONFIG)
    counter = _counts(corpus.train.texts + corpus.test.texts)
    assert full.vocab_size == len(counter)
    small = prepare(TINY_CONFIG.replace(vocab_size=7), archive=tiny_archive, cache=tmp_path)
    assert small.vocab_size == 7 and small.key != full.key
    tokens = sorted(counter)
    cols = [tokens.index(w) for w in _top(counter, 7)]
    assert (small.x_train != full.x_train[:, cols]).nnz == 0 and (small.x_test != full.x_test[:, cols]).nnz == 0
    # The whole vocabulary asked for by size is the full one (same counts, its own key).
    every = prepare(TINY_CONFIG.replace(vocab_size=full.vocab_size), archive=tiny_archive, cache=tmp_path)
    assert (every.x_train != full.x_train).nnz == 0 and every.key != full.key
    with pytest.raises(UserError, match=rf"vocabulary size {full.vocab_size + 1} is larger than the "
                                        rf"V = {full.vocab_size} tokens of this selection: choose --vocab-size <= "
                                        rf"{full.vocab_size}$"):
        prepare(TINY_CONFIG.replace(vocab_size=full.vocab_size + 1), archive=tiny_archive, cache=tmp_path)
    # Recorded with the configuration, and read back from it.
    d = TINY_CONFIG.replace(vocab_size=7).to_dict()
    assert d["vocab_size"] == 7 and ExperimentConfig.from_dict(d).vocab_size == 7


def test_cache_key_covers_every_data_setting(tmp_path):
    """Each setting that changes the prepared data changes the key; the same settings give the
    same key; the others (the model, the training) do not split the cache."""
    from shared.dataset import _cache_key

    archive_a, archive_b = "archive:" + "a" * 64, "archive:" + "b" * 64
    base = ExperimentConfig()
    variants = {
        "categories": (archive_a, base.replace(categories=("sci.space", "alt.atheism"))),
        "categories: all": (archive_a, base.replace(categories=None)),
        "vocabulary mode": (archive_a, base.replace(vocab_mode="train")),
        "vocabulary size": (archive_a, base.replace(vocab_size=1000)),
        "another vocabulary size": (archive_a, base.replace(vocab_size=1001)),
        "archive": (archive_b, base),
        "download": ("sklearn-download", base),
    }
    keys = {name: _cache_key(source, cfg) for name, (source, cfg) in variants.items()}
    keys["base"] = _cache_key(archive_a, base)
    assert len(set(keys.values())) == len(keys), keys
    assert _cache_key(archive_a, ExperimentConfig()) == keys["base"]
    # The same categories in another order are the same selection (labels follow sorted names).
    assert _cache_key(archive_a, base.replace(categories=tuple(reversed(base.categories)))) == keys["base"]
    # Every configuration field is either in the key or known not to touch the data, so a new
    # data setting cannot be added without deciding whether it belongs to the key.
    # (workload and model: the counts' key is the same for every counts workload and network;
    # a token workload's key adds its input and sequence settings, tests/test_workloads.py)
    not_data = {"workload", "model", "learning_rate", "batch_size", "epochs", "beta1", "beta2", "adam_eps", "optimizer",
                "shuffle_each_epoch", "eval_batch_size", "seed", "device", "threads"}
    fields = {f.name for f in dataclasses.fields(ExperimentConfig)}
    assert set(base.data_key()) == fields - not_data
    changed = dict(workload="mlp", model={"hidden": (3,)}, learning_rate=0.5, batch_size=7, epochs=1, seed=9, optimizer="sgd", beta1=0.5,
                   beta2=0.5, adam_eps=1e-3, shuffle_each_epoch=True, eval_batch_size=5, device="gpu", threads=1)
    assert set(changed) == not_data
    assert _cache_key(archive_a, base.replace(**changed)) == keys["base"]


def test_environment_capture_has_the_essentials():
    from shared.environment import capture

    env = capture()
    for key in ("cpu", "cores_usable", "ram_gb", "os", "python", "packages", "gpus", "thread_env"):
        assert key in env, key
    assert env["cores_usable"] >= 1
    assert env["packages"]["numpy"]


def test_only_the_selected_groups_are_extracted(tiny_archive, tmp_path):
    from shared.archive import extract

    root, listing = extract(tiny_archive, tmp_path, groups=TUTORIAL_CATEGORIES)
    assert sorted(p.name for p in (root / TRAIN_FOLDER).iterdir()) == sorted(TUTORIAL_CATEGORIES)
    assert len(listing[TRAIN_FOLDER]) == 20 and len(listing[TEST_FOLDER]) == 20  # the order needs all names
    again, _ = extract(tiny_archive, tmp_path, groups=("alt.atheism", "sci.space"))
    assert again == root
    assert sorted(p.name for p in (root / TEST_FOLDER).iterdir()) == sorted({*TUTORIAL_CATEGORIES, "alt.atheism"})
    assert not list(root.glob(".extract-*")), "a staging folder was left behind"


def test_archive_hash_is_remembered(tiny_archive, tmp_path, monkeypatch):
    from tests.conftest import TINY_CONFIG
    import shared.archive
    from shared.archive import sha256_of

    first = prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path)
    def no_rehash(path):
        raise AssertionError("a warm start hashed the archive again")
    monkeypatch.setattr(shared.archive, "sha256_of", no_rehash)
    assert prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path).key == first.key
    # A changed archive (new size/mtime) is hashed anew, never mistaken for the old one, and
    # replaces its old entry rather than piling up beside it.
    monkeypatch.undo()
    os.utime(tiny_archive, ns=(1, 1))
    hashed = []
    monkeypatch.setattr(shared.archive, "sha256_of", lambda p: hashed.append(p) or sha256_of(p))
    assert prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path).key == first.key
    assert hashed == [tiny_archive]
    memo = json.loads((tmp_path / "archives" / "digests.json").read_text())["data"]
    assert list(memo.values()) == [{"size": tiny_archive.stat().st_size, "mtime_ns": 1, "sha256": sha256_of(tiny_archive)}]
