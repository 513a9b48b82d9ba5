"""Every figure a user reads, pinned on synthetic run folders with known rounds.

Each expected value is computed here from the definitions in the report's method section
(geometric mean of per-process medians with a t interval on the log scale; Welch's t interval on
the log of per-process medians for a speedup; per-process quantiles for p90/p99; a paired t
interval for derived costs; the maximum over processes for peak memory; the mean over processes
for accuracy; a log-log fit on per-process medians for cost exponents), independently of
benchmarks/analysis/stats.py and the reader, so a one-line bug in either changes a pinned figure.
`PINNED` counts the figures checked (it is reported in the issue's note).

The asymmetric cases are here too: a phase with one round per process (train to accuracy), a new
run with fewer phases than its baseline, a minimum effect given on the command line (percent, not
a fraction), a baseline whose phase is slower (the speedup below 1), and a shuffled manifest.
"""
from __future__ import annotations

import csv
import json
import math
import random
import re

import numpy as np
import pytest
from scipy import stats as sst

from benchmarks.analysis import rundata
from benchmarks.cli import main_entry
from benchmarks.analysis.rundata import fmt_interval, fmt_ratio, fmt_time
from tests.runfolders import write_run

TORCH, TF = "torch:eager@cpu", "tensorflow:graph@cpu"
PINNED = []  # (test, figure): every exact figure the tests below check


def pin(name: str, got, want, rel: float = 1e-9) -> None:
    PINNED.append(name)
    if not isinstance(want, (int, float)) or isinstance(want, bool):
        assert got == want, f"{name}: {got!r} != {want!r}"
    else:
        assert got == pytest.approx(want, rel=rel), f"{name}: {got!r} != {want!r}"


# --------------------------------------------------------------------------- the definitions, again

def t95(df: float) -> float:
    return float(sst.t.ppf(0.975, df))


def location(procs, q: float = 0.5):
    """Geometric mean of per-process q-quantiles, t interval on the log scale."""
    x = np.log([np.quantile(p, q) for p in procs])
    m, h = x.mean(), t95(x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return math.exp(m), math.exp(m - h), math.exp(m + h)


def speedup(base_procs, case_procs):
    """Baseline time over case time, Welch's t interval on the log of per-process medians."""
    lb, lc = (np.log([np.median(p) for p in ps]) for ps in (base_procs, case_procs))
    d = lb.mean() - lc.mean()
    vb, vc = lb.var(ddof=1) / lb.size, lc.var(ddof=1) / lc.size
    df = (vb + vc) ** 2 / (vb ** 2 / (lb.size - 1) + vc ** 2 / (lc.size - 1))
    h = t95(df) * math.sqrt(vb + vc)
    return math.exp(d), math.exp(d - h), math.exp(d + h)


def verdict_figures(base_procs, case_procs, m: float = 0.05) -> dict:
    """The verdict's figures by their definitions (stats' module docstring): the log-scale se and
    Welch df; the 90% interval the equivalence test reads (as a speedup); the 95% interval's
    half-width as a ratio; the processes a side for a 90% interval within log(1+m) at a true ratio
    of 1 (a plain search over n, df scaled by (n-1)/(n_now-1))."""
    lb, lc = (np.log([np.median(p) for p in ps]) for ps in (base_procs, case_procs))
    d = lb.mean() - lc.mean()
    vb, vc = lb.var(ddof=1) / lb.size, lc.var(ddof=1) / lc.size
    df = (vb + vc) ** 2 / (vb ** 2 / (lb.size - 1) + vc ** 2 / (lc.size - 1))
    se, n = math.sqrt(vb + vc), min(lb.size, lc.size)
    h90 = float(sst.t.ppf(0.95, df)) * se
    need = next(k for k in range(2, 10 ** 6)
                if float(sst.t.ppf(0.95, df * (k - 1) / (n - 1))) * se * math.sqrt(n / k) <= math.log(1 + m))
    return {"speedup_se": se, "speedup_df": df, "equivalence_low": math.exp(d - h90),
            "equivalence_high": math.exp(d + h90), "detectable": math.exp(t95(df) * se), "processes_needed": need}


def paired(a_procs, b_procs):
    d = np.array([np.median(a) - np.median(b) for a, b in zip(a_procs, b_procs)])
    h = t95(d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return d.mean(), d.mean() - h, d.mean() + h


# --------------------------------------------------------------------------- the pinned run

def latency_rounds(center: float, k: int) -> list[float]:
    """101 rounds with a long right tail: median, p90 and p99 all differ."""
    base = np.linspace(0.9, 1.1, 101) * center
    base[-12:] *= np.linspace(1.5, 3.0, 12) * (1 + 0.05 * k)
    return [float(v) for v in base]


TE_TORCH = [[0.20, 0.21, 0.19], [0.22, 0.23, 0.215], [0.19, 0.18, 0.195]]
TE_TF = [[0.10, 0.11, 0.095], [0.105, 0.1, 0.11], [0.097, 0.099, 0.1]]
FE_TORCH = [[0.26, 0.25], [0.27, 0.28], [0.24, 0.245]]  # first epoch: a small warm-up over the steady epoch
FE_TF = [[0.51, 0.5], [0.53, 0.52], [0.49, 0.495]]  # TF's graph tracing: a large, positive warm-up cost
PE_TORCH = [[0.32, 0.33], [0.35, 0.34], [0.30, 0.31]]
PE_TF = [[0.33, 0.34], [0.30, 0.31], [0.36, 0.35]]  # inconclusive against PyTorch's
TTA_TORCH = [[2.0], [2.1], [1.9]]  # one round per process
TTA_TF = [[1.2], [1.25], [1.15]]
PA_TORCH = [[0.010, 0.011, 0.0105], [0.0102, 0.0104, 0.0101], [0.0098, 0.0099, 0.0097]]
PA_TF = [[0.020, 0.021, 0.0205], [0.0195, 0.0198, 0.0202], [0.021, 0.0215, 0.0208]]  # TF slower here
PO_TORCH = [latency_rounds(0.002, k) for k in range(3)]
PO_TF = [latency_rounds(0.0025 * (1 + 0.01 * k), k) for k in range(3)]
ACC = {TORCH: [0.91, 0.92, 0.915], TF: [0.9, 0.905, 0.91]}
RSS = {TORCH: [500.0, 700.0, 600.0], TF: [800.0, 650.0, 900.0]}

DATA = {TORCH: {"first_epoch": FE_TORCH, "train_epoch": TE_TORCH, "train_to_accuracy": TTA_TORCH,
                "pipeline_epoch": PE_TORCH, "predict_all": PA_TORCH, "predict_one": PO_TORCH},
        TF: {"first_epoch": FE_TF, "train_epoch": TE_TF, "train_to_accuracy": TTA_TF,
             "pipeline_epoch": PE_TF, "predict_all": PA_TF, "predict_one": PO_TF}}


def pinned_run(folder, data=None, **kw):
    data = data or DATA
    extra = {}
    for cid in data:
        extra[cid] = {p: [{"peak_rss_mb": RSS[cid][k],
                           **({"accuracy": ACC[cid][k]} if p == "train_to_accuracy" else {})} for k in range(3)]
                      for p in data[cid]}
    return write_run(folder, data, extra_info=extra, **kw)


def report(*args) -> int:
    return main_entry(["report", *map(str, args)])


def csv_rows(folder) -> dict:
    rundata.write_tables(rundata.load_run(folder), folder)  # what `fwbench run` writes beside the report
    with open(folder / "results.csv") as f:
        return {(r["case"], r["phase"]): r for r in csv.DictReader(f)}


def md_rows(text: str, header_start: str) -> list[list[str]]:
    """The rows of the Markdown table whose header starts with `header_start`."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(header_start))
    out = []
    for line in lines[start + 2:]:
        if not line.startswith("| "):
            break
        out.append([c.strip() for c in line.strip()[2:-2].split(" | ")])
    return out


def num(x: str):
    return None if x == "" else float(x)


VERDICTS = {"first_epoch": "slower", "train_epoch": "faster", "train_to_accuracy": "faster",
            "pipeline_epoch": "inconclusive", "predict_all": "slower", "predict_one": "slower"}


def test_every_column_of_results_csv_and_the_timing_table(tmp_path, capsys):
    run = pinned_run(tmp_path / "run")
    assert report(run) == 0, capsys.readouterr().err
    rows = csv_rows(run)
    text = (run / "report.md").read_text()
    table = {(r[1], r[0]): r for r in md_rows(text, "| phase | case | device | time |")}
    from benchmarks.model.phases import PHASES
    label = {TORCH: "PyTorch (eager)", TF: "TensorFlow (graph)"}
    for cid in (TORCH, TF):
        for phase, procs in DATA[cid].items():
            r, name = rows[(cid, phase)], f"{cid} {phase}"
            t, lo, hi = location(procs)
            pin(f"{name} time_s", float(r["time_s"]), t)
            pin(f"{name} time_low_s", float(r["time_low_s"]), lo)
            pin(f"{name} time_high_s", float(r["time_high_s"]), hi)
            pin(f"{name} processes", int(r["processes"]), 3)
            pin(f"{name} rounds", int(r["rounds"]), sum(len(p) for p in procs))
            pin(f"{name} peak_rss_mb", float(r["peak_rss_mb"]), max(RSS[cid]))  # the peak: max over processes
            md = table[(label[cid], PHASES[phase].label)]
            pin(f"{name} md time", md[3], fmt_time(t))
            pin(f"{name} md CI", md[4], f"{fmt_time(lo)}-{fmt_time(hi)}")
            pin(f"{name} md processes x rounds", md[5], f"3 x {len(procs[0])}")
            pin(f"{name} md peak RSS", md[8], f"{max(RSS[cid]):.0f}")
            if cid == TORCH:
                pin(f"{name} verdict", r["verdict"], "baseline")
                pin(f"{name} md speedup", md[6], "baseline")
                continue
            s, slo, shi = speedup(DATA[TORCH][phase], procs)
            pin(f"{name} speedup", float(r["speedup"]), s)
            pin(f"{name} speedup_low", float(r["speedup_low"]), slo)
            pin(f"{name} speedup_high", float(r["speedup_high"]), shi)
            pin(f"{name} verdict", r["verdict"], VERDICTS[phase])
            pin(f"{name} md speedup", md[6], f"{fmt_ratio(s)}x ({fmt_interval(slo, shi)})")
            pin(f"{name} md verdict", md[7], VERDICTS[phase])
            # the speedup's direction agrees with its verdict, phase by phase
            assert (s > 1) == (VERDICTS[phase] == "faster") or VERDICTS[phase] == "inconclusive"
            want = verdict_figures(DATA[TORCH][phase], procs)
            for col in ("speedup_se", "speedup_df"):
                pin(f"{name} {col}", float(r[col]), want[col])
            # the equivalence interval is read for every verdict without a winner; the rest only
            # for an inconclusive one
            undecided = VERDICTS[phase] in ("equivalent", "inconclusive")
            for col in ("equivalence_low", "equivalence_high"):
                pin(f"{name} {col}", num(r[col]), want[col] if undecided else None)
            inconclusive = VERDICTS[phase] == "inconclusive"
            pin(f"{name} detectable", num(r["detectable"]), want["detectable"] if inconclusive else None)
            pin(f"{name} processes_needed", num(r["processes_needed"]),
                want["processes_needed"] if inconclusive else None)
    # train to accuracy (one round per process) is there, with its accuracy: mean, min, max over processes
    for cid in (TORCH, TF):
        r = rows[(cid, "train_to_accuracy")]
        pin(f"{cid} accuracy", float(r["accuracy"]), float(np.mean(ACC[cid])))
        pin(f"{cid} accuracy_min", float(r["accuracy_min"]), min(ACC[cid]))
        pin(f"{cid} accuracy_max", float(r["accuracy_max"]), max(ACC[cid]))
        assert r["status"] == "ok"
    # the accuracy table prints a fraction as a percentage, once
    acc = {r[0]: r for r in md_rows(text, "| case | device | test accuracy")}
    pin("torch accuracy md", acc["PyTorch (eager)"][2], "91.50%")
    pin("torch accuracy range md", acc["PyTorch (eager)"][3], "91.00%-92.00%")
    pin("tf accuracy md", acc["TensorFlow (graph)"][2], "90.50%")
    pin("tf accuracy processes md", acc["TensorFlow (graph)"][4], "3")
    assert ("Final test accuracy (seed 0 in every process; fwbench check --seeds N measures the spread over "
            "seeds): PyTorch (eager) (CPU) 91.5% (range 91.0%-92.0% over processes)") in text
    assert "None: every case and phase the run asked for produced results." in text


def test_latency_percentiles_are_per_process_quantiles(tmp_path, capsys):
    run = pinned_run(tmp_path / "run")
    assert report(run) == 0
    rows = csv_rows(run)
    text = (run / "report.md").read_text()
    lat = {r[1]: r for r in md_rows(text, "| phase | case | device | p50")}
    for cid, lbl in ((TORCH, "PyTorch (eager)"), (TF, "TensorFlow (graph)")):
        r = rows[(cid, "predict_one")]
        cells = []
        for q, name in ((0.5, "time"), (0.9, "p90"), (0.99, "p99")):
            v, lo, hi = location(DATA[cid]["predict_one"], q)
            pin(f"{cid} {name}_s", float(r[f"{name}_s"]), v)
            pin(f"{cid} {name}_low_s", float(r[f"{name}_low_s"]), lo)
            pin(f"{cid} {name}_high_s", float(r[f"{name}_high_s"]), hi)
            cells.append(f"{fmt_time(v)} ({fmt_time(lo)}-{fmt_time(hi)})")
        assert float(r["p90_s"]) > float(r["time_s"]) * 1.05 and float(r["p99_s"]) > float(r["p90_s"]) * 1.05
        pin(f"{cid} latency md", lat[lbl][3:], cells)
        # a phase that is not a latency phase has no percentiles
        assert rows[(cid, "train_epoch")]["p90_s"] == "" and rows[(cid, "train_epoch")]["p99_s"] == ""


def test_derived_costs_keep_their_sign(tmp_path, capsys):
    run = pinned_run(tmp_path / "run")
    d = rundata.derived(rundata.load_run(run))
    assert report(run) == 0
    text = (run / "report.md").read_text()
    md = {(r[0], r[2]): r[4] for r in md_rows(text, "| case | device | figure | what it is | value |")}
    for cid, lbl in ((TORCH, "PyTorch (eager)"), (TF, "TensorFlow (graph)")):
        for figure, a in (("warm-up cost", "first_epoch"), ("input-pipeline cost", "pipeline_epoch")):
            v, lo, hi = paired(DATA[cid][a], DATA[cid]["train_epoch"])
            assert v > 0  # each phase here is longer than the steady epoch: a cost, never a saving
            r = d[(d.case == cid) & (d.figure == figure)].iloc[0]
            pin(f"{cid} {figure} value", r["value_s"], v)
            pin(f"{cid} {figure} low", r["low_s"], lo)
            pin(f"{cid} {figure} high", r["high_s"], hi)
            pin(f"{cid} {figure} md", md[(lbl, figure)], f"{fmt_time(v)} (95% CI {fmt_time(lo)} to {fmt_time(hi)})")


def test_headline_speedups_and_verdicts(tmp_path, capsys):
    run = pinned_run(tmp_path / "run")
    assert report(run) == 0
    text = (run / "report.md").read_text()
    s, lo, hi = speedup(TE_TORCH, TE_TF)
    pin("headline train epoch", f"On CPU, TensorFlow (graph) trains an epoch {fmt_ratio(s)}x faster than PyTorch "
        f"(eager) (95% CI {fmt_interval(lo, hi)}x, 3 processes a side)." in text, True)
    s, lo, hi = speedup(PA_TORCH, PA_TF)  # TF slower: said the other way round, interval inverted
    assert s < 1
    pin("headline predict all", f"On CPU, PyTorch (eager) predicts the whole test set {fmt_ratio(1 / s)}x faster "
        f"than TensorFlow (graph) (95% CI {fmt_interval(1 / hi, 1 / lo)}x, 3 processes a side)." in text, True)


def test_shuffled_manifest_and_files_give_the_same_figures(tmp_path, capsys):
    plain = pinned_run(tmp_path / "plain")
    shuffled = pinned_run(tmp_path / "shuffled")
    m = json.loads((shuffled / "manifest.json").read_text())
    random.Random(3).shuffle(m["workers"])
    m["cases"].reverse()
    (shuffled / "manifest.json").write_text(json.dumps(m))
    for f in (shuffled / "workers").glob("*.json"):
        doc = json.loads(f.read_text())
        doc["benchmarks"].reverse()
        f.write_text(json.dumps(doc))
    assert report(plain) == 0 and report(shuffled) == 0
    a, b = csv_rows(plain), csv_rows(shuffled)
    assert a.keys() == b.keys()
    for k in a:
        for col, want in a[k].items():  # numbers to the last bits a sum in another order may change
            try:
                pin(f"shuffled {k} {col}", float(b[k][col]), float(want))
            except ValueError:
                pin(f"shuffled {k} {col}", b[k][col], want)


# --------------------------------------------------------------------------- minimum effect

def test_min_effect_from_the_command_line_is_a_percentage(tmp_path, capsys):
    from benchmarks.cli import build_parser
    from benchmarks.commands.run import plan_from_args
    plan = plan_from_args(build_parser("run").parse_args(["run", "--devices", "cpu", "--min-effect", "10"]))
    pin("plan min_effect", plan.min_effect, 0.10)
    # a clear 7% speedup: faster under a 5% minimum effect, no verdict under 10%
    te_torch = [[0.2 * f] * 3 for f in (1.0, 1.002, 0.998)]
    te_tf = [[0.2 / 1.07 * f] * 3 for f in (0.999, 1.001, 1.0)]
    data = {TORCH: {"train_epoch": te_torch}, TF: {"train_epoch": te_tf}}
    for me, word in ((0.05, "faster"), (0.10, "equivalent")):
        run = write_run(tmp_path / f"me{me}", data, min_effect=me)
        assert report(run) == 0
        pin(f"verdict at min effect {me}", csv_rows(run)[(TF, "train_epoch")]["verdict"], word)
        pin(f"speedup at min effect {me}", float(csv_rows(run)[(TF, "train_epoch")]["speedup"]),
            speedup(te_torch, te_tf)[0])
        assert f"the minimum effect of {me:.0%}" in (run / "report.md").read_text().replace("\n", " ")


# A minimum effect out of its range in a manifest is refused: tests/test_bad_input.py.


# --------------------------------------------------------------------------- the gate on what the baseline measured

def test_gate_fails_when_the_new_run_has_fewer_phases(tmp_path, capsys):
    old = pinned_run(tmp_path / "old")
    fewer = {cid: {p: v for p, v in d.items() if p != "train_to_accuracy"} for cid, d in DATA.items()}
    new = pinned_run(tmp_path / "new", fewer, kind="partial")
    rc = report("--baseline", old, new)
    out = capsys.readouterr().out
    assert rc == 1
    for cid in (TORCH, TF):
        assert (f"MISSING      {cid} train_to_accuracy: measured in old, not in new (phase not run in the new run)"
                in out), out
        # the same samples on both sides: ratio 1, and the verdict on it at the 10% threshold
        same = verdict_figures(DATA[cid]["train_epoch"], DATA[cid]["train_epoch"], m=0.10)
        word = "equivalent" if 1 / 1.1 <= same["equivalence_low"] and same["equivalence_high"] <= 1.1 else "inconclusive"
        assert f"{word:<12} {cid} train_epoch: " in out, out
    assert "note: the new run new is a partial run" in out
    # the other way round the gate compares only what the (smaller) baseline measured
    assert report("--baseline", new, old) == 0
    out = capsys.readouterr().out
    assert "train_to_accuracy" not in out.replace("note:", "") or "MISSING" not in out
    assert "note: the baseline new is a partial run" in out


def test_gate_fails_when_a_baseline_device_is_missing(tmp_path, capsys):
    gpu = {c.replace("@cpu", "@gpu"): {"train_epoch": TE_TORCH} for c in (TORCH,)}
    old = write_run(tmp_path / "old", {TORCH: {"train_epoch": TE_TORCH}, **gpu})
    new = write_run(tmp_path / "new", {TORCH: {"train_epoch": TE_TORCH}})
    assert report("--baseline", old, new) == 1
    out = capsys.readouterr().out
    assert "MISSING      device GPU: measured in old, not in new" in out
    assert "MISSING      torch:eager@gpu train_epoch" in out


def test_gate_ratio_is_new_over_old(tmp_path, capsys):
    old = write_run(tmp_path / "old", {TORCH: {"train_epoch": TE_TORCH}})
    slow = [[x * 1.5 for x in p] for p in TE_TORCH]
    new = write_run(tmp_path / "new", {TORCH: {"train_epoch": slow}})
    assert report("--baseline", old, new) == 1
    out = capsys.readouterr().out
    t_old, t_new = location(TE_TORCH)[0], location(slow)[0]
    pin("gate line", re.search(r"SLOWER       torch:eager@cpu train_epoch: (.*) -> (.*) \(\+50\.0%", out) is not None, True)
    assert f"{fmt_time(t_old)} -> {fmt_time(t_new)} (+50.0%" in out


# --------------------------------------------------------------------------- sweeps: exponents and crossovers

def sweep_folder(tmp_path, xs, torch_meds, tf_meds, within: float = 0.2):
    """A sweep of batch_size: one run folder per point, 3 processes a side; each process's rounds
    spread widely around its own median (so a fit on pooled rounds would differ)."""
    from benchmarks.commands.sweep import POINTS, SWEEP_FILE, point_name
    folder = tmp_path / "sweep"
    for x, tm, fm in zip(xs, torch_meds, tf_meds):
        def procs(meds):
            return [[m * (1 - within), m, m * (1 + within)] for m in meds]
        write_run(folder / POINTS / point_name("batch_size", x),
                  {f"{TORCH}[batch_size={x}]": {"train_epoch": procs(tm)},
                   f"{TF}[batch_size={x}]": {"train_epoch": procs(fm)}})
    (folder / SWEEP_FILE).write_text(json.dumps({"param": "batch_size", "values": list(xs), "argv": ["sweep"],
                                                 "preset": None}))
    return folder


def test_cost_exponents_are_fitted_on_per_process_medians(tmp_path):
    from benchmarks.reports import sweep_report
    xs = [16, 64, 256]
    torch_meds = [[0.1 * (x / 16) ** 0.5 * f for f in (1.0, 1.1, 0.92)] for x in xs]
    tf_meds = [[0.05 * (x / 16) ** 0.8 * f for f in (1.05, 0.95, 1.0)] for x in xs]
    folder = sweep_folder(tmp_path, xs, torch_meds, tf_meds)
    sweep_report.write(folder)
    text = (folder / "report.md").read_text()
    rows = {r[0]: r for r in md_rows(text, "| case | phase | points | exponent b |")}
    for cid, meds in ((TORCH, torch_meds), (TF, tf_meds)):
        lx = np.log(np.repeat(xs, 3))
        ly = np.log(np.concatenate(meds))
        fit = sst.linregress(lx, ly)
        half = t95(lx.size - 2) * fit.stderr
        pin(f"{cid} exponent", rows[cid][3], f"{fit.slope:.3f}")
        pin(f"{cid} exponent CI", rows[cid][4], f"{fit.slope - half:.3f} to {fit.slope + half:.3f}")
        pin(f"{cid} points", rows[cid][2], "3")


def test_crossover_names_the_winner_on_each_side(tmp_path):
    from benchmarks.reports import sweep_report
    xs = [16, 64, 256]
    # TF twice as fast at 16, equal-ish at 64, twice as slow at 256
    torch_meds = [[0.1 * f for f in (1.0, 1.02, 0.98)] for _ in xs]
    tf_meds = [[0.05 * f for f in (1.0, 1.01, 0.99)], [0.1 * f for f in (1.0, 1.01, 0.99)],
               [0.2 * f for f in (1.0, 1.01, 0.99)]]
    folder = sweep_folder(tmp_path, xs, torch_meds, tf_meds)
    sweep_report.write(folder)
    text = (folder / "report.md").read_text()
    # log(time TF / time torch) crosses 0 between 16 and 256 (64 undecided); interpolated in log x
    r16 = np.exp(np.mean(np.log(tf_meds[0])) - np.mean(np.log(torch_meds[0])))
    r256 = np.exp(np.mean(np.log(tf_meds[2])) - np.mean(np.log(torch_meds[2])))
    lx0, lx1 = math.log(16), math.log(256)
    x = math.exp(lx0 + (lx1 - lx0) * math.log(r16) / (math.log(r16) - math.log(r256)))
    # the point at 64 has no winner; the line says which verdict it has (the equivalence test's
    # 90% interval within 5% of 1, or not)
    mid = verdict_figures([[m] for m in torch_meds[1]], [[m] for m in tf_meds[1]])
    word = "equivalent" if 1 / 1.05 <= mid["equivalence_low"] and mid["equivalence_high"] <= 1.05 else "inconclusive"
    line = (f"- train epoch (warm): {TF} is faster below, {TORCH} above batch_size ~ {x:.4g} "
            f"(between 16 and 256; points between: 1 {word})")
    pin("crossover line", line in text, True)


def test_gate_says_when_a_run_is_quick(tmp_path, capsys):
    old = write_run(tmp_path / "old", {TORCH: {"train_epoch": TE_TORCH}})
    again = [[x * (1 + 1e-9) for x in r] for r in TE_TORCH]  # measured again, not a copy of old
    new = write_run(tmp_path / "new", {TORCH: {"train_epoch": again}}, kind="quick")
    assert report("--baseline", old, new) == 0
    out = capsys.readouterr().out
    assert "note: the new run new is a quick run: Quick run (--quick" in out
    assert "note: the baseline" not in out
