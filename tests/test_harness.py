"""The benchmark harness itself: `fwbench run --quick` on a tiny generated archive, in real worker
subprocesses, and what it leaves in the output folder; locks, signals, failures, bad input."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.analysis import rundata
from benchmarks.model.phases import FRAMEWORK_PHASES, SHARED_PHASES
from tests.conftest import REPO, make_tiny_archive

TINY = ["--batch-size", "8", "--hidden", "16,16", "--epochs", "2"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("harness")
    return {"archive": make_tiny_archive(root / "tiny.tar.gz"), "cache": root / "cache", "out": root / "results"}


def env_for(world, extra=None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "FWBENCH_ARCHIVE"}
    env.update(FWBENCH_CACHE=str(world["cache"]), **(extra or {}))
    return env


def command(world, *extra, out=None) -> list[str]:
    return [sys.executable, "-m", "benchmarks.cli", "run", "--quick", "--archive", str(world["archive"]), *TINY,
            "--output", str(out or world["out"]), *extra]


def fwbench_run(world, *extra, env_extra=None, out=None) -> subprocess.CompletedProcess:
    return subprocess.run(command(world, *extra, out=out), cwd=REPO, env=env_for(world, env_extra),
                          capture_output=True, text=True, timeout=600)


def run_folders(out: Path) -> list[Path]:
    return sorted(p for p in (out / "runs").iterdir() if not p.name.startswith(".")) if (out / "runs").is_dir() else []


@pytest.fixture(scope="module")
def first_run(world):
    proc = fwbench_run(world, "--processes", "2", "--anatomy")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (folder,) = run_folders(world["out"])
    return folder, proc


def test_run_folder_holds_every_case_and_process(world, first_run):
    folder, proc = first_run
    m = json.loads((folder / "manifest.json").read_text())
    assert m["schema"] == rundata.SCHEMA and m["status"] == "complete" and m["kind"] == "quick"
    assert [c["id"] for c in m["cases"]] == ["shared:data@cpu", "torch:eager@cpu", "tensorflow:graph@cpu",
                                             "torch:eager@gpu", "tensorflow:graph@gpu"]
    assert m["baselines"] == {"cpu": "torch:eager@cpu", "gpu": "torch:eager@gpu"}
    ok = [w for w in m["workers"] if w["status"] == "ok"]
    assert sorted((w["case"], w["index"]) for w in ok) == sorted(
        (c, k) for c in ("shared:data@cpu", "torch:eager@cpu", "tensorflow:graph@cpu") for k in range(2))
    for w in ok:
        doc = json.loads((folder / w["json"]).read_text())
        own = SHARED_PHASES if w["case"].startswith("shared") else FRAMEWORK_PHASES
        got = {b["extra_info"]["phase"]: b for b in doc["benchmarks"]}
        assert set(got) == set(own), w["case"]
        for b in got.values():
            assert len(b["stats"]["data"]) == b["stats"]["rounds"]  # per-round data kept
            assert b["extra_info"]["case"] == w["case"] and b["extra_info"]["process_index"] == w["index"]
    gpu = [w for w in m["workers"] if w["case"].endswith("@gpu")]
    assert gpu and all(w["status"] == "unavailable" and "no NVIDIA GPU" in w["reason"] for w in gpu)
    # progress was visible: case, process, phase, elapsed time
    assert "tensorflow:graph@cpu #2: train_epoch" in proc.stdout
    # the quick run says so in every output and does not become the reference
    assert "smoke test" in (folder / "results.md").read_text() and "smoke test" in (folder / "report.md").read_text()
    assert not (world["out"] / "latest").exists()


def test_workers_ran_interleaved(first_run):
    folder, _ = first_run
    m = json.loads((folder / "manifest.json").read_text())
    order = [(w["index"], w["case"]) for w in sorted(m["workers"], key=lambda w: w["slot"])]
    n = len(m["cases"])
    assert [k for k, _ in order] == [0] * n + [1] * n, "every case runs once per round"
    first, second = [c for _, c in order[:n]], [c for _, c in order[n:]]
    assert second == first[1:] + first[:1], "the order rotates between rounds"


def test_every_case_read_back_the_same_thread_budget(first_run):
    folder, _ = first_run
    m = json.loads((folder / "manifest.json").read_text())
    budget = m["threads"]["intra_op"]
    assert m["threads"]["inter_op"] == 1 and m["config"]["threads"] == budget
    readbacks = {(w["runtime"]["intra_op_threads"], w["runtime"]["inter_op_threads"])
                 for w in m["workers"] if w["status"] == "ok" and w.get("runtime")}
    assert readbacks == {(budget, 1)}
    assert all(m["threads"]["env"][k] == str(budget) for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"))


def test_fresh_models_per_round_in_a_real_worker(first_run):
    folder, _ = first_run
    run = rundata.load_run(folder)
    for case in run.framework_cases("cpu"):
        for phase in ("first_epoch", "train_to_accuracy"):
            for p in case.phases[phase].processes:
                r = p.extra["rounds"] + p.extra["warmup_rounds"]
                assert p.extra["fresh_models"] == r, (case.id, phase, p.extra)
        for p in case.phases["train_epoch"].processes:
            assert p.extra["fresh_models"] == 0


def test_one_reader_gives_identical_csv_and_tables(first_run):
    folder, _ = first_run
    run = rundata.load_run(folder)
    frame = rundata.summary(run)
    rows = list(csv.DictReader(open(folder / "results.csv")))
    assert len(rows) == len(frame)
    for r, (_, f) in zip(rows, frame.iterrows()):
        assert (r["case"], r["phase"], r["status"]) == (f["case"], f["phase"], f["status"])
        if f["status"] == "ok":
            assert float(r["time_s"]) == f["time_s"]
            # and the figure is what the raw JSON's rounds give
            samples = run.cases[f["case"]].phases[f["phase"]].samples()
            from benchmarks.analysis import stats
            assert f["time_s"] == stats.location(samples).value
    md = (folder / "results.md").read_text()
    report = (folder / "report.md").read_text()
    table = rundata.timing_markdown(frame, "cpu")
    for line in table.splitlines()[2:]:
        assert line in md and line in report


def test_anatomy_pass_recorded(first_run):
    folder, _ = first_run
    run = rundata.load_run(folder)
    for case in run.framework_cases("cpu"):
        an = case.anatomy()
        assert len(an) == 2
        for a in an:
            assert set(a["breakdown"]) >= {"forward", "backward", "optimizer", "readback", "step"}
        assert "probe" in an[0] and an[0]["probe"]["matmul"]["gflops_best"] > 0  # first process only
        assert "probe" not in an[1]


def test_full_run_moves_latest_and_a_partial_one_does_not(world, first_run):
    out = world["out"].parent / "latest-test"
    proc = fwbench_run(world, "--frameworks", "torch", "--devices", "cpu", "--phases", "predict_one", out=out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (out / "latest").exists(), "a quick or partial run must not become the reference"
    (folder,) = run_folders(out)
    assert json.loads((folder / "manifest.json").read_text())["kind"] == "quick"


def test_failed_run_never_replaces_latest_nor_leaves_a_run_folder(world, first_run):
    out = world["out"].parent / "failing"
    proc = fwbench_run(world, "--frameworks", "torch", "--devices", "cpu", "--phases", "predict_one,data_load",
                       "--processes", "1", env_extra={"FWBENCH_FAIL_FRAMEWORK": "torch"}, out=out)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "failure injected" in proc.stderr
    assert run_folders(out) == [] and not (out / "latest").exists()
    (record,) = list((out / "failed").iterdir())
    m = json.loads((record / "manifest.json").read_text())
    torch_w = next(w for w in m["workers"] if w["case"] == "torch:eager@cpu")
    assert m["status"] == "failed" and torch_w["status"] == "failed" and "failure injected" in torch_w["reason"]


@pytest.mark.parametrize("extra, message", [
    (["--phases", "train_epoch,warp_speed"], "unknown phase 'warp_speed'"),
    (["--frameworks", "torch,mxnet"], "unknown framework 'mxnet'"),
    (["--devices", "tpu"], "unknown device 'tpu'"),
    (["--batch-size", "0"], "batch size must be a positive integer"),
    (["--batch-size", "1000"], "larger than the 36 training posts"),
    (["--frameworks", "tensorflow:warp"], "has no variant 'warp': choose from input: sparse; execution: graph"),
    (["--frameworks", "torch,torch:eager"], "named twice"),
    (["--baseline", "tensorflow:xla"], "baseline case tensorflow:xla@cpu is not in this run"),
    (["--processes", "0"], "--processes must be at least 1"),
    (["--min-effect", "nan"], "--min-effect must be a finite percentage"),
    (["--threads", "9999"], "more than the"),
    (["--matrix", "--frameworks", "torch"], "--matrix runs every variant"),
    (["--rounds", "warp=1"], "unknown phase 'warp' in --rounds"),
    (["--rounds", "train_epoch=0"], "--rounds takes PHASE=N or PHASE=N+W"),
    (["--rounds", "train_epoch=two"], "--rounds takes PHASE=N or PHASE=N+W"),
    (["--phases", "predict_one", "--rounds", "train_epoch=2"], "which this run does not run"),
    (["--rounds", "train_epoch=2+1"], "give --rounds or --quick, not both"),
    (["--aa", "torch:warp"], "torch has no variant 'warp'"),
    (["--aa", "torch", "--matrix"], "drop --matrix"),
    (["--pilot", "600"], "--pilot chooses the processes and rounds itself: drop --quick"),
])
def test_bad_input_is_one_line_and_exit_2(world, extra, message):
    out = world["out"].parent / "untouched"
    t0 = time.perf_counter()
    proc = fwbench_run(world, "--devices", "cpu", *extra, out=out)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (out / "runs").exists() or list((out / "runs").iterdir()) == []  # no run, no staging
    assert not (out / "latest").exists()
    assert "starting" not in proc.stdout, "bad input must be refused before any worker starts"
    del t0


def test_aa_run_compares_the_copy_with_its_original(world, tmp_path):
    out = tmp_path / "aa"
    proc = fwbench_run(world, "--aa", "torch:eager", "--phases", "predict_one", "--processes", "2",
                       "--devices", "cpu", out=out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (folder,) = run_folders(out)
    assert not (out / "latest").exists(), "an A/A calibration is never the reference"
    m = json.loads((folder / "manifest.json").read_text())
    assert m["kind"] == "aa" and "A/A calibration" in m["label"]
    assert [c["id"] for c in m["cases"]] == ["torch:eager@cpu", "torch:eager@cpu~aa"]
    assert m["aa_pairs"] == {"torch:eager@cpu~aa": "torch:eager@cpu"}
    assert sorted(w["json"] for w in m["workers"]) == [
        "workers/torch-eager-cpu.p0.json", "workers/torch-eager-cpu.p1.json",
        "workers/torch-eager-cpu_aa.p0.json", "workers/torch-eager-cpu_aa.p1.json"]
    with open(folder / "results.csv") as f:
        rows = {r["case"]: r for r in csv.DictReader(f)}
    copy = rows["torch:eager@cpu~aa"]
    assert copy["baseline"] == "torch:eager@cpu" and copy["speedup"] and copy["processes"] == "2"
    assert rows["torch:eager@cpu"]["verdict"] == "baseline"
    assert "PyTorch (eager) (A/A copy)" in (folder / "report.md").read_text()
    # every worker recorded what the machine did during its phase, in its result JSON
    result = json.loads((folder / m["workers"][0]["result"]).read_text())
    rec = result["phases"]["predict_one"]["extra"]["machine"]
    assert set(rec) == {"wall_s", "steal_s", "other_cpu_s", "own_cpu_s", "minor_faults", "note"} and rec["wall_s"] > 0
    assert isinstance(rec["minor_faults"], int) and rec["minor_faults"] >= 0


def test_demanding_an_absent_gpu_is_exit_2(world):
    from benchmarks.commands.run import machine_has_gpu
    if machine_has_gpu():
        pytest.skip("this machine has a GPU")
    proc = fwbench_run(world, "--devices", "gpu")
    assert proc.returncode == 2 and "has no NVIDIA GPU" in proc.stderr


def test_a_second_run_into_the_same_folder_is_refused(world, tmp_path):
    from benchmarks.harness.runner import FolderLock
    out = tmp_path / "locked"
    with FolderLock(out):  # as a run in progress holds it
        proc = fwbench_run(world, "--frameworks", "torch", "--devices", "cpu", "--phases", "predict_one", out=out)
    assert proc.returncode == 2 and "another fwbench run" in proc.stderr and str(out) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert run_folders(out) == []


def test_sigterm_during_a_run_leaves_nothing_half_written(world, tmp_path):
    out = tmp_path / "term"
    proc = subprocess.Popen(command(world, "--frameworks", "torch", "--devices", "cpu", "--processes", "1", out=out),
                            cwd=REPO, env=env_for(world), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # wait until a worker is timing
        if "starting" in line:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "SIGTERM" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    runs = out / "runs"
    assert not runs.exists() or list(runs.iterdir()) == [], list(runs.iterdir())


def test_stale_staging_of_a_dead_run_is_swept(tmp_path):
    from shared.atomic import sweep_stale
    parent = tmp_path / "runs"
    dead = rundata.staging_dir(parent, "20260101T000000Z-host")
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
    renamed = dead.with_name(dead.name.replace(f"-{os.getpid()}-", f"-{dead_pid}-"))
    dead.rename(renamed)
    live = rundata.staging_dir(parent, "20260101T000001Z-host")  # this process: alive
    assert sweep_stale(parent) == 1
    assert not renamed.exists() and live.exists()


def test_publish_never_overwrites_and_latest_swaps(tmp_path):
    runs = tmp_path / "runs"
    names = []
    for _ in range(3):
        staging = rundata.staging_dir(runs, "20260101T000000Z-host")
        (staging / "manifest.json").write_text("{}")
        names.append(rundata.publish(staging, runs, "20260101T000000Z-host").name)
        rundata.point_latest(tmp_path, runs / names[-1])
        assert (tmp_path / "latest").resolve() == (runs / names[-1]).resolve()
    assert names == ["20260101T000000Z-host", "20260101T000000Z-host-2", "20260101T000000Z-host-3"]
    assert sorted(p.name for p in runs.iterdir()) == sorted(names)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_memory_fit_looks_at_the_case_representation():
    from types import SimpleNamespace

    import numpy as np
    import scipy.sparse as sp

    from benchmarks.model.cases import parse_case
    from benchmarks.harness.conftest import Bench
    from shared.config import ExperimentConfig

    def fake(v, case):  # only shapes matter: no dense matrix is ever made here
        rows, per_row = 11314, 200  # bag-of-words: a few hundred distinct words per post
        cols = np.random.default_rng(0).integers(0, v, rows * per_row)
        x = sp.csr_matrix((np.ones(rows * per_row, np.float32), cols, np.arange(0, rows * per_row + 1, per_row)),
                          shape=(rows, v))
        return SimpleNamespace(cfg=ExperimentConfig(), case=parse_case(case), input=parse_case(case).spec().input,
                               data=SimpleNamespace(x_train=x, x_test=x[:7532], vocab_size=v))

    huge_dense, huge_sparse = fake(5 * 10**7, "torch:eager@cpu"), fake(5 * 10**7, "torch:sparse@cpu")
    for phase in ("first_epoch", "train_epoch", "train_to_accuracy", "predict_all"):
        assert "dense data need" in Bench.too_big(huge_dense, phase)
        assert Bench.too_big(huge_sparse, phase) is None, "a sparse case holds only the non-zeros"
    assert Bench.too_big(huge_dense, "pipeline_epoch") is None  # streams one batch at a time


def test_the_machine_marker_never_warns_about_its_own_process(tmp_path, monkeypatch):
    """A sweep runs one plan per point in one process: its second point must not warn that
    "another" run is timing (that was the sweep's own marker); another process must be warned.
    A private marker file, so a real run on this machine (or another test worker) changes nothing."""
    from benchmarks.harness import runner
    marker = tmp_path / "machine.lock"
    monkeypatch.setattr(runner, "MACHINE_LOCK", str(marker))
    monkeypatch.setattr(runner.other_timing_run, "fd", None, raising=False)
    try:
        assert runner.other_timing_run() is None  # takes the marker
        assert runner.other_timing_run() is None  # holds it: no warning about itself
        other = subprocess.run(
            [sys.executable, "-c", "from benchmarks.harness import runner; "
             f"runner.MACHINE_LOCK = {str(marker)!r}; print(runner.other_timing_run())"],
            capture_output=True, text=True, cwd=REPO, timeout=120)
        assert other.returncode == 0, other.stderr[-2000:]
        assert "another fwbench run is timing on this machine" in other.stdout
    finally:
        if runner.other_timing_run.fd is not None:
            os.close(runner.other_timing_run.fd)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a duet needs two usable cores")
def test_duet_quick_run_end_to_end(world):
    """--duet: the pairs ran together, each worker on its core with one thread, cores swapped."""
    from benchmarks.analysis import duet
    out = world["out"].parent / "duet"
    a, b = "torch:eager@cpu", "torch:fused@cpu"
    proc = fwbench_run(world, "--duet", "torch:eager,torch:fused", "--phases", "predict_one", "--processes", "2",
                       out=out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (folder,) = run_folders(out)
    assert not (out / "latest").exists()
    m = json.loads((folder / "manifest.json").read_text())
    c0, c1 = sorted(os.sched_getaffinity(0))[:2]
    assert (m["label"], m["threads"]["intra_op"], m["phases"]) == (f"duet {a} vs {b}", 1, ["predict_one"])
    assert m["duet"] == {"cases": [a, b], "cores": [c0, c1],
                         "pairs": [{"index": 0, "cores": {a: c0, b: c1}}, {"index": 1, "cores": {a: c1, b: c0}}]}
    for w in m["workers"]:
        assert w["status"] == "ok" and w["runtime"]["intra_op_threads"] == 1
        assert w["affinity"] == [m["duet"]["pairs"][w["index"]]["cores"][w["case"]]]
        plan = json.loads((folder / w["plan"]).read_text())
        assert plan["barrier"]["side"] == ("a" if w["case"] == a else "b") and plan["affinity"] == w["affinity"]
    (d,) = duet.analyse(rundata.load_run(folder))
    assert d.phase == "predict_one" and sorted(d.pairs) == [0, 1] and sorted(d.by_core) == [c0, c1]
    assert "## Duet" in (folder / "report.md").read_text()


def test_pin_and_gc_off_are_recorded(world):
    out = world["out"].parent / "pinned"
    proc = fwbench_run(world, "--devices", "cpu", "--frameworks", "torch", "--phases", "predict_one", "--processes",
                       "1", "--threads", "1", "--pin", "--gc", "off", out=out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (folder,) = run_folders(out)
    m = json.loads((folder / "manifest.json").read_text())
    core = min(os.sched_getaffinity(0))
    assert m["execution"] == {"pin": [core], "gc": "off"}
    (w,) = m["workers"]
    assert w["affinity"] == [core]  # what the worker read back from the kernel
    report = (folder / "report.md").read_text()
    assert f"every worker pinned to cores {core}" in report and "#0: " + str(core) in report
    assert "off (collected, frozen and disabled" in report


def test_workers_do_not_inherit_pytest_xdist_worker_variables(monkeypatch, tmp_path):
    """A run started inside an xdist worker (these tests under `make test`) must not hand
    PYTEST_XDIST_WORKER on: pytest-benchmark would take the harness's worker for an xdist worker
    and disable its benchmarks."""
    from benchmarks.harness.runner import child_env
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    env = child_env(2, tmp_path)
    assert not [k for k in env if k.startswith("PYTEST_XDIST_")]
    assert env["FWBENCH_CACHE"] == str(tmp_path) and env["PYTHONUNBUFFERED"] == "1"
