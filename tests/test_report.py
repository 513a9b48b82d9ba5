"""`fwbench report` from fixture run folders with known figures (JSON only; no framework runs)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from benchmarks import report  # noqa: E402
from benchmarks.report_data import load_run  # noqa: E402
from benchmarks.stats import ratio_of_medians  # noqa: E402
from benchmarks.cli import main_entry  # noqa: E402

LABELS = {"torch": "PyTorch (eager)", "tensorflow": "TensorFlow (graph)", "shared": "shared"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
N_TEST = 60


def rounds(median: float, n: int, spread: float, seed: int) -> list[float]:
    """n round times whose median is exactly `median` (odd n), spread multiplicatively."""
    rng = np.random.default_rng(seed)
    x = median * np.exp(rng.normal(0.0, spread, n))
    x *= median / np.median(x)
    return x.tolist()


# (framework, device) -> phase -> (median seconds, rounds, spread)
# train_epoch: TF exactly 2x faster, tight; predict_all: same distribution on both sides.
CPU_PLAN = {
    "torch": {"train_epoch": (0.200, 15, 0.02), "pipeline_epoch": (0.300, 15, 0.02), "first_epoch": (0.260, 5, 0.03),
              "train_to_accuracy": (2.4, 2, 0.01), "predict_all": (0.0100, 21, 0.10),
              "predict_one": (0.0003, 301, 0.15)},
    "tensorflow": {"train_epoch": (0.100, 15, 0.02), "pipeline_epoch": (0.180, 15, 0.02),
                   "first_epoch": (1.500, 5, 0.03), "train_to_accuracy": (1.6, 2, 0.01),
                   "predict_all": (0.0100, 21, 0.10), "predict_one": (0.0009, 301, 0.15)},
}


def bench(fw: str, device: str, phase: str, median: float, n: int, spread: float, seed: int) -> dict:
    data = rounds(median, n, spread, seed)
    q1, q3 = np.percentile(data, [25, 75])
    info = {"framework": fw, "framework_version": {"torch": "2.13.0", "tensorflow": "2.20.0"}.get(fw, ""),
            "device": device, "device_name": "Fixture CPU" if device == "cpu" else "Fixture GPU",
            "variant": {"torch": "eager", "tensorflow": "graph"}.get(fw, "shared"), "variant_label": LABELS[fw],
            "phase": phase, "threads_intra": 2, "threads_inter": 1, "batch_size": 150, "vocab_size": 500,
            "n_train": 90, "n_test": N_TEST, "steps": 6, "peak_rss_mb": 300.0 + seed,
            "peak_device_mem_mb": 50.0 if device == "gpu" else None, "trace_count": 2 if fw == "tensorflow" else 0}
    if phase == "train_to_accuracy":
        preds = [i % 3 for i in range(N_TEST)]
        if fw == "tensorflow":
            preds[:3] = [(p + 1) % 3 for p in preds[:3]]  # 57 of 60 agree
        info.update(accuracy=0.9 if fw == "torch" else 0.8833,
                    epoch_mean_loss=[1.1 * 0.5 ** k * (1.02 if fw == "tensorflow" else 1.0) for k in range(10)],
                    test_predictions=preds)
    return {"group": phase, "name": f"test_{phase}[{fw}-{device}]", "fullname": f"bench::test_{phase}",
            "params": {}, "param": f"{fw}-{device}", "extra_info": info, "options": {},
            "stats": {"min": min(data), "max": max(data), "mean": float(np.mean(data)), "median": float(np.median(data)),
                      "q1": float(q1), "q3": float(q3), "iqr": float(q3 - q1), "rounds": n, "iterations": 1,
                      "data": data}}


def make_run(root: Path, name: str = "20260101T000000Z-fixture", *, plan: dict | None = None,
             slow: float = 1.0, threads: int = 2, gpu_torch: bool = True, tf_status: str = "ok",
             drop_json: str | None = None, outcomes: dict | None = None) -> Path:
    """A run folder in the runner's format. `slow` scales every median of the torch CPU process."""
    plan = plan or CPU_PLAN
    run = root / name
    run.mkdir(parents=True)
    processes = []
    docs = {("shared", "cpu"): [bench("shared", "cpu", "data_prepare", 1.2, 3, 0.02, 1)]}
    for seed, (fw, phases) in enumerate(plan.items(), start=10):
        scale = slow if fw == "torch" else 1.0
        docs[(fw, "cpu")] = [bench(fw, "cpu", ph, m * scale, n, s, seed + 7 * i)
                             for i, (ph, (m, n, s)) in enumerate(phases.items())]
    if gpu_torch:
        docs[("torch", "gpu")] = [bench("torch", "gpu", "train_epoch", 0.02, 15, 0.05, 40),
                                  bench("torch", "gpu", "predict_one", 0.0002, 101, 0.1, 41)]
    for (fw, dev), benches in docs.items():
        fname = f"bench-{fw}-{dev}.json"
        status = tf_status if fw == "tensorflow" else "ok"
        reason = None if status == "ok" else "TensorFlow crashed while importing (fixture)"
        if status == "ok":
            (run / fname).write_text(json.dumps({"machine_info": {"torch": "2.13.0"}, "commit_info": {},
                                                 "benchmarks": benches, "datetime": "2026-01-01", "version": "5.1"}))
        processes.append({"framework": fw, "device": dev, "status": status, "reason": reason,
                          "json": fname if status == "ok" else None, "outcomes": (outcomes or {}).get((fw, dev), {})})
    processes.append({"framework": "tensorflow", "device": "gpu", "status": "unavailable",
                      "reason": "no GPU visible to TensorFlow", "json": None})
    if drop_json:
        (run / drop_json).unlink()
    manifest = {
        "fwbench_version": "0.1.0", "command": "fwbench run --epochs 10", "started_utc": "2026-01-01T00:00:00Z",
        "finished_utc": "2026-01-01T00:05:00Z", "duration_s": 300.0,
        "config": {"categories": ["comp.graphics", "sci.space"], "vocab_mode": "tutorial", "hidden": [100, 100],
                   "learning_rate": 0.01, "batch_size": 150, "epochs": 10, "beta1": 0.9, "beta2": 0.999,
                   "adam_eps": 1e-8, "optimizer": "native", "shuffle_each_epoch": False, "eval_batch_size": 1200,
                   "seed": 0, "device": "cpu", "threads": threads, "resolved_threads": threads},
        "environment": {"host": "fixture", "cpu": "Fixture CPU @ 2GHz", "cores_logical": 2, "cores_usable": 2,
                        "ram_gb": 8.0, "os": "Linux", "python": "3.12.0",
                        "packages": {"torch": "2.13.0", "tensorflow": "2.20.0", "numpy": "2.1.0"},
                        "gpus": [], "cuda_driver_version": None, "thread_env": {}},
        "runtimes": {f"{fw}-cpu": {"framework": fw, "version": "x", "device": "cpu", "device_name": "Fixture CPU",
                                   "intra_op_threads": threads, "inter_op_threads": 1, "tf32": None, "extra": {}}
                     for fw in ("torch", "tensorflow")},
        "data": {"categories": ["comp.graphics", "sci.space"], "n_train": 90, "n_test": N_TEST, "vocab_size": 500},
        "processes": processes,
    }
    (run / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return run


def headline_of(run: Path) -> list[str]:
    text = (run / "report.md").read_text()
    block = text.split("## Headline", 1)[1].split("\n## ", 1)[0]
    return [line[2:] for line in block.splitlines() if line.startswith("- ")]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    run = make_run(tmp_path_factory.mktemp("runs"))
    report.write_report(run)
    return run


def test_known_2x_ratio_reads_as_2x_with_faster_named(full_run):
    line = next(s for s in headline_of(full_run) if "trains an epoch " in s and s.startswith("On CPU"))
    m = re.fullmatch(r"On CPU, TensorFlow \(graph\) trains an epoch 2\.0x faster than PyTorch \(eager\) "
                     r"\(95% CI ([\d.]+)-([\d.]+)x\)\.", line)
    assert m, line
    assert 1.8 < float(m[1]) < 2.0 < float(m[2]) < 2.2
    # predict_one: torch is 3x faster there, so the name must follow the data, not a fixed order
    line = next(s for s in headline_of(full_run) if "predicts one post" in s and s.startswith("On CPU"))
    assert line.startswith("On CPU, PyTorch (eager) predicts one post 3.0x faster than TensorFlow (graph) (95% CI")


def test_overlapping_samples_read_as_no_measurable_difference(full_run):
    line = next(s for s in headline_of(full_run) if "whole test set" in s)
    assert "no measurable difference" in line, line
    table = (full_run / "report.md").read_text()
    assert "| predict all (test set) |" in table and "no measurable difference |" in table


def test_too_few_rounds_gives_no_interval(full_run):
    line = next(s for s in headline_of(full_run) if "final accuracy" in s)
    assert "too few rounds for an interval: 2 and 2" in line and "CI" not in line
    assert "1.5x faster" in line  # 2.4 / 1.6 by medians


def test_bootstrap_interval_contains_ratio_and_is_seeded():
    a, b = rounds(0.2, 15, 0.05, 1), rounds(0.1, 15, 0.05, 2)
    r1, r2 = ratio_of_medians(a, b), ratio_of_medians(a, b)
    assert r1 == r2 and r1.low < r1.value < r1.high and r1.measurable
    assert abs(r1.value - 2.0) < 1e-12
    same = ratio_of_medians(a, rounds(0.2, 15, 0.05, 3))
    assert same.low < 1 < same.high and not same.measurable


def test_report_sections_and_numbers(full_run):
    text = (full_run / "report.md").read_text()
    for needle in ("## Timings on CPU", "## Timings on GPU", "## Accuracy and parity", "## Configuration",
                   "## Environment", "fwbench run --epochs 10", "Fixture CPU @ 2GHz", "| 90.00% |", "| 88.33% |",
                   "57 of 60 (95.0%)", "## How to read this report", "10,000 resamples"):
        assert needle in text, needle
    # warm-up: TF first epoch 1.5 s minus steady 100 ms
    assert "| TensorFlow (graph) | 1.5 s | 100 ms | 1.4 s |" in text
    # GPU TensorFlow row says why it is absent instead of silently missing
    assert ("| train epoch (warm) | 20 ms | 1.17 ms | 15 | not available on this machine: no GPU visible to "
            "TensorFlow |") in text
    assert "| train to accuracy | not measured |" not in text  # no row where neither framework has GPU figures


def test_every_figure_is_a_valid_png(full_run):
    pngs = sorted(full_run.glob("fig-*.png"))
    names = {p.name for p in pngs}
    assert {"fig-phases-cpu.png", "fig-phases-gpu.png", "fig-predict_one-cpu.png", "fig-loss.png"} <= names
    text = (full_run / "report.md").read_text()
    for p in pngs:
        assert p.read_bytes()[:8] == PNG_MAGIC, p
        img = mpimg.imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
        assert f"({p.name})" in text  # every figure is linked from the report
    assert not list(full_run.glob(".*tmp"))  # atomic writes leave no temporaries


@pytest.mark.parametrize("how", ["failed", "unavailable", "json_absent"])
def test_missing_framework_still_reported(tmp_path, how):
    if how == "json_absent":
        run = make_run(tmp_path, drop_json="bench-tensorflow-cpu.json")
        expect = "results file bench-tensorflow-cpu.json is missing"
    else:
        run = make_run(tmp_path, tf_status=how)
        expect = ("failed: " if how == "failed" else "not available on this machine: ") + "TensorFlow crashed"
    report.write_report(run)
    text = (run / "report.md").read_text()
    assert f"TensorFlow (graph) on CPU: {expect}" in text
    assert any(s.startswith("On CPU, no TensorFlow (graph) results:") for s in headline_of(run))
    assert "| train epoch (warm) | 200 ms |" in text  # PyTorch's figures are still there
    for p in run.glob("fig-*.png"):
        assert p.read_bytes()[:8] == PNG_MAGIC


def test_skipped_phase_says_why(tmp_path):
    why = "predict_all needs 9 GB for the dense test matrix"
    run = make_run(tmp_path, outcomes={("torch", "gpu"): {"predict_all": {"outcome": "skipped", "reason": why}}})
    report.write_report(run)
    text = (run / "report.md").read_text()
    assert f"| predict all (test set) | skipped: {why} |" in text
    assert f"PyTorch (eager) on GPU, predict_all: skipped: {why}" in text
    assert "On GPU, PyTorch (eager) alone: train epoch (warm) 20 ms, predict one (batch of 1) 200 µs." in text


def test_missing_manifest_and_per_round_data_degrade(tmp_path):
    run = make_run(tmp_path)
    (run / "manifest.json").unlink()
    doc = json.loads((run / "bench-torch-cpu.json").read_text())
    for b in doc["benchmarks"]:
        del b["stats"]["data"]
    (run / "bench-torch-cpu.json").write_text(json.dumps(doc))
    report.write_report(run)
    text = (run / "report.md").read_text()
    assert "manifest.json is missing" in text
    assert "no per-round data" in text
    assert "TensorFlow (graph) trains an epoch 2.0x faster than PyTorch (eager) (by medians; no per-round data" in text


def test_cli_report_and_bad_input(tmp_path, capsys):
    run = make_run(tmp_path)
    assert main_entry(["report", str(run)]) == 0
    assert "2.0x faster" in capsys.readouterr().out
    assert main_entry(["report", str(tmp_path / "nope")]) == 2
    (tmp_path / "empty").mkdir()
    assert main_entry(["report", str(tmp_path / "empty")]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_regression_mode_exit_codes(tmp_path, capsys):
    base = make_run(tmp_path, "a")
    same = make_run(tmp_path, "b")
    slower = make_run(tmp_path, "c", slow=1.25)
    assert main_entry(["report", "--baseline", str(base), str(same), "--threshold", "10"]) == 0
    assert main_entry(["report", "--baseline", str(base), str(slower), "--threshold", "10"]) == 1
    out = capsys.readouterr().out
    assert "SLOWER   PyTorch (eager) CPU train_epoch: 200 ms -> 250 ms (+25.0%)" in out
    assert "SLOWER   TensorFlow" not in out
    assert main_entry(["report", "--baseline", str(base), str(slower), "--threshold", "30"]) == 0
    assert main_entry(["report", "--baseline", str(tmp_path / "missing"), str(same)]) == 2
    assert main_entry(["report", "--baseline", str(base)]) == 2


def test_comparison_warns_about_threads(tmp_path, capsys):
    a = make_run(tmp_path, "a", threads=2)
    b = make_run(tmp_path, "b", threads=1, slow=1.5, gpu_torch=False)
    out = tmp_path / "cmp"
    assert main_entry(["report", str(a), str(b), "--compare", "--output", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "configuration resolved_threads differs: a: 2; b: 1" in text
    assert "torch-cpu intra-op threads differs" in text
    assert "## train epoch (warm)" in text and "| a | b |" in text
    assert "300 ms (IQR" in text and "+50%" in text  # b's torch epoch against a's
    assert (out / "fig-compare.png").read_bytes()[:8] == PNG_MAGIC
    mpimg.imread(out / "fig-compare.png")
    # identical environments: no warnings
    c = make_run(tmp_path, "c")
    assert report.env_differences([load_run(a), load_run(c)]) == []
    assert main_entry(["report", str(a), "--compare", "--output", str(out)]) == 2


def load_refresh_script():
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "scripts" / "refresh_readme.py"
    spec = importlib.util.spec_from_file_location("refresh_readme", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_refresh_readme_rewrites_only_between_markers(tmp_path, capsys):
    refresh = load_refresh_script()
    run = make_run(tmp_path / "results" / "runs")
    (tmp_path / "results" / "latest").symlink_to(Path("runs") / run.name)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nintro\n\n{refresh.START}\nold table\n{refresh.END}\n\n## After\nkept\n")
    args = ["--run", str(tmp_path / "results" / "latest"), "--readme", str(readme)]
    assert refresh.main(args + ["--check"]) == 1
    assert refresh.main(args) == 0
    text = readme.read_text()
    assert text.startswith("# Title\n\nintro\n\n") and text.endswith(f"{refresh.END}\n\n## After\nkept\n")
    assert "old table" not in text
    rel = f"results/runs/{run.name}"  # the real folder, not the moving `latest` link
    assert f"[`{rel}`]({rel}/report.md)" in text and f"]({rel}/fig-phases-cpu.png)" in text
    assert "- On CPU, TensorFlow (graph) trains an epoch 2.0x faster than PyTorch (eager)" in text
    assert "| train epoch (warm) | CPU | 200 ms (IQR 3.87 ms) | 100 ms (IQR 2.11 ms) | 2.00 |" in text
    assert (run / "fig-phases-cpu.png").read_bytes()[:8] == PNG_MAGIC
    assert refresh.main(args + ["--check"]) == 0  # idempotent
    readme.write_text("# no markers here\n")
    assert refresh.main(args) == 2
    assert "needs exactly one <!-- fwbench:reference:start -->" in capsys.readouterr().err
    assert readme.read_text() == "# no markers here\n"
