"""The generated answer (benchmarks/reports/answer.py) on synthetic run folders: best against best picks
each framework's fastest measured case and carries the suite's interval for their ratio; the
seed-check reader; the verdict colours (an unknown verdict word is grey, not a crash); the
latency figure's quantiles are the table's."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sst

from benchmarks.reports import answer, report_figures
from benchmarks.analysis import rundata
from shared.errors import UserError
from tests.runfolders import write_run

CASES = {
    "torch:eager@cpu": {"train_epoch": [[2.0, 2.1], [2.2, 2.3], [2.1, 2.0]]},
    "torch:fused@cpu": {"train_epoch": [[0.9, 0.95], [1.0, 1.05], [0.92, 0.9]]},
    "tensorflow:graph@cpu": {"train_epoch": [[1.3, 1.35], [1.4, 1.42], [1.32, 1.3]]},
    "tensorflow:xla@cpu": {"train_epoch": [[1.1, 1.15], [1.2, 1.18], [1.12, 1.1]]},
}


def welch(a, b):
    """time(A) / time(B) from per-process medians, Welch's t on the logs, written out again."""
    la, lb = np.log([np.median(p) for p in a]), np.log([np.median(p) for p in b])
    va, vb = la.var(ddof=1) / la.size, lb.var(ddof=1) / lb.size
    df = (va + vb) ** 2 / (va ** 2 / (la.size - 1) + vb ** 2 / (lb.size - 1))
    h = float(sst.t.ppf(0.975, df)) * math.sqrt(va + vb)
    d = la.mean() - lb.mean()
    return math.exp(d), math.exp(d - h), math.exp(d + h)


def test_best_against_best_picks_the_fastest_case_of_each_framework(tmp_path):
    run = rundata.load_run(write_run(tmp_path / "run", CASES))
    (b,) = answer.best_against_best(run)
    assert b["phase"] == "train_epoch"
    assert b["torch"].id == "torch:fused@cpu" and b["tensorflow"].id == "tensorflow:xla@cpu"
    r = b["ratio"]
    want = welch(CASES["torch:fused@cpu"]["train_epoch"], CASES["tensorflow:xla@cpu"]["train_epoch"])
    assert (r.value, r.low, r.high) == pytest.approx(want, rel=1e-9)
    assert b["winner"] == "torch"  # the fused case's epoch is clearly shorter than XLA's


def test_best_against_best_is_no_verdict_when_the_interval_holds_1(tmp_path):
    cases = dict(CASES)
    cases["tensorflow:xla@cpu"] = {"train_epoch": [[0.8, 0.85], [1.2, 1.25], [0.95, 0.9]]}
    run = rundata.load_run(write_run(tmp_path / "run", cases))
    (b,) = answer.best_against_best(run)
    assert b["tensorflow"].id == "tensorflow:xla@cpu" and b["winner"] is None
    assert b["ratio"].low < 1 < b["ratio"].high


def seed_doc(**over):
    doc = {"cases": ["torch:eager", "tensorflow:graph"], "labels": {"torch:eager": "PyTorch (eager)"},
           "seeds": [0, 1, 2], "accuracy": {"torch:eager": {"mean": 0.9, "sd": 0.01, "values": [0.89, 0.9, 0.91]},
                                             "tensorflow:graph": {"mean": 0.92, "sd": 0.02,
                                                                  "values": [0.9, 0.92, 0.94]}},
           "difference_of_means": {"difference": -0.02, "low": -0.06, "high": 0.02}}
    doc.update(over)
    return doc


def test_seed_check_reader(tmp_path):
    p = tmp_path / "seeds.json"
    p.write_text(json.dumps(seed_doc()))
    a = answer.read_seed_check(p)
    assert a["mean"]["tensorflow:graph"] == 0.92 and a["difference"] == (-0.02, -0.06, 0.02)
    assert a["labels"] == {"torch:eager": "PyTorch (eager)", "tensorflow:graph": "tensorflow:graph"}
    bad = seed_doc()
    del bad["difference_of_means"]
    p.write_text(json.dumps(bad))
    with pytest.raises(UserError, match="not an accuracy check"):
        answer.read_seed_check(p)


def test_verdict_colours_come_from_one_map_and_unknown_words_are_grey(tmp_path):
    assert report_figures.verdict_color("faster") != report_figures.verdict_color("slower")
    assert report_figures.verdict_color("a word added later") == report_figures.UNKNOWN_VERDICT
    assert report_figures.verdict_color(None) == report_figures.UNKNOWN_VERDICT
    run = rundata.load_run(write_run(tmp_path / "run", CASES))
    frame = rundata.summary(run)
    frame.loc[frame.case == "tensorflow:xla@cpu", "verdict"] = "inconclusive-by-a-new-rule"
    path = report_figures.forest_figure(run, frame, "cpu", tmp_path / "forest.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_latency_figure_shows_the_tables_quantiles(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    lat = {c: {"predict_one": [list(m * np.exp(rng.normal(0, 0.3, 200))) for m in ms]}
           for c, ms in (("torch:eager@cpu", (0.002, 0.0025, 0.0022)), ("tensorflow:graph@cpu", (0.004, 0.006, 0.0045)))}
    run = rundata.load_run(write_run(tmp_path / "run", lat))
    frame = rundata.summary(run)
    legends = []
    real_save = report_figures.save_png

    def grab(fig, path):
        legends.extend(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
        return real_save(fig, path)

    monkeypatch.setattr(report_figures, "save_png", grab)
    report_figures.latency_figure(run, "cpu", tmp_path / "lat.png")
    for _, r in frame[frame.phase == "predict_one"].iterrows():
        line = next(t for t in legends if t.startswith(r["label"] + ":"))
        scale, unit = rundata.time_unit(float(np.median(np.concatenate(
            [np.concatenate(run.cases[c].phases["predict_one"].samples()) for c in lat]))))
        want = f"p50 {r['time_s'] / scale:.3g}, p90 {r['p90_s'] / scale:.3g}, p99 {r['p99_s'] / scale:.3g} {unit}"
        assert line.endswith(want), (line, want)
        # and not the quantile of all rounds pooled, which the figure used to show
        pooled99 = np.quantile(np.concatenate(run.cases[r["case"]].phases["predict_one"].samples()), 0.99)
        assert f"p99 {pooled99 / scale:.3g}" not in line


def test_best_against_best_survives_a_third_framework_in_the_run(tmp_path):
    # the matrix runs JAX too: PyTorch's and TensorFlow's best are still compared, JAX left out
    cases = dict(CASES)
    cases["jax:jit@cpu"] = {"train_epoch": [[0.5, 0.52], [0.55, 0.5], [0.51, 0.5]]}
    run = rundata.load_run(write_run(tmp_path / "run", cases))
    (b,) = answer.best_against_best(run)
    assert b["torch"].id == "torch:fused@cpu" and b["tensorflow"].id == "tensorflow:xla@cpu"


def test_best_table_has_every_framework_and_one_direction(tmp_path):
    """Best against best as one table: each framework's fastest case with its time and interval, the
    fastest named, each other's best against it as a time ratio above 1 with the suite's interval."""
    cases = dict(CASES)
    cases["jax:jit@cpu"] = {"train_epoch": [[0.5, 0.52], [0.55, 0.5], [0.51, 0.5]]}
    cases["jax:eager@cpu"] = {"train_epoch": [[3.0, 3.1], [3.2, 3.1], [3.0, 3.0]]}
    run = rundata.load_run(write_run(tmp_path / "run", cases))
    (row,) = answer.best_table(run)
    assert {fw: c.id for fw, c in row["best"].items()} == {
        "torch": "torch:fused@cpu", "tensorflow": "tensorflow:xla@cpu", "jax": "jax:jit@cpu"}
    assert row["fastest"] == "jax"
    for fw, case in (("torch", "torch:fused@cpu"), ("tensorflow", "tensorflow:xla@cpu")):
        r, v = row["against"][fw]
        want = welch(cases[case]["train_epoch"], cases["jax:jit@cpu"]["train_epoch"])
        assert (r.value, r.low, r.high) == pytest.approx(want, rel=1e-9) and r.value > 1
        assert v.word == "faster"  # the fastest (A) is faster: the other is slower, as the table says
    t = row["time"]["jax"]
    assert t.value == pytest.approx(math.exp(np.mean(np.log([np.median(p) for p in cases["jax:jit@cpu"]["train_epoch"]]))))
    # the finding's table: a column per framework, JAX included, one direction ("times slower")
    (tmp_path / "res" / "matrix-cpu" / "runs").mkdir(parents=True)
    (tmp_path / "res" / "matrix-cpu" / "runs" / "r").symlink_to(run.path)
    (f,) = answer.best_findings(tmp_path / "res")
    assert [h.split(":")[0] for h in f.table.head[1:4]] == ["PyTorch", "TensorFlow", "JAX"]
    assert f.table.rows[0][4] == "JAX" and "times slower" in f.table.head[5]
    assert f.where.startswith("Synthetic CPU @ 3.0GHz, 2 threads a case;") and "3 newsgroups" in f.where
    assert f.line.startswith("**Synthetic CPU @ 3.0GHz")


def test_the_optimizer_is_named_only_where_the_phase_trains(tmp_path):
    run = rundata.load_run(write_run(tmp_path / "run", {
        "torch:eager@cpu": {"predict_all": [[0.1], [0.11]]},  # two processes, two measurements
        "torch:sparse+fused@cpu": {"predict_all": [[0.01], [0.011]], "train_epoch": [[0.5], [0.55]]}}))
    c = run.cases["torch:sparse+fused@cpu"]
    assert "fused Adam" in c.label
    assert answer.phase_label(c, "train_epoch") == c.label
    assert "fused Adam" not in answer.phase_label(c, "predict_all") and "sparse input" in answer.phase_label(c, "predict_all")
