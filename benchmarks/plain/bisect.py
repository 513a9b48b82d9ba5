"""`fwbench bisect`: walk from an independent PyTorch script to fwbench's plain script and twin one
difference at a time, every step timed interleaved against the step before it.

    fwbench bisect --reference-dir ../shared/reference --pairs 6 [--epochs 7] [--steps a,b,...] [--no-probes]

The walk (STEPS; README, "Bisecting a gap against a reference script"): the reference script
itself (ref_torch.py --mode dense), then benchmarks/plain/walk_torch.py with every switch on the
reference's side (it must match the reference: it checks the re-expression), then one switch turned
to fwbench's side per step (data, batches, order of work, initial weights, model, loop, thread
environment), then fwbench's plain script and the twin as `fwbench plain` runs them. Probes leave
the walk: each adds one thing (an import, an allocator setting, flushed denormals) to the step it
names, to test a suspect the walk does not pass through.

Each round runs every step once, in one fresh process each, forwards in even rounds and backwards
in odd ones, so neighbouring steps run next to each other and drift falls on both. Each process
gives the median of its warm epochs (epochs 2..E: the first is left out on every step); a step
against its base is the suite's process-level ratio with its 95% interval and the suite's verdict
(minimum effect: the plain check's tolerance, 5%). Writes <output>/<stamp>-<host>/bisect.json and
report.md, and prints the table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.plain.reference import ReferenceFailed, read_result, side_record
from benchmarks.plain.summary import TOLERANCE, verdict_text
from shared.errors import UserError

REFERENCE_SCRIPT = "ref_torch.py"
REFERENCE_ARGS = ("--mode", "dense", "--no-infer")  # its eager, pre-built dense batches: the twin's case
BISECT_FILE = "bisect.json"


@dataclass(frozen=True)
class Step:
    name: str
    change: str  # the one difference this step makes, in words
    kind: str  # reference | walk | plain | twin
    switches: tuple[str, ...] = ()  # walk_torch switches this step turns (added to the walk's so far)
    env: str | None = None  # bare | torch-threads | fwbench: changes the environment from here on
    extra_env: tuple[tuple[str, str], ...] = ()  # probes: variables added on top of the base's
    base: str | None = None  # probes: the step it is compared with (walk steps: the previous one)
    probe: bool = False


# The walk, reference first: each step turns one switch from the reference's side to fwbench's.
WALK = (
    Step("reference", "the reference script itself (ref_torch.py --mode dense --no-infer)", "reference", env="bare"),
    Step("walk-as-reference", "walk_torch.py with every switch on the reference's side: its data module, its "
         "dense test copy, its batches, data before model, torch.manual_seed init, the tutorial's module, "
         "loss.item() per epoch; ratio ~1 says the walk re-expresses the reference", "walk"),
    Step("no-test-dense", "no dense float32 copy of the whole test set held through training", "walk",
         ("--test-dense", "none")),
    Step("fwbench-imports", "the plain script's data-path modules imported (shared.config, shared.dataset and "
         "what they import, e.g. scipy.sparse)", "walk", ("--imports", "fwbench")),
    Step("fwbench-data", "fwbench's prepared data (shared.dataset: CountVectorizer's sorted vocabulary order, "
         "its cached CSR) instead of the reference's module and objects", "walk", ("--data", "fwbench")),
    Step("plain-batches", "batches as the plain script builds them: toarray().astype(float32), labels copied",
         "walk", ("--batches", "plain")),
    Step("plain-order", "model and optimizer built before the batches", "walk", ("--order", "plain")),
    Step("shared-init", "the suite's shared initial weights copied in (fwbench plain --init shared) instead "
         "of torch.manual_seed + nn.Linear's init", "walk", ("--init", "shared")),
    Step("sequential", "nn.Sequential instead of the tutorial's module", "walk", ("--model", "sequential")),
    Step("stack-losses", "every step's loss kept and read per epoch (torch.stack(...).numpy())", "walk",
         ("--loop", "stack")),
    Step("torch-thread-env", "OMP_NUM_THREADS and MKL_NUM_THREADS set to the budget (fwbench's workers)",
         "walk", env="torch-threads"),
    Step("fwbench-env", "the rest of fwbench's worker environment: OPENBLAS_NUM_THREADS, TF_NUM_*_THREADS, "
         "PYTHONUNBUFFERED, FWBENCH_CACHE", "walk", env="fwbench"),
    Step("plain", "fwbench's plain script (benchmarks/plain/torch_script.py --weights), as `fwbench plain` "
         "runs it; ratio ~1 says the walk's last step is the plain script", "plain"),
    Step("twin", "the twin (benchmarks/harness/bare_loop.py), as `fwbench plain` runs it", "twin"),
)

# Probes: one suspect added to a walk step, compared with that step.
PROBES = (
    Step("reference-in-fwbench-env", "the reference script in fwbench's worker environment", "reference",
         env="fwbench", base="reference", probe=True),
    Step("tensorflow-imported", "tensorflow imported into the reference-like process", "walk",
         ("--imports", "tensorflow"), base="walk-as-reference", probe=True),
    Step("jax-imported", "jax imported into the reference-like process", "walk", ("--imports", "jax"),
         base="walk-as-reference", probe=True),
    Step("sklearn-imported", "scikit-learn (and scipy.sparse) imported into the reference-like process, as a "
         "cold fwbench data cache does", "walk", ("--imports", "sklearn"), base="walk-as-reference", probe=True),
    Step("ftz", "denormals flushed (torch.set_flush_denormal(True)) in the reference-like process", "walk",
         ("--ftz",), base="walk-as-reference", probe=True),
    Step("grads-kept", "zero_grad(set_to_none=False): gradients kept and zeroed, not freed and reallocated",
         "walk", ("--zero-grad", "zeros"), base="walk-as-reference", probe=True),
    Step("thp-allocator", "THP_MEM_ALLOC_ENABLE=1: PyTorch's CPU allocator asks for transparent huge pages",
         "walk", extra_env=(("THP_MEM_ALLOC_ENABLE", "1"),), base="fwbench-env", probe=True),
    Step("glibc-hugetlb", "GLIBC_TUNABLES=glibc.malloc.hugetlb=1: glibc's malloc asks for transparent huge pages",
         "walk", extra_env=(("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1"),), base="fwbench-env", probe=True),
)


@dataclass
class Planned:
    """A step resolved: its full walk switches, its environment, its base."""
    step: Step
    switches: tuple[str, ...]
    env: str
    extra_env: tuple[tuple[str, str], ...]
    base: str | None
    runs: list = field(default_factory=list)
    failed: str | None = None


def plan(names: list[str] | None, probes: bool) -> list[Planned]:
    """The steps to run, in walk order then probes; a probe inherits its base's switches and
    environment. `names`: a subset (the walk's bases become the previous chosen walk step)."""
    resolved, switches, env = {}, (), "bare"
    for s in WALK:
        switches, env = switches + s.switches, s.env or env
        resolved[s.name] = Planned(s, switches if s.kind == "walk" else (), env, (), None)
    for s in PROBES:
        b = resolved[s.base]
        resolved[s.name] = Planned(s, b.switches + s.switches if s.kind == "walk" else (), s.env or b.env,
                                   b.extra_env + s.extra_env, s.base)
    known = [s.name for s in WALK + (PROBES if probes else ())]
    if names:
        unknown = [n for n in names if n not in resolved]
        if unknown:
            raise UserError(f"--steps: no step {', '.join(unknown)}: choose from {', '.join(resolved)}")
        if not probes and any(resolved[n].step.probe for n in names):
            raise UserError("--steps names a probe and --no-probes leaves probes out: drop one of them")
        chosen = [n for n in resolved if n in names]
    else:
        chosen = known
    out, previous = [], None
    for n in chosen:
        p = resolved[n]
        if not p.step.probe:
            p.base, previous = previous, n
        elif p.base not in chosen:
            raise UserError(f"--steps: probe {n} is compared with {p.base}: name {p.base} too")
        out.append(p)
    if len(out) < 2:
        raise UserError("--steps: name at least two steps; a step is timed against another")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reference-dir", type=Path, default=Path("..") / "shared" / "reference",
                   help=f"the folder holding {REFERENCE_SCRIPT} and its common.py (default ../shared/reference)")
    p.add_argument("--pairs", type=int, default=6, help="rounds; each runs every step once (default 6)")
    p.add_argument("--epochs", type=int, default=7, help="epochs per process, the first left out (default 7)")
    p.add_argument("--threads", type=int, default=2,
                   help="intra-op threads (default 2: the reference script's fixed budget)")
    p.add_argument("--steps", default=None, help="comma list of step names (default: all; see --list)")
    p.add_argument("--no-probes", action="store_true", help="only the walk, no probes")
    p.add_argument("--list", action="store_true", help="print the steps and exit (times nothing)")
    p.add_argument("--archive", default=None)
    p.add_argument("--output", type=Path, default=Path("results") / "bisect-cpu")
    p.add_argument("--report", type=Path, default=None, metavar="FOLDER",
                   help="rewrite FOLDER's report.md and report.html from its bisect.json (times nothing)")


def load(folder: Path) -> dict:
    """A bisection's document (bisect.json), checked enough to render: one line and exit 2 otherwise."""
    path = Path(folder) / BISECT_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{folder}: no {BISECT_FILE}; give a folder `fwbench bisect` wrote") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not readable JSON ({type(e).__name__}); rerun `fwbench bisect`") from None
    if not isinstance(doc, dict) or doc.get("kind") != "bisect" or not isinstance(doc.get("steps"), list):
        raise UserError(f"{path}: not a bisection's record (kind 'bisect' with its steps); rerun `fwbench bisect`")
    return doc


def publish_report(folder: Path, doc: dict) -> str:
    """report.md (with the report format's line) and report.html beside bisect.json; returns the text."""
    from benchmarks.reports import html
    text = render(doc)
    html.publish_markdown(Path(folder) / "report.md", text)
    return text


def _bare_env(threads: int) -> dict:
    """The caller's environment without the variables fwbench gives its workers: what a user's shell
    gives a script (FWBENCH_ARCHIVE/FWBENCH_CACHE stay: they only say where the data is)."""
    from benchmarks.harness.runner import thread_env
    drop = set(thread_env(threads)) | {"PYTHONUNBUFFERED", "THP_MEM_ALLOC_ENABLE", "GLIBC_TUNABLES"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def environment(kind: str, threads: int) -> dict:
    from benchmarks.harness.runner import child_env
    from shared import registry
    from shared.paths import cache_root
    if kind == "bare":
        return _bare_env(threads)
    if kind == "torch-threads":
        budget = {"intra_op": str(threads), "inter_op": "1"}
        return {**_bare_env(threads), **{k: budget[v] for k, v in registry.facts("torch").THREAD_ENV.items()}}
    return child_env(threads, cache_root())


def command(p: Planned, args, weights: Path, out: Path) -> list[str]:
    py, e, t = sys.executable, str(args.epochs), str(args.threads)
    archive = ["--archive", args.archive] if args.archive else []
    kind = p.step.kind
    if kind == "reference":
        return [py, str(args.reference_dir / REFERENCE_SCRIPT), *REFERENCE_ARGS, "--epochs", e, "--seed", "0"]
    if kind == "walk":
        return [py, "-m", "benchmarks.plain.walk_torch", "--threads", t, "--epochs", e, "--seed", "0",
                "--reference-dir", str(args.reference_dir), "--weights", str(weights), *archive, *p.switches]
    if kind == "plain":
        return [py, "-m", "benchmarks.plain.torch_script", "--variant", "eager", "--epochs", e, "--weights",
                str(weights), "--threads", t, "--json", str(out), *archive]
    return [py, "-m", "benchmarks.harness.bare_loop", "--fw", "torch", "--variant", "eager", "--rounds",
            str(args.epochs - 1), "--threads", t, "--json", str(out), *archive]


def run_step(p: Planned, args, weights: Path, out: Path, scratch: Path) -> dict:
    """One process of a step -> {"epoch_seconds", "read_back"}; ReferenceFailed with one line."""
    import subprocess
    env = {**environment(p.env, args.threads), **dict(p.extra_env), "REF_RESULTS": str(scratch / "ref-results")}
    argv = command(p, args, weights, out)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=Path.cwd())
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ReferenceFailed(f"exit {proc.returncode}: {tail.strip()[:300]}")
    if p.step.kind in ("reference", "walk"):
        return side_record(read_result(proc.stdout, args.epochs), args.epochs, args.threads)
    rec = json.loads(out.read_text())
    if rec["read_back"].get("intra_op_threads") != args.threads:
        raise ReferenceFailed(f"ran with {rec['read_back'].get('intra_op_threads')} intra-op threads, not {args.threads}")
    return {"kind": p.step.kind, "epoch_seconds": rec["epoch_seconds"], "read_back": rec["read_back"],
            "epoch_last_loss": [float(l[-1]) for l in rec["epoch_losses"]]}


def summarise(planned: list[dict]) -> list[dict]:
    """Each step's figures from its processes (documents as bisect.json holds them): its warm-epoch
    median, and its ratio to its base and to the reference step, with intervals and verdicts."""
    import numpy as np

    from benchmarks.analysis import stats
    by = {p["name"]: p for p in planned}

    def warm(p):
        return [r["epoch_seconds"][1:] for r in p["runs"]]

    def against(p, other_name):
        o = by.get(other_name)
        if o is None or other_name == p["name"] or o["failed"] or not o["runs"]:
            return None
        r = stats.ratio(warm(p), warm(o))
        return {"against": other_name, "ratio": r.to_dict(), "verdict": verdict_text(r, f"step {other_name}")}

    def loss_diff(p, other_name):
        """The largest relative difference of the epochs' last-step losses between the step's and its
        base's processes, round by round: 0 where both trained the same thing (same data, weights and
        ops), large where the step changes what is trained (data order, initial weights)."""
        o = by.get(other_name)
        pairs = [(a.get("epoch_last_loss"), b.get("epoch_last_loss")) for a, b in zip(p["runs"], o["runs"] if o else [])]
        pairs = [(np.asarray(a, float), np.asarray(b, float)) for a, b in pairs if a and b]
        pairs = [(a[:n], b[:n]) for a, b in pairs for n in [min(a.size, b.size)] if n]
        if not pairs:
            return None
        return float(max(np.max(np.abs(a - b) / np.abs(b)) for a, b in pairs))

    out = []
    for p in planned:
        row = {"name": p["name"], "change": p["change"], "probe": p["probe"], "base": p["base"],
               "processes": len(p["runs"]), "failed": p["failed"]}
        if p["runs"] and not p["failed"]:
            row["epoch_s"] = stats.location(warm(p)).to_dict()
            row["vs_base"] = against(p, p["base"]) if p["base"] else None
            row["vs_reference"] = against(p, "reference")
            row["loss_rel_diff"] = loss_diff(p, p["base"]) if p["base"] else None
        out.append(row)
    return out


def render(doc: dict) -> str:
    from benchmarks.analysis.rundata import fmt_interval, fmt_ratio, fmt_time, md_code, md_escape, md_table
    env = doc.get("environment") or {}
    e = doc["epochs"]
    head = ["# Bisection: reference script to fwbench's plain script and twin", "",
            f"Machine: {md_escape(env.get('cpu', '?'))} ({md_escape(env.get('host', '?'))}, "
            f"{md_escape(env.get('cores_usable', '?'))} usable cores); {md_escape(doc.get('started', '?'))}, "
            f"{md_escape(doc.get('seconds', '?'))} s; {md_code(doc.get('command', ''))}.", "",
            f"{doc['pairs']} rounds; each ran every step once in a fresh process, forwards in even rounds and "
            f"backwards in odd ones; {doc['threads']} intra-op threads and 1 inter-op thread on every step. Each "
            f"process: the median of epochs 2-{e} of its {e} (the first left out on every step, the reference's "
            f"included). A ratio above 1: the step is slower than the one it is compared with; 95% intervals and "
            f"the suite's verdicts (benchmarks/analysis/stats.py, minimum effect {doc['tolerance']:.0%}). Walk "
            f"steps are compared with the step before; probes with the step they name. The last column checks "
            f"that a step trains what its compared step trains (0 or rounding: the same computation; large "
            f"where the step changes the data order or the initial weights, as its text says).", ""]

    def cell(c):
        if not c:
            return "", ""
        r = c["ratio"]
        return f"{fmt_ratio(r['value'])} ({fmt_interval(r['low'], r['high'])})", c["verdict"]

    rows = []
    for r in summarise(doc["steps"]):
        name = ("probe: " if r["probe"] else "") + r["name"]
        if r["failed"] or "epoch_s" not in r:
            rows.append([name, r["change"], r["base"] or "", f"failed: {r['failed'] or 'no process'}", "", "", "", "", ""])
            continue
        b, bv = cell(r["vs_base"])
        ref, _ = cell(r["vs_reference"])
        loss = "" if r.get("loss_rel_diff") is None else f"{r['loss_rel_diff']:.1e}"
        rows.append([name, r["change"], r["base"] or "", fmt_time(r["epoch_s"]["value"]), b, bv, ref,
                     r["processes"], loss])
    table = md_table(["step", "what it changes", "compared with", "warm epoch (geo. mean of process medians)",
                      "step / compared (95% CI)", "verdict", "step / reference (95% CI)", "processes",
                      "each epoch's last-step loss against the compared step (max rel. diff.)"], rows)
    cmds = ["", "## Commands", ""] + [f"- {md_escape(s['name'])} (environment {md_escape(s['env'])}"
                                      f"{', ' + md_escape(' '.join(f'{k}={v}' for k, v in s['extra_env'])) if s['extra_env'] else ''}): "
                                      f"{md_code(' '.join(s['argv']))}" for s in doc["steps"]]
    return "\n".join(head) + "\n" + table + "\n" + "\n".join(cmds) + "\n"


def readme_lines(doc: dict, link: str) -> list[str]:
    """One bisection as the README's lines (scripts/refresh_readme.py): where and when, each side's
    warm epoch, the twin against the reference, then every step or probe whose verdict is not
    inconclusive, by name, and how many walk steps could not tell."""
    from benchmarks.analysis import stats
    from benchmarks.analysis.rundata import fmt_interval, fmt_ratio, fmt_time, md_escape
    env = doc.get("environment") or {}
    rows = {r["name"]: r for r in summarise(doc["steps"]) if not r["failed"] and "epoch_s" in r}

    def ratio(c):
        r = c["ratio"]
        return f"{fmt_ratio(r['value'])} ({fmt_interval(r['low'], r['high'])})"

    sides = [f"{name} {fmt_time(rows[name]['epoch_s']['value'])}" for name in ("reference", "plain", "twin") if name in rows]
    out = [f"- **{md_escape(env.get('cpu', '?'))}, {doc['threads']} threads, {md_escape(doc.get('started', '?')[:10])}; "
           f"{doc['pairs']} rounds of {len(doc['steps'])} steps ([report]({link})).** Warm epoch: {', '.join(sides)}."]
    twin = rows.get("twin", {}).get("vs_reference")
    if twin:
        out.append(f"  Twin / reference {ratio(twin)}: {md_escape(twin['verdict'])}.")
    decided = [r for r in rows.values() if r.get("vs_base") and not r["vs_base"]["verdict"].startswith(stats.INCONCLUSIVE)]
    walk = [r for r in rows.values() if r.get("vs_base") and not r["probe"]]
    undecided = sum(1 for r in walk if r["vs_base"]["verdict"].startswith(stats.INCONCLUSIVE))
    for r in decided:
        out.append(f"  {'Probe' if r['probe'] else 'Step'} `{r['name']}` ({md_escape(r['change'])}) against "
                   f"`{r['base']}`: {ratio(r['vs_base'])}, {md_escape(r['vs_base']['verdict'])}.")
    if walk:
        out.append(f"  {undecided} of {len(walk)} walk steps inconclusive against the step before"
                   + (" (none moved the time beyond its interval)." if undecided == len(walk) else "."))
    return out


def main(args: argparse.Namespace) -> int:
    if args.report is not None:
        publish_report(args.report, load(args.report))
        print(f"wrote {args.report / 'report.md'} and report.html")
        return 0
    planned = plan([t.strip() for t in args.steps.split(",") if t.strip()] if args.steps else None,
                   not args.no_probes)
    if args.list:
        for p in planned:
            print(f"{'probe ' if p.step.probe else ''}{p.step.name:26s} vs {p.base or '-':20s} {p.step.change}")
        return 0
    if args.pairs < 1:
        raise UserError("--pairs must be at least 1 (2 or more for an interval)")
    if args.epochs < 2:
        raise UserError("--epochs must be at least 2: the first epoch is left out as warm-up")
    ref_dir = args.reference_dir
    if any(p.step.kind in ("reference", "walk") for p in planned) and not (
            (ref_dir / REFERENCE_SCRIPT).is_file() and (ref_dir / "common.py").is_file()):
        raise UserError(f"--reference-dir {ref_dir}: no {REFERENCE_SCRIPT} and common.py there: give the folder of "
                        f"the reference scripts (e.g. ../shared/reference)")
    args.reference_dir = ref_dir.resolve()
    from benchmarks.analysis.rundata import publish, run_name, staging_dir
    from benchmarks.harness.runner import other_timing_run
    from benchmarks.plain.common import save_arrays
    from shared.config import ExperimentConfig
    from shared.dataset import prepare
    from shared.environment import capture
    from shared.training import start_weights
    from shared.workloads.base import flatten
    cfg = ExperimentConfig(threads=args.threads)  # the default workload's: the reference scripts train the tutorial's MLP
    warning = other_timing_run()
    if warning:
        print(f"fwbench bisect: warning: {warning}", file=sys.stderr)
    data = prepare(cfg, args.archive)  # once, off the clock: every process then loads the cache
    t_start = time.time()
    with tempfile.TemporaryDirectory(prefix="fwbench-bisect-") as tmp:
        tmp = Path(tmp)
        weights = tmp / "weights.npz"
        save_arrays(weights, flatten(start_weights(cfg, data)))
        for k in range(args.pairs):
            for p in (planned if k % 2 == 0 else planned[::-1]):
                if p.failed:
                    continue
                print(f"[{time.time() - t_start:7.1f}s] round {k + 1}/{args.pairs}: {p.step.name}", flush=True)
                try:
                    p.runs.append(run_step(p, args, weights, tmp / f"{p.step.name}-{k}.json", tmp))
                except ReferenceFailed as e:
                    p.failed = f"round {k + 1}: {e}"
                    print(f"  {p.step.name} failed ({e}); left out from here on", flush=True)
        steps = [{"name": p.step.name, "change": p.step.change, "kind": p.step.kind, "probe": p.step.probe,
                  "base": p.base, "env": p.env, "extra_env": [list(kv) for kv in p.extra_env],
                  "argv": command(p, args, Path("<weights.npz>"), Path("<out.json>")), "runs": p.runs,
                  "failed": p.failed} for p in planned]
    doc = {"kind": "bisect", "command": "fwbench bisect " + " ".join(sys.argv[2:]), "pairs": args.pairs,
           "epochs": args.epochs, "threads": args.threads, "tolerance": TOLERANCE,
           "reference_dir": str(args.reference_dir),
           "started": datetime.fromtimestamp(t_start, timezone.utc).isoformat(timespec="seconds"),
           "seconds": round(time.time() - t_start, 1), "environment": capture(), "steps": steps}
    name = run_name()
    staging = staging_dir(args.output, name)
    (staging / BISECT_FILE).write_text(json.dumps(doc, indent=1))
    text = publish_report(staging, doc)
    folder = publish(staging, args.output, name)
    print(text)
    print(f"wrote {folder}")
    failed = [f"{p.step.name} ({p.failed})" for p in planned if p.failed]
    if failed:
        raise UserError(f"{len(failed)} step(s) failed: {'; '.join(failed)}; the others are written to {folder}")
    return 0
