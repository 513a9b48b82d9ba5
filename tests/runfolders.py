"""Synthetic run folders for tests: manifest.json (schema 2, the keys benchmarks/runner.run_plan
writes) and one pytest-benchmark JSON per worker process, in the layout the one reader
(benchmarks/rundata.load_run) reads. No framework is imported and nothing is timed.

    write_run(folder, {"torch:eager@cpu": {"train_epoch": [[0.2, 0.21], [0.19, 0.2]]}, ...})

`cases` maps a case id to its phases, each a list of per-process round times (seconds): the
number of lists is the number of worker processes that measured it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.analysis import rundata
from benchmarks.model.cases import COPY_MARK, SHARED, SHARED_LABEL, SHARED_VARIANT, aa_copy, parse_case
from benchmarks.model.phases import PHASES
from shared.config import ExperimentConfig

SHARED_ID = f"{SHARED}:{SHARED_VARIANT}@cpu"
THREAD_ENV = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2",
              "TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "1"}
ENVIRONMENT = {"host": "testhost", "cpu": "Synthetic CPU @ 3.0GHz", "cores_logical": 2, "cores_usable": 2,
               "ram_gb": 8.0, "os": "Linux-test", "python": "3.11.0",
               "packages": {"numpy": "1.26.0", "torch": "2.3.0", "tensorflow": "2.16.1", "fwbench": "0.1.0"},
               "gpus": [], "cuda_driver_version": None, "thread_env": {}}
DATA = {"categories": ["comp.graphics", "rec.sport.baseball", "sci.space"], "n_train": 1657, "n_test": 1102,
        "vocab_size": 119928, "train_nonzeros": 150000, "test_nonzeros": 100000,
        "train_class_counts": [584, 597, 593], "test_class_counts": [389, 397, 394], "dense_batch_mb": 0.457,
        "source": "synthetic", "key": "test"}


def set_allocator_env(folder: Path, given: dict | None) -> Path:
    """Make the run folder's manifest record `given` as its workers' allocator variables (None:
    remove the key, as in a run from before they were recorded); returns the folder."""
    m = json.loads((folder / "manifest.json").read_text())
    if given is None:
        m["environment"].pop("allocator_env", None)
    else:
        m["environment"]["allocator_env"] = given
    (folder / "manifest.json").write_text(json.dumps(m))
    return folder


def rounds(median: float, n: int, spread: float, rng: np.random.Generator) -> list[float]:
    """n round times around `median`, multiplicative noise of sd `spread`; the median is exact."""
    x = median * np.exp(rng.normal(0.0, spread, n))
    x *= median / np.median(x)
    return [float(v) for v in x]


def processes(medians, n_rounds: int, spread: float, rng: np.random.Generator) -> list[list[float]]:
    """One round list per process, each process around its own median."""
    return [rounds(m, n_rounds, spread, rng) for m in medians]


def _case(case_id: str):
    """A case from its id; an A/A copy's id (CASE~aa) is its original's plus the mark."""
    if case_id.endswith(COPY_MARK):
        return aa_copy(parse_case(case_id[:-len(COPY_MARK)]))
    return parse_case(case_id)


def case_entry(case_id: str) -> dict:
    if case_id == SHARED_ID:
        return {"id": SHARED_ID, "framework": SHARED, "variant": SHARED_VARIANT, "device": "cpu", "overrides": {},
                "label": SHARED_LABEL, "about": "archive parsing and counting, framework-neutral", "input": "dense"}
    return _case(case_id).to_dict()


def slug(case_id: str) -> str:
    return "shared-data-cpu" if case_id == SHARED_ID else _case(case_id).slug


def _stats(data: list[float]) -> dict:
    a = np.asarray(data, dtype=float)
    q1, q3 = (float(np.quantile(a, q)) for q in (0.25, 0.75))
    mean = float(a.mean())
    return {"min": float(a.min()), "max": float(a.max()), "mean": mean,
            "stddev": float(a.std(ddof=1)) if a.size > 1 else 0.0, "rounds": int(a.size),
            "median": float(np.median(a)), "iqr": q3 - q1, "q1": q1, "q3": q3, "iqr_outliers": 0,
            "stddev_outliers": 0, "outliers": "0;0", "ld15iqr": float(a.min()), "hd15iqr": float(a.max()),
            "ops": 1.0 / mean if mean else 0.0, "total": float(a.sum()), "data": [float(x) for x in data],
            "iterations": 1}


def bench_json(case_id: str, index: int, phases: dict[str, list[float]], extra: dict[str, dict]) -> dict:
    """One worker's pytest-benchmark JSON (as written with --benchmark-json --benchmark-save-data)."""
    s = slug(case_id)
    benches = []
    for phase, data in phases.items():
        info = {"case": case_id, "phase": phase, "process_index": index, "vocab_size": DATA["vocab_size"],
                "n_train": DATA["n_train"], "n_test": DATA["n_test"], "batch_size": 150, "quick": False,
                "peak_rss_mb": 500.0 + 10 * index, "rounds": len(data), "warmup_rounds": 0, "fresh_models": 0}
        info.update(extra.get(phase) or {})
        name = f"test_phase[{s}-{phase}]"
        benches.append({"group": phase, "name": name, "fullname": f"benchmarks/harness/test_bench.py::{name}",
                        "params": {"phase": phase}, "param": f"{s}-{phase}", "extra_info": info,
                        "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": 1,
                                    "max_time": 1.0, "min_time": 5e-06, "warmup": False},
                        "stats": _stats(data)})
    return {"machine_info": {"node": "testhost", "processor": "x86_64", "machine": "x86_64",
                             "python_implementation": "CPython", "python_version": "3.11.0",
                             "release": "6.0", "system": "Linux", "cpu": {"brand_raw": ENVIRONMENT["cpu"]},
                             "fwbench": {"case": case_id, "process_index": index, "runtime": None,
                                         "thread_env": THREAD_ENV}},
            "commit_info": {}, "benchmarks": benches, "datetime": "2026-01-01T00:00:00", "version": "4.0.0"}


def _per_process(value, k: int):
    """A value given once for every process, or as a list with one per process."""
    if isinstance(value, list):
        return value[k] if k < len(value) else None
    return value


def write_run(folder, cases: dict[str, dict[str, list[list[float]]]], *, baselines: dict | None = None,
              unavailable: dict | None = None, failed: dict | None = None, skipped: dict | None = None,
              anatomy: dict | None = None, kind: str = "full", extra_info: dict | None = None,
              warnings: list[str] | None = None, min_effect: float = 0.05, label: str | None = None,
              aa_pairs: dict | None = None) -> Path:
    """Write a schema-2 run folder; returns its path.

    unavailable / failed: {case id: reason} (cases not in `cases` are added with no results);
    skipped: {(case id, phase): reason}; anatomy: {case id: dict or [dict per process]};
    extra_info: {case id: {phase: dict or [dict per process]}}, merged into each benchmark's extra_info;
    aa_pairs: {copy id: original id} for an A/A calibration run (kind "aa").
    """
    folder = Path(folder)
    (folder / "workers").mkdir(parents=True, exist_ok=True)
    unavailable, failed, skipped = dict(unavailable or {}), dict(failed or {}), dict(skipped or {})
    anatomy, extra_info = dict(anatomy or {}), dict(extra_info or {})
    ids = list(dict.fromkeys([*cases, *unavailable, *failed, *(c for c, _ in skipped)]))
    ids.sort(key=lambda c: c != SHARED_ID)  # the runner puts the shared case first
    entries = {c: case_entry(c) for c in ids}
    wanted = {p for c in ids for p in (cases.get(c) or {})} | {p for _, p in skipped}
    phases = [p for p in PHASES if p in wanted]
    n_proc = max([len(v) for c in cases.values() for v in c.values()] + [1])
    if baselines is None:
        baselines = {}
        for c in ids:
            e = entries[c]
            if e["framework"] == SHARED:
                continue
            if e["device"] not in baselines or c == f"torch:eager@{e['device']}":
                baselines[e["device"]] = c
    workers = []
    slot = 0
    for k in range(n_proc):
        for c in ids:
            e = entries[c]
            own = [p for p in phases if (PHASES[p].scope == "shared") == (e["framework"] == SHARED)]
            outcomes = {}
            for p in own:
                if (c, p) in skipped:
                    outcomes[p] = {"outcome": "skipped", "reason": skipped[(c, p)]}
                elif c in failed:
                    outcomes[p] = {"outcome": "failed", "reason": failed[c]}
                elif p in (cases.get(c) or {}):
                    outcomes[p] = {"outcome": "passed", "reason": None}
            rec = {"case": c, "index": k, "json": None, "log": f"workers/{slug(c)}.p{k}.log", "outcomes": outcomes,
                   "runtime": None, "anatomy": _per_process(anatomy.get(c), k), "slot": slot}
            slot += 1
            if c in unavailable:
                rec.update(status="unavailable", reason=unavailable[c], outcomes={}, anatomy=None)
            elif c in failed:
                rec.update(status="failed", reason=failed[c], returncode=1)
            else:
                rec.update(status="ok", reason=None, returncode=0)
                if e["framework"] != SHARED:
                    rec["runtime"] = {"version": "9.9.9", "device_name": "cpu", "intra_op_threads": 2,
                                      "inter_op_threads": 1, "tf32": None}
                data = {p: v[k] for p, v in (cases.get(c) or {}).items() if k < len(v) and (c, p) not in skipped}
                if data:
                    extra = {p: _per_process(x, k) or {} for p, x in (extra_info.get(c) or {}).items()}
                    name = f"workers/{slug(c)}.p{k}.json"
                    (folder / name).write_text(json.dumps(bench_json(c, k, data, extra), indent=1))
                    rec["json"] = name
            workers.append(rec)
    manifest = {
        "schema": rundata.SCHEMA,
        "fwbench_version": "0.1.0",
        "command": "fwbench run --processes %d" % n_proc,
        "status": "failed" if failed else "complete",
        "kind": kind,
        "label": label,
        "started_utc": "2026-01-01T00:00:00Z",
        "finished_utc": "2026-01-01T00:10:00Z",
        "duration_s": 600.0,
        "quick": kind == "quick",
        "processes": n_proc,
        "min_effect": min_effect,
        "phases": phases,
        "rounds": {p: {"rounds": max([len(v[p][k]) for v in cases.values() if p in v for k in range(len(v[p]))]
                                     + [1]), "warmup": 0} for p in phases},
        "cases": [entries[c] for c in ids],
        "baselines": baselines,
        **({"aa_pairs": dict(aa_pairs)} if aa_pairs else {}),
        "threads": {"intra_op": 2, "inter_op": 1, "env": dict(THREAD_ENV)},
        "config": ExperimentConfig().to_dict(),
        "data": dict(DATA),
        "environment": json.loads(json.dumps(ENVIRONMENT)),
        "warnings": list(warnings or []),
        "workers": workers,
    }
    (folder / rundata.MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    return folder
