"""`fwbench run/sweep --executor slurm|submitit`: each part of the plan a scheduler job, and its
run folder brought back into the results folder.

Every job runs into a folder of its own under <output>/jobs/<stamp>/ (submitit's files per job
beside it), so parallel jobs never share a lock or a staging folder; when it finishes, its
published run folder is renamed into <output>/runs/ (a run or shard) or the sweep's points/ (a
sweep point). A job that fails, is cancelled or dies is named in one line (exit 2) with its log;
the parts that finished are kept, so nothing is lost and the missing part can be rerun alone
(`--shard I/N`, `fwbench sweep --resume`).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from benchmarks.analysis import rundata
from benchmarks.harness import executors
from benchmarks.model.sweeps import POINTS
from shared.errors import UserError


def _jobs_folder(output: Path, what: str) -> Path:
    return output / executors.JOBS / f"{rundata.run_name()}-{what}"


def _discard(folder: Path, output: Path, created: bool) -> None:
    """After a refused submission: remove the jobs folder, and the output folder if this command made it."""
    shutil.rmtree(folder, ignore_errors=True)
    for p in (folder.parent, output):
        try:
            if p == output and not created:
                break
            if {q.name for q in p.iterdir()} <= {".fwbench.lock"}:
                (p / ".fwbench.lock").unlink(missing_ok=True)
                p.rmdir()
        except OSError:
            pass


def _why(out: executors.Outcome, status) -> str:
    """The one line that says why a part has no result: the node's own error line, else the job's."""
    told = executors.last_error_line(out.log)
    if out.error is None and status == 1:
        return "a worker failed"
    return f"{told or out.error or f'exit status {status}'} (log: {out.log})"


def cli_job(argv: list[str], cwd: str) -> int:
    """One fwbench command on the node, as typed here (with --executor local and its own --output):
    its exit status (0 done, 1 a worker failed, 2 bad input the node found). Never raises for
    those, so the caller reads the status and the node's one line from the job's log."""
    os.chdir(cwd)
    from benchmarks.cli import main_entry
    sys.argv = ["fwbench", *argv]  # the manifest's "command" is the command, not submitit's job runner
    return main_entry(list(argv))


def check_data(plans: list) -> None:
    """Every part's data prepared and checked here before any job is submitted (as a local run
    does before its first worker): a setting the data cannot honour is one line now, not N jobs' logs."""
    from benchmarks.harness.runner import prepare_all
    from shared.paths import cache_root
    for plan in plans:
        prepare_all(plan, cache_root().resolve())


def submit_run(args, output: Path, shard, parts: list) -> int:
    """`fwbench run` through a scheduler: one job per part (the whole run, or each shard)."""
    from benchmarks.harness.runner import FolderLock
    argv = getattr(args, "_argv", None)
    if not argv:
        raise UserError(f"--executor {args.executor}: the command line is not known here; run it as `fwbench run ...`")
    existed = output.exists()
    output.mkdir(parents=True, exist_ok=True)
    with FolderLock(output):
        jobs = _jobs_folder(output, "run")
        todo = []
        for i, plan in parts:
            name = "whole run" if i is None else f"shard {i}/{shard.of}"
            own = (jobs / ("whole" if i is None else f"shard-{i}of{shard.of}")).resolve()
            extra = {"executor": executors.LOCAL, "output": str(own)}
            if i is not None:
                extra["shard"] = f"{i}/{shard.of}"
            todo.append((executors.Part(name, cli_job, (executors.job_argv(argv, **extra), os.getcwd())),
                         own))
        try:
            outcomes = executors.run_parts([p for p, _ in todo], args, jobs, print)
        except UserError:
            _discard(jobs, output, not existed)
            raise
        lost, kept = {}, []
        for out, (part, own) in zip(outcomes, todo):
            status = out.value if out.error is None else None
            for sub, dest in (("runs", output / "runs"), ("failed", output / "failed")):
                for run_dir in sorted(p for p in (own / sub).glob("*") if (p / rundata.MANIFEST).is_file()):
                    moved = rundata.publish(run_dir, dest, run_dir.name)
                    if sub == "runs":
                        kept.append(moved)
                        if _kind(moved) == "full":
                            rundata.point_latest(output, moved)
                    print(f"{part.name}: {'run folder' if sub == 'runs' else 'failed run kept in'} {moved}")
            if status != 0:
                lost[part.name] = _why(out, status)
            shutil.rmtree(own, ignore_errors=True)  # emptied: submitit's log of the job stays in its own folder
    if lost:
        raise UserError(f"{len(lost)} of {len(parts)} part(s) got no result: "
                        + "; ".join(f"{k}: {why}" for k, why in lost.items())
                        + (f"; the others are kept in {output / 'runs'}" if kept else "")
                        + (": rerun the missing part(s) alone with --shard I/N" if shard is not None
                           else ": run the command again"))
    return 0


def _kind(run_dir: Path) -> str | None:
    import json
    try:
        return json.loads((run_dir / rundata.MANIFEST).read_text()).get("kind")
    except (OSError, ValueError):
        return None


def submit_points(args, folder: Path, points: list[tuple[int, str]], say, created: bool, run_point_job) -> tuple:
    """Sweep points through a scheduler (a job array, one job per point; `run_point_job` is the
    sweep's own, run on the node). Returns (points whose worker failed, {point: why it got no
    result}); the finished points are in folder/points."""
    jobs = _jobs_folder(folder, "points")
    todo = []
    for v, name in points:
        own = (jobs / name).resolve()
        todo.append((executors.Part(f"point {name}", run_point_job, (str(folder.resolve()), v, str(own), os.getcwd())),
                     name, own))
    try:
        outcomes = executors.run_parts([p for p, _, _ in todo], args, jobs, say)
    except UserError:
        shutil.rmtree(jobs, ignore_errors=True)
        if created:  # the sweep folder was this command's: nothing of it is left behind
            shutil.rmtree(folder, ignore_errors=True)
        raise
    failed, lost = [], {}
    for out, (part, name, own) in zip(outcomes, todo):
        value = out.value if isinstance(out.value, dict) else {}
        if out.error is None and value.get("path") and (Path(value["path"]) / rundata.MANIFEST).is_file():
            (folder / POINTS).mkdir(parents=True, exist_ok=True)
            os.rename(value["path"], folder / POINTS / name)  # same file system: atomic, as run_plan publishes
            say(f"point {name}: done (job {out.job_id})")
        elif out.error is None and value.get("failed"):
            moved = rundata.publish(Path(value["failed"]), folder / POINTS / "failed", name)
            say(f"point {name}: a worker failed (record: {moved})")
            failed.append(name)
        else:
            lost[name] = _why(out, None)
        shutil.rmtree(own, ignore_errors=True)  # emptied: submitit's log of the job stays in its own folder
    return failed, lost
