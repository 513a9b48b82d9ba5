"""Beyond one machine: --shard, --executor (submitit's local executor; a real SLURM when its
binaries are here), `fwbench collect`, and machines side by side.

The submitit path runs for real on tiny inputs (the synthetic archive, one process, quick rounds);
the collection's figures are checked on synthetic run folders with known medians."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.analysis import collection as col
from benchmarks.model import shards
from benchmarks.model.cases import parse_case
from shared.errors import UserError
from tests.conftest import REPO, make_tiny_archive
from tests.runfolders import ENVIRONMENT, write_run

TINY = ["--hidden", "16,16", "--epochs", "2", "--batch-size", "8", "--quick", "--devices", "cpu",
        "--phases", "train_epoch,predict_one", "--processes", "1"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    return {"archive": make_tiny_archive(root / "tiny.tar.gz"), "cache": root / "cache", "root": root}


def fwbench(world, *args, env_extra=None, path=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FWBENCH_ARCHIVE", "SLURM_CONF")}
    env.update(FWBENCH_CACHE=str(world["cache"]), PYTHONPATH=str(REPO), **(env_extra or {}))
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "benchmarks.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def one_line(proc, needle: str) -> None:
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert needle in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr


# --------------------------------------------------------------------------- shards

@pytest.mark.parametrize("text, needle", [
    ("3/2", "there is no part 3 of 2"), ("0/2", "there is no part 0 of 2"), ("1/0", "at least 1"),
    ("a/b", "is not I/N"), ("2", "is not I/N"), ("1/2/3", "is not I/N"),
])
def test_bad_shard_specs(text, needle):
    with pytest.raises(UserError, match=needle):
        shards.parse(text)


def test_shard_specs():
    assert shards.parse("2/3") == shards.Shard(2, 3) and shards.parse(" 1 / 1 ") == shards.Shard(1, 1)
    assert shards.parse("all/3").parts == [1, 2, 3] and shards.parse("2/3").parts == [2]
    assert shards.parse(None) is None


def test_cases_are_dealt_with_their_baselines():
    ids = ["torch:eager@cpu", "torch:fused@cpu", "torch:compile@cpu", "tensorflow:graph@cpu", "tensorflow:xla@cpu",
           "torch:eager@gpu", "torch:fused@gpu"]
    cases = [parse_case(i) for i in ids]
    base = {"torch:eager@cpu", "torch:eager@gpu"}
    parts = [[c.id for c in shards.split_cases(cases, base, i, 3)] for i in (1, 2, 3)]
    assert parts == [["torch:eager@cpu", "torch:fused@cpu", "tensorflow:xla@cpu"],
                     ["torch:eager@cpu", "torch:compile@cpu", "torch:eager@gpu", "torch:fused@gpu"],
                     ["torch:eager@cpu", "tensorflow:graph@cpu"]]
    others = [c for p in parts for c in p if c not in base]
    assert sorted(others) == sorted(set(ids) - base)  # every other case in exactly one part
    assert parts == [[c.id for c in shards.split_cases(cases, base, i, 3)] for i in (1, 2, 3)]  # deterministic
    with pytest.raises(UserError, match="at most 5 part"):
        shards.split_cases(cases, base, 1, 6)


def test_sweep_points_are_dealt():
    assert shards.split_values([1024, 32, 64, 150, 512], 1, 2) == [32, 150, 1024]
    assert shards.split_values([1024, 32, 64, 150, 512], 2, 2) == [64, 512]
    with pytest.raises(UserError, match="at most 2 part"):
        shards.split_values([4, 8], 3, 3)


@pytest.mark.parametrize("args, needle", [
    (["run", "--shard", "3/2"], "there is no part 3 of 2"),
    (["run", "--shard", "2/2"], "at most 1 part"),  # torch against tensorflow: one case besides the baseline
    (["run", "--slurm-partition", "gpu"], "read by --executor slurm only"),
    (["run", "--executor", "slurm", "--slurm-option", "account"], "not KEY=VALUE"),
    (["run", "--duet", "--aa", "torch", "--shard", "1/1"], "a single comparison"),
    (["sweep", "batch_size", "--values", "4,8", "--shard", "all/2"], "give one part"),
    (["sweep", "batch_size", "--values", "4,8", "--shard", "3/2"], "there is no part 3 of 2"),
])
def test_bad_distribution_input_is_one_line(world, tmp_path, args, needle):
    proc = fwbench(world, *args, "--archive", str(world["archive"]), *TINY, "--output", str(tmp_path / "o"))
    one_line(proc, needle)
    assert not (tmp_path / "o").exists()


def test_no_sbatch_is_one_line(world, tmp_path):
    proc = fwbench(world, "run", "--archive", str(world["archive"]), *TINY, "--executor", "slurm",
                   "--output", str(tmp_path / "o"), path=str(tmp_path))  # an empty PATH: no sbatch
    one_line(proc, "no `sbatch` on PATH")
    assert not (tmp_path / "o").exists()


def test_unreachable_scheduler_is_one_line_and_leaves_nothing(world, tmp_path):
    """sbatch as SLURM's own client answers when its controller is down: submitit's real SLURM
    executor gets the refusal; one line, exit 2, no folder left behind."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "sbatch").write_text("#!/bin/sh\necho 'sbatch: error: Batch job submission failed: Unable to contact "
                                 "slurm controller (connect failure)' >&2\nexit 1\n")
    (bin_ / "sbatch").chmod(0o755)
    path = f"{bin_}:{os.environ.get('PATH', '')}"  # ours comes first
    out = tmp_path / "results"
    (out / "runs" / "earlier").mkdir(parents=True)
    (out / "runs" / "earlier" / "kept.txt").write_text("an earlier result")
    for args in (["run", "--frameworks", "torch:eager,torch:fused"],
                 ["sweep", "batch_size", "--values", "4,8", "--frameworks", "torch"]):
        proc = fwbench(world, *args, "--archive", str(world["archive"]), *TINY, "--executor", "slurm",
                       "--output", str(out), path=path)
        one_line(proc, "Unable to contact slurm controller")
        assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.name != ".fwbench.lock") == \
            ["runs", "runs/earlier", "runs/earlier/kept.txt"]


# --------------------------------------------------------------------------- the submitit path, for real

@pytest.fixture(scope="module")
def shard_runs(world):
    """A three-case run split in two, each part a job of submitit's local executor."""
    out = world["root"] / "sharded"
    proc = fwbench(world, "run", "--archive", str(world["archive"]), *TINY, "--frameworks",
                   "torch:eager,torch:fused,torch:ftz", "--shard", "all/2", "--executor", "submitit", "--output", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "submitted 2 job(s) to submitit" in proc.stdout
    return out


def test_shards_through_submitit_are_whole_comparisons(shard_runs):
    runs = sorted((shard_runs / "runs").iterdir())
    assert len(runs) == 2
    seen = []
    for r in runs:
        m = json.loads((r / "manifest.json").read_text())
        ids = [c["id"] for c in m["cases"]]
        assert m["shard"]["of"] == 2 and m["shard"]["cases"] == ["torch:eager@cpu", "torch:fused@cpu", "torch:ftz@cpu"]
        assert ids[0] == "torch:eager@cpu" and m["baselines"] == {"cpu": "torch:eager@cpu"}  # its baseline, interleaved
        assert m["kind"] == "quick" and m["command"].startswith("fwbench run ") and "--shard" in m["command"]
        assert m["environment"]["host"]  # the node recorded itself
        assert (r / "report.md").is_file()
        seen.append((m["shard"]["index"], ids[1:]))
    assert sorted(seen) == [(1, ["torch:fused@cpu"]), (2, ["torch:ftz@cpu"])]
    assert not (shard_runs / "latest").exists()  # a shard is never the newest full run
    assert not [p for p in (shard_runs / "jobs").rglob("*") if p.name == "runs"]  # moved out of the job folders


def test_collect_gathers_names_missing_refuses_overlap(world, shard_runs, tmp_path):
    runs = sorted((shard_runs / "runs").iterdir())
    proc = fwbench(world, "collect", str(shard_runs), "--output", str(tmp_path / "all"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "all" / "collection.json").read_text())
    assert sorted(p["part"] for p in doc["parts"]) == ["shard 1/2", "shard 2/2"] and doc["missing"] == []
    assert len(doc["machines"]) == 1
    # one part: the other is named missing, the collection is written, exit status 1
    proc = fwbench(world, "collect", str(runs[0]), "--output", str(tmp_path / "half"))
    assert proc.returncode == 1 and "missing: machine A" in proc.stdout and "has no shard 2/2" in proc.stdout
    assert "machine A: shard 2/2 missing" in (tmp_path / "half" / "report.md").read_text()
    # a copy of a part beside the original: an overlap, refused in one line, nothing written
    dup = tmp_path / "dup"
    shutil.copytree(runs[0], dup / runs[0].name)
    proc = fwbench(world, "collect", str(shard_runs), str(dup), "--output", str(tmp_path / "over"))
    one_line(proc, "overlap: both hold shard ")
    assert not (tmp_path / "over").exists()
    # the same folder reached twice
    proc = fwbench(world, "collect", str(shard_runs), str(runs[0]), "--output", str(tmp_path / "twice"))
    one_line(proc, "reached twice")
    # a results folder holding an earlier collection: the collection's copies are not counted again
    (shard_runs / "collections").mkdir(exist_ok=True)
    shutil.copytree(tmp_path / "all", shard_runs / "collections" / "earlier")
    assert len(col.find([shard_runs])) == 2 and len(col.find([shard_runs / "collections" / "earlier"])) == 2
    shutil.rmtree(shard_runs / "collections")
    # an existing collection is never written over
    proc = fwbench(world, "collect", str(shard_runs), "--output", str(tmp_path / "all"))
    one_line(proc, "exists: name a new folder")


def test_a_job_that_dies_is_a_named_missing_point(world, tmp_path):
    """A sweep of two points through submitit's local executor; one job's process is killed while
    it runs: one line naming that point, exit 2, the other point and the report kept."""
    env = {k: v for k, v in os.environ.items() if k not in ("FWBENCH_ARCHIVE",)}
    env.update(FWBENCH_CACHE=str(world["cache"]), PYTHONPATH=str(REPO))
    out = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.cli", "sweep", "batch_size", "--values", "4,8",
                             "--archive", str(world["archive"]), *TINY, "--frameworks", "torch", "--executor",
                             "submitit", "--output", str(out)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "submitted 2 job(s)" in line:
            break
    victim = int(line.split("point batch_size=8 = job ")[1].split(";")[0].split(",")[0])  # the local job's pid
    os.kill(victim, signal.SIGKILL)
    rest, err = proc.communicate(timeout=600)
    assert proc.returncode == 2, "".join(lines) + rest + err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "1 point(s) got no result from the scheduler: batch_size=8: job" in err and "--resume" in err
    (folder,) = list((out / "sweeps").iterdir())
    assert (folder / "points" / "batch_size=4" / "manifest.json").is_file()
    assert not (folder / "points" / "batch_size=8").exists()
    state = json.loads((folder / "sweep.json").read_text())
    assert list(state["missing"]) == ["batch_size=8"]
    assert "batch_size=8: job" in (folder / "report.md").read_text()  # the report names the gap and why


# --------------------------------------------------------------------------- machines, on known inputs

OTHER = {**ENVIRONMENT, "host": "other-host", "cpu": "Other CPU @ 2.0GHz", "cores_usable": 8}


def _run(folder: Path, fused: float, env: dict | None = None, shard: dict | None = None,
         cases: tuple = ("torch:fused@cpu",)) -> Path:
    spread = [1.0, 1.01, 0.99, 1.02, 0.98]
    data = {"torch:eager@cpu": {"train_epoch": [[0.2 * s] * 3 for s in spread]}}
    for c in cases:
        data[c] = {"train_epoch": [[0.2 * fused * s] * 3 for s in spread]}
    write_run(folder, data)
    m = json.loads((folder / "manifest.json").read_text())
    if env:
        m["environment"] = env
    if shard:
        m["shard"] = shard
    (folder / "manifest.json").write_text(json.dumps(m))
    return folder


def test_machines_side_by_side_never_merged(world, tmp_path):
    a = _run(tmp_path / "a" / "runs" / "r1", 0.5)  # fused twice as fast on the synthetic CPU
    b = _run(tmp_path / "b" / "runs" / "r1", 2.0, OTHER)  # and twice as slow on the other machine
    parts = col.find([tmp_path / "a", tmp_path / "b"])
    col.check(parts)  # one plan, one part on each machine: no overlap
    assert len({p.machine for p in parts}) == 2 and len({p.plan for p in parts}) == 1
    assert col.missing(parts) == []
    from benchmarks.reports import machines
    names = machines.machine_names(machines.machines_of(parts))
    rows = machines.side_by_side(parts)
    assert len(rows) == 1 and rows[0]["case"] == "torch:fused@cpu"
    cells = rows[0]["cells"]
    assert [m.cpu for m in machines.machines_of(parts)] == ["Other CPU @ 2.0GHz", "Synthetic CPU @ 3.0GHz"]
    assert [cells[m]["verdict"] for m in machines.machines_of(parts)] == ["slower", "faster"]
    assert cells[parts[0].machine]["speedup"] == pytest.approx(2.0) and cells[parts[1].machine]["speedup"] == pytest.approx(0.5)
    assert machines.difference_lines(rows, names) == [
        "verdicts differ: PyTorch (eager, fused Adam), train epoch (warm): slower on machine A; faster on machine B"]
    assert machines.summary_sentence(rows, names).startswith(
        "Of 1 row(s) with a verdict on more than one machine, the verdicts differ in 1: ")
    proc = fwbench(world, "collect", str(tmp_path / "a"), str(tmp_path / "b"), "--output", str(tmp_path / "c"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "c" / "collection.json").read_text())
    assert len(doc["machines"]) == 2 and {p["machine"] for p in doc["parts"]} == set(doc["machines"])
    for slug in doc["machines"]:  # each machine's parts in a folder of its own
        assert len(list((tmp_path / "c" / slug / "runs").iterdir())) == 1
    report = (tmp_path / "c" / "report.md").read_text()
    assert "| machine A | Other CPU @ 2.0GHz | 8 |" in report and "| machine B | Synthetic CPU @ 3.0GHz | 2 |" in report
    assert "faster 2.00x" in report and "slower 0.50x" in report
    # pooling stays within a machine: the two runs are refused
    from benchmarks.analysis import pool
    from benchmarks.analysis.rundata import load_run
    with pytest.raises(UserError, match="CPU model"):
        pool.check_poolable([load_run(a), load_run(b)])
    # the answer shows a committed collection per machine, and says where verdicts differ
    from benchmarks.reports import answer
    results = tmp_path / "results"
    shutil.copytree(tmp_path / "c", results / answer.MACHINES)
    (f,) = answer.machine_findings(results)
    assert "machine A: Other CPU @ 2.0GHz, 8 usable cores; machine B: Synthetic CPU @ 3.0GHz, 2 usable cores" in f.text
    assert "the verdicts differ in 1: PyTorch (eager, fused Adam), train epoch (warm) (slower on machine A, faster " \
           "on machine B)" in f.text
    assert answer.machine_findings(tmp_path / "nothing") == []


def test_shards_from_two_machines_are_each_missing_the_other(tmp_path):
    full = ["torch:eager@cpu", "torch:fused@cpu", "torch:ftz@cpu"]
    _run(tmp_path / "r1", 0.5, shard={"index": 1, "of": 2, "cases": full})
    _run(tmp_path / "r2", 0.5, OTHER, shard={"index": 2, "of": 2, "cases": full}, cases=("torch:ftz@cpu",))
    _run(tmp_path / "r3", 0.5, OTHER, shard={"index": 1, "of": 3, "cases": full})
    parts = col.find([tmp_path / "r1", tmp_path / "r2"])
    col.check(parts)
    assert len({p.plan for p in parts}) == 1  # one plan, measured in halves on two machines
    assert sorted((m.cpu, n) for m, _, _, n in col.missing(parts)) == [
        ("Other CPU @ 2.0GHz", "shard 1/2"), ("Synthetic CPU @ 3.0GHz", "shard 2/2")]
    with pytest.raises(UserError, match="split the .* differently"):
        col.check(col.find([tmp_path / "r2", tmp_path / "r3"]))


@pytest.mark.parametrize("shard", [{"index": 3, "of": 2, "cases": []}, {"index": "1", "of": 2, "cases": []},
                                   {"index": 1, "of": 2, "cases": "torch"}])
def test_a_damaged_shard_record_is_one_line(tmp_path, shard):
    _run(tmp_path / "r", 0.5, shard=shard)
    with pytest.raises(UserError, match="is not I/N"):
        col.find([tmp_path / "r"])


def _sweep(folder: Path, values: list[int], shard: dict | None, env: dict | None = None) -> Path:
    argv = ["sweep", "batch_size", "--values", ",".join(map(str, shard["values"] if shard else values)),
            "--hidden", "16,16", "--shard", f"{shard['index']}/{shard['of']}" if shard else "1/1"]
    req = {"param": "batch_size", "values": values, "preset": None, "frameworks": "torch", "phases": None,
           "processes": None, "rounds": {}, "argv": argv, **({"shard": shard} if shard else {})}
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps(req))
    for v in values:
        _run(folder / "points" / f"batch_size={v}", 0.5 if v < 100 else 2.0, env)
    return folder


def test_sweep_shards_are_gathered_into_one_sweep_per_machine(world, tmp_path):
    every = [32, 64, 150, 512]
    _sweep(tmp_path / "s1", [32, 150], {"index": 1, "of": 2, "values": every})
    _sweep(tmp_path / "s2", [64, 512], {"index": 2, "of": 2, "values": every})
    _sweep(tmp_path / "s3", [64, 512], {"index": 2, "of": 2, "values": every}, OTHER)
    proc = fwbench(world, "collect", str(tmp_path / "s1"), str(tmp_path / "s2"), str(tmp_path / "s3"),
                   "--output", str(tmp_path / "c"))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the other machine lacks shard 1's points
    assert "has no point batch_size=32 of the sweep of batch_size over 32, 64, 150, 512" in proc.stdout
    doc = json.loads((tmp_path / "c" / "collection.json").read_text())
    mine = next(s for s, m in doc["machines"].items() if m["cpu"] == ENVIRONMENT["cpu"])
    (merged,) = list((tmp_path / "c" / mine / "sweeps").iterdir())
    assert sorted(p.name for p in (merged / "points").iterdir()) == [f"batch_size={v}" for v in (150, 32, 512, 64)]
    req = json.loads((merged / "sweep.json").read_text())
    assert req["values"] == every and req["missing"] == {} and "shard" not in req
    assert (merged / "report.md").is_file() and (merged / "sweep.csv").is_file()
    other = next(s for s in doc["machines"] if s != mine)
    (theirs,) = list((tmp_path / "c" / other / "sweeps").iterdir())
    assert sorted(json.loads((theirs / "sweep.json").read_text())["missing"]) == ["batch_size=150", "batch_size=32"]
    # an overlapping point on one machine: refused
    _sweep(tmp_path / "s4", [64], {"index": 2, "of": 2, "values": every})
    proc = fwbench(world, "collect", str(tmp_path / "s2"), str(tmp_path / "s4"), "--output", str(tmp_path / "d"))
    one_line(proc, "both hold point batch_size=64")


# --------------------------------------------------------------------------- a real SLURM

SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scancel")


def test_real_single_node_slurm(tmp_path):
    """scripts/slurm_local.sh check: a real slurmctld + slurmd + munge on localhost; a quick sweep
    through --executor slurm, collected, against --executor local; a cancelled job named."""
    absent = [b for b in SLURM_BINARIES if shutil.which(b) is None]
    why = (f"SLURM binaries absent ({', '.join(absent)}): apt-get install slurm-wlm munge" if absent
           else "the local SLURM daemons need root" if os.geteuid() != 0 else None)
    if why:
        if os.environ.get("FWBENCH_REQUIRE_SLURM") == "1":
            pytest.fail(why + " and FWBENCH_REQUIRE_SLURM=1 demands it")
        pytest.skip(why)
    env = {k: v for k, v in os.environ.items() if k not in ("FWBENCH_ARCHIVE", "SLURM_CONF")}
    env["PYTHON"] = sys.executable
    proc = subprocess.run([str(REPO / "scripts" / "slurm_local.sh"), "check", str(tmp_path / "slurm")], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "slurm_local: same structure: 8 rows" in proc.stdout and "slurm_local: OK" in proc.stdout


def test_a_sweep_whose_points_ran_on_two_machines_says_so(tmp_path):
    """Scheduler jobs may land on different node types: the sweep report warns, collect splits."""
    folder = _sweep(tmp_path / "s", [32, 64], None)
    _run(folder / "points" / "batch_size=64", 0.5, OTHER)  # rewritten: this point ran elsewhere
    from benchmarks.reports import sweep_report
    text = sweep_report.write(folder).read_text()
    assert ("Warning: the points ran on 2 different machines (Synthetic CPU @ 3.0GHz, 2 usable cores: batch_size=32; "
            "Other CPU @ 2.0GHz, 8 usable cores: batch_size=64)") in text
    parts = col.find([folder])
    assert sorted((p.machine.cpu, p.name) for p in parts) == [("Other CPU @ 2.0GHz", "point batch_size=64"),
                                                              ("Synthetic CPU @ 3.0GHz", "point batch_size=32")]
    assert sorted((m.cpu, n) for m, _, _, n in col.missing(parts)) == [("Other CPU @ 2.0GHz", "point batch_size=32"),
                                                                       ("Synthetic CPU @ 3.0GHz", "point batch_size=64")]
