"""`fwbench run`: the benchmark suite, one pytest process per (framework, device), merged into a
new run folder results/runs/<UTC stamp>-<host>/ and pointed to by results/latest.

Exit status: 0 when every requested row that this machine can run ran; 1 when a benchmark
process failed (its record goes to <output>/failed/, never to runs/ or latest); 2 on bad input.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections import deque
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from benchmarks import results
from benchmarks.phases import ALL_PHASES, FRAMEWORK_PHASES, SHARED_PHASES, rounds_for
from benchmarks.cli import add_config_arguments, config_from_args
from shared.errors import UserError

REPO = Path(__file__).resolve().parents[1]
TEST_FILE = REPO / "benchmarks" / "test_bench.py"
PROGRESS_MARK = "@@fwbench "  # benchmarks/conftest.py prints it; not imported here to keep pytest out
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--frameworks", default="torch,tensorflow",
                   help="comma-separated, each optionally FRAMEWORK:VARIANT, e.g. tensorflow:xla (default torch,tensorflow)")
    p.add_argument("--devices", default="auto",
                   help="cpu, gpu or auto (cpu, plus gpu rows: run where a GPU is present, else marked "
                        "'not available on this machine'); comma-separated (default auto)")
    p.add_argument("--phases", default=None, help=f"comma-separated subset of {', '.join(ALL_PHASES)} (default all)")
    p.add_argument("--quick", action="store_true", help="a few rounds per phase: a smoke test, not a measurement")
    p.add_argument("--output", default="results", help="results folder (default results/)")


def parse_frameworks(text: str) -> list[tuple[str, str | None]]:
    from shared.registry import canonical
    out = []
    for item in [t.strip() for t in text.split(",") if t.strip()]:
        name, _, variant = item.partition(":")
        fw = canonical(name)
        if fw in [f for f, _ in out]:
            raise UserError(f"framework {fw!r} is named twice in --frameworks: one variant per framework and run")
        out.append((fw, variant or None))
    if not out:
        raise UserError("--frameworks is empty: name at least one of torch, tensorflow")
    return out


def machine_has_gpu() -> bool:
    from shared.environment import gpus
    nv = Path("/proc/driver/nvidia/gpus")
    return bool(gpus()) or (nv.is_dir() and any(nv.iterdir()))


def parse_devices(text: str, has_gpu: bool) -> list[str]:
    items = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [d for d in items if d not in ("cpu", "gpu", "auto")]
    if bad or not items:
        raise UserError(f"unknown device {bad[0] if bad else text!r} in --devices: use cpu, gpu or auto")
    if "gpu" in items and not has_gpu:
        raise UserError("--devices gpu was asked for but this machine has no NVIDIA GPU: "
                        "use --devices cpu, or auto to mark the GPU rows as not available")
    devices = []
    for d in items:
        for dev in (("cpu", "gpu") if d == "auto" else (d,)):
            if dev not in devices:
                devices.append(dev)
    return devices


def parse_phases(text: str | None) -> list[str]:
    if not text:
        return list(ALL_PHASES)
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [p for p in items if p not in ALL_PHASES]
    if bad or not items:
        raise UserError(f"unknown phase {bad[0] if bad else text!r} in --phases: choose from {', '.join(ALL_PHASES)}")
    return [p for p in ALL_PHASES if p in items]


class Clock:
    def __init__(self):
        self.t0 = time.perf_counter()

    def say(self, text: str) -> None:
        print(f"[{time.perf_counter() - self.t0:7.1f}s] {text}", flush=True)


def child_env(threads: int, cache: Path) -> dict:
    env = dict(os.environ)
    env.update({k: str(threads) for k in THREAD_ENV})
    env.update(TF_NUM_INTEROP_THREADS="1", PYTHONUNBUFFERED="1", FWBENCH_CACHE=str(cache))
    return env


def run_process(clock: Clock, fw: str, variant: str | None, device: str, phases: list[str], args, staging: Path,
                config_path: Path, env: dict) -> dict:
    """One pytest process; returns its manifest record."""
    tag = f"{fw}/{device}"
    json_name, log_name = results.bench_name(fw, device), f"pytest-{fw}-{device}.log"
    status_path = staging / f".status-{fw}-{device}.json"
    cmd = [sys.executable, "-m", "pytest", str(TEST_FILE), "-p", "no:cacheprovider", "-q",
           f"--benchmark-json={staging / json_name}", "--benchmark-save-data",
           "--fw", fw, "--device", device, "--config-json", str(config_path), "--status-json", str(status_path),
           "--phases", ",".join(phases)]
    cmd += ["--quick"] if args.quick else []
    cmd += ["--archive", str(Path(args.archive).resolve())] if args.archive else []
    cmd += ["--variant", variant] if variant else []
    record = {"framework": fw, "variant": variant, "device": device, "json": json_name, "log": log_name,
              "command": shlex.join(cmd)}
    clock.say(f"{tag}: starting pytest ({len(phases)} phases)")
    t0, tail, starts = time.perf_counter(), deque(maxlen=40), {}
    with open(staging / log_name, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
    status = json.loads(status_path.read_text()) if status_path.is_file() else {}
    status_path.unlink(missing_ok=True)
    if status.get("user_error"):  # bad input only the framework's process could judge (a variant name)
        raise UserError(f"{tag}: {status['user_error']}")
    record.update(runtime=status.get("runtime"), outcomes=status.get("outcomes", {}))
    if status.get("unavailable") and rc == 0:
        record.update(status="unavailable", reason=status["unavailable"])
        (staging / json_name).unlink(missing_ok=True)
    elif rc == 0:  # every phase ran or was skipped with a reason (then there may be no JSON)
        record.update(status="ok", reason=None, json=json_name if (staging / json_name).is_file() else None)
    else:
        failed = [p for p, o in record["outcomes"].items() if o.get("outcome") == "failed"]
        why = f"phase {failed[0]}: {record['outcomes'][failed[0]]['reason']}" if failed else f"pytest exit status {rc}"
        record.update(status="failed", reason=why, stderr_tail="\n".join(tail))
    if record["status"] == "ok" and record["json"]:
        labels = [b["extra_info"].get("variant_label") for b in json.loads((staging / json_name).read_text())["benchmarks"]]
        record["label"] = next((l for l in labels if l), None)
    clock.say(f"{tag}: {record['status']}" + (f" ({record['reason']})" if record["reason"] else "")
              + f" in {record['seconds']:.1f} s")
    return record


def _progress(clock: Clock, tag: str, ev: dict, starts: dict) -> None:
    phase = ev.get("phase")
    if ev["event"] == "start":
        starts[phase] = time.perf_counter()
        clock.say(f"{tag}: {phase} ({ev['rounds']} rounds + {ev['warmup']} warm-up) ...")
    elif ev.get("outcome") == "passed":
        took = time.perf_counter() - starts.get(phase, time.perf_counter())
        clock.say(f"{tag}: {phase} done in {took:.1f} s: median {results.fmt_time(ev['median'])}, "
                  f"IQR {results.fmt_time(ev['iqr'])}")
    else:
        clock.say(f"{tag}: {phase} {ev.get('outcome')}: {ev.get('reason')}")


def main(args: argparse.Namespace) -> int:
    from shared.dataset import check_fits, prepare
    from shared.environment import capture
    from shared.paths import cache_root

    clock = Clock()
    started = datetime.now(timezone.utc)
    cfg = config_from_args(args)
    frameworks = parse_frameworks(args.frameworks)
    has_gpu = machine_has_gpu()
    devices = parse_devices(args.devices, has_gpu)
    phases = parse_phases(args.phases)
    fw_phases = [p for p in phases if p in FRAMEWORK_PHASES]
    sh_phases = [p for p in phases if p in SHARED_PHASES]
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is not a folder: name a folder for the run folders")

    # Fail fast on bad data or hyper-parameters, and fill the cache every process then reads.
    clock.say("preparing the data (once, for every process) ...")
    cache = cache_root().resolve()
    data = prepare(cfg, args.archive, cache)
    check_fits(cfg, data)
    s = data.summary()
    clock.say(f"data: {s['n_train']:,} train / {s['n_test']:,} test posts, V = {s['vocab_size']:,}, "
              f"{s['n_train'] // cfg.batch_size} batches of {cfg.batch_size}; threads per framework: {cfg.thread_count}")

    name = results.run_name(started)
    staging = results.staging_dir(output / "runs", name)
    try:
        config_path = staging / "config.json"
        config_path.write_text(json.dumps(cfg.to_dict(), indent=2))
        env = child_env(cfg.thread_count, cache)
        processes = []
        if sh_phases:
            processes.append(run_process(clock, "shared", None, "cpu", sh_phases, args, staging, config_path, env))
        for device in devices:
            for fw, variant in frameworks:
                if not fw_phases:
                    continue
                if device == "gpu" and not has_gpu:
                    clock.say(f"{fw}/gpu: not available on this machine (no NVIDIA GPU found)")
                    processes.append({"framework": fw, "variant": variant, "device": device, "status": "unavailable",
                                      "reason": "no NVIDIA GPU found", "json": None, "outcomes": {}})
                    continue
                processes.append(run_process(clock, fw, variant, device, fw_phases, args, staging, config_path, env))

        demanded = "gpu" in [d.strip().lower() for d in args.devices.split(",")]
        refused = [p for p in processes if p["device"] == "gpu" and p["status"] == "unavailable"]
        if demanded and refused:  # --devices gpu is a demand; auto only reports what is missing
            raise UserError(f"--devices gpu was asked for but {refused[0]['framework']} cannot use it "
                            f"({refused[0]['reason']}): use --devices auto or cpu, or install its GPU build")
        fws = [fw for fw, _ in frameworks]
        columns, rows = results.merge(staging, processes, fws, devices, phases)
        results.write_csv(staging / "results.csv", columns, rows)
        table = results.markdown(columns, rows, fws)
        if args.quick:
            table = "Quick run (--quick: a few rounds per phase): a smoke test, not a measurement.\n\n" + table
        (staging / "results.md").write_text(table)
        failed = [p for p in processes if p["status"] == "failed"]
        finished = datetime.now(timezone.utc)
        manifest = {
            "fwbench_version": version("fwbench"),
            "command": shlex.join(["fwbench", *sys.argv[1:]]) if Path(sys.argv[0]).name == "fwbench" else shlex.join(sys.argv),
            "argv": sys.argv,
            "status": "failed" if failed else "complete",
            "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_utc": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round((finished - started).total_seconds(), 1),
            "quick": bool(args.quick),
            "frameworks": [{"framework": fw, "variant": v} for fw, v in frameworks],
            "devices": devices,
            "phases": phases,
            "rounds": {p: vars(rounds_for(p, args.quick)) for p in phases},
            "config": cfg.to_dict(),
            "data": s,
            "environment": capture(),
            "child_env": {k: env[k] for k in (*THREAD_ENV, "TF_NUM_INTEROP_THREADS", "FWBENCH_CACHE")},
            "runtimes": {f"{p['framework']}-{p['device']}": p["runtime"] for p in processes if p.get("runtime")},
            "processes": processes,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        if failed:
            dest = results.publish(staging, output / "failed", name)
            clock.say(f"{len(failed)} benchmark process(es) failed; record kept in {dest} (results/latest unchanged)")
            for p in failed:
                print(f"--- {p['framework']}/{p['device']}: {p['reason']}\n{p.get('stderr_tail', '')}", file=sys.stderr)
            return 1
        run_dir = results.publish(staging, output / "runs", name)
    except BaseException:
        import shutil
        shutil.rmtree(staging, ignore_errors=True)
        raise
    results.point_latest(output, run_dir)
    _report(clock, run_dir)
    print()
    print(table)
    clock.say(f"run folder: {run_dir} (also {output / 'latest'})")
    return 0


def _report(clock: Clock, run_dir: Path) -> None:
    """The narrative report is derived from the run folder, so its failure never fails the run."""
    from benchmarks import report
    try:
        clock.say(f"report: {report.write_report(run_dir)}")
    except Exception as e:  # `fwbench report` can regenerate it
        clock.say(f"report not written ({type(e).__name__}: {e}); run `fwbench report {run_dir}` to retry")
