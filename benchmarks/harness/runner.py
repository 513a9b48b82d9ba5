"""The run harness: cases x K worker processes, interleaved, into a new run folder.

    plan = Plan(...)            what to run (cases, baseline, processes, phases, rounds)
    run_plan(plan, dest)        runs it, writes the folder atomically, returns its path

A worker is one pytest process (benchmarks/harness/test_bench.py) timing one case once. The schedule
(benchmarks/cases.schedule) alternates the cases in every round, so drift over the run is spread
over all of them. Each worker's raw pytest-benchmark JSON is kept under workers/ (readable by
`pytest-benchmark compare`); manifest.json records the plan and every worker's outcome. The
folder is assembled in a hidden staging folder and renamed into place only when complete.

Fail closed: a worker that fails, or whose framework reads back another thread budget than the
one the run set, makes the run "failed": its record goes to <output>/failed/, never to runs/.
"""
from __future__ import annotations

import fcntl
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.analysis import rundata
from benchmarks.model.cases import SHARED, Case, baselines, schedule
from benchmarks.model.phases import DEFAULT_PROCESSES, PHASES, Rounds, rounds_for
from shared.atomic import sweep_stale, write_atomic
from shared.config import ExperimentConfig
from shared.errors import UserError

REPO = Path(__file__).resolve().parents[2]
TEST_FILE = Path(__file__).resolve().parent / "test_bench.py"
PROGRESS_MARK = "@@fwbench "  # benchmarks/harness/conftest.py prints it; not imported here to keep pytest out
INTEROP_THREADS = 1  # both frameworks: one MLP's ops run one after another anyway
MACHINE_LOCK = Path(tempfile.gettempdir()) / "fwbench-timing.lock"


@dataclass
class Plan:
    cfg: ExperimentConfig  # the base configuration, threads resolved
    cases: list[Case]  # framework cases; the shared case is added when shared phases are asked
    phases: list[str]
    processes: int = DEFAULT_PROCESSES
    baseline: str | None = None  # --baseline as typed; None: PyTorch's default per device
    min_effect: float = 0.05
    quick: bool = False
    anatomy: bool = False
    archive: str | None = None
    unavailable: dict[str, str] = field(default_factory=dict)  # case id -> why it cannot run here
    kind: str = "full"  # full / partial / quick: only full runs move results/latest
    label: str | None = None  # e.g. "matrix", "sweep point batch_size=300"
    command: str | None = None
    rounds: dict[str, Rounds] = field(default_factory=dict)  # per-phase overrides (sweep presets)
    affinity: list[int] | None = None  # --pin: the cores every worker pins itself to (None: not pinned)
    gc: str = "on"  # --gc: "off" disables Python's garbage collector during timed rounds
    duet_cores: list[int] | None = None  # --duet: the pair's two cores (None: not a duet; see duet_runner)
    pairs: dict[str, str] = field(default_factory=dict)  # --aa: copy id -> original id (each copy's baseline)
    pilot: dict | None = None  # --pilot: the estimates and the choice (benchmarks/analysis/pilot.py)
    shard: dict | None = None  # --shard: {index, of, cases: the whole plan's case ids} (benchmarks/model/shards.py)

    def rounds_of(self, phase: str) -> Rounds:
        return self.rounds.get(phase) or rounds_for(phase, self.quick)

    def all_cases(self) -> list[Case]:
        shared = [Case(SHARED, "data", "cpu")] if any(PHASES[p].scope == "shared" for p in self.phases) else []
        return shared + self.cases


class Clock:
    def __init__(self, quiet: bool = False):
        self.t0, self.quiet = time.perf_counter(), quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:7.1f}s] {text}", flush=True)


def fwbench_version() -> str:
    """The installed version, else pyproject's (a checkout run without `pip install`)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("fwbench")
    except PackageNotFoundError:
        import re
        m = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M)
        return f"{m.group(1) if m else 'unknown'} (uninstalled checkout)"


def thread_env(threads: int) -> dict[str, str]:
    """The thread variables every worker starts with: numpy's BLAS (shared/environment) and every
    framework's own (impl_*/variants.py THREAD_ENV), set to the run's budget."""
    from shared import registry
    from shared.environment import SHARED_THREAD_ENV
    return {**{k: str(threads) for k in SHARED_THREAD_ENV}, **registry.thread_env(threads, INTEROP_THREADS)}


def child_env(threads: int, cache: Path) -> dict:
    # Not pytest-xdist's worker variables: a run started from inside an xdist worker (the project's
    # own tests under `make test`, a user's CI) would hand them on, and pytest-benchmark then sees
    # itself as an xdist worker and disables every benchmark of the harness's worker.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    return {**inherited, **thread_env(threads), "PYTHONUNBUFFERED": "1", "FWBENCH_CACHE": str(cache)}


# --------------------------------------------------------------------------- locks and leftovers

class FolderLock:
    """An exclusive lock on a results folder for the whole run (flock: released by the kernel
    when the process dies, so a crash never leaves the folder locked)."""

    def __init__(self, folder: Path):
        self.path = folder / ".fwbench.lock"
        self.fd = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            raise UserError(f"another fwbench run (pid {holder}) is writing to {self.path.parent}: wait for it "
                            f"to finish, or give this one another --output") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def other_timing_run() -> str | None:
    """Whether another fwbench run is timing on this machine (it would inflate both runs'
    figures). Takes a shared marker lock; returns a warning, or None."""
    if getattr(other_timing_run, "fd", None) is not None:
        return None  # this process holds it already (a sweep runs one plan per point)
    try:
        fd = os.open(MACHINE_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return ("another fwbench run is timing on this machine at the same time: both runs' figures are "
                "inflated; rerun when it has finished")
    other_timing_run.fd = fd  # held until the process exits
    return None


# --------------------------------------------------------------------------- one worker

def worker_plan(case: Case, index: int, plan: Plan, result: Path) -> dict:
    """Everything one worker needs, resolved here once: the worker parses nothing else."""
    phases = [p for p in plan.phases if PHASES[p].scope == ("shared" if case.is_shared else "framework")]
    return {"case": case.to_dict(), "config": case.config(plan.cfg).to_dict(), "process_index": index,
            "phases": phases, "rounds": {p: vars(plan.rounds_of(p)) for p in phases}, "quick": plan.quick,
            "anatomy": plan.anatomy and not case.is_shared, "threads": plan.cfg.thread_count,
            "archive": str(Path(plan.archive).resolve()) if plan.archive else None,
            "result": result.name,  # beside the plan: a run folder's plans stay valid after it is moved
            "affinity": plan.affinity, "gc": plan.gc, "barrier": None}  # execution controls (harness/execution.py)


def run_worker(clock: Clock, case: Case, index: int, plan: Plan, staging: Path, env: dict,
               overrides: dict | None = None, started: list | None = None) -> dict:
    """One pytest process timing `case` once; returns its manifest record. `overrides` replace
    entries of its plan (a duet worker's core and barrier); `started` collects the process, so a
    caller running workers in threads can stop them all."""
    tag = f"{case.id} #{index + 1}"
    stem = f"workers/{case.slug}.p{index}"
    json_name, log_name = f"{stem}.json", f"{stem}.log"
    plan_name, result_name = f"{stem}.plan.json", f"{stem}.result.json"
    (staging / "workers").mkdir(exist_ok=True)
    task = {**worker_plan(case, index, plan, Path(result_name)), **(overrides or {})}
    write_atomic(staging / plan_name, json.dumps(task, indent=2))
    cmd = [sys.executable, "-m", "pytest", str(TEST_FILE), "-p", "no:cacheprovider", "-q",
           f"--benchmark-json={staging / json_name}", "--benchmark-save-data", "--plan", str(staging / plan_name)]
    record = {"case": case.id, "index": index, "json": json_name, "log": log_name, "plan": plan_name,
              "result": result_name}
    clock.say(f"{tag}: starting ({len(task['phases'])} phases)")
    t0, tail, starts = time.perf_counter(), deque(maxlen=40), {}
    with open(staging / log_name, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if started is not None:
            started.append(proc)
        try:
            for line in proc.stdout:
                log.write(line)
                tail.append(line.rstrip("\n"))
                at = line.find(PROGRESS_MARK)  # pytest -q may have printed a '.' before it
                if at >= 0:
                    _progress(clock, tag, json.loads(line[at + len(PROGRESS_MARK):]), starts)
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    record.update(returncode=rc, seconds=round(time.perf_counter() - t0, 2))
    result_path = staging / result_name
    try:
        status = json.loads(result_path.read_text()) if result_path.is_file() else {}
    except ValueError:
        status = {}
    if not status:
        record["result"] = None
    if status.get("user_error"):  # bad input only the worker could judge
        raise UserError(f"{case.id}: {status['user_error']}")
    record.update(runtime=status.get("runtime"), outcomes=status.get("outcomes", {}),
                  anatomy=status.get("anatomy"), fresh_models=status.get("fresh_models"),
                  affinity=status.get("affinity"))
    if status.get("unavailable") and rc == 0:
        record.update(status="unavailable", reason=status["unavailable"], json=None)
        (staging / json_name).unlink(missing_ok=True)
    elif rc == 0:
        record.update(status="ok", reason=None, json=json_name if (staging / json_name).is_file() else None)
        mismatch = (thread_mismatch(record.get("runtime"), plan.cfg.thread_count)
                    or affinity_mismatch(record.get("affinity"), task["affinity"]))
        if mismatch:
            record.update(status="failed", reason=mismatch)
    else:
        failed = [p for p, o in record["outcomes"].items() if o.get("outcome") == "failed"]
        why = f"phase {failed[0]}: {record['outcomes'][failed[0]]['reason']}" if failed else f"pytest exit status {rc}"
        record.update(status="failed", reason=why, stderr_tail="\n".join(tail))
    clock.say(f"{tag}: {record['status']}" + (f" ({record['reason']})" if record["reason"] else "")
              + f" in {record['seconds']:.1f} s")
    return record


def thread_mismatch(runtime: dict | None, budget: int) -> str | None:
    """The fairness rule: every framework reads back the run's intra-op budget and one inter-op thread."""
    if not runtime:
        return None
    got = (runtime.get("intra_op_threads"), runtime.get("inter_op_threads"))
    if got != (budget, INTEROP_THREADS):
        return (f"thread read-back {got[0]} intra-op / {got[1]} inter-op differs from the run's budget "
                f"{budget} / {INTEROP_THREADS}: the comparison would not be fair")
    return None


def affinity_mismatch(got: list | None, want: list | None) -> str | None:
    """A pinned worker runs on exactly the cores it was given, or its figures mean something else."""
    if want is not None and got != sorted(want):
        return f"the worker read back cores {got}, not the cores {sorted(want)} it was pinned to"
    return None


def _progress(clock: Clock, tag: str, ev: dict, starts: dict) -> None:
    from benchmarks.analysis.rundata import fmt_time
    phase = ev.get("phase")
    if ev["event"] == "start":
        starts[phase] = time.perf_counter()
        clock.say(f"{tag}: {phase} ({ev['rounds']} rounds + {ev['warmup']} warm-up) ...")
    elif ev.get("outcome") == "passed":
        took = time.perf_counter() - starts.get(phase, time.perf_counter())
        clock.say(f"{tag}: {phase} done in {took:.1f} s: median {fmt_time(ev.get('median'))}")
    else:
        clock.say(f"{tag}: {phase} {ev.get('outcome')}: {ev.get('reason')}")


# --------------------------------------------------------------------------- the run

def prepare_all(plan: Plan, cache: Path) -> dict:
    """Prepare every distinct dataset the cases need (fail fast on bad data or settings, and fill
    the cache every worker then reads); returns the base configuration's data summary."""
    from shared.dataset import check_fits, prepare
    summary = None
    for case in [Case(SHARED, "data", "cpu")] + plan.cases:
        cfg = case.config(plan.cfg)
        data = prepare(cfg, plan.archive, cache)
        check_fits(cfg, data)
        if summary is None:
            summary = data.summary()
    return summary


def run_plan(plan: Plan, dest: Path, clock: Clock | None = None, env: dict | None = None,
             name: str | None = None) -> Path:
    """Run `plan` into a new folder under `dest` (dest/runs or a sweep's points folder);
    returns the published folder. Raises UserError on bad input before any worker starts."""
    from shared.environment import capture
    from shared.paths import cache_root

    clock = clock or Clock()
    started = datetime.now(timezone.utc)
    base = baselines(plan.cases, plan.baseline) if plan.cases else {}
    cache = cache_root().resolve()
    clock.say("preparing the data (once, for every worker) ...")
    data = prepare_all(plan, cache)
    n_batches = data["n_train"] // plan.cfg.batch_size
    clock.say(f"data ({plan.cfg.workload}): {data['n_train']:,} train / {data['n_test']:,} test posts, V = {data['vocab_size']:,}, "
              f"{n_batches} batches of {plan.cfg.batch_size}; threads per case: {plan.cfg.thread_count}")
    concurrent = other_timing_run()
    if concurrent:
        clock.say(f"warning: {concurrent}")
    dest.mkdir(parents=True, exist_ok=True)
    swept = sweep_stale(dest)  # safe: this run holds the folder's lock, so no live run stages here
    if swept:
        clock.say(f"removed {swept} half-written folder(s) left in {dest} by earlier runs that were killed")
    name = name or rundata.run_name(started)
    staging = rundata.staging_dir(dest, name)
    try:
        write_atomic(staging / "config.json", json.dumps(plan.cfg.to_dict(), indent=2))
        env = env or child_env(plan.cfg.thread_count, cache)
        workers, gone, duet = [], dict(plan.unavailable), None
        order = [] if plan.duet_cores else schedule(plan.all_cases(), plan.processes)
        if plan.duet_cores:  # pairs started together instead of one worker at a time
            from benchmarks.harness import duet_runner
            workers, duet = duet_runner.run_pairs(clock, plan, staging, env, run_worker)
        else:
            clock.say(f"{len(plan.all_cases())} cases x {plan.processes} processes, interleaved: "
                      + " ".join(c.id for _, c in order[:len(plan.all_cases())]) + " ...")
        for slot, (k, case) in enumerate(order):
            if case.id in gone:
                if k == 0:
                    clock.say(f"{case.id}: not available on this machine ({gone[case.id]})")
                workers.append({"case": case.id, "index": k, "status": "unavailable", "reason": gone[case.id],
                                "json": None, "outcomes": {}, "slot": slot})
                continue
            rec = run_worker(clock, case, k, plan, staging, env)
            rec["slot"] = slot
            workers.append(rec)
            if rec["status"] == "unavailable":
                gone[case.id] = rec["reason"]
        finished = datetime.now(timezone.utc)
        failed = [w for w in workers if w["status"] == "failed"]
        manifest = {
            "schema": rundata.SCHEMA,
            "fwbench_version": fwbench_version(),
            "command": plan.command or shlex.join(sys.argv),
            "status": "failed" if failed else "complete",
            "kind": plan.kind,
            "label": plan.label,
            "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_utc": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round((finished - started).total_seconds(), 1),
            "quick": plan.quick,
            "processes": plan.processes,
            "min_effect": plan.min_effect,
            "phases": plan.phases,
            "rounds": {p: vars(plan.rounds_of(p)) for p in plan.phases},
            "cases": [c.to_dict() for c in plan.all_cases()],
            "baselines": {dev: c.id for dev, c in base.items()},
            **({"aa_pairs": plan.pairs} if plan.pairs else {}),
            **({"pilot": plan.pilot} if plan.pilot else {}),
            **({"shard": plan.shard} if plan.shard else {}),
            "threads": {"intra_op": plan.cfg.thread_count, "inter_op": INTEROP_THREADS,
                        "env": thread_env(plan.cfg.thread_count)},
            "execution": {"pin": plan.affinity, "gc": plan.gc},
            "duet": duet,
            "config": plan.cfg.to_dict(),
            "data": data,
            "environment": capture(),
            "warnings": [concurrent] if concurrent else [],
            "workers": workers,
        }
        write_atomic(staging / "manifest.json", json.dumps(manifest, indent=2, default=str))
        run = rundata.load_run(staging)
        rundata.write_tables(run, staging)
        if failed:
            dest_failed = dest.parent / "failed" if dest.name == "runs" else dest / "failed"
            out = rundata.publish(staging, dest_failed, name)
            clock.say(f"{len(failed)} worker(s) failed; record kept in {out} (nothing published)")
            for w in failed:
                print(f"--- {w['case']} #{w['index'] + 1}: {w['reason']}\n{w.get('stderr_tail', '')}", file=sys.stderr)
            raise RunFailed(out)
        return rundata.publish(staging, dest, name)
    except RunFailed:
        raise
    except BaseException:
        import shutil
        shutil.rmtree(staging, ignore_errors=True)
        raise


class RunFailed(Exception):
    """A worker failed; the record is at `path` (never under runs/, never latest)."""

    def __init__(self, path: Path):
        super().__init__(str(path))
        self.path = path
