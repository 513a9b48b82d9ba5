"""The benchmark harness itself: `fwbench run --quick` on a tiny generated archive, in real
subprocesses (one pytest per framework), and what it leaves in the output folder."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import results
from benchmarks.phases import FRAMEWORK_PHASES, SHARED_PHASES
from tests.conftest import REPO, make_tiny_archive

TINY = ["--batch-size", "8", "--hidden", "16,16", "--epochs", "2"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("harness")
    return {"archive": make_tiny_archive(root / "tiny.tar.gz"), "cache": root / "cache", "out": root / "results"}


def fwbench_run(world, *extra, env_extra=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FWBENCH_ARCHIVE"}
    env.update(FWBENCH_CACHE=str(world["cache"]), **(env_extra or {}))
    cmd = [sys.executable, "-m", "benchmarks.cli", "run", "--quick", "--archive", str(world["archive"]), *TINY,
           "--output", str(world["out"]), *extra]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def run_folders(out: Path) -> list[Path]:
    return sorted(p for p in (out / "runs").iterdir()) if (out / "runs").is_dir() else []


@pytest.fixture(scope="module")
def first_run(world):
    proc = fwbench_run(world)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (folder,) = run_folders(world["out"])
    return folder, proc


def test_run_folder_is_complete_and_well_formed(world, first_run):
    folder, proc = first_run
    assert not folder.name.startswith(".")
    assert (world["out"] / "latest").resolve() == folder.resolve()
    assert not os.path.isabs(os.readlink(world["out"] / "latest"))  # relative: the tree can move
    for name in ("bench-torch-cpu.json", "bench-tensorflow-cpu.json", "bench-shared-cpu.json", "results.csv",
                 "results.md", "manifest.json"):
        assert (folder / name).is_file(), name
    for fw, phases in (("torch", FRAMEWORK_PHASES), ("tensorflow", FRAMEWORK_PHASES), ("shared", SHARED_PHASES)):
        doc = json.loads((folder / f"bench-{fw}-cpu.json").read_text())
        got = {b["extra_info"]["phase"]: b for b in doc["benchmarks"]}
        assert set(got) == set(phases), fw
        assert doc["machine_info"]["fwbench"]["framework"] == fw
        for b in got.values():
            info = b["extra_info"]
            assert info["framework"] == fw and info["device"] == "cpu"
            assert len(b["stats"]["data"]) == b["stats"]["rounds"]  # per-round data saved
            assert info["peak_rss_mb"] > 0 and info["vocab_size"] > 0 and info["steps"] >= 1
            if fw != "shared":
                assert info["threads_intra"] >= 1 and info["threads_inter"] == 1
                assert info["variant_label"] in ("PyTorch (eager)", "TensorFlow (graph)")
        if fw != "shared":
            tta = got["train_to_accuracy"]["extra_info"]
            assert 0 <= tta["accuracy"] <= 1 and len(tta["epoch_mean_loss"]) == 2
            assert len(tta["test_predictions"]) == tta["n_test"]
    m = json.loads((folder / "manifest.json").read_text())
    for key in ("fwbench_version", "command", "started_utc", "finished_utc", "duration_s", "config", "environment",
                "data", "runtimes", "processes"):
        assert m[key] not in (None, "", {}, []), key
    assert m["status"] == "complete" and m["config"]["batch_size"] == 8
    assert set(m["runtimes"]) == {"torch-cpu", "tensorflow-cpu"}
    status = {(p["framework"], p["device"]): p["status"] for p in m["processes"]}
    assert status == {("shared", "cpu"): "ok", ("torch", "cpu"): "ok", ("tensorflow", "cpu"): "ok",
                      ("torch", "gpu"): "unavailable", ("tensorflow", "gpu"): "unavailable"}
    # progress was visible: framework, phase, elapsed time
    assert "tensorflow/cpu: train_epoch" in proc.stdout and "s] torch/cpu: predict_one done" in proc.stdout


def test_gpu_rows_say_not_available(first_run):
    folder, _ = first_run
    rows = list(csv.DictReader(open(folder / "results.csv")))
    gpu = [r for r in rows if r["device"] == "gpu"]
    assert {r["phase"] for r in gpu} == set(FRAMEWORK_PHASES)
    for r in gpu:
        for fw in ("torch", "tensorflow"):
            assert r[f"{fw}_status"] == "unavailable" and r[f"{fw}_median_s"] == ""
            assert r[f"{fw}_note"].startswith("not available on this machine")
    md_gpu = [l for l in (folder / "results.md").read_text().splitlines() if "| gpu |" in l]
    assert len(md_gpu) == len(FRAMEWORK_PHASES) and all("not available on this machine" in l for l in md_gpu)


def test_merged_table_equals_raw_json(first_run):
    folder, _ = first_run
    rows = {(r["phase"], r["device"]): r for r in csv.DictReader(open(folder / "results.csv"))}
    md = (folder / "results.md").read_text()
    seen = 0
    for fw in ("torch", "tensorflow", "shared"):
        for b in json.loads((folder / f"bench-{fw}-cpu.json").read_text())["benchmarks"]:
            phase, stats = b["extra_info"]["phase"], b["stats"]
            row = rows[(phase, "cpu")]
            assert float(row[f"{fw}_median_s"]) == stats["median"]
            assert float(row[f"{fw}_iqr_s"]) == stats["iqr"]
            assert int(row[f"{fw}_rounds"]) == stats["rounds"]
            line = next(l for l in md.splitlines() if l.startswith(f"| {phase} |") and ("| cpu |" in l or fw == "shared"))
            assert f"| {results.fmt_time(stats['median'])} |" in line
            if "accuracy" in b["extra_info"]:
                assert float(row[f"{fw}_accuracy"]) == b["extra_info"]["accuracy"]
            seen += 1
    assert seen == 2 * len(FRAMEWORK_PHASES) + len(SHARED_PHASES)
    for phase in FRAMEWORK_PHASES:
        r = rows[(phase, "cpu")]
        assert float(r["ratio_torch_over_tensorflow"]) == float(r["torch_median_s"]) / float(r["tensorflow_median_s"])


def test_second_run_makes_a_second_folder_and_moves_latest(world, first_run):
    folder, _ = first_run
    before = (folder / "manifest.json").read_bytes()
    proc = fwbench_run(world, "--frameworks", "torch", "--devices", "cpu", "--phases", "predict_one,data_load")
    assert proc.returncode == 0, proc.stderr[-3000:]
    folders = run_folders(world["out"])
    assert len(folders) == 2 and folder in folders
    newest = next(f for f in folders if f != folder)
    assert (world["out"] / "latest").resolve() == newest.resolve()
    assert (folder / "manifest.json").read_bytes() == before  # the earlier run is untouched
    rows = list(csv.DictReader(open(newest / "results.csv")))
    assert [(r["phase"], r["device"]) for r in rows] == [("predict_one", "cpu"), ("data_load", "cpu")]


def test_failed_run_never_replaces_latest_nor_leaves_a_run_folder(world, first_run):
    latest_before = os.readlink(world["out"] / "latest")
    folders_before = run_folders(world["out"])
    proc = fwbench_run(world, "--frameworks", "torch", "--devices", "cpu", "--phases", "predict_one,data_load",
                       env_extra={"FWBENCH_FAIL_FRAMEWORK": "torch"})
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "failure injected" in proc.stderr
    assert os.readlink(world["out"] / "latest") == latest_before
    assert run_folders(world["out"]) == folders_before  # nothing new, nothing hidden half-written
    (record,) = list((world["out"] / "failed").iterdir())
    m = json.loads((record / "manifest.json").read_text())
    torch_proc = next(p for p in m["processes"] if p["framework"] == "torch")
    assert m["status"] == "failed" and torch_proc["status"] == "failed" and "failure injected" in torch_proc["reason"]


@pytest.mark.parametrize("extra, message", [
    (["--phases", "train_epoch,warp_speed"], "unknown phase 'warp_speed'"),
    (["--frameworks", "torch,mxnet"], "unknown framework 'mxnet'"),
    (["--devices", "tpu"], "unknown device 'tpu'"),
    (["--batch-size", "0"], "batch size must be a positive integer"),
    (["--batch-size", "1000"], "larger than the 36 training posts"),
    (["--frameworks", "tensorflow:warp", "--devices", "cpu", "--phases", "predict_one"], "has no variant 'warp'"),
])
def test_bad_input_is_one_line_and_exit_2(world, extra, message):
    proc = fwbench_run(dict(world, out=world["out"].parent / "untouched"), *extra)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    untouched = world["out"].parent / "untouched"
    assert not (untouched / "runs").exists() or list((untouched / "runs").iterdir()) == []  # no run, no staging
    assert not (untouched / "latest").exists()


def test_demanding_an_absent_gpu_is_exit_2(world):
    from benchmarks.runner import machine_has_gpu
    if machine_has_gpu():
        pytest.skip("this machine has a GPU")
    proc = fwbench_run(world, "--devices", "gpu")
    assert proc.returncode == 2 and "has no NVIDIA GPU" in proc.stderr


def test_a_framework_without_the_device_reports_why(world, tmp_path):
    """Where the machine has a GPU but the framework cannot use it, the child says so."""
    import argparse
    from benchmarks import runner
    from shared.config import ExperimentConfig
    cfg_path = tmp_path / "config.json"
    cfg_path.write_text(json.dumps(ExperimentConfig(batch_size=8, hidden=(16, 16), epochs=2).to_dict()))
    args = argparse.Namespace(quick=True, archive=str(world["archive"]))
    env = runner.child_env(1, world["cache"])
    record = runner.run_process(runner.Clock(), "torch", None, "gpu", ["predict_one"], args, tmp_path, cfg_path, env)
    if record["status"] == "ok":
        pytest.skip("PyTorch has a CUDA device here")
    assert record["status"] == "unavailable" and "no CUDA device" in record["reason"]
    assert not (tmp_path / "bench-torch-gpu.json").exists()


def test_publish_never_overwrites_and_latest_swaps(tmp_path):
    runs = tmp_path / "runs"
    names = []
    for _ in range(3):
        staging = results.staging_dir(runs, "20260101T000000Z-host")
        (staging / "manifest.json").write_text("{}")
        names.append(results.publish(staging, runs, "20260101T000000Z-host").name)
        results.point_latest(tmp_path, runs / names[-1])
        assert (tmp_path / "latest").resolve() == (runs / names[-1]).resolve()
    assert names == ["20260101T000000Z-host", "20260101T000000Z-host-2", "20260101T000000Z-host-3"]
    assert sorted(p.name for p in runs.iterdir()) == sorted(names)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_phases_too_big_for_memory_are_skipped_with_a_reason():
    from types import SimpleNamespace

    import scipy.sparse as sp

    from benchmarks.conftest import Bench
    from shared.config import ExperimentConfig

    def fake(v):  # only shapes matter: no dense matrix is ever made here
        return SimpleNamespace(cfg=ExperimentConfig(), data=SimpleNamespace(
            x_train=sp.csr_matrix((11314, v), dtype="float32"), x_test=sp.csr_matrix((7532, v), dtype="float32"),
            vocab_size=v))

    huge, small = fake(10**9), fake(100)
    for phase in ("first_epoch", "train_epoch", "train_to_accuracy", "predict_all"):
        assert "more than half the available memory" in Bench.too_big(huge, phase)
        assert Bench.too_big(small, phase) is None
    assert Bench.too_big(huge, "pipeline_epoch") is None  # streams one batch at a time


def test_table_rows_say_why_a_cell_is_empty(tmp_path):
    doc = {"benchmarks": [{"extra_info": {"phase": "predict_one", "variant_label": "PyTorch (eager)"},
                           "stats": {"median": 0.25, "iqr": 0.5, "rounds": 3}}]}
    (tmp_path / "bench-torch-cpu.json").write_text(json.dumps(doc))
    procs = [{"framework": "torch", "device": "cpu", "status": "ok", "json": "bench-torch-cpu.json",
              "outcomes": {"predict_one": {"outcome": "passed"},
                           "train_epoch": {"outcome": "skipped", "reason": "train_epoch skipped: too big"}}},
             {"framework": "tensorflow", "device": "cpu", "status": "failed", "reason": "phase x: boom"}]
    cols, rows = results.merge(tmp_path, procs, ["torch", "tensorflow"], ["cpu"], ["train_epoch", "predict_one"])
    by = {r["phase"]: r for r in rows}
    assert by["predict_one"]["torch_median_s"] == 0.25 and by["predict_one"]["torch_status"] == "ok"
    assert by["train_epoch"]["torch_status"] == "skipped" and "too big" in by["train_epoch"]["torch_note"]
    assert by["predict_one"]["tensorflow_status"] == "failed" and by["predict_one"]["ratio_torch_over_tensorflow"] is None
    md = results.markdown(cols, rows, ["torch", "tensorflow"])
    assert "| predict_one | cpu | 250 ms | 500 ms | FAILED |" in md and "too big" in md


def test_a_framework_that_cannot_be_imported_is_reported_unavailable(world, tmp_path):
    import argparse
    from benchmarks import runner
    from shared.config import ExperimentConfig
    shadow = tmp_path / "shadow" / "tensorflow"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'tensorflow' (shadowed by the test)\", name='tensorflow')\n")
    cfg_path = tmp_path / "config.json"
    cfg_path.write_text(json.dumps(ExperimentConfig(batch_size=8, hidden=(16, 16), epochs=2).to_dict()))
    env = runner.child_env(1, world["cache"])
    env["PYTHONPATH"] = os.pathsep.join([str(shadow.parent), env.get("PYTHONPATH", "")])
    args = argparse.Namespace(quick=True, archive=str(world["archive"]))
    record = runner.run_process(runner.Clock(), "tensorflow", None, "cpu", ["predict_one"], args, tmp_path, cfg_path, env)
    assert record["status"] == "unavailable" and "not installed" in record["reason"], record
    _, rows = results.merge(tmp_path, [record], ["tensorflow"], ["cpu"], ["predict_one"])
    assert rows[0]["tensorflow_note"].startswith("not available on this machine: tensorflow is not installed")
