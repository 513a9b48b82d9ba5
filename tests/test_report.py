"""`fwbench report` on synthetic run folders (tests/runfolders.py) with known figures: verdicts and
their intervals, derived figures, the report's sections and figures, one reader behind every
table, the execution-mode matrix, the step breakdown and machine limits, --compare, the
regression gate, and bad input. JSON only: no framework is imported and nothing is timed."""
from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as st

import benchmarks.commands.report as report_cmd
from benchmarks.analysis import rundata, stats
from benchmarks.cli import main_entry
from benchmarks.analysis.rundata import fmt_time
from tests.runfolders import SHARED_ID, processes, rounds, write_run

TORCH, TF = "torch:eager@cpu", "tensorflow:graph@cpu"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- helpers

def jittered(center: float, n: int, sd: float, rng) -> np.ndarray:
    """n per-process medians around `center` (multiplicative jitter of sd `sd`)."""
    return center * np.exp(rng.normal(0.0, sd, n))


def pair(meds_a, meds_b, rng, n_rounds: int = 7, spread: float = 0.01):
    """Round lists for two cases from their per-process medians."""
    return processes(meds_a, n_rounds, spread, rng), processes(meds_b, n_rounds, spread, rng)


def fwbench_report(capsys, *args) -> tuple[int, str, str]:
    rc = main_entry(["report", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    return lines[0]


def section(text: str, title: str, level: int = 2) -> str:
    """The body under the heading `title` (at `level`), up to the next heading of any level."""
    mark = "#" * level
    m = re.search(rf"^{mark} {re.escape(title)}[^\n]*\n(.*?)(?=^#+ |\Z)", text, re.S | re.M)
    assert m, f"no section {mark} {title!r} in:\n{text}"
    return m.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The body rows of every Markdown table in `text`, as lists of cells."""
    rows, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("| ") or line.startswith("|---"):
            continue
        if i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            continue  # a header
        rows.append([c.strip() for c in line.strip()[2:-2].split(" | ")])
    return rows


def missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def row_of(frame, case: str, phase: str):
    r = frame[(frame.case == case) & (frame.phase == phase)]
    assert len(r) == 1, (case, phase)
    return r.iloc[0]


def headline_lines(report_md: str) -> list[str]:
    return [l[2:] for l in section(report_md, "Headline").splitlines() if l.startswith("- ")]


def two_case_run(folder: Path, seed: int, te_torch, te_tf, **kw) -> Path:
    """torch vs TF, train_epoch only, from per-process medians."""
    rng = np.random.default_rng(seed)
    a, b = pair(te_torch, te_tf, rng)
    return write_run(folder, {TORCH: {"train_epoch": a}, TF: {"train_epoch": b}}, **kw)


def full_run(folder: Path, seed: int = 0, *, tf_train_factor: float = 0.5, **kw) -> Path:
    """Both frameworks on every framework phase, plus the shared case: a report with every section."""
    rng = np.random.default_rng(seed)
    n, k = 3, 5
    preds = rng.integers(0, 3, 40).tolist()
    other = list(preds)
    other[:4] = [(p + 1) % 3 for p in other[:4]]
    cases = {SHARED_ID: {"data_prepare": processes(jittered(1.5, n, 0.01, rng), 3, 0.01, rng),
                         "data_load": processes(jittered(0.05, n, 0.01, rng), k, 0.01, rng)}}
    extra = {}
    for cid, factor, pr in ((TORCH, 1.0, preds), (TF, tf_train_factor, other)):
        te = jittered(0.2 * factor, n, 0.01, rng)
        cases[cid] = {"first_epoch": processes(te + (0.4 if cid == TF else 0.05), 3, 0.01, rng),
                      "train_epoch": processes(te, k, 0.01, rng),
                      "train_to_accuracy": [[x] for x in jittered(2.0 * factor, n, 0.01, rng)],
                      "pipeline_epoch": processes(te * 1.6, k, 0.01, rng),
                      "predict_all": processes(jittered(0.01, n, 0.01, rng), k, 0.01, rng),
                      "predict_one": processes(jittered(0.002, n, 0.02, rng), 101, 0.2, rng)}
        extra[cid] = {"train_to_accuracy": [{"accuracy": acc, "epoch_mean_loss": [1.0, 0.5, 0.2],
                                             "test_predictions": pr} for acc in (0.9, 0.9, 0.9)]}
    return write_run(folder, cases, extra_info=extra, **kw)


# --------------------------------------------------------------------------- verdicts

def test_known_2x_ratio_reads_faster_naming_the_faster_case(tmp_path, capsys):
    rng = np.random.default_rng(1)
    torch_te = jittered(0.2, 4, 0.01, rng)
    torch_pa = jittered(0.01, 4, 0.01, rng)
    # the same per-process medians, rotated: the geometric means are exactly 2x apart
    te_a, te_b = pair(torch_te, np.roll(torch_te, 1) / 2, rng)
    pa_a, pa_b = pair(torch_pa, np.roll(torch_pa, 1) * 2, rng)
    run = write_run(tmp_path / "run", {TORCH: {"train_epoch": te_a, "predict_all": pa_a},
                                       TF: {"train_epoch": te_b, "predict_all": pa_b}})
    frame = rundata.summary(rundata.load_run(run))
    te, pa = row_of(frame, TF, "train_epoch"), row_of(frame, TF, "predict_all")
    assert te["speedup"] == pytest.approx(2.0, rel=1e-9) and te["speedup_low"] > 1 and te["verdict"] == "faster"
    assert pa["speedup"] == pytest.approx(0.5, rel=1e-9) and pa["speedup_high"] < 1 and pa["verdict"] == "slower"

    rc, out, err = fwbench_report(capsys, run)
    assert rc == 0, err
    lines = headline_lines((run / "report.md").read_text())
    train = [l for l in lines if "trains an epoch" in l]
    assert len(train) == 1
    m = re.fullmatch(r"On CPU, TensorFlow \(graph\) trains an epoch 2\.00x faster than PyTorch \(eager\) "
                     r"\(95% CI ([\d.]+)-([\d.]+)x, 4 processes a side\)\.", train[0])
    assert m, train[0]
    assert 1 < float(m[1]) < 2 < float(m[2])
    # the other way round: the baseline is the faster case and is named first
    pred = [l for l in lines if "predicts the whole test set" in l]
    m = re.fullmatch(r"On CPU, PyTorch \(eager\) predicts the whole test set 2\.00x faster than TensorFlow \(graph\) "
                     r"\(95% CI ([\d.]+)-([\d.]+)x, 4 processes a side\)\.", pred[0])
    assert m, pred[0]
    assert 1 < float(m[1]) < 2 < float(m[2])
    assert train[0] in out and pred[0] in out  # the CLI prints the headline too


def test_overlapping_samples_read_inconclusive_with_what_would_decide(tmp_path, capsys):
    rng = np.random.default_rng(2)
    run = two_case_run(tmp_path / "run", 2, jittered(0.2, 3, 0.05, rng), jittered(0.2, 3, 0.05, rng))
    r = row_of(rundata.summary(rundata.load_run(run)), TF, "train_epoch")
    assert r["speedup_low"] < 1 < r["speedup_high"]
    assert r["verdict"] == "inconclusive"
    # the row carries the verdict's figures: the interval's half-width as a ratio, and the processes
    v = stats.verdict(stats.inverse(stats.Interval(r["speedup"], r["speedup_low"], r["speedup_high"], 3,
                                                   se=r["speedup_se"], df=r["speedup_df"])))
    assert (r["detectable"], r["processes_needed"]) == (pytest.approx(v.detectable), v.processes_needed)
    assert r["detectable"] == pytest.approx(math.sqrt(r["speedup_high"] / r["speedup_low"]))
    assert fwbench_report(capsys, run)[0] == 0
    (line,) = headline_lines((run / "report.md").read_text())
    assert line == (f"On CPU, TensorFlow (graph) vs PyTorch (eager), training an epoch: inconclusive: the run could "
                    f"detect only differences beyond {r['detectable'] - 1:.0%}; about {int(r['processes_needed'])} "
                    f"processes a side would decide equivalence within 5% ({r['speedup']:.2f}x, 95% CI "
                    f"{r['speedup_low']:.2f}-{r['speedup_high']:.2f}x, 3 processes a side).")
    assert "faster than" not in line


def test_three_percent_with_tight_interval_is_below_the_minimum_effect(tmp_path, capsys):
    rng = np.random.default_rng(3)
    meds = jittered(0.2, 5, 0.002, rng)
    tf_meds = np.roll(meds, 2) / 1.03
    for min_effect, word in ((0.05, "equivalent"), (0.02, "faster")):
        run = two_case_run(tmp_path / f"run{min_effect}", 3, meds, tf_meds, min_effect=min_effect)
        r = row_of(rundata.summary(rundata.load_run(run)), TF, "train_epoch")
        assert r["speedup"] == pytest.approx(1.03, rel=1e-9)
        assert 1 < r["speedup_low"] and r["speedup_high"] < 1.05  # the interval excludes 1: only the effect is small
        assert r["verdict"] == word
        assert fwbench_report(capsys, run)[0] == 0
        (line,) = headline_lines((run / "report.md").read_text())
        if word == "faster":
            assert line.startswith("On CPU, TensorFlow (graph) trains an epoch 1.03x faster than PyTorch (eager)")
        else:
            assert (r["equivalence_low"], r["equivalence_high"]) == (
                pytest.approx(1.03 * np.exp(-st.t.ppf(0.95, r["speedup_df"]) * r["speedup_se"])),
                pytest.approx(1.03 * np.exp(st.t.ppf(0.95, r["speedup_df"]) * r["speedup_se"])))
            assert line.startswith(f"On CPU, TensorFlow (graph) vs PyTorch (eager), training an epoch: equivalent "
                                   f"within 5% (90% CI {r['equivalence_low']:.2f}-{r['equivalence_high']:.2f}x) (1.03x")


def test_one_process_per_case_gives_no_interval_and_no_verdict(tmp_path, capsys):
    run = two_case_run(tmp_path / "run", 4, [0.2], [0.1])
    frame = rundata.summary(rundata.load_run(run))
    r = row_of(frame, TF, "train_epoch")
    assert r["speedup"] == pytest.approx(2.0, rel=1e-9)
    assert missing(r["speedup_low"]) and missing(r["speedup_high"])
    assert r["verdict"] == "no interval"
    assert fwbench_report(capsys, run)[0] == 0
    text = (run / "report.md").read_text()
    (line,) = headline_lines(text)
    assert "2.00x, no interval" in line and "so no verdict" in line
    assert "faster than" not in line and "equivalent" not in line and "inconclusive" not in line
    tf_row = [c for c in table_rows(section(text, "Timings on CPU")) if c[1] == "TensorFlow (graph)"][0]
    assert tf_row[6] == "2.00x (no interval)" and tf_row[7] == "no interval"


# --------------------------------------------------------------------------- derived figures

def test_warmup_cost_spanning_zero_is_not_measurable_and_a_clear_one_is_a_time(tmp_path, capsys):
    rng = np.random.default_rng(5)
    te = jittered(0.2, 4, 0.01, rng)
    # torch: first epoch - steady epoch of -30, +20, -25, +15 ms per process (mean < 0, interval spans 0)
    torch_first = te + np.array([-0.030, 0.020, -0.025, 0.015])
    # TF: a clear 500 ms warm-up in every process
    tf_te = jittered(0.1, 4, 0.01, rng)
    tf_first = tf_te + np.array([0.50, 0.51, 0.49, 0.50])
    exact = lambda meds, n: [[float(m)] * n for m in meds]  # noqa: E731 - rounds whose median is m
    run = write_run(tmp_path / "run", {TORCH: {"first_epoch": exact(torch_first, 3), "train_epoch": exact(te, 5)},
                                       TF: {"first_epoch": exact(tf_first, 3), "train_epoch": exact(tf_te, 5)}})
    d = rundata.derived(rundata.load_run(run)).set_index("case")
    assert d.loc[TORCH, "value_s"] < 0 < d.loc[TORCH, "high_s"] and d.loc[TORCH, "low_s"] < 0
    assert not d.loc[TORCH, "measurable"] and d.loc[TF, "measurable"]
    assert d.loc[TF, "value_s"] == pytest.approx(0.5, abs=1e-9)

    assert fwbench_report(capsys, run)[0] == 0
    rows = {r[0]: r[4] for r in table_rows(section((run / "report.md").read_text(), "Warm-up and input pipeline"))}
    t = d.loc[TORCH]
    assert rows["PyTorch (eager)"] == f"not measurable (95% CI {fmt_time(t['low_s'])} to {fmt_time(t['high_s'])})"
    assert fmt_time(t["value_s"]) not in rows["PyTorch (eager)"]  # the negative point estimate is never given
    assert rows["TensorFlow (graph)"].startswith("500 ms (95% CI ")
    for cell in rows.values():
        assert not cell.startswith("-")


# --------------------------------------------------------------------------- the report's parts

def test_report_has_every_section_and_every_figure_is_a_png(tmp_path, capsys):
    run = full_run(tmp_path / "run")
    rc, out, err = fwbench_report(capsys, run)
    assert rc == 0, err
    assert f"wrote {run / 'report.md'}" in out
    text = (run / "report.md").read_text()
    for title in ("Headline", "Warnings", "Missing results", "Timings on CPU", "Warm-up and input pipeline",
                  "Latency distribution", "Accuracy and parity", "Configuration", "Environment",
                  "How to read this report"):
        assert section(text, title).strip(), title
    lat = section(text, "Latency distribution")
    assert "| phase | case | device | p50 (95% CI) | p90 (95% CI) | p99 (95% CI) |" in lat
    assert {r[1] for r in table_rows(lat)} == {"PyTorch (eager)", "TensorFlow (graph)"}
    parity = section(text, "Accuracy and parity")
    assert "agree on 36 of 40 test predictions (90.0%)" in parity
    assert "None: every case and phase" in section(text, "Missing results")
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert {"fig-phases-cpu.png", "fig-latency-cpu.png", "fig-loss.png"} <= set(linked)
    pngs = sorted(run.glob("fig-*.png"))
    assert {p.name for p in pngs} >= set(linked)
    for p in pngs:
        assert p.read_bytes()[:8] == PNG_MAGIC, p


def test_stability_warning_when_process_medians_spread(tmp_path, capsys):
    rng = np.random.default_rng(6)
    tight = jittered(0.2, 3, 0.005, rng)
    unstable = two_case_run(tmp_path / "unstable", 6, tight, [0.10, 0.13, 0.08])
    stable = two_case_run(tmp_path / "stable", 6, tight, np.roll(tight, 1) / 2)
    for run in (unstable, stable):
        assert fwbench_report(capsys, run)[0] == 0
    w = section((unstable / "report.md").read_text(), "Warnings")
    assert re.search(r"TensorFlow \(graph\) \(CPU\), train epoch \(warm\): per-process medians spread by \d+%, "
                     r"unusual for this run \(typical \d+%", w), w
    assert "PyTorch (eager)" not in w
    assert section((stable / "report.md").read_text(), "Warnings").strip().endswith("None.")


def test_one_reader_behind_results_csv_results_md_and_report_md(tmp_path, capsys):
    run = full_run(tmp_path / "run", skipped={(TF, "pipeline_epoch"): "pipeline_epoch skipped: too big"},
                   failed={"torch:fused@cpu": "phase train_epoch: RuntimeError: boom"})
    r = rundata.load_run(run)
    rundata.write_tables(r, run)
    frame = rundata.summary(r)
    with open(run / "results.csv", newline="") as f:
        parsed = list(csv.DictReader(f))
    assert len(parsed) == len(frame) > 10
    assert list(parsed[0]) == list(rundata.COLUMNS)
    numeric = {"processes", "rounds", "time_s", "time_low_s", "time_high_s", "p90_s", "p90_low_s", "p90_high_s",
               "p99_s", "p99_low_s", "p99_high_s", "speedup", "speedup_low", "speedup_high", "accuracy",
               "accuracy_min", "accuracy_max", "peak_rss_mb", "peak_device_mem_mb", "trace_count"}
    for got, (_, want) in zip(parsed, frame.iterrows()):
        for col in rundata.COLUMNS:
            w = want[col]
            if missing(w):
                assert got[col] == "", (col, got[col])
            elif col in numeric:
                assert float(got[col]) == float(w), (want["case"], want["phase"], col, got[col], w)
            else:
                assert got[col] == str(w), (col, got[col], w)
    assert {"skipped", "failed", "ok"} <= {p["status"] for p in parsed}

    assert fwbench_report(capsys, run)[0] == 0
    from_results = table_rows((run / "results.md").read_text())
    from_report = table_rows(section((run / "report.md").read_text(), "Timings on CPU"))
    assert len(from_results) == len(frame)
    assert from_report == from_results
    statuses = {c[3] for c in from_report}
    assert {"skipped", "FAILED"} <= statuses


ANAT = {  # seconds per step: forward, backward, optimizer, readback; the measured step
    TORCH: dict(forward=0.004, backward=0.006, optimizer=0.003, readback=0.001, step=0.0142),
    "torch:fused@cpu": dict(forward=0.004, backward=0.006, optimizer=0.001, readback=0.001, step=0.0121),
    "torch:sparse@cpu": dict(forward=0.002, backward=0.005, optimizer=0.002, readback=0.001, step=0.0130),
    TF: dict(forward=0.002, backward=0.002, optimizer=0.003, readback=0.001, step=0.0081),
}
PROBES = {TORCH: (50.0, 10.0), TF: (80.0, 12.0)}


def matrix_run(folder: Path, *, with_anatomy: bool = True) -> Path:
    rng = np.random.default_rng(7)
    speed = {TORCH: 1.0, "torch:fused@cpu": 1.15, "torch:sparse@cpu": 1.07, TF: 1.75}
    cases, base = {}, jittered(0.16, 3, 0.01, rng)
    for i, (cid, s) in enumerate(speed.items()):
        te = np.roll(base, i) / s  # exact ratios of the geometric means
        cases[cid] = {"first_epoch": processes(te + 0.3, 3, 0.01, rng), "train_epoch": processes(te, 5, 0.01, rng),
                      "predict_all": processes(jittered(0.01, 3, 0.01, rng), 5, 0.01, rng)}
    anatomy = None
    if with_anatomy:
        anatomy = {}
        for cid, parts in ANAT.items():
            a = {"breakdown": dict(parts), "breakdown_repeats": 7, "steps_per_epoch": 11, "nnz_per_step": 12000.0}
            if cid in PROBES:
                a["probe"] = {"matmul": {"gflops_best": PROBES[cid][0]}, "copy": {"gbs_best": PROBES[cid][1]}}
            anatomy[cid] = [a, {k: v for k, v in a.items() if k != "probe"}, dict(a)]
    return write_run(folder, cases, anatomy=anatomy, failed={"torch:compile@cpu": "phase first_epoch: boom"},
                     unavailable={"tensorflow:xla@cpu": "XLA needs a GPU here"})


def test_matrix_breakdown_and_limits(tmp_path, capsys):
    run = matrix_run(tmp_path / "run")
    assert len(rundata.load_run(run).framework_cases("cpu")) == 6
    rc, out, err = fwbench_report(capsys, run)
    assert rc == 0, err
    text = (run / "report.md").read_text()
    heads = headline_lines(text)
    assert "On CPU, PyTorch (torch.compile): failed: phase first_epoch: boom." in heads
    assert "On CPU, TensorFlow (graph, XLA): not available on this machine: XLA needs a GPU here." in heads
    assert all("train" in h for h in heads if "x faster" in h)  # many cases: the headline keeps to train_epoch

    mx = {r[0]: r for r in table_rows(section(text, "Execution-mode matrix on CPU", 3))}
    assert len(mx) == 6
    assert mx["PyTorch (torch.compile)"][1:4] == ["FAILED"] * 3
    assert mx["TensorFlow (graph, XLA)"][1:4] == ["n/a"] * 3
    assert mx["PyTorch (eager)"][2].endswith("(baseline)")
    assert re.match(r"1\.75x \(\d\.\d\d-\d\.\d\d\)$", mx["TensorFlow (graph)"][2]), mx["TensorFlow (graph)"]
    assert "![matrix on cpu](fig-matrix-cpu.png)" in text
    assert (run / "fig-matrix-cpu.png").read_bytes()[:8] == PNG_MAGIC
    assert (run / "fig-breakdown-cpu.png").read_bytes()[:8] == PNG_MAGIC

    bd = section(text, "The training step taken apart on CPU", 3)
    rows = {r[0]: r for r in table_rows(bd)}
    assert set(rows) == {"PyTorch (eager)", "PyTorch (eager, fused Adam)", "PyTorch (eager, sparse input)",
                         "TensorFlow (graph)"}
    assert rows["PyTorch (eager)"][5:] == ["14 ms", "14.2 ms", "0.99"]
    assert rows["PyTorch (eager, sparse input)"][5:] == ["10 ms", "13 ms", "0.77 (off by more than 10%)"]
    sentences = [l for l in bd.splitlines() if l.startswith("- ")]
    assert len(sentences) == 3  # one per case against the baseline
    assert ("- TensorFlow (graph) vs PyTorch (eager): the step is 6.1 ms shorter (TensorFlow (graph) is faster); "
            "the largest part of it is the backward (6 ms -> 2 ms, 66% of the difference).") in sentences

    lim = section(text, "Distance to the machine's limit on CPU", 3)
    assert "Peak taken as the best of all: 80 GFLOP/s, 12.0 GB/s." in lim
    lrows = table_rows(lim)
    assert ["tensorflow", "80", "12.0"] in lrows and ["torch", "50", "10.0"] in lrows
    per_case = {r[0]: r for r in lrows if len(r) == 9}
    assert set(per_case) == {"PyTorch (eager)", "PyTorch (eager, fused Adam)", "PyTorch (eager, sparse input)",
                             "TensorFlow (graph)"}
    assert all(r[7] in ("compute", "memory") for r in per_case.values())
    # the sparse case is counted with its nnz per step: less work than the dense ones
    assert float(per_case["PyTorch (eager, sparse input)"][1]) < float(per_case["PyTorch (eager)"][1])

    plain = matrix_run(tmp_path / "plain", with_anatomy=False)
    assert fwbench_report(capsys, plain)[0] == 0
    ptext = (plain / "report.md").read_text()
    assert "Execution-mode matrix on CPU" in ptext
    assert "taken apart" not in ptext and "machine's limit" not in ptext


# --------------------------------------------------------------------------- --compare

def compare_runs(tmp_path: Path, nudge: float = 0.0) -> dict[str, Path]:
    """A, B, C: train_epoch flips direction in C; predict_all is 1.5x in A and C but 2x in B;
    first_epoch is the same samples in every run, to the 9th digit (to the last bit, two runs
    would be one measurement twice, which the reader refuses). `nudge` scales every time by
    1 + nudge, so two calls give the same runs measured again."""
    rng = np.random.default_rng(8)
    base_te, base_pa = jittered(0.2, 3, 0.01, rng), jittered(0.01, 3, 0.01, rng)
    fe_torch = processes(jittered(0.5, 3, 0.01, rng), 3, 0.01, rng)
    fe_tf = processes(jittered(0.6, 3, 0.01, rng), 3, 0.01, rng)
    out = {}
    for name, te_factor, pa_factor in (("A", 0.5, 1 / 1.5), ("B", 0.5, 0.5), ("C", 2.0, 1 / 1.5)):
        r = np.random.default_rng(9)
        te_a, te_b = pair(base_te, np.roll(base_te, 1) * te_factor, r)
        pa_a, pa_b = pair(base_pa, np.roll(base_pa, 1) * pa_factor, r)
        f = (1 + nudge) * (1 + 1e-9 * "ABC".index(name))
        scale = lambda procs: [[x * f for x in p] for p in procs]
        out[name] = write_run(tmp_path / name, {
            TORCH: {"first_epoch": scale(fe_torch), "train_epoch": scale(te_a), "predict_all": scale(pa_a)},
            TF: {"first_epoch": scale(fe_tf), "train_epoch": scale(te_b), "predict_all": scale(pa_b)}})
    return out


def compare_flags(text: str) -> dict[str, str]:
    rows = table_rows(section(text, "Speedup over each run's baseline"))
    return {r[1]: r[-1] for r in rows if r[0] == TF}


def compare_pairs(text: str) -> dict[str, str]:
    rows = table_rows(section(text, "Speedup over each run's baseline"))
    return {r[1]: r[-2] for r in rows if r[0] == TF}


def speedup_interval(run: Path, phase: str) -> stats.Interval:
    """TensorFlow's speedup over PyTorch in one run, straight from the samples (not the report)."""
    r = rundata.load_run(run)
    return stats.ratio(r.cases[TORCH].phases[phase].samples(), r.cases[TF].phases[phase].samples())


def test_compare_calls_runs_different_by_the_ratio_of_their_ratios(tmp_path, capsys):
    runs = compare_runs(tmp_path)
    out_dir = tmp_path / "cmp"
    rc, out, err = fwbench_report(capsys, runs["A"], runs["B"], runs["C"], "--compare", "--output", out_dir)
    assert rc == 0, err
    assert "Traceback" not in err
    text = (out_dir / "report.md").read_text()
    assert f"wrote {out_dir / 'report.md'} (2 comparison(s) different between runs)" in out
    flags = compare_flags(text)
    # train epoch flips direction in C; predict all is 1.5x in A and C, 2x in B; first epoch identical
    assert flags == {"train epoch (warm)": "different", "predict all (test set)": "different",
                     "first epoch (fresh model)": "consistent"}
    assert "1 of 3 comparisons are consistent across the runs (equivalent within 5%); 2 different; " \
           "0 inconclusive." in text
    # the A/B figure for predict all: the ratio of the two speedups with its own interval
    rr = stats.ratio_of_ratios(speedup_interval(runs["A"], "predict_all"), speedup_interval(runs["B"], "predict_all"))
    assert rr.value == pytest.approx(0.75, rel=0.02) and rr.high < 1 / 1.05
    pairs = compare_pairs(text)["predict all (test set)"]
    assert f"A/B: {rr.value:.2f}x (95% CI {rr.low:.2f}-{rr.high:.2f}x) different" in pairs
    assert "A/C" in pairs and "B/C" in pairs
    assert "consistent (within 5%, 90% CI" in compare_pairs(text)["first epoch (fresh model)"]
    assert (out_dir / "fig-compare.png").read_bytes()[:8] == PNG_MAGIC


def test_compare_identical_runs_is_consistent(tmp_path, capsys):
    runs = compare_runs(tmp_path)
    again = compare_runs(tmp_path / "again", nudge=1e-9)  # the same figures, measured again
    rc, out, err = fwbench_report(capsys, runs["A"], again["A"], "--compare", "--output", tmp_path / "cmp")
    assert rc == 0, err
    text = (tmp_path / "cmp" / "report.md").read_text()
    assert set(compare_flags(text).values()) == {"consistent"}
    assert "3 of 3 comparisons are consistent" in text
    assert "(0 comparison(s) different" in out
    assert "Threads, versions, devices, CPU and configuration match." in text


def test_compare_with_noisy_runs_is_inconclusive_not_different(tmp_path, capsys):
    """Two runs whose speedups differ by 8% at a 10% per-process spread with 3 processes: the old
    flag (a point outside the other's interval) might fire; the ratio of ratios cannot tell."""
    rng = np.random.default_rng(5)
    made = []
    for name, factor in (("P", 1.0), ("Q", 1.08)):
        torch = processes(jittered(0.2, 3, 0.10, rng), 3, 0.01, rng)
        tf = processes(jittered(0.1 * factor, 3, 0.10, rng), 3, 0.01, rng)
        made.append(write_run(tmp_path / name, {TORCH: {"train_epoch": torch}, TF: {"train_epoch": tf}}))
    rc, out, err = fwbench_report(capsys, *made, "--compare", "--output", tmp_path / "cmp")
    assert rc == 0, err
    text = (tmp_path / "cmp" / "report.md").read_text()
    assert compare_flags(text) == {"train epoch (warm)": "inconclusive"}
    assert "inconclusive (the two runs could detect only differences beyond" in compare_pairs(text)["train epoch (warm)"]


# --------------------------------------------------------------------------- the regression gate

def gate_data(seed: int = 10, tf_factor: float = 1.0, nudge: float = 0.0):
    """`nudge`: every time scaled by 1 + nudge, the same figures measured again (the gate refuses a
    run that is a bit-for-bit copy of its baseline)."""
    rng = np.random.default_rng(seed)
    te, pa = jittered(0.2, 3, 0.01, rng), jittered(0.01, 3, 0.01, rng)
    data = {TORCH: {"train_epoch": processes(te, 5, 0.01, rng), "predict_all": processes(pa, 5, 0.01, rng)},
            TF: {"train_epoch": processes(np.roll(te, 1) * 0.5 * tf_factor, 5, 0.01, rng),
                 "predict_all": processes(np.roll(pa, 1), 5, 0.01, rng)}}
    return {c: {p: [[x * (1 + nudge) for x in r] for r in v] for p, v in d.items()} for c, d in data.items()}


def test_gate_passes_on_the_same_data(tmp_path, capsys):
    old = write_run(tmp_path / "old", gate_data())
    new = write_run(tmp_path / "new", gate_data(nudge=1e-9))
    rc, out, err = fwbench_report(capsys, "--baseline", old, new)
    assert rc == 0, out + err
    assert out.strip().endswith("no regression")
    assert out.count("equivalent   ") == 4  # the same data: each new/old ratio within the 10% threshold


def test_gate_fails_on_a_clear_slowdown(tmp_path, capsys):
    old = write_run(tmp_path / "old", gate_data())
    new = write_run(tmp_path / "new", gate_data(tf_factor=1.5))
    rc, out, err = fwbench_report(capsys, "--baseline", old, new)
    assert rc == 1
    assert re.search(r"SLOWER       tensorflow:graph@cpu train_epoch: .*\(\+50\.0%, 95% CI", out), out
    assert "SLOWER       torch" not in out and "SLOWER       tensorflow:graph@cpu predict_all" not in out
    assert "REGRESSION or MISSING RESULTS: the gate fails" in out


def test_gate_fails_closed_on_an_unreadable_worker_file(tmp_path, capsys):
    old = write_run(tmp_path / "old", gate_data())
    new = write_run(tmp_path / "new", gate_data())
    for f in (new / "workers").glob("tensorflow-graph-cpu.p*.json"):
        f.write_text(f.read_text()[: len(f.read_text()) // 2])  # truncated mid-write
    rc, out, err = fwbench_report(capsys, "--baseline", old, new)
    assert rc == 1
    assert "Traceback" not in err
    assert "MISSING      tensorflow:graph@cpu train_epoch" in out
    assert "MISSING      tensorflow:graph@cpu predict_all" in out
    assert "MISSING      torch" not in out
    # the same folder still gets a report, which says what is missing
    rc, _, err = fwbench_report(capsys, new)
    assert rc == 0, err
    missing = section((new / "report.md").read_text(), "Missing results")
    assert "tensorflow-graph-cpu.p0.json could not be read" in missing


def test_gate_fails_closed_when_one_worker_file_of_several_is_unreadable(tmp_path, capsys):
    old = write_run(tmp_path / "old", gate_data())
    new = write_run(tmp_path / "new", gate_data())
    f = new / "workers" / "tensorflow-graph-cpu.p0.json"
    f.write_text("{")  # one process of three lost: the others alone must not pass the gate
    rc, out, _ = fwbench_report(capsys, "--baseline", old, new)
    assert rc == 1
    assert re.search(r"MISSING      tensorflow:graph@cpu train_epoch: 1 of \d+ worker result\(s\) missing", out), out


def test_gate_fails_when_the_new_run_lacks_a_case(tmp_path, capsys):
    old = write_run(tmp_path / "old", gate_data())
    new = write_run(tmp_path / "new", {TORCH: gate_data()[TORCH]})
    rc, out, _ = fwbench_report(capsys, "--baseline", old, new)
    assert rc == 1
    assert "MISSING      tensorflow:graph@cpu train_epoch: measured in old, not in new (case not in the new run)" in out


def test_gate_fails_on_an_empty_baseline(tmp_path, capsys):
    old = write_run(tmp_path / "old", {}, unavailable={TORCH: "no torch here", TF: "no tensorflow here"})
    new = write_run(tmp_path / "new", gate_data())
    rc, out, _ = fwbench_report(capsys, "--baseline", old, new)
    assert rc == 1
    assert "old measured nothing to compare against" in out


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "-inf"])
def test_gate_threshold_must_be_finite_and_not_negative(tmp_path, capsys, value):
    old = write_run(tmp_path / "old", gate_data())
    rc, out, err = fwbench_report(capsys, "--baseline", old, old, f"--threshold={value}")
    assert rc == 2
    assert "--threshold" in one_line(err)
    assert out == ""


def test_gate_threshold_zero_is_accepted(tmp_path, capsys):
    old = write_run(tmp_path / "old", gate_data())
    new = write_run(tmp_path / "new", gate_data(nudge=1e-9))
    rc, out, err = fwbench_report(capsys, "--baseline", old, new, "--threshold", "0")
    assert rc == 0, err


# --------------------------------------------------------------------------- bad input
# The run-folder fault catalogue (damaged, duplicated or mislabelled files) is in
# tests/test_bad_input.py, with every other fault case.


def test_report_without_results_latest_is_one_line(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.setattr(report_cmd, "REPO", empty)  # not the checkout's own results/latest
    rc, out, err = fwbench_report(capsys)
    assert rc == 2
    assert "no results/latest" in one_line(err)
    assert list(empty.iterdir()) == []


def test_runfolder_helper_rounds_have_the_asked_median():
    x = rounds(0.25, 7, 0.1, np.random.default_rng(0))
    assert len(x) == 7 and float(np.median(x)) == pytest.approx(0.25, rel=1e-12)
