"""Data preparation: counts, vocabulary, and document order identical to fetch_20newsgroups."""
from __future__ import annotations

import codecs
import json
import os
import pickle

import numpy as np
import pytest
from sklearn.datasets import fetch_20newsgroups, load_files

from shared.archive import TEST_FOLDER, TRAIN_FOLDER, extract
from shared.config import TUTORIAL_CATEGORIES, ExperimentConfig
from shared.corpus import load_from_archive
from shared.dataset import prepare
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


def test_damaged_cache_entry_is_rebuilt(tiny_archive, tmp_path):
    from tests.conftest import TINY_CONFIG

    first = prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path)
    (entry,) = (tmp_path / "prepared").glob("*.npz")
    entry.write_bytes(b"not an npz")
    again = prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path)
    assert (again.x_train != first.x_train).nnz == 0


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

    first = prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path)
    def no_rehash(path):
        raise AssertionError("a warm start hashed the archive again")
    monkeypatch.setattr(shared.archive, "sha256_of", no_rehash)
    assert prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path).key == first.key
    # A changed archive (new size/mtime) is hashed anew, never mistaken for the old one.
    monkeypatch.undo()
    os.utime(tiny_archive, ns=(1, 1))
    assert prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path).key == first.key
    assert len(json.loads((tmp_path / "archives" / "digests.json").read_text())) == 2
