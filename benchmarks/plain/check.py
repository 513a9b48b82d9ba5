"""`fwbench plain`: each twin against a plain script of the same model, timed interleaved.

    fwbench plain [--workload W] [--cases torch,torch:fused,jax,...] [--processes 4] [--epochs 7] [--init shared|own]
                  [--reference 'CASE=COMMAND' ...]

For every case, K pairs of fresh processes: the plain script (the workload's Workload.plain module,
benchmarks/plain/*_script.py or benchmarks/plain/workloads/<workload>/*_script.py) and
the project's twin through benchmarks/harness/bare_loop.py (the harness's own batches and timed epoch
callable), the order alternating pair by pair and the cases rotating, so drift falls on both
sides. Both get the same thread budget (set through the framework's API, read back) and, with
--init shared (the default), the same initial weights, so both follow one training trajectory:
the same number of denormal values in Adam's state, which PyTorch computes at full cost
(README, "Fairness"). Each process gives the median of its warm epochs (the first is left out,
as the harness's warm-up); twin / plain is the suite's process-level ratio (benchmarks/analysis/stats.py)
with its 95% interval, and the suite's verdict with TOLERANCE as the minimum effect: "equivalent"
(as fast as its plain script) when the 90% interval lies within [1/(1+TOLERANCE), 1+TOLERANCE]. The first epoch's step losses of the two sides are compared too: with
shared weights they must agree, or the timing compares different computations.

With --reference CASE=COMMAND, an external script of the user's (any script that prints its epoch
times by the protocol of benchmarks/plain/reference.py) runs as a third process beside each pair,
the three in rotating order, with the same thread budget; its column holds twin / reference and
plain / reference with the same intervals and verdicts. It starts from its own initial weights
unless its command takes {weights}. A reference that fails (no RESULT line, a crash, malformed
times, another thread count) is named as a failed column; the rest of the check is kept and
written, and the command then exits 2.

Writes <output>/<stamp>-<host>/plain.json and report.md; --into RUN puts plain.json into a run
folder instead, whose report then shows the "Twin against plain script" section.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.plain.reference import ReferenceFailed
from benchmarks.plain.summary import TOLERANCE, summarise
from shared.errors import UserError

# Relative difference of a first-epoch step loss between twin and plain script, shared weights:
# both run the same float32 ops in the same order except where the two differ in how they
# express them (Keras' loss object against tf.nn's, nn.Sequential against the twin's loop, jnp.var
# in the JAX Transformer's LayerNorm against the twin's written-out variance), so they agree to
# rounding. A formula difference shows at the first steps, far above this.
LOSS_RTOL = 1e-4
DEFAULT_OUTPUT = Path("results") / "plain-cpu"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from benchmarks.model.options import add_workload_argument
    add_workload_argument(p)
    p.add_argument("--cases", default=None,
                   help="FRAMEWORK[:VARIANT],... (default: every variant of each of the workload's plain scripts)")
    p.add_argument("--processes", type=int, default=4, help="process pairs per case (default 4)")
    p.add_argument("--epochs", type=int, default=7, help="epochs per process, the first left out (default 7)")
    p.add_argument("--init", choices=["shared", "own"], default="shared",
                   help="shared: both start from the suite's initial weights (like for like, default); own: the "
                        "plain script keeps its framework's initialisation, as a user's script would")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: usable cores)")
    p.add_argument("--reference", action="append", default=[], metavar="CASE=COMMAND",
                   help="also time COMMAND, a script that prints `RESULT {json}` with epoch_times_s, beside the "
                        "case (placeholders {python} {epochs} {threads} {seed} {weights}); repeat per case; "
                        "README, 'Your own script as a reference'")
    p.add_argument("--force", action="store_true", help="allow --threads above the usable cores")
    p.add_argument("--archive", default=None)
    p.add_argument("--output", type=Path, default=None,
                   help=f"folder for the check's own run folder (default {DEFAULT_OUTPUT}); not with --into")
    p.add_argument("--into", type=Path, default=None, help="write plain.json into this run folder instead")
    p.add_argument("--report", type=Path, default=None, metavar="FOLDER",
                   help="only rewrite FOLDER/report.md from its plain.json (times nothing)")


def _scripts(workload: str) -> dict[str, str]:
    """framework -> the workload's plain script module (Workload.plain)."""
    from shared import workloads
    return dict(workloads.get(workload).plain)


def installed(fw: str) -> bool:
    """Whether the framework's package is importable here (JAX is an optional install), asked
    without importing it: its first declared package is the one a script imports."""
    import importlib.util
    from shared import registry
    return importlib.util.find_spec(registry.facts(fw).PACKAGES[0]) is not None


def not_installed(fw: str) -> str:
    from shared import registry
    return f"{fw} is not installed in this environment: {registry.facts(fw).INSTALL['cpu']}"


def default_cases(workload: str, log=None) -> str:
    """Every variant of each of the workload's plain scripts, framework by framework (its
    Workload.plain, each script's VARIANTS): what the check runs without --cases. A framework not
    installed here is left out, and `log` says so (named cases of it are refused instead)."""
    frameworks = [fw for fw in _scripts(workload) if installed(fw)]
    for fw in _scripts(workload):
        if fw not in frameworks and log is not None:
            log(f"plain: leaving out {fw}'s plain scripts: {not_installed(fw)}")
    return ",".join(f"{fw}:{v}" for fw in frameworks for v in _script_variants(fw, workload))


def _cases(text: str, workload: str):
    from benchmarks.model.cases import parse_case
    out = []
    for item in [t for t in text.split(",") if t.strip()]:
        case = parse_case(item, "cpu")
        if case.device != "cpu":
            raise UserError(f"case {item!r}: the plain-script check runs on the CPU only")
        if case.overrides:
            raise UserError(f"case {item!r}: the plain scripts take no setting overrides; drop [{item.split('[', 1)[-1]}")
        script = _script_variants(case.framework, workload)
        if case.variant not in script:
            raise UserError(f"case {item!r}: the plain {case.framework} script has no variant {case.variant!r}: "
                            f"choose from {', '.join(script)}")
        if case in out:
            raise UserError(f"case {item!r} is named twice: list each case once")
        if not installed(case.framework):
            raise UserError(f"case {item!r}: {not_installed(case.framework)}; or leave its cases out of --cases")
        out.append(case)
    if not out:
        raise UserError("no cases: e.g. --cases torch,tensorflow")
    return out


def _script_variants(fw: str, workload: str) -> tuple[str, ...]:
    scripts = _scripts(workload)
    if fw not in scripts:
        raise UserError(f"workload {workload} has no plain script for {fw}: it has them for {', '.join(scripts) or 'none'}")
    # read without importing the framework: the tuple literal in the script
    import ast
    import importlib.util
    src = Path(importlib.util.find_spec(scripts[fw]).origin).read_text()
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "VARIANTS":
            return tuple(ast.literal_eval(node.value))
    raise RuntimeError(f"{scripts[fw]} declares no VARIANTS")


def rotation(cases: list, k: int) -> list:
    """The order of the cases in process pair k: rotated by one each pair, so no case always runs
    first (with side_order, drift falls on every case and every side alike)."""
    return cases[k % len(cases):] + cases[:k % len(cases)]


def _side_command(side: str, case, args, threads: int, weights: Path | None, out: Path, workload: str) -> list[str]:
    """Both sides train the workload's defaults (the plain script's own, the twin's through
    --workload), with the run's thread budget."""
    common = ["--threads", str(threads), "--json", str(out)]
    if args.archive:
        common += ["--archive", args.archive]
    if side == "plain":
        cmd = [sys.executable, "-m", _scripts(workload)[case.framework], "--variant", case.variant,
               "--epochs", str(args.epochs)]
        return cmd + (["--weights", str(weights)] if weights else []) + common
    return [sys.executable, "-m", "benchmarks.harness.bare_loop", "--fw", case.framework, "--variant", case.variant,
            "--workload", workload, "--rounds", str(args.epochs - 1)] + common


def _references(specs: list[str], cases, init: str) -> dict:
    """--reference CASE=COMMAND items -> {case id: Reference}, each checked before any timing."""
    from benchmarks.plain.reference import parse_spec
    ids = [c.id for c in cases]
    out = {}
    for text in specs:
        ref = parse_spec(text, ids)
        if ref.case in out:
            raise UserError(f"--reference names {ref.case} twice: give one reference script per case")
        if "{weights}" in ref.template and init != "shared":
            raise UserError(f"--reference for {ref.case}: {{weights}} needs --init shared (the suite's initial "
                            f"weights); drop {{weights}} or --init {init}")
        out[ref.case] = ref
    return out


def side_order(k: int, with_reference: bool) -> tuple[str, ...]:
    """The order of one process pair's sides (k: the pair's index plus the case's): plain and twin
    alternate; with a reference the three rotate, so each side runs first, second and third equally
    often over three pairs and drift falls on all of them."""
    if not with_reference:
        return ("plain", "twin") if k % 2 == 0 else ("twin", "plain")
    sides = ("plain", "twin", "reference")
    return sides[k % 3:] + sides[:k % 3]


def reference_run(ref, epochs: int, threads: int, seed: int, weights: Path | None, env: dict) -> dict:
    """One process of the reference script, with the environment the other two sides get."""
    from benchmarks.plain.reference import run
    return run(ref.argv(epochs=epochs, threads=threads, seed=seed, weights=weights), env, epochs, threads)


def _reference_status(ref_docs: dict, where: Path) -> int:
    """0, or a UserError naming every failed reference column once the rest is written."""
    failed = [f"{cid}: {r['failed']}" for cid, r in ref_docs.items() if r["failed"]]
    if failed:
        raise UserError(f"reference script failed ({'; '.join(failed)}); the other sides' figures are written "
                        f"to {where}: fix the script and rerun")
    return 0


def _run_side(cmd: list[str], env: dict, what: str) -> dict:
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    out = Path(cmd[cmd.index("--json") + 1])
    if p.returncode != 0 or not out.exists():
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"{what} failed (exit {p.returncode}): {tail}")
    return json.loads(out.read_text())


def rewrite_report(folder: Path) -> Path:
    """report.md of a plain-check folder from its plain.json, as the check wrote it."""
    from benchmarks.plain.report import PLAIN_FILE, render
    from shared.atomic import write_atomic
    path = folder / PLAIN_FILE
    if not path.is_file():
        raise UserError(f"{folder}: no {PLAIN_FILE} there; give a folder `fwbench plain` wrote")
    from benchmarks.plain.report import check_doc
    try:
        doc = check_doc(json.loads(path.read_text()), path)
        text = render(doc, standalone=True)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: unreadable plain-script check ({e})") from None
    from benchmarks.reports import html
    return html.publish_markdown(folder / "report.md", text)  # report.md and report.html


def main(args: argparse.Namespace) -> int:
    if args.report is not None:
        given = [f"--{k}" for k, v in (("cases", args.cases is not None), ("processes", args.processes != 4),
                                      ("epochs", args.epochs != 7), ("init", args.init != "shared"),
                                      ("into", args.into is not None), ("threads", args.threads is not None),
                                      ("reference", bool(args.reference)),
                                      ("output", args.output is not None), ("force", args.force)) if v]
        if given:
            raise UserError(f"--report only rewrites a report and times nothing: drop {', '.join(given)}")
        print(f"wrote {rewrite_report(args.report)}")
        return 0
    from benchmarks.harness.runner import child_env, other_timing_run
    from shared.config import ExperimentConfig
    from shared.dataset import prepare
    from shared.environment import capture
    from shared.paths import cache_root
    from shared.training import start_weights
    from shared.workloads.base import flatten
    from benchmarks.plain.common import save_arrays

    if args.processes < 2:
        raise UserError("--processes must be at least 2: the interval is built from process pairs")
    if args.epochs < 2:
        raise UserError("--epochs must be at least 2: the first epoch is left out as warm-up")
    if args.into is not None and not (args.into / "manifest.json").is_file():
        raise UserError(f"--into {args.into}: not a run folder (no manifest.json there)")
    if args.into is not None and args.output is not None:
        raise UserError("--into puts plain.json into a run folder and --output makes a new folder: give one")
    output = DEFAULT_OUTPUT if args.output is None else args.output
    from shared import workloads
    workload = workloads.canonical(args.workload)
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    cases = _cases(default_cases(workload, log) if args.cases is None else args.cases, workload)
    references = _references(args.reference, cases, args.init)
    from shared.environment import usable_cores
    cores = usable_cores()
    if args.threads is not None and args.threads > cores and not args.force:
        raise UserError(f"--threads {args.threads} is more than the {cores} usable cores: oversubscribed threads "
                        f"measure the scheduler, not the framework; use --threads <= {cores}, or --force")
    cfg = ExperimentConfig(workload=workload, threads=args.threads)
    threads = cfg.thread_count
    warning = other_timing_run()
    if warning:
        print(f"fwbench plain: warning: {warning}", file=sys.stderr)
    data = prepare(cfg, args.archive)  # once, before any timing: every process then loads the cache
    env = child_env(threads, cache_root())
    t_start = time.time()
    with tempfile.TemporaryDirectory(prefix="fwbench-plain-") as tmp:
        tmp = Path(tmp)
        weights = None
        if args.init == "shared":
            weights = tmp / "weights.npz"
            save_arrays(weights, flatten(start_weights(cfg, data)))
        pairs = {c.id: [] for c in cases}
        ref_docs = {cid: {**r.to_dict(), "failed": None} for cid, r in references.items()}
        for k in range(args.processes):
            for case in rotation(cases, k):
                ref = ref_docs.get(case.id)
                got = {}
                for side in side_order(k + cases.index(case), ref is not None and ref["failed"] is None):
                    print(f"[{time.time() - t_start:7.1f}s] {case.id} process pair {k + 1}/{args.processes}: {side}",
                          flush=True)
                    if side == "reference":
                        try:
                            got[side] = reference_run(references[case.id], args.epochs, threads, cfg.seed, weights, env)
                        except ReferenceFailed as e:
                            ref["failed"] = f"process pair {k + 1}: {e}"
                            print(f"  reference for {case.id} failed ({e}); its column is left out from here on",
                                  flush=True)
                        continue
                    out = tmp / f"{case.slug}-{k}-{side}.json"
                    got[side] = _run_side(_side_command(side, case, args, threads, weights, out, workload), env,
                                          f"{side} side of {case.id}")
                pairs[case.id].append(got)
    results = [summarise(c.id, pairs[c.id], ref_docs.get(c.id)) for c in cases]
    doc = {"kind": "plain-check", "workload": workload, "command": "fwbench plain " + " ".join(sys.argv[2:]), "init": args.init,
           "epochs": args.epochs, "processes": args.processes, "threads": threads, "tolerance": TOLERANCE,
           "started": datetime.fromtimestamp(t_start, timezone.utc).isoformat(timespec="seconds"),
           "seconds": round(time.time() - t_start, 1), "environment": capture(), "results": results,
           "pairs": pairs, "references": list(ref_docs.values())}
    from benchmarks.plain.report import PLAIN_FILE, render
    if args.into is not None:
        from shared.atomic import write_atomic
        write_atomic(args.into / PLAIN_FILE, json.dumps(doc, indent=1))
        print(render(doc))
        print(f"wrote {args.into / PLAIN_FILE}; `fwbench report {args.into}` shows it in the run's report")
        return _reference_status(ref_docs, args.into / PLAIN_FILE)
    from benchmarks.analysis.rundata import publish, run_name, staging_dir
    name = run_name()
    staging = staging_dir(output, name)
    (staging / PLAIN_FILE).write_text(json.dumps(doc, indent=1))
    from benchmarks.reports import html
    html.publish_markdown(staging / "report.md", render(doc, standalone=True))
    folder = publish(staging, output, name)
    print(render(doc))
    print(f"wrote {folder}")
    return _reference_status(ref_docs, folder)
