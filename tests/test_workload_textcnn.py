"""The text-CNN workload (shared/workloads/textcnn): it registers and reads the same posts as the
MLP; its three twins start from the shared weights, take the same SGD step and, in strict mode,
the same first-epoch losses (every execution variant too) within the workload's tolerances; its
cost model's figures are exact; its plain scripts compute what the twins compute. Cut sizes on
the tiny archive (seconds); one check at cut sizes on the real posts (corpus)."""
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
from shared.workloads.textcnn import WORKLOAD, costs
from tests.conftest import REPO, TINY_CONFIG, make_tiny_archive

FRAMEWORKS = ("torch", "tensorflow", "jax")
# Every variant of each framework that applies to token ids, against its framework's default.
VARIANTS = {"torch": ("compile", "fused", "ftz"), "tensorflow": ("eager", "xla"), "jax": ("eager",)}

# Small enough to train in a blink on the tiny archive (36 train posts of ~20 tokens): every id
# of the tiny vocabulary kept (vocab_size None), batches of 8, a short sequence, narrow layers.
TINY = ExperimentConfig(workload="textcnn", batch_size=8, epochs=2, vocab_size=None, eval_batch_size=16,
                        learning_rate=0.01,
                        model={"seq_len": 24, "embed_dim": 8, "widths": (2, 3, 5), "filters": 6})
TOL = WORKLOAD.tolerances


@pytest.fixture(scope="module")
def runtimes():
    """Every framework configured once, before any TensorFlow op or JAX array (harmless if already done)."""
    return {fw: registry.runtime(fw).configure(TINY.thread_count, "cpu") for fw in FRAMEWORKS}


@pytest.fixture(scope="module")
def tiny_archive_module(tmp_path_factory):
    return make_tiny_archive(tmp_path_factory.mktemp("textcnn") / "tiny-20news.tar.gz")


@pytest.fixture(scope="module")
def tiny(tiny_archive_module, tmp_path_factory):
    return prepare(TINY, archive=tiny_archive_module, cache=tmp_path_factory.mktemp("textcnn-cache"))


@pytest.fixture(scope="module")
def strict_epochs(runtimes, tiny):
    """(framework, variant) -> the first epoch's strict step losses on the tiny data, each computed once."""
    cfg, memo = TINY.replace(optimizer="strict"), {}

    def get(fw, variant=None):
        if (fw, variant) not in memo:
            memo[fw, variant] = first_epoch(fw, cfg, tiny, variant)
        return memo[fw, variant]
    return get


def build(fw, cfg, data, variant=None, weights=None):
    try:
        return training.build(registry.twin_class(fw, "textcnn"), cfg, data, variant, weights)
    except Unavailable as e:
        pytest.skip(f"{fw}:{variant} is unavailable here: {e}")


def first_epoch(fw, cfg, data, variant=None):
    twin = build(fw, cfg, data, variant)
    return training.run_epoch(twin, training.device_epochs(twin, cfg, data)[0])


# --- 4. registration and data ---------------------------------------------------------------------
def test_registers_with_its_settings_and_recipe():
    assert workloads.get("textcnn") is WORKLOAD and WORKLOAD.input == "tokens"
    cfg = ExperimentConfig(workload="textcnn")
    assert dict(cfg.model) == {"seq_len": 256, "embed_dim": 64, "widths": (3, 4, 5), "filters": 64}
    assert (cfg.learning_rate, cfg.batch_size, cfg.epochs, cfg.vocab_mode, cfg.vocab_size) == (1e-3, 50, 10, "train", 20000)
    assert WORKLOAD.parse_setting("widths", "2x3") == (2, 3) and WORKLOAD.parse_setting("filters", "8") == 8
    with pytest.raises(UserError, match="seq_len >= 5"):
        ExperimentConfig(workload="textcnn", model={"seq_len": 4})
    with pytest.raises(UserError, match="no setting 'hidden'"):
        ExperimentConfig(workload="textcnn", model={"hidden": (4,)})
    with pytest.raises(UserError, match="filters must be a positive integer"):
        ExperimentConfig(workload="textcnn", model={"filters": 0})
    # seq_len decides the prepared ids: it is in the data key, the network's widths are not
    key = TINY.data_key()
    assert key["seq_len"] == 24 and key["input"] == "tokens" and "filters" not in key
    assert TINY.replace(model={"seq_len": 12}).data_key() != key
    assert TINY.replace(model={"filters": 3}).data_key() == key


def test_featurizes_the_same_posts_in_the_same_order_as_the_mlp(tiny_archive_module, tmp_path, tiny):
    counts = prepare(TINY_CONFIG, archive=tiny_archive_module, cache=tmp_path / "cache")
    assert np.array_equal(tiny.y_train, counts.y_train) and np.array_equal(tiny.y_test, counts.y_test)
    assert tiny.category_names == counts.category_names
    for x, n in ((tiny.x_train, counts.x_train.shape[0]), (tiny.x_test, counts.x_test.shape[0])):
        assert x.dtype == np.int32 and x.shape == (n, 24)
        assert 0 <= x.min() and x.max() < tiny.n_ids
    assert (tiny.x_train >= 2).any() and (tiny.x_train[:, -1] == 0).any()  # kept tokens, and padding at the end
    assert tiny.summary()["seq_len"] == 24 and tiny.vocab_size == tiny.n_ids


def test_initial_weights_follow_the_declared_names_shapes_and_laws(tiny):
    w = WORKLOAD.initial_weights(TINY, tiny)
    names = WORKLOAD.parameter_names(TINY, tiny)
    assert names == ["embedding", "conv2_kernel", "conv2_bias", "conv3_kernel", "conv3_bias", "conv5_kernel",
                     "conv5_bias", "head_kernel", "head_bias"]
    assert [a.shape for a in w] == [(tiny.n_ids, 8), (2, 8, 6), (6,), (3, 8, 6), (6,), (5, 8, 6), (6,), (18, 3), (3,)]
    assert all(a.dtype == np.float32 for a in w)
    for name, a in zip(names, w):
        if name.startswith("conv"):
            bound = 1 / np.sqrt(8 * int(name[4]))
            assert np.abs(a).max() <= bound, name
            if name.endswith("kernel"):  # enough draws to come near the bound
                assert np.abs(a).max() > 0.8 * bound, name
    assert np.abs(w[-2]).max() <= 1 / np.sqrt(18)
    assert 0.7 < np.std(w[0]) < 1.3  # N(0, 1), nn.Embedding's
    again = WORKLOAD.initial_weights(TINY, tiny)
    assert all(np.array_equal(a, b) for a, b in zip(w, again))
    other = WORKLOAD.initial_weights(TINY.replace(seed=1), tiny)
    assert not np.array_equal(w[1], other[1])


# --- 1. same start ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_every_twin_starts_from_the_shared_weights_exactly(runtimes, tiny, fw):
    start = training.start_weights(TINY, tiny)
    got = build(fw, TINY, tiny).get_weights()
    assert [a.shape for a in got] == [a.shape for a in start]
    assert all(np.array_equal(a, b) for a, b in zip(got, start)), fw


def test_the_sparse_input_is_refused_for_token_ids(runtimes, tiny):
    with pytest.raises(Unavailable, match="dense input only"):
        registry.twin_class("torch", "textcnn")(TINY, training.start_weights(TINY, tiny), "sparse")


# --- 2. one SGD step --------------------------------------------------------------------------------
@pytest.mark.parametrize("fw", ("tensorflow", "jax"))
def test_one_sgd_step_gives_the_same_weights(runtimes, tiny, fw):
    cfg = TINY.replace(optimizer="sgd", learning_rate=0.5)
    start = training.start_weights(cfg, tiny)
    idx = np.arange(cfg.batch_size)
    after = {}
    for name in ("torch", fw):
        twin = build(name, cfg, tiny, weights=start)
        twin.train_step(twin.rows_to_device(tiny.x_train, idx, tiny.y_train))
        after[name] = twin.get_weights()
    names = WORKLOAD.parameter_names(cfg, tiny)
    for i, name in enumerate(names):
        moved = metrics.relative_l2(start[i], after["torch"][i])
        assert moved > 1e-4, f"{name}: one SGD step moved it by {moved:.2g} relative: nothing would be compared"
        gap = metrics.relative_l2(after["torch"][i], after[fw][i])
        assert gap <= TOL.one_step_weight_rtol, f"{name}: {fw} differs from torch by {gap:.3g} relative L2"
        # the step itself, not only where it lands: the updates agree to a small share of their size
        step_gap = metrics.relative_l2(after["torch"][i] - start[i], after[fw][i] - start[i])
        assert step_gap <= 1e-3, f"{name}: {fw}'s SGD update differs from torch's by {step_gap:.3g} relative L2"


# --- 3. strict mode: the first epoch, every framework and every variant --------------------------------
def test_strict_first_epoch_losses_agree_across_frameworks(strict_epochs, tiny):
    cfg = TINY.replace(optimizer="strict")
    losses = {fw: strict_epochs(fw) for fw in FRAMEWORKS}
    assert losses["torch"].shape == (tiny.x_train.shape[0] // cfg.batch_size,)
    assert np.ptp(losses["torch"]) > 1e-3, "the step losses do not move: nothing would be compared"
    for fw in ("tensorflow", "jax"):
        gap = metrics.max_relative_difference(losses["torch"], losses[fw])
        assert gap <= TOL.step_loss_rtol, f"{fw}: first-epoch step losses differ from torch's by {gap:.3g} relative"


@pytest.mark.parametrize("fw,variant", [(fw, v) for fw, vs in VARIANTS.items() for v in vs],
                         ids=[f"{fw}:{v}" for fw, vs in VARIANTS.items() for v in vs])
def test_every_variant_matches_its_frameworks_default_in_strict_mode(strict_epochs, fw, variant):
    reference, got = strict_epochs(fw), strict_epochs(fw, variant)
    gap = metrics.max_relative_difference(reference, got)
    assert gap <= TOL.step_loss_rtol, f"{fw}:{variant} differs from {fw}'s default by {gap:.3g} relative"


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_a_twin_trains_and_predicts_through_the_shared_loop(runtimes, tiny, fw):
    twin = build(fw, TINY, tiny)
    result = training.fit(twin, TINY, tiny)
    assert len(result.epoch_losses) == TINY.epochs and np.isfinite(result.epoch_losses[-1]).all()
    assert result.test_predictions.shape == tiny.y_test.shape and 0 <= result.test_accuracy <= 1
    assert twin.logits(twin.rows_to_device(tiny.x_test, slice(0, 5))).shape == (5, tiny.n_classes)
    parts = build(fw, TINY, tiny).step_breakdown(twin.rows_to_device(tiny.x_train, np.arange(8), tiny.y_train), 2)
    assert set(parts) == {"forward", "backward", "optimizer", "readback", "step"} and min(parts.values()) >= 0


@pytest.mark.corpus
def test_strict_first_epoch_on_the_real_posts_at_cut_sizes(runtimes, archive_path, corpus_cache):
    """The real corpus's ids (20,000 kept tokens, a long padded tail), the network cut to a
    quarter of the default widths and the first 200 training posts, so it takes seconds."""
    cfg = ExperimentConfig(workload="textcnn", optimizer="strict",
                           model={"seq_len": 128, "embed_dim": 16, "filters": 16})
    full = prepare(cfg, archive=archive_path, cache=corpus_cache)
    import dataclasses
    data = dataclasses.replace(full, x_train=full.x_train[:200], y_train=full.y_train[:200])
    losses = {fw: first_epoch(fw, cfg, data) for fw in FRAMEWORKS}
    assert losses["torch"].shape == (4,)
    for fw in ("tensorflow", "jax"):
        gap = metrics.max_relative_difference(losses["torch"], losses[fw])
        assert gap <= TOL.step_loss_rtol, f"{fw}: real posts, step losses differ from torch's by {gap:.3g} relative"


# --- cost model -----------------------------------------------------------------------------------------
def test_cost_model_sanity_figures_are_exact():
    c = costs.step_cost(20002, 256, 64, (3, 4, 5), 64, 3, 50)
    conv = 2 * 50 * 64 * 64 * (254 * 3 + 253 * 4 + 252 * 5)
    assert conv == 1_242_726_400
    assert c.forward.matmul_flops == conv + 2 * 50 * 192 * 3
    assert c.matmul_flops == 3 * (conv + 57_600) == 3_728_352_000
    assert costs.parameter_count(20002, 64, (3, 4, 5), 64, 3) == 1_330_051
    assert c.optimizer.flops == 13 * 1_330_051 and c.optimizer.bytes == 28 * 1_330_051
    i = costs.inference_cost(20002, 256, 64, (3, 4, 5), 64, 3, 50)
    assert i.forward == c.forward and i.flops == c.forward.flops
    # hand count of a one-width network: forward = gather 0 + conv (mm, bias, ReLU) + max + head
    one = costs.step_cost(10, 6, 2, (3,), 4, 2, 5)  # T = 4
    mm, head = 2 * 5 * 4 * 3 * 2 * 4, 2 * 5 * 4 * 2
    assert one.forward.flops == mm + 2 * 5 * 4 * 4 + 5 * 4 * 3 + head + 5 * 2
    assert one.backward.flops == (head + 5 * 2) + head + 5 * 4 * 4 + (mm + 5 * 4 * 4) + mm + 5 * 6 * 2
    assert one.forward.bytes == 4 * 5 * 6 + 4 * 2 * 5 * 6 * 2 + 4 * (5 * 6 * 2 + 3 * 2 * 4 + 4 + 5 * 4 * 4) \
        + 4 * (5 * 4 * 4 + 5 * 4) + 4 * (5 * 4 + 4 * 2 + 2 + 5 * 2)
    with pytest.raises(ValueError):
        costs.step_cost(10, 2, 2, (3,), 4, 2, 5)


def test_the_workload_counts_its_parameters_and_cost_from_a_data_summary(tiny):
    w = WORKLOAD.initial_weights(TINY, tiny)
    assert sum(a.size for a in w) == costs.parameter_count(tiny.n_ids, 8, (2, 3, 5), 6, tiny.n_classes)
    c = WORKLOAD.step_cost(TINY, tiny.summary(), 8)
    assert c == costs.step_cost(tiny.n_ids, 24, 8, (2, 3, 5), 6, tiny.n_classes, 8)
    assert WORKLOAD.inference_cost(TINY, tiny.summary(), 8).flops == c.forward.flops


def test_the_accuracy_floor_holds_at_the_workloads_defaults_only():
    cfg = ExperimentConfig(workload="textcnn")
    floor = {t.n_groups: t.min_mean_accuracy for t in WORKLOAD.accuracy_targets}
    assert 3 in floor
    assert cfg.accuracy_floor == floor[3]
    assert cfg.replace(seed=3, threads=1, optimizer="strict").accuracy_floor == floor[3]
    assert cfg.replace(learning_rate=0.01).accuracy_floor is None
    assert cfg.replace(model={"filters": 32}).accuracy_floor is None
    assert 20 in floor and cfg.replace(categories=None).accuracy_floor == floor[20]


# --- 5. the plain scripts -------------------------------------------------------------------------------
@pytest.mark.parametrize("fw", sorted(WORKLOAD.plain))
def test_plain_script_runs_and_computes_the_twins_first_epoch(runtimes, tiny_archive_module, tiny, tmp_path, fw):
    from benchmarks.plain.workloads.common import save_arrays
    module = WORKLOAD.plain[fw]
    weights = training.start_weights(TINY, tiny)
    save_arrays(tmp_path / "w.npz", weights)
    (tmp_path / "cfg.json").write_text(json.dumps(TINY.to_dict()))
    out = tmp_path / "plain.json"
    env = {**os.environ, "FWBENCH_CACHE": str(tmp_path / "cache")}
    # the script's default variant, its twin's default (tests/test_plain.py)
    p = subprocess.run([sys.executable, "-m", module, "--epochs", "1",
                        "--threads", "1", "--weights", str(tmp_path / "w.npz"), "--config-json",
                        str(tmp_path / "cfg.json"), "--archive", str(tiny_archive_module), "--json", str(out)],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    plain = json.loads(out.read_text())
    assert plain["kind"] == "plain" and plain["framework"] == fw and plain["weights"] == "shared"
    assert len(plain["epoch_seconds"]) == 1 and plain["read_back"]["intra_op_threads"] == 1
    twin_losses = first_epoch(fw, TINY, tiny)
    plain_losses = np.array(plain["epoch_losses"][0])
    assert plain_losses.shape == twin_losses.shape
    gap = metrics.max_relative_difference(twin_losses, plain_losses)
    assert gap <= 1e-4, f"plain {fw} script's first epoch differs from the twin's by {gap:.3g} relative"


def test_plain_script_refuses_another_workloads_configuration(tmp_path):
    (tmp_path / "cfg.json").write_text(json.dumps(TINY_CONFIG.to_dict()))
    p = subprocess.run([sys.executable, "-c", "import sys; from benchmarks.plain.workloads.common import arguments, "
                        "load_data; sys.argv=['x','--threads','1','--config-json',sys.argv[1]]; "
                        "load_data(arguments('x', ('eager',), 'a test'), 'textcnn')", str(tmp_path / "cfg.json")],
                       capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.returncode != 0 and "configures workload mlp; this script trains textcnn" in p.stderr
