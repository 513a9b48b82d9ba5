"""shared/costs.py against hand-computed counts; the framework probes return sane figures."""
from __future__ import annotations

import ast
import math

import pytest

from shared import costs
from shared.registry import FRAMEWORKS
from shared.costs import Cost, Floor, Part, floor_seconds
from shared.workloads.mlp.costs import epoch_cost, parameter_count, step_cost
from shared.weights import initial_weights, parameter_count as weights_parameter_count
from tests.conftest import REPO

SMALL = [5, 4, 3, 2]  # layers 5->4 (ReLU), 4->3 (ReLU), 3->2
B = 2
F = 4  # bytes per float32


def test_parameter_count_matches_the_weights():
    assert parameter_count(SMALL) == 5 * 4 + 4 + 4 * 3 + 3 + 3 * 2 + 2 == 47
    assert parameter_count(SMALL) == weights_parameter_count(initial_weights(SMALL, seed=0))


def test_dense_step_by_hand():
    c = step_cost(SMALL, B)
    # forward: matmuls 2*B*in*out = 2*2*(5*4 + 4*3 + 3*2) = 4*38 = 152
    #          bias adds B*out = 2*(4+3+2) = 18; ReLU B*out on hidden layers = 2*(4+3) = 14
    assert c.forward.matmul_flops == 152
    assert c.forward.flops == 152 + 18 + 14 == 184
    # backward: weight gradients 152; bias gradients 18;
    #           input gradients of layers 2 and 3 only: 2*2*(4*3 + 3*2) = 72; ReLU masks B*in = 2*(4+3) = 14
    assert c.backward.matmul_flops == 152 + 72 == 224
    assert c.backward.flops == 152 + 18 + 72 + 14 == 256
    # Adam: 13 FLOPs and 7 float32 (read p g m v, write p m v) per parameter
    assert c.optimizer == Part(13 * 47, 7 * 4 * 47, 0) == Part(611, 1316, 0)
    # forward bytes: read X, W, b, write activation, per layer (floats)
    #   5->4: 2*5 + 20 + 4 + 2*4 = 42;  4->3: 8 + 12 + 3 + 6 = 29;  3->2: 6 + 6 + 2 + 4 = 18  -> 89 floats
    assert c.forward.bytes == F * (42 + 29 + 18) == 356
    # backward bytes: read X and dZ, write dW and db; except the first layer also read W, write dX
    #   3->2: 6 + 4 + 6 + 2 + (6 + 6) = 30;  4->3: 8 + 6 + 12 + 3 + (12 + 8) = 49;  5->4: 10 + 8 + 20 + 4 = 42
    assert c.backward.bytes == F * (30 + 49 + 42) == 484
    assert c.flops == 184 + 256 + 611
    assert c.bytes == 356 + 484 + 1316
    assert c.matmul_flops == 152 + 224
    assert c.steps == 1
    d = c.to_dict()
    assert d["flops"] == c.flops and d["forward"]["flops"] == 184 and d["optimizer"]["bytes"] == 1316


def test_sparse_step_by_hand():
    c = step_cost(SMALL, B, input_nnz=3)
    # first layer from CSR with 3 stored values: matmul 2*nnz*h1 = 2*3*4 = 24 (dense: 2*2*5*4 = 80)
    # forward: 24 + 32 (layers 2, 3: 2*2*(12 + 6)) = 56 matmul; bias 18 and ReLU 14 unchanged
    assert c.forward.matmul_flops == 24 + 48 + 24 == 96
    assert c.forward.flops == 96 + 18 + 14 == 128
    # backward: weight gradient of layer 1 on touched rows 2*nnz*h1 = 24, others 48 + 24; input gradients 72
    assert c.backward.matmul_flops == 24 + 48 + 24 + 72 == 168
    assert c.backward.flops == 168 + 18 + 14 == 200
    # CSR bytes: 3 values * 4 + 3 column indices * 4 + (B + 1) row pointers * 4 = 12 + 12 + 12 = 36
    # forward layer 1: CSR 36 + touched W rows min(3, 5) * 4 floats = 12 floats + b 4 + activation 8 -> 36 + 4*24 = 132
    assert c.forward.bytes == 132 + F * (29 + 18) == 320
    # backward layer 1: CSR 36 + dZ 8 + dW touched rows 12 + db 4 -> 36 + 4*24 = 132
    assert c.backward.bytes == F * (30 + 49) + 132 == 448
    # Adam updates every parameter (dense moments), sparse input or not
    assert c.optimizer == step_cost(SMALL, B).optimizer


def test_sparse_with_every_entry_stored_does_the_dense_arithmetic():
    dense, full = step_cost(SMALL, B), step_cost(SMALL, B, input_nnz=B * 5)
    assert (full.forward.flops, full.backward.flops) == (dense.forward.flops, dense.backward.flops)
    # touched rows are capped at the whole matrix
    assert step_cost(SMALL, B, input_nnz=1000).forward.bytes - step_cost(SMALL, B, input_nnz=999).forward.bytes == 8


def test_tutorial_epoch_reproduces_the_project_figure():
    """V = 119,928, hidden 100,100, C = 3, batch 150, 11 steps: ~79 GFLOP forward + backward."""
    sizes = [119_928, 100, 100, 3]
    c = epoch_cost(sizes, 150, 11)
    # 11 * 2*150 * [forward 12,003,100 + weight gradients 12,003,100 + input gradients 100*100 + 100*3]
    assert c.matmul_flops == 11 * 300 * (2 * 12_003_100 + 10_300) == 79_254_450_000
    # + bias adds, ReLU, bias gradients, ReLU masks: 11 * (30,450 + 30,000 + 30,450 + 30,000)
    assert c.forward.flops + c.backward.flops == 79_254_450_000 + 11 * 120_900 == 79_255_779_900
    assert c.optimizer.flops == 11 * 13 * 12_003_303
    assert c.optimizer.bytes == 11 * 28 * 12_003_303
    assert c.steps == 11


def test_epoch_cost_sums_steps():
    one = step_cost(SMALL, B, input_nnz=3)
    assert epoch_cost(SMALL, B, 4, nnz_per_step=3) == Cost(one.forward.times(4), one.backward.times(4),
                                                           one.optimizer.times(4), 4)
    mixed = epoch_cost(SMALL, B, 3, nnz_per_step=[1, 3, 6])
    parts = [step_cost(SMALL, B, input_nnz=n) for n in (1, 3, 6)]
    assert mixed == parts[0] + parts[1] + parts[2]
    assert mixed.flops == sum(p.flops for p in parts) and mixed.steps == 3
    assert epoch_cost(SMALL, B, 5).flops == 5 * step_cost(SMALL, B).flops
    with pytest.raises(ValueError):
        epoch_cost(SMALL, B, 3, nnz_per_step=[1, 2])
    with pytest.raises(ValueError):
        epoch_cost(SMALL, B, 0)
    with pytest.raises(ValueError):
        step_cost([5], B)
    with pytest.raises(ValueError):
        step_cost(SMALL, B, input_nnz=-1)


def test_floor_takes_the_larger_of_compute_and_memory():
    c = Cost(Part(6 * 10**9, 10**9), Part(4 * 10**9, 10**9), Part(0, 0))  # 10 GFLOP, 2 GB
    mem = floor_seconds(c, peak_gflops=500, bandwidth_gbs=40)  # compute 0.02 s, memory 0.05 s
    assert isinstance(mem, Floor)
    assert (mem.compute_s, mem.memory_s) == (pytest.approx(0.02), pytest.approx(0.05))
    assert mem.floor_s == pytest.approx(0.05) and mem.binding == "memory"
    comp = floor_seconds(c, peak_gflops=100, bandwidth_gbs=40)  # compute 0.1 s, memory 0.05 s
    assert comp.floor_s == pytest.approx(0.1) and comp.binding == "compute"
    tie = floor_seconds(c, peak_gflops=200, bandwidth_gbs=40)  # both 0.05 s
    assert tie.binding == "compute" and tie.floor_s == pytest.approx(0.05)
    assert set(tie.to_dict()) == {"compute_s", "memory_s", "floor_s", "binding"}
    for bad in ((0, 40), (100, -1), (math.inf, 40)):
        with pytest.raises(ValueError):
            floor_seconds(c, *bad)


# --- the probes ------------------------------------------------------------------------------

def _public_functions(path) -> dict:
    tree = ast.parse(path.read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            a = node.args
            out[node.name] = ([x.arg for x in a.args], [ast.unparse(d) for d in a.defaults], ast.unparse(node.returns))
    return out


def test_probes_are_mirrored():
    torch_api = _public_functions(REPO / "impl_torch" / "probe.py")
    for package in FRAMEWORKS.values():
        assert _public_functions(REPO / package / "probe.py") == torch_api, f"{package}/probe.py departs from impl_torch's"
    assert set(torch_api) == {"matmul_gflops", "copy_bandwidth_gbs"}


MATMUL_KEYS = {"gflops_best", "gflops_median", "seconds_best", "seconds_median", "flops_per_call", "n", "repeats",
               "device", "tf32", "method"}
COPY_KEYS = {"gbs_best", "gbs_median", "seconds_best", "seconds_median", "bytes_per_call", "nbytes", "repeats",
             "device", "method"}


@pytest.mark.parametrize("package", list(FRAMEWORKS.values()))
def test_probe_returns_positive_finite_figures(package):
    import importlib

    probe = importlib.import_module(f"{package}.probe")
    m = probe.matmul_gflops(n=128, repeats=2)
    assert set(m) == MATMUL_KEYS
    assert (m["n"], m["repeats"], m["flops_per_call"], m["device"]) == (128, 2, 2 * 128 ** 3, "cpu")
    assert all(math.isfinite(m[k]) and m[k] > 0 for k in ("gflops_best", "gflops_median", "seconds_best", "seconds_median"))
    assert m["gflops_best"] >= m["gflops_median"]
    assert isinstance(m["tf32"], bool) and "float32" in m["method"]
    c = probe.copy_bandwidth_gbs(nbytes=2**20 + 3, repeats=2)
    assert set(c) == COPY_KEYS
    assert (c["nbytes"], c["bytes_per_call"], c["repeats"]) == (2**20, 2**21, 2)
    assert all(math.isfinite(c[k]) and c[k] > 0 for k in ("gbs_best", "gbs_median", "seconds_best", "seconds_median"))
    assert c["gbs_best"] >= c["gbs_median"]
    with pytest.raises(ValueError):
        probe.matmul_gflops(n=0)
    with pytest.raises(ValueError):
        probe.copy_bandwidth_gbs(nbytes=3)
