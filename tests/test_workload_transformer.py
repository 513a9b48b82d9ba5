"""The Transformer workload (shared/workloads/transformer): its data, its start, its twins proven
the same computation step by step (one SGD step; strict first-epoch losses, every framework and
every execution variant that applies), its plain scripts, and its cost model against figures
worked out by hand. Cut sizes (the tiny archive, a 16-wide 2-layer network) where a test only
proves correctness; the real corpus at the default settings where the tolerance was measured."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from shared import metrics, registry, training, workloads
from shared.config import ExperimentConfig
from shared.dataset import prepare
from shared.errors import Unavailable, UserError
from shared.tokens import PAD
from shared.workloads.base import flatten
from shared.workloads.transformer import costs
from tests.conftest import REPO, TINY_CONFIG

WORKLOAD = workloads.get("transformer")
FRAMEWORKS = tuple(registry.FRAMEWORKS)
OTHERS = tuple(fw for fw in FRAMEWORKS if fw != "torch")
# Small enough to train in seconds on the tiny archive (36 posts of ~20 tokens, ~50 distinct).
TINY = ExperimentConfig(workload="transformer", model={"seq_len": 16, "d_model": 16, "heads": 2, "layers": 2,
                                                       "d_ff": 32},
                        vocab_size=30, batch_size=8, epochs=1, eval_batch_size=16)


@pytest.fixture(scope="module")
def runtimes():
    cfg = ExperimentConfig()
    return {fw: registry.runtime(fw).configure(cfg.thread_count, "cpu") for fw in FRAMEWORKS}


@pytest.fixture
def tiny_data(tiny_archive, tmp_path):
    return prepare(TINY, archive=tiny_archive, cache=tmp_path / "cache")


def build(fw, cfg, data, variant=None, weights=None):
    return training.build(registry.twin_class(fw, "transformer"), cfg, data, variant, weights)


def first_epoch(fw, cfg, data, variant=None, weights=None) -> np.ndarray:
    twin = build(fw, cfg, data, variant, weights)
    return training.run_epoch(twin, training.device_epochs(twin, cfg, data)[0])


# --- 4. registration and data ----------------------------------------------------------------

def test_registers_and_featurizes_the_same_posts_in_the_same_order(tiny_archive, tmp_path, tiny_data):
    assert WORKLOAD.name == "transformer" and WORKLOAD.input == "tokens"
    s = TINY.settings
    for x in (tiny_data.x_train, tiny_data.x_test):
        assert x.dtype == np.int32 and x.shape[1] == s.seq_len
        assert 0 <= x.min() and x.max() < tiny_data.n_ids
    assert tiny_data.n_ids == TINY.vocab_size + 2  # padding and out-of-vocabulary
    assert (tiny_data.x_train != PAD).any(axis=1).all(), "a post became all padding"
    counts = prepare(TINY_CONFIG, archive=tiny_archive, cache=tmp_path / "cache")
    assert tiny_data.x_train.shape[0] == counts.x_train.shape[0] and tiny_data.x_test.shape[0] == counts.x_test.shape[0]
    np.testing.assert_array_equal(tiny_data.y_train, counts.y_train)
    np.testing.assert_array_equal(tiny_data.y_test, counts.y_test)
    assert TINY.data_key() != TINY.replace(model={"seq_len": 8}).data_key()  # seq_len decides the data
    assert TINY.data_key() == TINY.replace(model={"d_model": 8, "heads": 1}).data_key()


def test_settings_the_network_cannot_have_are_refused():
    with pytest.raises(UserError, match="multiple of heads"):
        ExperimentConfig(workload="transformer", model={"d_model": 30, "heads": 4})
    with pytest.raises(UserError, match="ln_eps"):
        ExperimentConfig(workload="transformer", model={"ln_eps": 0.0})
    assert WORKLOAD.parse_setting("ln_eps", "1e-6") == 1e-6


# --- 1. the same start -------------------------------------------------------------------------

@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_every_twin_starts_from_the_shared_weights_exactly(runtimes, tiny_data, fw):
    start = training.start_weights(TINY, tiny_data)
    names = WORKLOAD.parameter_names(TINY, tiny_data)
    assert len(names) == len(start) == len(set(names))
    again = training.start_weights(TINY, tiny_data)
    assert all(np.array_equal(a, b) for a, b in zip(start, again)), "the draw is not reproducible"
    got = build(fw, TINY, tiny_data, weights=start).get_weights()
    assert [a.shape for a in got] == [a.shape for a in start]
    for name, a, b in zip(names, start, got):
        assert b.dtype == np.float32 and np.array_equal(a, b), f"{fw}: {name} differs from the shared start"


# --- 2. one SGD step ---------------------------------------------------------------------------

@pytest.mark.parametrize("fw", OTHERS)
def test_one_sgd_step_gives_the_same_weights(runtimes, tiny_data, fw):
    cfg = TINY.replace(optimizer="sgd", learning_rate=0.1)
    start = training.start_weights(cfg, tiny_data)
    idx = np.arange(cfg.batch_size)
    after = {}
    for name in ("torch", fw):
        twin = build(name, cfg, tiny_data, weights=start)
        twin.train_step(twin.rows_to_device(tiny_data.x_train, idx, tiny_data.y_train))
        after[name] = twin.get_weights()
    names = WORKLOAD.parameter_names(cfg, tiny_data)
    moved = {n: float(np.max(np.abs(a - b))) for n, a, b in zip(names, start, after["torch"])}
    # Every parameter gets a gradient (the table only on the batch's rows) except the key bias:
    # q.(k + b_k) adds q.b_k to every score of a query, which softmax ignores (exactly 0 in exact
    # arithmetic, rounding noise here), so it is left out of this check, not of the comparison.
    still = [n for n, m in moved.items() if m <= 1e-6 and not n.endswith("k.bias")]
    assert not still, f"one SGD step left {still} unchanged: nothing compared"
    diffs = {n: metrics.relative_l2(a, b) for n, a, b in zip(names, after["torch"], after[fw])}
    worst = max(diffs, key=diffs.get)
    print(f"one SGD step, torch vs {fw}: worst {worst} at {diffs[worst]:.3g} relative L2")
    assert diffs[worst] <= WORKLOAD.tolerances.one_step_weight_rtol, (
        f"{fw}: {worst} after one SGD step differs from torch's by {diffs[worst]:.3g} relative "
        f"(limit {WORKLOAD.tolerances.one_step_weight_rtol})")


# --- 3. strict first epoch: frameworks and variants -------------------------------------------

@pytest.mark.parametrize("fw", OTHERS)
def test_strict_first_epoch_losses_match_torch(runtimes, tiny_data, fw):
    cfg = TINY.replace(optimizer="strict")
    start = training.start_weights(cfg, tiny_data)
    ref, other = first_epoch("torch", cfg, tiny_data, weights=start), first_epoch(fw, cfg, tiny_data, weights=start)
    assert len(ref) == tiny_data.x_train.shape[0] // cfg.batch_size
    rel = metrics.max_relative_difference(ref, other)
    print(f"strict first epoch, torch vs {fw}: max relative step-loss difference {rel:.3g}")
    assert rel <= WORKLOAD.tolerances.step_loss_rtol, (ref, other)


VARIANTS = [(fw, v) for fw in FRAMEWORKS for v, spec in registry.variants(fw).items()
            if v != registry.default_variant(fw) and spec.input in WORKLOAD.variant_inputs]


@pytest.mark.parametrize("fw,variant", VARIANTS, ids=[f"{fw}:{v}" for fw, v in VARIANTS])
def test_every_variant_computes_what_its_framework_default_does(runtimes, tiny_data, fw, variant):
    cfg = TINY.replace(optimizer="strict")
    start = training.start_weights(cfg, tiny_data)
    try:
        twin = build(fw, cfg, tiny_data, variant, start)
    except Unavailable as e:
        pytest.skip(f"{fw}:{variant} is unavailable here: {e}")
    other = training.run_epoch(twin, training.device_epochs(twin, cfg, tiny_data)[0])
    ref = first_epoch(fw, cfg, tiny_data, weights=start)
    rel = metrics.max_relative_difference(ref, other)
    print(f"strict first epoch, {fw} default vs {variant}: {rel:.3g}")
    assert rel <= WORKLOAD.tolerances.step_loss_rtol, (ref, other)
    if twin.trace_count() is not None:  # a compiled variant did compile (else it compared eager with eager)
        assert twin.trace_count() >= 1
    logits = twin.logits(twin.rows_to_device(tiny_data.x_test, slice(0, 16)))
    assert logits.shape == (16, tiny_data.n_classes) and np.isfinite(logits).all()


def test_the_sparse_input_variants_are_refused(runtimes, tiny_data):
    for fw in FRAMEWORKS:
        for v, spec in registry.variants(fw).items():
            if spec.input not in WORKLOAD.variant_inputs:
                with pytest.raises(Unavailable, match="takes dense input only"):
                    build(fw, TINY, tiny_data, v)


@pytest.mark.corpus
@pytest.mark.parametrize("fw", OTHERS)
def test_strict_first_epoch_on_the_corpus_within_the_stated_tolerance(runtimes, archive_path, corpus_cache, fw):
    """The default network and recipe on the real posts, seed 0: the setting the tolerance was
    measured in (shared/workloads/transformer)."""
    cfg = ExperimentConfig(workload="transformer", optimizer="strict")
    data = prepare(cfg, archive=archive_path, cache=corpus_cache)
    start = training.start_weights(cfg, data)
    ref, other = first_epoch("torch", cfg, data, weights=start), first_epoch(fw, cfg, data, weights=start)
    rel = metrics.max_relative_difference(ref, other)
    print(f"corpus, strict first epoch, torch vs {fw}: {rel:.3g} over {len(ref)} steps")
    assert len(ref) == data.x_train.shape[0] // cfg.batch_size
    assert rel <= WORKLOAD.tolerances.step_loss_rtol_any_seed, (ref, other)
    assert ref[-1] < ref[0], "the first epoch did not lower the loss: nothing is being trained"


# --- 5. the plain scripts ---------------------------------------------------------------------

@pytest.mark.parametrize("fw", sorted(WORKLOAD.plain))
def test_plain_script_runs_and_computes_the_twins_first_epoch(runtimes, tiny_archive, tiny_data, tmp_path, fw):
    from benchmarks.plain.common import save_arrays
    cfg = TINY
    start = training.start_weights(cfg, tiny_data)
    save_arrays(tmp_path / "w.npz", start)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg.to_dict()))
    out = tmp_path / "plain.json"
    env = {**os.environ, "FWBENCH_CACHE": str(tmp_path / "cache")}
    p = subprocess.run([sys.executable, "-m", WORKLOAD.plain[fw], "--epochs", "1", "--threads", "1",
                        "--weights", str(tmp_path / "w.npz"), "--config-json", str(tmp_path / "cfg.json"),
                        "--archive", str(tiny_archive), "--json", str(out)],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    plain = json.loads(out.read_text())
    assert plain["kind"] == "plain" and plain["framework"] == fw and plain["weights"] == "shared"
    assert plain["read_back"]["intra_op_threads"] == 1 and len(plain["epoch_seconds"]) == 1
    twin_losses = first_epoch(fw, cfg, tiny_data, weights=start)
    # native optimizers on both sides: the twin's and the script's are the same framework's own
    rel = metrics.max_relative_difference(twin_losses, plain["epoch_losses"][0])
    print(f"plain {fw} against its twin, first epoch: {rel:.3g}")
    assert rel <= 1e-4, (twin_losses, plain["epoch_losses"][0])


# --- the cost model -------------------------------------------------------------------------------

def test_costs_match_a_count_by_hand():
    # B=1, L=2, d=2, 1 head, 1 layer, d_ff=2, V=3, C=2; T = 2 token rows.
    # Forward: mask 2T = 4; positions 4; layer: ln1 7*4+4*2 = 36, q/k/v (16 + 4) * 3 = 60,
    # scores 2*4*2 = 16, scale 4, mask add 4, softmax 5*4 = 20, context 16, out 20, residual 4,
    # ln2 36, ff1 20, relu 4, ff2 20, residual 4 (264); final ln 36; pooling 4 + 4 + 2; head 8 + 2.
    s = costs.Shape(batch=1, seq_len=2, d_model=2, heads=1, layers=1, d_ff=2, n_ids=3, n_classes=2)
    c = costs.step_cost(s)
    assert c.forward.flops == 4 + 4 + 264 + 36 + 10 + 10 == 328
    assert c.forward.matmul_flops == 16 * 4 + 16 + 16 + 16 + 16 + 8 == 136
    # backward: every matmul once per operand (all graded: 2 x 136), the rest twice over except the
    # mask (nothing graded) and the gather (a scatter-add of T*d = 4)
    assert c.backward.flops == 2 * 136 + 2 * (328 - 136 - 4) + 4 == 652
    assert costs.parameter_count(s) == 6 + 4 + (4 + 24 + 4 + 6 + 6) + 4 + 6 == 64
    assert c.optimizer.flops == 13 * 64 and c.optimizer.bytes == 28 * 64
    assert costs.inference_cost(s).flops == 328


def test_default_costs_of_the_workload():
    cfg = ExperimentConfig(workload="transformer")
    summary = {"vocab_size": 20002, "categories": ["a", "b", "c"]}
    c = WORKLOAD.step_cost(cfg, summary, 32)
    # per layer: Q, K, V, O 4 * 2*4096*64*64, attention 2 * 2*32*4*128*128*16, feed-forward 2 * 2*4096*64*128
    assert c.forward.matmul_flops == 2 * (3 * 134_217_728) + 2 * 32 * 64 * 3 == 805_318_656
    assert costs.parameter_count(WORKLOAD.shape(cfg, summary, 32)) == 1_355_587
    with pytest.raises(ValueError, match="token ids"):
        WORKLOAD.step_cost(cfg, summary, 32, input_nnz=10)


# --- the twins' shape --------------------------------------------------------------------------

def test_the_three_twins_have_the_same_public_methods(runtimes):
    def public(cls):
        return {n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))}
    classes = {fw: registry.twin_class(fw, "transformer") for fw in FRAMEWORKS}
    assert {fw: c.framework for fw, c in classes.items()} == {fw: fw for fw in FRAMEWORKS}
    methods = {fw: public(c) for fw, c in classes.items()}
    assert all(m == methods["torch"] for m in methods.values()), methods


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_step_breakdown_takes_every_part_apart(runtimes, tiny_data, fw):
    cfg = TINY
    twin = build(fw, cfg, tiny_data)
    parts = twin.step_breakdown(twin.rows_to_device(tiny_data.x_train, np.arange(cfg.batch_size),
                                                    tiny_data.y_train), repeats=2)
    assert set(parts) == {"forward", "backward", "optimizer", "readback", "step"}
    assert all(v >= 0 for v in parts.values()) and parts["step"] > 0 and parts["forward"] > 0
    w = twin.get_weights()
    assert all(np.isfinite(a).all() for a in w)


def test_keras_adam_on_a_gathered_table_is_what_the_tf_twin_says(runtimes):
    """impl_tf/workloads/transformer.py's docstring: keras Adam takes tf.gather's IndexedSlices one
    occurrence at a time, so a row looked up twice with gradient 1 each moves by sqrt(2)*lr at the
    first step (torch.optim.Adam on the summed gradient 2: lr), and unlooked rows stay put."""
    import keras
    import tensorflow as tf
    table = tf.Variable(np.zeros((3, 1), np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.gather(table, [0, 1, 1]))
    grad = tape.gradient(loss, [table])[0]
    assert isinstance(grad, tf.IndexedSlices)
    keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8).apply_gradients([(grad, table)])
    np.testing.assert_allclose(-table.numpy()[:, 0], [1e-3, np.sqrt(2) * 1e-3, 0.0], rtol=1e-4)


def test_the_accuracy_target_holds_for_the_measured_runs_at_the_defaults_only():
    """The 3-group target is below every framework's measured mean over at least 5 seeds (the
    committed raw figures), and applies only at the workload's defaults."""
    cfg = ExperimentConfig(workload="transformer")
    doc = json.loads((REPO / "results" / "accuracy-transformer" / "3-groups.json").read_text())
    assert doc["config"]["categories"] == list(cfg.categories) and doc["optimizer"] == "native"
    for fw in FRAMEWORKS:
        acc = [r["accuracy"] for r in doc["runs"] if r["framework"] == fw]
        assert len(acc) >= 5 and len({r["seed"] for r in doc["runs"] if r["framework"] == fw}) == len(acc)
        assert np.mean(acc) > cfg.accuracy_floor, (fw, np.mean(acc))
    assert cfg.accuracy_floor == 0.84
    assert cfg.replace(epochs=3).accuracy_floor is None and cfg.replace(model={"d_model": 32}).accuracy_floor is None
