"""Batch order and initial weights: deterministic, identical for every framework."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from shared.batches import dense_rows, distinct_epochs, epoch_order, eval_chunks
from shared.config import ExperimentConfig
from shared.weights import initial_weights, layer_sizes, parameter_count


def test_tutorial_order_is_consecutive_slices_with_tail_dropped():
    cfg = ExperimentConfig()
    batches = epoch_order(cfg, 1774, epoch=0)
    assert len(batches) == 11  # 1774 // 150: the tutorial dropped the last 124 posts
    np.testing.assert_array_equal(np.concatenate(batches), np.arange(1650))
    for e in (1, 9):
        assert all((a == b).all() for a, b in zip(batches, epoch_order(cfg, 1774, e)))
    assert distinct_epochs(cfg) == 1


def test_shuffled_order_is_seeded_and_differs_per_epoch():
    cfg = ExperimentConfig(shuffle_each_epoch=True, seed=3)
    e0, e1 = np.concatenate(epoch_order(cfg, 1774, 0)), np.concatenate(epoch_order(cfg, 1774, 1))
    assert not (e0 == e1).all()
    np.testing.assert_array_equal(e0, np.concatenate(epoch_order(cfg, 1774, 0)))
    assert len(set(e0.tolist())) == 1650
    other_seed = np.concatenate(epoch_order(cfg.replace(seed=4), 1774, 0))
    assert not (e0 == other_seed).all()
    assert distinct_epochs(cfg) == cfg.epochs


def test_dense_rows_matches_sparse():
    x = sp.random(20, 50, density=0.1, format="csr", dtype=np.float32, random_state=0)
    rows = np.array([3, 0, 7])
    d = dense_rows(x, rows)
    assert d.dtype == np.float32 and d.flags.c_contiguous
    np.testing.assert_array_equal(d, x.toarray()[rows])


def test_eval_chunks_cover_everything_once():
    chunks = eval_chunks(1180, 500)
    assert [(s.start, s.stop) for s in chunks] == [(0, 500), (500, 1000), (1000, 1180)]
    assert eval_chunks(1180, 1200) == [slice(0, 1180)]


def test_initial_weights_law_and_determinism():
    sizes = layer_sizes(5000, (100, 100), 3)
    layers = initial_weights(sizes, seed=0)
    assert [w.shape for w, _ in layers] == [(5000, 100), (100, 100), (100, 3)]
    assert [b.shape for _, b in layers] == [(100,), (100,), (3,)]
    assert parameter_count(layers) == 5000 * 100 + 100 + 100 * 100 + 100 + 100 * 3 + 3
    for (w, b), fan_in in zip(layers, sizes[:-1]):
        bound = 1 / np.sqrt(fan_in)
        assert w.dtype == np.float32 and b.dtype == np.float32
        assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-a, a): mean ~ 0 and variance a^2/3 on the big layer
    w0 = layers[0][0]
    assert abs(w0.mean()) < 0.01 / np.sqrt(5000)
    assert w0.var() == pytest.approx((1 / 5000) / 3, rel=0.02)
    again = initial_weights(sizes, seed=0)
    assert all((a[0] == b[0]).all() and (a[1] == b[1]).all() for a, b in zip(layers, again))
    assert not (initial_weights(sizes, seed=1)[0][0] == w0).all()


@pytest.mark.parametrize("law,params", [("standard_normal", ()), ("uniform", (-0.25, 0.25))])
@pytest.mark.parametrize("shape", [(3,), (20002, 64), (7, 8192 + 5)])
def test_draw_float32_is_one_draw_cast_value_for_value(law, params, shape):
    """Drawn in chunks (shared/weights.py says why): the same values as one float64 draw cast to
    float32, and the stream left where one draw leaves it."""
    from shared.weights import draw_float32
    a_rng, b_rng = np.random.default_rng(7), np.random.default_rng(7)
    got = draw_float32(a_rng, law, shape, *params)
    want = getattr(b_rng, law)(*params, size=shape).astype(np.float32)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.array_equal(got, want)
    assert a_rng.standard_normal() == b_rng.standard_normal()
