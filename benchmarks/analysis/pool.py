"""Pooled evidence: several runs of the same benchmark on the same kind of machine, read as one.

A run's interval comes from its worker processes (benchmarks/analysis/stats.py). Three runs of 3 processes
a side are 9 independent processes a side, so pooling them is the suite's own method on more
samples, not a new one: each process keeps its own median, and the Welch interval on the logs
is computed over all of them. That is only sound when every run measured the same thing in the
same conditions, so runs are pooled only when their fingerprints agree:

- the experiment configuration (manifest["config"]) and the data it produced (the data key),
- the cases (id, overrides, input), the phases and their rounds,
- the package versions, the CPU model and the thread budget (intra-op, inter-op threads),
- the memory allocator variables the workers inherited (where both runs recorded them).

Anything else (start time, host name, duration) may differ. A mismatch is refused with one line
naming the first field that differs, as bad input (UserError: exit 2).

    fwbench report --pool RUN RUN ... [--output DIR]   (or --pool FOLDER: every run folder in it)
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from benchmarks.analysis.rundata import MANIFEST, CaseData, PhaseData, Process, Run, copied_run, load_run
from shared.errors import UserError


def fingerprint(run: Run) -> dict:
    """The fields that must agree for two runs' processes to be samples of the same thing."""
    m = run.manifest
    env = m.get("environment") or {}
    th = m.get("threads") or {}
    # resolved_threads is the thread budget again, recorded in the config by some runner versions and
    # not others: compared once, as the thread budget the runner applied (manifest["threads"]).
    # Read through ExperimentConfig, so a manifest from before workloads existed (the MLP, its
    # `hidden` at the top level) pools with one that names the MLP.
    config = {k: v for k, v in run.config.to_dict().items() if k != "resolved_threads"}
    return {
        "workload": config.pop("workload"),
        "configuration": config,
        "data": (m.get("data") or {}).get("key"),
        "cases": sorted(json.dumps({k: c.get(k) for k in ("id", "overrides", "input")}, sort_keys=True)
                        for c in m.get("cases") or []),
        "phases": list(m.get("phases") or []),
        "rounds": m.get("rounds"),
        "package versions": env.get("packages"),
        "CPU model": env.get("cpu"),
        "thread budget": {"intra_op": th.get("intra_op"), "inter_op": th.get("inter_op")},
        "minimum effect": m.get("min_effect"),
        "memory allocator environment": env.get("allocator_env"),
    }


# Fields older runs did not record (None): compared only when both runs recorded them, so runs
# from before a field existed still pool with each other and with newer ones.
RECORDED_LATER = ("memory allocator environment",)


def _first_difference(a, b, where: str) -> str:
    """A short path to the first differing leaf, for the refusal message."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(dict.fromkeys([*a, *b])):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{where} {k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for x, y in zip(a, b):
            if x != y:
                return _first_difference(x, y, where)
    return f"{where}: {a!r} against {b!r}"


def check_poolable(runs: list[Run]) -> None:
    if len(runs) < 2:
        raise UserError("--pool needs at least two run folders (or a folder holding them)")
    paths = [str(r.path) for r in runs]
    twice = next((p for p in paths if paths.count(p) > 1), None)
    if twice:  # the same processes twice would halve the interval for nothing
        raise UserError(f"run folder {twice} is named twice in --pool: name each run once")
    first = fingerprint(runs[0])
    for r in runs[1:]:
        fp = fingerprint(r)
        for key in first:
            if key in RECORDED_LATER and None in (fp[key], first[key]):
                continue
            if fp[key] != first[key]:
                raise UserError(f"cannot pool {r.path} with {runs[0].path}: they differ in "
                                + _first_difference(first[key], fp[key], key))
        if r.kind != runs[0].kind:
            raise UserError(f"cannot pool {r.path} with {runs[0].path}: they differ in kind: "
                            f"{runs[0].kind!r} against {r.kind!r}")
    # after the fingerprints: runs of two machines are refused as such, whatever else they share
    copy = copied_run(runs)
    if copy:
        raise UserError(f"{copy}: pooling them would count its processes twice; pool each run once")


def expand(paths: list[Path]) -> list[Path]:
    """Run folders as given; a folder that is not a run itself stands for the run folders in it."""
    out = []
    for p in paths:
        p = Path(p)
        if p.is_dir() and not (p / MANIFEST).is_file():
            inner = sorted(q for q in p.iterdir() if q.is_dir() and (q / MANIFEST).is_file())
            if not inner:
                raise UserError(f"{p}: neither a run folder nor a folder of run folders (no {MANIFEST} in it "
                                f"or in its subfolders)")
            out += inner
        else:
            out.append(p)
    return out


def pool(runs: list[Run], output: Path, command: str) -> Run:
    """One Run whose every case holds the processes of all the runs (renumbered 0..N-1, in run
    order). The first run's manifest is the template; the pooled one records its sources."""
    check_poolable(runs)
    manifest = copy.deepcopy(runs[0].manifest)
    cases: dict[str, CaseData] = {}
    workers = []
    offsets: dict[str, int] = {}
    for r in runs:
        for cid, c in r.cases.items():
            pc = cases.setdefault(cid, CaseData(c.id, c.framework, c.variant, c.device, c.label, c.about, c.input,
                                                c.overrides, []))
            base = offsets.get(cid, 0)
            for w in c.workers:
                w2 = dict(w, index=base + int(w.get("index", 0)), run=str(r.path), json=None)
                pc.workers.append(w2)
                workers.append(w2)
            for ph, pd_ in c.phases.items():
                dest = pc.phases.setdefault(ph, PhaseData(ph))
                dest.processes += [Process(base + p.index, p.rounds, p.extra) for p in pd_.processes]
                dest.notes += [n for n in pd_.notes if n not in dest.notes]
                dest.missing += [base + i for i in pd_.missing]
            offsets[cid] = base + max([int(w.get("index", 0)) + 1 for w in c.workers] + [0])
    starts = [r.manifest.get("started_utc") for r in runs if r.manifest.get("started_utc")]
    ends = [r.manifest.get("finished_utc") for r in runs if r.manifest.get("finished_utc")]
    manifest.update(
        command=command, workers=workers, label=f"pooled from {len(runs)} runs",
        processes=sum(int(r.manifest.get("processes") or 0) for r in runs),
        started_utc=min(starts) if starts else None, finished_utc=max(ends) if ends else None,
        duration_s=round(sum(float(r.manifest.get("duration_s") or 0) for r in runs), 1),
        warnings=[w for r in runs for w in (r.manifest.get("warnings") or [])],
        pooled_from=[{"path": str(r.path), "started_utc": r.manifest.get("started_utc"),
                      "processes": r.manifest.get("processes"), "duration_s": r.manifest.get("duration_s")}
                     for r in runs])
    notes = [f"{Path(r.path).name}: {n}" for r in runs for n in r.notes]
    return Run(Path(output).resolve(), manifest, cases, notes)


def load_pooled(folder: Path) -> Run:
    """A pooled folder written by reports.report.write_pooled_report: its pooled.json names the source runs, which are
    read again (so the pooled report can never disagree with them)."""
    p = Path(folder) / "pooled.json"
    try:
        doc = json.loads(p.read_text())
        sources = [Path(s) for s in doc["runs"]]
        command = str(doc["command"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{p}: not a pooled folder fwbench wrote ({e.__class__.__name__})") from None
    base = Path(folder).resolve()
    return pool([load_run(s if s.is_absolute() else base / s) for s in sources], base, command)


def run_counts(run: Run, case_id: str, phase: str) -> tuple[int, int]:
    """(runs, processes) behind a case's phase in a pooled run (1 run for a plain one)."""
    c = run.cases.get(case_id)
    pd_ = c.phases.get(phase) if c else None
    if not pd_:
        return 0, 0
    idx = {p.index for p in pd_.processes if p.rounds.size}
    srcs = {w.get("run") for w in c.workers if int(w.get("index", 0)) in idx}
    return len(srcs), len(idx)
