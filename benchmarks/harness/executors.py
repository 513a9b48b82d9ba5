"""Where a plan's parts run: here, or as jobs of an existing scheduler through submitit.

    --executor local      in this process, one part after another (the default; today's behaviour)
    --executor slurm      one SLURM job per part (a job array), through submitit's SlurmExecutor
    --executor submitit   the same job path through submitit's LocalExecutor: every part a job
                          process on this machine; what the tests use, and a dry run of a cluster

A part is always a whole interleaved comparison (one run folder: a run, a shard of a matrix, a
sweep point), so a job never splits a comparison across machines. Each job runs on its node the
same code `--executor local` runs here, into a folder of its own (parallel jobs never share a
lock or a staging folder), and the caller moves what it published into the results folder. The
node records itself in the manifest (environment), so the machine of every part is known.

fwbench writes no scheduler, queue or remote execution of its own: submission, job arrays,
waiting and log files are submitit's; the results folder and the repository must be on a file
system the nodes share (as on every SLURM cluster), since jobs write their run folders there.
A job that fails, is cancelled or dies is an Outcome with an error: the caller names it as a
missing result, never a silent gap.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from shared.errors import UserError

LOCAL, SUBMITIT, SLURM = "local", "submitit", "slurm"
EXECUTORS = (LOCAL, SLURM, SUBMITIT)
SLURM_TIME_MIN = 60  # --slurm-time's default
LOCAL_TIMEOUT_MIN = 24 * 60  # submitit's local executor: a ceiling, not a budget (the run has its own)
JOBS = "jobs"  # <output>/jobs/<stamp>/: submitit's files per job and each job's own output folder


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", choices=EXECUTORS, default=LOCAL,
                   help="where the parts run: local (default: here, one after another), slurm (one SLURM job per "
                        "part through submitit, a job array; results and repository on a shared file system), "
                        "submitit (the job path with submitit's local executor: each part a job process here)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run part I of N of the plan (the cases besides the baselines of a run or matrix, or the "
                        "points of a sweep, dealt round-robin; every part keeps its baselines), e.g. --shard 2/3 on "
                        "the second of three CI runners; all/N: every part, each its own run folder (with a "
                        "scheduler, one job each). `fwbench collect` gathers the parts")
    p.add_argument("--slurm-partition", default=None, help="--executor slurm: the partition (default the cluster's)")
    p.add_argument("--slurm-time", type=int, default=None, metavar="MINUTES",
                   help=f"--executor slurm: each job's time limit in minutes (default {SLURM_TIME_MIN})")
    p.add_argument("--slurm-exclusive", action=argparse.BooleanOptionalAction, default=True,
                   help="--executor slurm: a node of its own per job, so nothing else runs beside a timing (default "
                        "on); --no-slurm-exclusive only where the cluster forbids it: other jobs may then share the "
                        "node and disturb the timings")
    p.add_argument("--slurm-option", action="append", default=[], metavar="KEY=VALUE",
                   help="--executor slurm: any other sbatch option, e.g. --slurm-option account=proj "
                        "--slurm-option constraint=epyc --slurm-option gres=gpu:1 (repeatable)")


def slurm_options(args) -> dict:
    out = {}
    for item in args.slurm_option or []:
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not sep or not key:
            raise UserError(f"--slurm-option {item!r} is not KEY=VALUE: e.g. --slurm-option account=myproject")
        if key in out:
            raise UserError(f"--slurm-option names {key} twice: give it once")
        out[key] = value.strip()
    return out


def check(args) -> None:
    """Bad executor input, before anything is written: options that only a scheduler reads given
    without one (never silently dropped), and a slurm executor on a machine that cannot submit."""
    kind = getattr(args, "executor", LOCAL)
    given = [o for o, v in (("--slurm-partition", args.slurm_partition), ("--slurm-option", args.slurm_option),
                            ("--slurm-time", args.slurm_time is not None), ("--no-slurm-exclusive", not args.slurm_exclusive))
             if v]
    if kind != SLURM and given:
        raise UserError(f"{given[0]} is read by --executor slurm only: add --executor slurm, or drop it")
    if kind == SLURM:
        if args.slurm_time is not None and args.slurm_time < 1:
            raise UserError(f"--slurm-time must be at least 1 minute, got {args.slurm_time}")
        slurm_options(args)
        if shutil.which("sbatch") is None:
            raise UserError("--executor slurm: there is no `sbatch` on PATH, so this machine cannot submit to SLURM: "
                            "run fwbench on the cluster's login node, or use --executor local")
    if kind != LOCAL:
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise UserError(f"--executor {kind} needs submitit, which is not installed: `make venv` installs it "
                            f"(or pip install submitit)") from None


@dataclass
class Part:
    name: str  # how messages and the collection name it: "shard 2/3", "point batch_size=64"
    fn: Callable  # a module-level function (submitit pickles it by reference), run on the node
    args: tuple


@dataclass
class Outcome:
    part: Part
    value: object = None  # what fn returned on the node
    error: str | None = None  # why the job gave no result (one line); None: it completed
    job_id: str | None = None
    log: Path | None = None  # the job's stderr, for the message


def executor(kind: str, folder: Path, args, n_parts: int):
    import submitit
    if kind == SUBMITIT:
        ex = submitit.LocalExecutor(folder=folder / "%j")
        ex.update_parameters(timeout_min=LOCAL_TIMEOUT_MIN)
        return ex
    ex = submitit.SlurmExecutor(folder=folder / "%j", max_num_timeout=0)
    params = dict(job_name="fwbench", time=args.slurm_time or SLURM_TIME_MIN, nodes=1, ntasks_per_node=1,
                  array_parallelism=max(1, n_parts), additional_parameters=slurm_options(args))
    if args.slurm_partition:
        params["partition"] = args.slurm_partition
    if args.slurm_exclusive:
        params["exclusive"] = True
    ex.update_parameters(**params)
    return ex


def run_parts(parts: list[Part], args, folder: Path, say: Callable[[str], None]) -> list[Outcome]:
    """Submit every part (one array on SLURM), wait for all, return one Outcome per part.

    A submission the scheduler refuses or cannot take (controller unreachable) is bad input
    raised before any job exists: UserError, nothing submitted, nothing written but `folder`'s
    submitit files, which the caller removes. Ctrl-C or SIGTERM while waiting cancels the jobs."""
    kind = args.executor
    folder.mkdir(parents=True, exist_ok=True)
    try:
        ex = executor(kind, folder, args, len(parts))
    except Exception as e:  # noqa: BLE001 - submitit checks the parameters (an --slurm-option it names itself)
        raise UserError(f"--executor {kind}: submitit refused the job parameters ({_first_line(e)}): check "
                        f"--slurm-option") from None
    told = []
    try:
        with _stderr_to(told), ex.batch():
            delayed = [ex.submit(p.fn, *p.args) for p in parts]
    except Exception as e:  # noqa: BLE001 - submitit wraps sbatch's own message; one line of it
        why = next((ln for ln in reversed(told) if "error" in ln.lower()), None) or _first_line(e)
        raise UserError(f"--executor {kind}: the scheduler did not take the jobs ({why}): check that "
                        f"`sinfo` answers here, or use --executor local") from None
    for line in told:  # a submission that worked: whatever sbatch said is passed on
        print(line, file=sys.stderr)
    jobs = list(delayed)
    say(f"submitted {len(jobs)} job(s) to {kind}: " + ", ".join(f"{p.name} = job {j.job_id}" for p, j in zip(parts, jobs))
        + f"; their logs are in {folder}")
    outcomes, noise = [], []
    import logging
    log, quiet = logging.getLogger("submitit"), _PollingNoise()
    log.addFilter(quiet)  # submitit logs each poll's warning to stdout and stderr both
    try:
        with _stderr_to(noise):  # passed on after the wait, less the polling noise
            _wait(parts, jobs, outcomes, say)
    except BaseException:
        for j in jobs:
            try:
                j.cancel(check=False)
            except Exception:  # noqa: BLE001 - best effort: the scheduler may have finished it already
                pass
        raise
    finally:
        log.removeFilter(quiet)
        for line in noise:
            if not any(n in line for n in POLLING_NOISE):
                print(line, file=sys.stderr)
    return outcomes


# What status polling prints on a cluster without job accounting (sacct cannot answer; submitit
# then reads the job's own result files, so nothing is lost): said once per poll, it says nothing.
POLLING_NOISE = ("accounting storage is disabled", "Bypassing sacct error")


class _PollingNoise:
    def filter(self, record) -> bool:
        return not any(n in record.getMessage() for n in POLLING_NOISE)


def _wait(parts, jobs, outcomes, say) -> None:
    for p, j in zip(parts, jobs):
        out = Outcome(p, job_id=str(j.job_id), log=Path(j.paths.stderr))
        try:
            gone = _until_done(j)
            if gone:
                out.error = f"job {j.job_id} ({gone}) gave no result: it ended without writing one"
            else:
                out.value = j.result()
        except Exception as e:  # noqa: BLE001 - failed, cancelled, timed out, node lost: all a named gap
            out.error = f"job {j.job_id} ({_state(j)}) gave no result: {_first_line(e)}"
        say(f"{p.name}: job {j.job_id} " + ("finished" if out.error is None else f"failed: {out.error}"))
        outcomes.append(out)


@contextlib.contextmanager
def _stderr_to(lines: list[str]):
    """What sbatch writes to the inherited stderr during submission, kept as lines instead, so a
    refused submission is told in one line (the command's), not sbatch's and then ours."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines += [ln.rstrip() for ln in tmp.read().splitlines() if ln.strip()]


# SLURM job states after which no result will come (scontrol's words).
ENDED = {"CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE",
         "COMPLETED", "SPECIAL_EXIT", "REVOKED"}
GRACE_S = 20  # a job's result file may land on a shared file system a little after the job ends
POLL_S = 2


def _until_done(job) -> str | None:
    """Wait for a job; None when submitit sees it done (result or error), else the state in which
    the controller says it ended without a result. submitit reads job states from accounting
    (sacct); on a cluster without accounting it cannot tell a cancelled job from a running one and
    would wait for ever, so the controller's own view (scontrol) is asked as well."""
    import time
    ended_at = None
    while not job.done():
        if type(job).__name__ == "SlurmJob":
            state = _controller_state(str(job.job_id))
            if state in ENDED:
                ended_at = ended_at or time.monotonic()
                if time.monotonic() - ended_at > GRACE_S and not job.done():
                    return state
        time.sleep(POLL_S)
    return None


def _controller_state(job_id: str) -> str | None:
    """The job's state as slurmctld tells it; "PURGED" once the controller no longer knows the job."""
    import subprocess
    try:
        proc = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return "PURGED" if "invalid job id" in (proc.stderr or "").lower() else None
    for token in proc.stdout.split():
        if token.startswith("JobState="):
            return token.split("=", 1)[1]
    return None


def _state(job) -> str:
    try:
        return str(job.state)
    except Exception:  # noqa: BLE001
        return "state unknown"


def _first_line(e: BaseException) -> str:
    """The informative line of a scheduler's or a job's error: submitit puts the job's traceback
    after its own line, so the last 'Error'/'error:' line that is not a traceback frame."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    told = [ln for ln in lines if ("error" in ln.lower() or "exit" in ln.lower()) and not ln.startswith("File ")]
    text = (told[-1] if told else lines[0] if lines else type(e).__name__)
    return " ".join(text.split())[:300]


# --------------------------------------------------------------------------- what a job runs

def job_argv(argv: list[str], **options: str) -> list[str]:
    """The typed command with options replaced: appended after it, so argparse's last value wins
    whatever spelling the user typed (--executor=slurm, --exec slurm)."""
    out = list(argv)
    for key, value in options.items():
        out += [f"--{key.replace('_', '-')}", value]
    return out


def last_error_line(log: Path | None) -> str | None:
    """The node's own one-line error (`fwbench ...: error: ...`) from a job's log, if it wrote one."""
    try:
        lines = [ln.strip() for ln in Path(log).read_text(errors="replace").splitlines()] if log else []
    except OSError:
        return None
    told = [ln for ln in lines if ln.startswith("fwbench ") and ": error: " in ln]
    return told[-1] if told else None
