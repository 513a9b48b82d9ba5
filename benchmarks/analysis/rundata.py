"""The one data model of a run, and its one reader.

    Run -> cases -> phases -> processes -> rounds

`load_run(folder)` reads manifest.json and the workers' raw pytest-benchmark JSON into a Run;
`summary(run)` turns it into one tidy pandas table (one row per case and phase, with the
interval against the baseline case and the verdict). Every output derives from these two:
results.csv, results.md, report.md, the README block, `--compare` and the regression gate.

Each recorded field lives in one place: threads in manifest["threads"] (resolved once, by the
runner), a case's label in manifest["cases"], a phase's words in benchmarks/model/phases.py.

A file of the wrong shape is bad input (UserError: one line naming the file, exit 2, nothing
written); a file that is missing or unreadable is a hole, recorded in Run.notes, so a partial
run still gets a report that says what is missing, and the gate fails closed on it.
"""
from __future__ import annotations

import errno
import json
import math
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.analysis import stats
from benchmarks.model.phases import DERIVED, PHASES
from shared.atomic import write_atomic
from shared.errors import UserError

SCHEMA = 2
MANIFEST = "manifest.json"


# --------------------------------------------------------------------------- the model

# What the machine did around one timed phase of one worker (benchmarks/harness/machine.py
# writes it into the phase's extra_info under "machine"): seconds, each None when not measurable.
MACHINE_FIELDS = ("wall_s", "steal_s", "other_cpu_s", "own_cpu_s")


@dataclass
class Process:
    """One worker process's rounds of one phase."""
    index: int
    rounds: np.ndarray  # seconds per round
    extra: dict

    @property
    def digest(self) -> str:
        """The identity of this measurement: its round times, bit for bit (two processes never
        time the same rounds to the last bit, so equal digests mean one measurement twice)."""
        import hashlib
        return hashlib.sha256(np.ascontiguousarray(self.rounds, dtype=float).tobytes()).hexdigest()[:20]

    @property
    def machine(self) -> dict | None:
        """{wall_s, steal_s, other_cpu_s, own_cpu_s, minor_faults (newer records), note}: what the machine did during this
        phase (validated by the reader), or None for a worker that did not record it."""
        m = self.extra.get("machine")
        return m if isinstance(m, dict) else None


@dataclass
class PhaseData:
    phase: str
    processes: list[Process] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # skipped / failed / missing, per process
    # Worker processes recorded as successful whose results for this phase are not there (no file
    # named, unreadable, or the phase absent from it): every output names them, none hides them.
    missing: list[int] = field(default_factory=list)

    def samples(self) -> list[np.ndarray]:
        return [p.rounds for p in self.processes if p.rounds.size]


@dataclass
class CaseData:
    id: str
    framework: str
    variant: str
    device: str
    label: str
    about: str
    input: str
    overrides: dict
    workers: list[dict]
    phases: dict[str, PhaseData] = field(default_factory=dict)

    @property
    def status(self) -> str:
        st = {w.get("status") for w in self.workers}
        return "unavailable" if st == {"unavailable"} else "failed" if "failed" in st else "ok"

    @property
    def reason(self) -> str | None:
        return next((w.get("reason") for w in self.workers if w.get("reason")), None)

    @property
    def is_shared(self) -> bool:
        return self.framework == "shared"

    def anatomy(self) -> list[dict]:
        return [w["anatomy"] for w in self.workers if isinstance(w.get("anatomy"), dict)]


@dataclass
class Run:
    path: Path
    manifest: dict
    cases: dict[str, CaseData]
    notes: list[str]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def kind(self) -> str:
        return self.manifest.get("kind", "full")

    @property
    def min_effect(self) -> float:
        return float(self.manifest.get("min_effect", stats.MIN_EFFECT))  # checked in [0, 1) by load_run

    @property
    def config(self):
        """The run's ExperimentConfig (checked by load_run); a manifest from before workloads
        existed reads as the default workload's."""
        from shared.config import ExperimentConfig
        return ExperimentConfig.from_dict(self.manifest.get("config") or {})

    @property
    def workload(self) -> str:
        """The workload's registry name: what reports name in every title and table."""
        return self.config.workload

    @property
    def workload_label(self) -> str:
        from shared import workloads
        return workloads.get(self.workload).label

    def devices(self) -> list[str]:
        return list(dict.fromkeys(c.device for c in self.cases.values() if not c.is_shared))

    def baseline(self, device: str) -> CaseData | None:
        cid = (self.manifest.get("baselines") or {}).get(device)
        return self.cases.get(cid)

    @property
    def aa_pairs(self) -> dict[str, str]:
        """An A/A calibration run's copy id -> original id (empty for any other run)."""
        return self.manifest.get("aa_pairs") or {}

    def baseline_of(self, case: CaseData) -> CaseData | None:
        """The case `case` is compared with: in an A/A run a copy's original, and an original is its
        own baseline (its copy carries the comparison); otherwise the device's baseline."""
        pairs = self.aa_pairs
        if case.id in pairs:
            return self.cases.get(pairs[case.id])
        if case.id in pairs.values():
            return case
        return self.baseline(case.device)

    def framework_cases(self, device: str | None = None) -> list[CaseData]:
        return [c for c in self.cases.values() if not c.is_shared and (device is None or c.device == device)]

    def phases(self) -> list[str]:
        return [p for p in PHASES if p in (self.manifest.get("phases") or [])]


# --------------------------------------------------------------------------- reading

def _fail(path: Path, what: str):
    raise UserError(f"{path}: {what}: it is not a file fwbench wrote; rerun `fwbench run` or remove the folder")


def _read_json(path: Path, notes: list[str] | None):
    """Parsed JSON; None (with a note) when missing or unreadable and notes are collected."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        if notes is None:
            raise UserError(f"{path}: cannot be read ({e.__class__.__name__}: {e}); rerun `fwbench run`") from None
        notes.append(f"{path.name} could not be read ({e.__class__.__name__}); its results are missing")
        return None


def _expect(path: Path, value, kind, what: str):
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        _fail(path, f"{what} is {type(value).__name__}, expected {names}")
    return value


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


# The domain of every figure the reader takes from a run folder, decided here and nowhere else:
# kind -> (lowest, highest, unit, whole numbers only). A value outside it is not a measurement of
# this suite (a round time of 1e-300 s would print a 300-digit speedup, 1e300 s overflows the
# interval), so it is refused in one line like any other damage; inside it no figure the reports
# derive (ratios, intervals, logs) can overflow.
DOMAIN = {
    "round time": (1e-8, 1e5, "s", False),  # one call of a phase: 10 ns to a day
    "seconds": (0.0, 1e8, "s", False),  # a duration the machine record or the manifest gives
    "memory": (0.0, 1e8, "MB", False),  # up to 100 TB
    "count": (0, 10 ** 12, "", True),  # rounds, steps, processes, traces, non-zeros
    "index": (0, 10 ** 6, "", True),  # a worker's process index, a pair's, a core's
    "accuracy": (0.0, 1.0, "", False),  # a fraction
    "rate": (0.0, 1e9, "", False),  # a probe's GFLOP/s or GB/s
    "variance": (0.0, 1e3, "", False),  # a log-scale variance (a pilot's estimate)
    "loss": (0.0, 1e6, "", False),  # a mean cross-entropy loss
    "ratio": (1e-9, 1e9, "", False),  # a stored ratio of two times (a plain check's twin / plain)
    "fraction": (0.0, 1.0, "", False),  # a minimum effect, a tolerance
}
# The longest text a run folder may put in a report: a label is a table cell and a figure legend
# (a 200,000-character label made a report take minutes), a reason or an about is one sentence.
TEXT_LIMITS = {"id": 200, "label": 200, "about": 2000, "reason": 10_000}
_WORD = re.compile(r"^[A-Za-z0-9_+.-]{1,64}$")


def in_domain(value, kind: str) -> bool:
    lo, hi, _, whole = DOMAIN[kind]
    if whole:
        return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
    return _number(value) and math.isfinite(value) and lo <= value <= hi


def _figure(path: Path, what: str, value, kind: str):
    """`value` if it lies in the domain of `kind`, else one line naming it (exit 2)."""
    if not in_domain(value, kind):
        lo, hi, unit, whole = DOMAIN[kind]
        _fail(path, f"{what} {_short(value)} is outside its domain ({'a whole number ' if whole else ''}"
                    f"{lo:g} to {hi:g}{' ' + unit if unit else ''})")
    return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(path: Path, what: str, value, limit: str):
    _expect(path, value, str, what)
    if len(value) > TEXT_LIMITS[limit]:
        _fail(path, f"{what} is {len(value):,} characters long, more than the {TEXT_LIMITS[limit]} a {limit} may be")
    return value


def _check_worker(mpath: Path, w: dict) -> None:
    """The fields of a worker record the readers use, so a wrong one is one line, not a traceback."""
    _figure(mpath, "a worker's 'index'", w.get("index", 0), "index")
    if w.get("reason") is not None:
        _text(mpath, "a worker's 'reason'", w["reason"], "reason")
    _expect(mpath, w.get("json"), (str, type(None)), "a worker's 'json'")
    for out in (_expect(mpath, w.get("outcomes"), (dict, type(None)), "a worker's 'outcomes'") or {}).values():
        if isinstance(out, dict) and out.get("reason") is not None:
            _text(mpath, "a phase outcome's 'reason'", out["reason"], "reason")
    a = _expect(mpath, w.get("anatomy"), (dict, type(None)), "a worker's 'anatomy'") or {}
    parts = _expect(mpath, a.get("breakdown", {}), dict, "a worker's anatomy 'breakdown'")
    for key, v in parts.items():
        _figure(mpath, f"a worker's anatomy breakdown {key!r}", v, "seconds")
    for key in ("steps_per_epoch", "nnz_per_step"):
        if key in a:
            _figure(mpath, f"a worker's anatomy {key!r}", a[key], "count" if isinstance(a[key], int) else "rate")
    if "probe" in a:
        probe = _expect(mpath, a["probe"], dict, "a worker's anatomy 'probe'")
        _figure(mpath, "a probe's matmul gflops_best",
                _expect(mpath, probe.get("matmul"), dict, "a probe's 'matmul'").get("gflops_best", 0), "rate")
        _figure(mpath, "a probe's copy gbs_best",
                _expect(mpath, probe.get("copy"), dict, "a probe's 'copy'").get("gbs_best", 0), "rate")


def _rounds(path: Path, bench: dict) -> np.ndarray:
    st = _expect(path, bench.get("stats"), dict, f"benchmark {bench.get('name', '?')!r} stats")
    data = st.get("data")
    if data is None:
        _fail(path, f"benchmark {bench.get('name', '?')!r} has no per-round data (saved without --benchmark-save-data)")
    _expect(path, data, list, f"benchmark {bench.get('name', '?')!r} stats.data")
    if not data:
        _fail(path, f"benchmark {bench.get('name', '?')!r} has no round times")
    for x in data:
        _figure(path, f"benchmark {bench.get('name', '?')!r} has a round time", x, "round time")
    rounds = np.asarray(data, dtype=float)
    # pytest-benchmark computes its stats from the same rounds: a file whose rounds were edited
    # (or whose stats were) disagrees with itself, and neither half can be trusted
    for key, want in (("median", float(np.median(rounds))), ("min", float(rounds.min())), ("max", float(rounds.max()))):
        if key in st:
            got = _figure(path, f"benchmark {bench.get('name', '?')!r} stats.{key}", st[key], "round time")
            if not math.isclose(got, want, rel_tol=1e-6):
                _fail(path, f"benchmark {bench.get('name', '?')!r} stats.{key} {got!r} disagrees with its own round "
                            f"times ({want!r})")
    return rounds


def load_run(path: str | Path) -> Run:
    """Read a run folder (UserError, exit 2, when it is not one or a file has the wrong shape)."""
    given = Path(path)
    if given.is_symlink() and not given.exists():  # a dangling results/latest: never another run instead
        raise UserError(f"{given} points to {os.readlink(given)}, which does not exist: name a run folder, "
                        f"or run `fwbench run` to make a new one")
    if not given.exists():
        raise UserError(f"{given}: no such run folder (give a results/runs/<stamp>-<host> folder)")
    folder = given.resolve()
    if not folder.is_dir():
        raise UserError(f"{given}: not a folder; give a run folder such as results/latest")
    mpath = given / MANIFEST  # messages name the user's path (results/latest/...), not the resolved one
    if not mpath.is_file():
        raise UserError(f"{given}: not a run folder (no {MANIFEST}); give one that `fwbench run` wrote")
    manifest = _expect(mpath, _read_json(mpath, None), dict, "the manifest")
    if manifest.get("schema") != SCHEMA:
        raise UserError(f"{mpath}: written by another fwbench version (schema {manifest.get('schema', 1)}, this one "
                        f"reads {SCHEMA}): rerun `fwbench run` to get a run folder this version reads")
    for key, kind in (("cases", list), ("workers", list), ("phases", list), ("baselines", dict), ("threads", dict),
                      ("rounds", dict)):
        _expect(mpath, manifest.get(key), kind, f"the manifest's {key!r}")
    me = _expect(mpath, manifest.get("min_effect", stats.MIN_EFFECT), (int, float), "the manifest's 'min_effect'")
    if not (math.isfinite(me) and 0 <= me < 1):  # a fraction (0.05 = 5%); NaN would make every verdict silent
        _fail(mpath, f"the manifest's 'min_effect' {me!r} is not a fraction in [0, 1)")
    for p in manifest["phases"]:
        r = _expect(mpath, manifest["rounds"].get(p), dict, f"the manifest's rounds of phase {_short(p)}")
        for k in ("rounds", "warmup"):
            _figure(mpath, f"the manifest's {k} of phase {_short(p)}", r.get(k), "count")
    for key, kind in (("processes", "count"), ("duration_s", "seconds")):
        if manifest.get(key) is not None:
            _figure(mpath, f"the manifest's {key!r}", manifest[key], kind)
    if "pilot" in manifest:  # --pilot's record, printed by the report's Sizing paragraph
        pilot = _expect(mpath, manifest["pilot"], dict, "the manifest's 'pilot'")
        _expect(mpath, pilot.get("text"), str, "the pilot's 'text'")
        for e in _expect(mpath, pilot.get("estimates"), list, "the pilot's 'estimates'"):
            _expect(mpath, e, dict, "a pilot estimate")
            for k, kind in (("sigma2_p", "variance"), ("sigma2_r", "variance"), ("c_r", "seconds")):
                _figure(mpath, f"a pilot estimate's {k}", e.get(k), kind)
    _check_config(mpath, manifest)
    notes: list[str] = []
    cases: dict[str, CaseData] = {}
    known = {c.get("id") for c in manifest["cases"] if isinstance(c, dict)}
    for copy, original in _expect(mpath, manifest.get("aa_pairs", {}), dict, "the manifest's 'aa_pairs'").items():
        if copy not in known or original not in known or copy == original:
            _fail(mpath, f"the manifest's 'aa_pairs' pairs {copy!r} with {original!r}, not two cases of the run")
    for c in manifest["cases"]:
        _expect(mpath, c, dict, "a case entry")
        try:
            cases[c["id"]] = CaseData(c["id"], c["framework"], c["variant"], c["device"], c["label"],
                                      c.get("about", ""), c.get("input", "dense"), c.get("overrides") or {}, [])
        except (KeyError, TypeError) as e:
            _fail(mpath, f"a case entry lacks {e}")
        _check_case(mpath, cases[c["id"]])
        if sum(1 for d in manifest["cases"] if isinstance(d, dict) and d.get("id") == c["id"]) > 1:
            _fail(mpath, f"case {c['id']} is listed twice")
    for dev, cid in manifest["baselines"].items():
        base = cases.get(cid) if isinstance(cid, str) else None
        if base is None or base.device != dev or base.is_shared:
            _fail(mpath, f"the baseline of {_short(dev)} is {_short(cid)}, not a framework case of the run on that "
                         f"device")
    if manifest.get("duet") is not None:
        _check_duet(mpath, manifest["duet"], cases)
    seen: dict[tuple, int] = {}
    files: dict[Path, str] = {}
    for w in manifest["workers"]:
        _expect(mpath, w, dict, "a worker entry")
        _check_worker(mpath, w)
        case = cases.get(w.get("case"))
        if case is None:
            _fail(mpath, f"worker of unknown case {w.get('case')!r}")
        index = w.get("index", 0)
        if index < 0:
            _fail(mpath, f"worker of {case.id} has process index {index} < 0")
        if (case.id, index) in seen:  # a copied record would count as an extra process
            _fail(mpath, f"worker {case.id} process {index} is recorded twice")
        seen[(case.id, index)] = 1
        if w.get("json"):
            target = _inside(folder, mpath, w["json"]).resolve()
            if target in files:
                _fail(mpath, f"workers {files[target]} and {case.id} process {index} name the same file {w['json']}")
            files[target] = f"{case.id} process {index}"
        case.workers.append(w)
        _load_worker(folder, mpath, manifest, case, w, notes)
    _no_copies(mpath, cases)
    for c in cases.values():
        if c.status == "unavailable":
            notes.append(f"{c.label} ({c.device.upper()}): not available on this machine: {c.reason}")
        elif c.status == "failed":
            notes.append(f"{c.label} ({c.device.upper()}): failed: {c.reason}")
    return Run(folder, manifest, cases, notes)


def one_workload(runs: list[Run], what: str) -> str:
    """The workload every run measured; a UserError naming two runs of different workloads (their
    timings are of different networks: no comparison, pool or gate holds across them)."""
    first = runs[0]
    for r in runs[1:]:
        if r.workload != first.workload:
            raise UserError(f"cannot {what} {r.path} (workload {r.workload}) with {first.path} (workload "
                            f"{first.workload}): they time different networks; give runs of one workload")
    return first.workload


def _check_config(mpath: Path, manifest: dict) -> None:
    """The recorded configuration must be one this version can rebuild (its workload known, its
    settings valid): every figure derived from it (the floor, the workload named in titles)
    depends on it."""
    from shared.config import ExperimentConfig
    config = _expect(mpath, manifest.get("config", {}), dict, "the manifest's 'config'")
    try:
        ExperimentConfig.from_dict(config)
    except UserError as e:
        _fail(mpath, f"the manifest's configuration is not valid ({e})")
    except (TypeError, ValueError) as e:
        _fail(mpath, f"the manifest's configuration is not valid ({type(e).__name__}: {e})")


def _check_case(mpath: Path, case: "CaseData") -> None:
    """A case entry's words: each becomes a table cell, a legend, or part of a figure's file name
    (the device), so each is checked, not trusted."""
    from benchmarks.model.cases import DEVICES
    _text(mpath, "a case's 'id'", case.id, "id")
    _text(mpath, f"case {_short(case.id)}'s label", case.label, "label")
    _text(mpath, f"case {_short(case.id)}'s 'about'", case.about, "about")
    for what in ("framework", "variant", "input"):
        if not (isinstance(getattr(case, what), str) and _WORD.match(getattr(case, what))):
            _fail(mpath, f"case {_short(case.id)}'s {what} {_short(getattr(case, what))} is not a name "
                         f"(letters, digits, _ + . -)")
    if case.device not in DEVICES:  # a device names figure files: fig-<device>-...png
        _fail(mpath, f"case {_short(case.id)}'s device {_short(case.device)} is not one of {', '.join(DEVICES)}")
    _expect(mpath, case.overrides, dict, f"case {_short(case.id)}'s 'overrides'")


def _check_duet(mpath: Path, rec, cases: dict) -> None:
    """A duet run's record (benchmarks/analysis/duet.py reads it): two cases of the run, two cores,
    and per pair its index and each case's core."""
    rec = _expect(mpath, rec, dict, "the manifest's 'duet'")
    pair_of = _expect(mpath, rec.get("cases"), list, "the duet's 'cases'")
    if len(pair_of) != 2 or not all(isinstance(c, str) and c in cases for c in pair_of) or pair_of[0] == pair_of[1]:
        _fail(mpath, f"the duet's 'cases' {_short(pair_of)} are not two cases of the run")
    cores = _expect(mpath, rec.get("cores"), list, "the duet's 'cores'")
    if len(cores) != 2:
        _fail(mpath, f"the duet's 'cores' {_short(cores)} are not two cores")
    for c in cores:
        _figure(mpath, "a duet core", c, "index")
    indices = []
    for p in _expect(mpath, rec.get("pairs", []), list, "the duet's 'pairs'"):
        _expect(mpath, p, dict, "a duet pair")
        indices.append(_figure(mpath, "a duet pair's 'index'", p.get("index"), "index"))
        own = _expect(mpath, p.get("cores"), dict, "a duet pair's 'cores'")
        if sorted(own) != sorted(pair_of):
            _fail(mpath, f"duet pair {p.get('index')} gives cores to {_short(sorted(own))}, not to the duet's cases")
        for c in own.values():
            _figure(mpath, "a duet pair's core", c, "index")
    if len(set(indices)) != len(indices):  # a pair counted twice
        _fail(mpath, "the duet's 'pairs' name a pair index twice")


def _no_copies(mpath: Path, cases: dict[str, "CaseData"]) -> None:
    """Identity from content: two processes of a case holding the very same round times are one
    measurement counted twice (a worker file copied under another process index), never two."""
    for case in cases.values():
        for phase, pd_ in case.phases.items():
            seen: dict[str, int] = {}
            for p in pd_.processes:
                if p.digest in seen:
                    _fail(mpath, f"{case.id} processes {seen[p.digest]} and {p.index} hold the same {phase} round "
                                 f"times: a copied worker file would count one measurement twice; remove the copy")
                seen[p.digest] = p.index


def copied_run(runs: list["Run"], whole: bool = False) -> str | None:
    """Identity of runs from their content, not their paths: the first pair of runs (named in words)
    that hold the very same round times for a case and phase, one a copy of the other; None when
    every run's measurements are their own. whole=True: only a run that holds exactly the
    measurements of an earlier one (a copy of the whole run), for the gate, whose old and new runs
    may share a case's figures in tests and lose some in the new run."""
    seen: dict[tuple, tuple[Path, str]] = {}
    for i, r in enumerate(runs):
        mine = [(c.id, phase, p) for c in r.cases.values() for phase, pd_ in c.phases.items() for p in pd_.processes]
        shared = [(cid, phase, p) for cid, phase, p in mine
                  if (cid, phase, p.digest) in seen and seen[(cid, phase, p.digest)][0] != r.path]
        before = {(c.id, phase, p.digest) for q in runs[:i] for c in q.cases.values()
                  for phase, pd_ in c.phases.items() for p in pd_.processes}
        if shared and (not whole or {(cid, phase, p.digest) for cid, phase, p in mine} == before):
            cid, phase, p = shared[0]
            other, where = seen[(cid, phase, p.digest)]
            return (f"{r.path} holds the same {phase} round times for {cid} as {other} ({where}): one run is a "
                    f"copy of the other")
        for cid, phase, p in mine:
            seen.setdefault((cid, phase, p.digest), (r.path, f"process {p.index}"))
    return None


def _inside(folder: Path, mpath: Path, name: str) -> Path:
    """The worker file a record names (under the folder as the user named it, for messages),
    refused when it lies outside the run folder (an absolute path or ../ would let a manifest
    make the report read any file, and show it as a result)."""
    if Path(name).is_absolute() or not (folder / name).resolve().is_relative_to(folder):
        _fail(mpath, f"a worker record names {name}, outside the run folder")
    return mpath.parent / name


def _own_phases(manifest: dict, case: CaseData) -> list[str]:
    """The phases the runner gave this case's workers: the run's phases of the case's scope."""
    scope = "shared" if case.is_shared else "framework"
    return [p for p in manifest["phases"] if p in PHASES and PHASES[p].scope == scope]


def _missing(case: CaseData, phase: str, index: int, why: str, notes: list[str]) -> None:
    pd = case.phases.setdefault(phase, PhaseData(phase))
    if index not in pd.missing:
        pd.missing.append(index)
    note = f"{case.label} ({case.device.upper()}) process {index}: {why}; its results are missing"
    if note not in notes:
        notes.append(note)


def _load_worker(folder: Path, mpath: Path, manifest: dict, case: CaseData, w: dict, notes: list[str]) -> None:
    index = int(w.get("index", 0))
    own = _own_phases(manifest, case)
    for phase, out in (w.get("outcomes") or {}).items():
        if isinstance(out, dict) and out.get("outcome") in ("skipped", "failed"):
            text = f"{out['outcome']}: {out.get('reason') or 'no reason given'}"
            pd = case.phases.setdefault(phase, PhaseData(phase))
            if text not in pd.notes:
                pd.notes.append(text)
    _check_result(folder, mpath, case, w, index)
    if w.get("status") != "ok":
        return
    # The phases this worker should have measured: all of its case's, less those it says it skipped
    # or failed (those carry their own note).
    outcomes = w.get("outcomes") or {}
    expected = [p for p in own if not (isinstance(outcomes.get(p), dict)
                                       and outcomes[p].get("outcome") in ("skipped", "failed"))]
    if not w.get("json"):
        for p in expected:
            _missing(case, p, index, "recorded as successful but names no result file", notes)
        return
    path = _inside(folder, mpath, w["json"])
    doc = _read_json(path, notes)
    if doc is None:
        for p in expected:
            _missing(case, p, index, f"{w['json']} could not be read", notes)
        return
    _expect(path, doc, dict, "the benchmark file")
    # Each worker file names its own case and process: a record pointing at another one's file
    # would put that case's times under this case's label.
    fw = (doc.get("machine_info") or {}).get("fwbench") if isinstance(doc.get("machine_info"), dict) else None
    if isinstance(fw, dict):
        _same(path, "case", fw.get("case", case.id), case.id)
        _same(path, "process index", fw.get("process_index", index), index)
    got = set()
    for b in _expect(path, doc.get("benchmarks"), list, "'benchmarks'"):
        _expect(path, b, dict, "a benchmark entry")
        info = _expect(path, b.get("extra_info"), dict, f"benchmark {b.get('name', '?')!r} extra_info")
        phase = info.get("phase")
        if phase not in PHASES:
            _fail(path, f"benchmark {b.get('name', '?')!r} names no known phase ({phase!r})")
        if phase not in own:
            _fail(path, f"holds phase {phase}, which the run did not give {case.id}'s workers")
        if phase in got:
            _fail(path, f"holds phase {phase} twice")
        got.add(phase)
        _same(path, "case", info.get("case", case.id), case.id)
        _same(path, "process index", info.get("process_index", index), index)
        _check_extra(path, phase, info)
        case.phases.setdefault(phase, PhaseData(phase)).processes.append(Process(index, _rounds(path, b), info))
    for p in expected:
        if p not in got:
            _missing(case, p, index, f"{w['json']} holds no {p} result", notes)


def _check_result(folder: Path, mpath: Path, case: "CaseData", w: dict, index: int) -> None:
    """The worker's own result file (workers/*.result.json: its case, index and phase outcomes),
    when the record names one that is there, must agree with the record the runner made from it:
    a result edited or copied from another worker would change which phases count as measured."""
    name = w.get("result")
    if not name:
        return
    _expect(mpath, name, str, "a worker's 'result'")
    path = _inside(folder, mpath, name)
    if not path.is_file():
        return  # a worker killed before writing it: the record says what happened
    doc = _expect(path, _read_json(path, None), dict, "the worker's result")
    _same(path, "case", doc.get("case", case.id), case.id)
    _same(path, "process index", doc.get("process_index", index), index)
    mine = {p: o.get("outcome") for p, o in (w.get("outcomes") or {}).items() if isinstance(o, dict)}
    theirs = {p: o.get("outcome") for p, o in (doc.get("outcomes") or {}).items() if isinstance(o, dict)} \
        if isinstance(doc.get("outcomes"), dict) else None
    if "outcomes" in doc and theirs != mine:
        _fail(path, f"records the outcomes {theirs} but {MANIFEST} records {mine} for {case.id} process {index}")


def _same(path: Path, what: str, found, want) -> None:
    if found != want:
        _fail(path, f"names {what} {found!r} but {MANIFEST} records it for {want!r}")


def _check_extra(path: Path, phase: str, info: dict) -> None:
    """Figures the report prints from a worker's extra_info, in their domain (an accuracy of 5.0
    would print as 500.0%)."""
    for key, kind in (("accuracy", "accuracy"), ("peak_rss_mb", "memory"), ("peak_device_mem_mb", "memory"),
                      ("trace_count", "count")):
        if info.get(key) is not None:
            _figure(path, f"phase {phase}'s {key}", info[key], kind)
    if info.get("epoch_mean_loss") is not None:
        losses = _expect(path, info["epoch_mean_loss"], list, f"phase {phase}'s epoch_mean_loss")
        _figure(path, f"phase {phase}'s number of epochs", len(losses), "index")
        for v in losses:
            _figure(path, f"phase {phase}'s epoch_mean_loss", v, "loss")
    if "machine" in info:
        m = _expect(path, info["machine"], dict, f"phase {phase}'s machine record")
        for key in MACHINE_FIELDS:
            if m.get(key) is not None:
                _figure(path, f"phase {phase}'s machine {key}", m[key], "seconds")
        if m.get("minor_faults") is not None:  # recorded since 2026-12-07; older records lack it
            _figure(path, f"phase {phase}'s machine minor_faults", m["minor_faults"], "count")


# --------------------------------------------------------------------------- formatting

def time_unit(seconds: float) -> tuple[float, str]:
    """A scale and unit that puts `seconds` in a readable range."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale:
            return scale, unit
    return 1e-9, "ns"


def fmt_time(seconds: float | None) -> str:
    """3 significant digits in a readable unit ('' for no value)."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    scale, unit = time_unit(abs(seconds) if seconds else 1.0)
    v = seconds / scale
    return f"{v:.3g} {unit}" if abs(v) < 100 else f"{v:.0f} {unit}"


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def fmt_interval(low, high, fmt=fmt_ratio) -> str:
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return "no interval"
    return f"{fmt(low)}-{fmt(high)}"


# --------------------------------------------------------------------------- the tidy tables

COLUMNS = ("case", "label", "framework", "variant", "device", "input", "phase", "status", "note", "processes",
           "rounds", "time_s", "time_low_s", "time_high_s", "p90_s", "p90_low_s", "p90_high_s", "p99_s",
           "p99_low_s", "p99_high_s", "baseline", "speedup", "speedup_low", "speedup_high", "verdict",
           "speedup_se", "speedup_df", "equivalence_low", "equivalence_high", "detectable", "processes_needed",
           "accuracy", "accuracy_min", "accuracy_max", "peak_rss_mb", "peak_device_mem_mb", "trace_count",
           "warnings")


# The verdict words of a row that names a winner (_verdict_word); an A/A report counts them as false positives.
WINNER_VERDICTS = (stats.FASTER, stats.SLOWER)


def _verdict_word(v: stats.Verdict, is_baseline: bool) -> str:
    """The row's word: stats' own (faster / slower / equivalent / inconclusive / no interval),
    or "baseline" for the baseline case against itself."""
    return stats.BASELINE if is_baseline else v.word


def summary(run: Run):
    """One row per (case, phase): the case's time with its interval, its speedup over the
    baseline case (baseline time / case time: above 1 the case is faster) with its interval,
    and the verdict under the run's minimum effect. speedup_se/speedup_df: the log-scale standard
    error and Welch degrees of freedom behind the interval (what a run-to-run comparison needs);
    equivalence_low/high: the 90% interval the equivalence test reads (as a speedup);
    detectable/processes_needed: an inconclusive verdict's figures (benchmarks/analysis/stats.py)."""
    import pandas as pd
    rows = []
    estimates = spread_estimates(run)  # once per run: every row's reference leaves out only itself
    for case in run.cases.values():
        base = None if case.is_shared else run.baseline_of(case)
        for phase in run.phases():
            if (PHASES[phase].scope == "shared") != case.is_shared:
                continue
            # each row against the others' typical spread: an unusual row cannot hide its own spread
            rows.append(_row(run, case, base, phase, typical_spread(run, (case.id, phase), estimates)))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def spread_estimates(run: Run) -> dict[tuple[str, str], float | None]:
    """(case id, phase) -> that row's estimate of the machine's between-process variance."""
    return {(c.id, phase): stats.spread_estimate(pd.samples()) for c in run.cases.values()
            for phase, pd in c.phases.items()}


def typical_spread(run: Run, leave_out: tuple[str, str] | None = None,
                   estimates: dict | None = None) -> float | None:
    """The run's typical between-process spread over its (case, phase) rows (stats.typical_spread),
    without the row `leave_out` (case id, phase): the reference the spread warning marks a row against."""
    estimates = spread_estimates(run) if estimates is None else estimates
    return stats.typical_spread([e for key, e in estimates.items() if key != leave_out])


def unusual_rows(run: Run) -> list[tuple[str, str]]:
    """The (case id, phase) rows the spread warning marks (the rule summary() applies)."""
    estimates = spread_estimates(run)
    return [(c.id, phase) for c in run.cases.values() for phase, pd in c.phases.items()
            if stats.unusual_spread(pd.samples(), typical_spread(run, (c.id, phase), estimates))]


def _row(run: Run, case: CaseData, base: CaseData | None, phase: str, typical: float | None = None) -> dict:
    row = {c: None for c in COLUMNS}
    row.update(case=case.id, label=case.label, framework=case.framework, variant=case.variant, device=case.device,
               input=case.input, phase=phase, baseline=base.id if base else None)
    pdata = case.phases.get(phase)
    samples = pdata.samples() if pdata else []
    if case.status in ("unavailable", "failed") and not samples:
        return dict(row, status=case.status, note=f"{'not available on this machine' if case.status == 'unavailable' else 'failed'}: {case.reason}")
    lost = missing_text(pdata)
    if not samples:
        note = "; ".join([*(pdata.notes if pdata else []), *([lost] if lost else [])]) or \
            "no results (missing or unreadable file)"
        return dict(row, status="skipped" if pdata and any(n.startswith("skipped") for n in pdata.notes) else "missing",
                    note=note)
    loc = stats.location(samples)
    row.update(status="ok", note="; ".join([*pdata.notes, *([lost] if lost else [])]) or None, processes=len(samples),
               rounds=int(sum(s.size for s in samples)), time_s=loc.value, time_low_s=loc.low, time_high_s=loc.high,
               warnings="; ".join(stats.warnings(samples, typical)) or None)
    if PHASES[phase].latency:
        for q, name in ((0.9, "p90"), (0.99, "p99")):
            iv = stats.location(samples, q)
            row.update({f"{name}_s": iv.value, f"{name}_low_s": iv.low, f"{name}_high_s": iv.high})
    extras = [p.extra for p in pdata.processes]
    acc = [e["accuracy"] for e in extras if isinstance(e.get("accuracy"), (int, float))]
    if acc:
        row.update(accuracy=float(np.mean(acc)), accuracy_min=min(acc), accuracy_max=max(acc))
    rss = [e["peak_rss_mb"] for e in extras if isinstance(e.get("peak_rss_mb"), (int, float))]
    dev = [e["peak_device_mem_mb"] for e in extras if isinstance(e.get("peak_device_mem_mb"), (int, float))]
    row.update(peak_rss_mb=max(rss) if rss else None, peak_device_mem_mb=max(dev) if dev else None,
               trace_count=max((e.get("trace_count") or 0 for e in extras), default=None)
               if any(e.get("trace_count") is not None for e in extras) else None)
    bdata = base.phases.get(phase) if base else None
    bsamples = bdata.samples() if bdata else []
    if base is not None and bsamples:
        # speedup = baseline / case = 1 / (case / baseline)
        r = stats.ratio(bsamples, samples)
        v = stats.verdict(stats.ratio(samples, bsamples), run.min_effect)
        eq = v.equivalence
        row.update(speedup=r.value, speedup_low=r.low, speedup_high=r.high,
                   verdict=_verdict_word(v, base.id == case.id), speedup_se=r.se, speedup_df=r.df,
                   equivalence_low=1 / eq.high if eq else None, equivalence_high=1 / eq.low if eq else None,
                   detectable=v.detectable, processes_needed=v.processes_needed)
    return row


def missing_text(pdata: PhaseData | None) -> str | None:
    """The worker processes whose results for a phase are missing, in words (None: none are)."""
    if not pdata or not pdata.missing:
        return None
    have = len(pdata.samples())
    ids = ", ".join(str(i) for i in sorted(pdata.missing))
    return (f"{len(pdata.missing)} of {have + len(pdata.missing)} worker result(s) missing (process {ids}): "
            f"the figures are from the other {have}")


def overlapping_runs(run: Run) -> list[str]:
    """Other run folders beside this one, from the same host, whose timing overlapped this run's:
    both runs' figures are inflated, so each run's report says so (the runner can only warn the
    second run, which sees the first one running)."""
    def span(m):
        try:
            return (datetime.fromisoformat(str(m["started_utc"]).replace("Z", "+00:00")),
                    datetime.fromisoformat(str(m["finished_utc"]).replace("Z", "+00:00")))
        except (KeyError, TypeError, ValueError):
            return None
    mine = span(run.manifest)
    host = (run.manifest.get("environment") or {}).get("host")
    if mine is None or run.path.parent.name != "runs":  # only `fwbench run`'s own layout, OUTPUT/runs/<stamp>
        return []
    out = []
    for other in sorted(run.path.parent.iterdir()):
        if other == run.path or other.name.startswith(".") or not (other / MANIFEST).is_file():
            continue
        try:
            m = json.loads((other / MANIFEST).read_text())
        except (OSError, ValueError):
            continue
        theirs = span(m) if isinstance(m, dict) else None
        if theirs and (m.get("environment") or {}).get("host") == host and theirs[0] < mine[1] and mine[0] < theirs[1]:
            out.append(f"run {other} was timing on this machine at the same time as this one "
                       f"({m['started_utc']} to {m['finished_utc']}): both runs' figures may be inflated")
    return out


def derived(run: Run):
    """Warm-up and input-pipeline costs per case, each with a paired interval (per process)."""
    import pandas as pd
    rows = []
    for case in run.framework_cases():
        for name, words, a, b in DERIVED:
            pa, pb = case.phases.get(a), case.phases.get(b)
            if not pa or not pb:
                continue
            by_a = {p.index: p.rounds for p in pa.processes}
            by_b = {p.index: p.rounds for p in pb.processes}
            common = sorted(set(by_a) & set(by_b))
            if not common:
                continue
            iv = stats.paired_difference([by_a[i] for i in common], [by_b[i] for i in common])
            rows.append({"case": case.id, "label": case.label, "device": case.device, "figure": name, "words": words,
                         "value_s": iv.value, "low_s": iv.low, "high_s": iv.high, "processes": iv.n,
                         "measurable": iv.excludes(0.0)})
    return pd.DataFrame(rows, columns=["case", "label", "device", "figure", "words", "value_s", "low_s", "high_s",
                                       "processes", "measurable"])


def derived_text(row) -> str:
    """A derived figure in words: a number only when its interval excludes 0."""
    if row["low_s"] is None or (isinstance(row["low_s"], float) and math.isnan(row["low_s"])):
        return f"not measurable ({int(row['processes'])} process: no interval)"
    ci = f"95% CI {fmt_time(row['low_s'])} to {fmt_time(row['high_s'])}"
    if not row["measurable"]:
        return f"not measurable ({ci})"
    return f"{fmt_time(row['value_s'])} ({ci})"


# --------------------------------------------------------------------------- CSV and Markdown

class Markdown(str):
    """Text that is already Markdown (built here from escaped parts): md_table keeps it as it is."""


_MD_SPECIAL = re.compile(r"([\\`<\[\]|])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def md_escape(text) -> str:
    """Any text from a run folder or the command line as one line of inert Markdown: control
    characters (a newline would start a heading or a list) become spaces, and the characters that
    open code, HTML, links or table cells are backslash-escaped."""
    if isinstance(text, Markdown):
        return text
    return _MD_SPECIAL.sub(r"\\\1", _CONTROL.sub(" ", str(text)))


def _ticks(text: str) -> str:
    """A backtick run longer than any inside `text`, so the text cannot close it."""
    return "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)


def md_code(text) -> Markdown:
    """An inline code span that its content cannot close (CommonMark: a longer backtick run)."""
    t = _CONTROL.sub(" ", str(text)).replace("|", "\\|")
    fence = _ticks(t)
    return Markdown(f"{fence} {t} {fence}")


def md_fence(text) -> Markdown:
    """A fenced code block that its content cannot close."""
    t = str(text).replace("\r", " ")
    fence = "`" * max(3, len(_ticks(t)))
    return Markdown(f"{fence}\n{t}\n{fence}")


class TableText(str):
    """A rendered Markdown table that keeps its header and cells, so the HTML report
    (benchmarks/reports/model.py) renders the same table from the same values."""
    cells: tuple[list, list]


def md_table(headers: list[str], rows: list[list]) -> str:
    def cell(x) -> str:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return ""
        return md_escape(x)
    rows = [list(r) for r in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    out = TableText("\n".join(lines))
    out.cells = (list(headers), rows)
    return out


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def time_cell(row) -> str:
    if row["status"] != "ok":
        return {"unavailable": "not available", "failed": "FAILED", "skipped": "skipped"}.get(row["status"], "missing")
    return fmt_time(row["time_s"])


def speedup_cell(row) -> str:
    if _nan(row["speedup"]):
        return ""
    if row["verdict"] == stats.BASELINE:
        return stats.BASELINE
    return f"{fmt_ratio(row['speedup'])}x ({fmt_interval(row['speedup_low'], row['speedup_high'])})"


def timing_markdown(frame, device: str | None = None) -> str:
    """The timing table: a row per (phase, case), from the summary frame. The device-memory column
    appears only when some row recorded it (GPU runs), so CPU tables keep their shape."""
    rows = []
    gpu_mem = bool(frame["peak_device_mem_mb"].notna().any()) if "peak_device_mem_mb" in frame else False
    for _, r in frame.iterrows():
        if device is not None and r["device"] != device:
            continue
        rows.append([PHASES[r["phase"]].label, r["label"], r["device"].upper(), time_cell(r),
                     "" if _nan(r["time_low_s"]) else f"{fmt_time(r['time_low_s'])}-{fmt_time(r['time_high_s'])}",
                     "" if _nan(r["processes"]) else f"{int(r['processes'])} x {int(r['rounds'] / r['processes'])}",
                     speedup_cell(r), r["verdict"] or "", "" if _nan(r["peak_rss_mb"]) else f"{r['peak_rss_mb']:.0f}",
                     *([] if not gpu_mem else ["" if _nan(r["peak_device_mem_mb"]) else f"{r['peak_device_mem_mb']:.0f}"]),
                     r["note"] or r["warnings"] or ""])
    return md_table(["phase", "case", "device", "time", "95% CI", "processes x rounds", "speedup vs baseline (95% CI)",
                     "verdict", "peak RSS (MB)", *(["peak device memory (MB)"] if gpu_mem else []), "notes"], rows)


def write_tables(run: Run, folder: Path) -> None:
    """results.csv (the summary frame, unrounded) and results.md (the same frame, formatted)."""
    frame = summary(run)
    write_atomic(folder / "results.csv", frame.to_csv(index=False))
    head = f"Workload: {md_escape(run.workload_label)} (`{run.workload}`).\n\n"
    if run.kind != "full":
        head += f"**{kind_banner(run)}**\n\n"
    write_atomic(folder / "results.md", head + timing_markdown(frame) + "\n")


def kind_banner(run: Run) -> str:
    return {"quick": "Quick run (--quick: a few rounds per phase): a smoke test, not a measurement.",
            "partial": "Partial run (a subset of the default phases, cases or processes): not the reference.",
            "aa": "A/A calibration (--aa): each case against an identical copy of itself, to measure how often "
                  "the suite calls a difference where there is none; not a comparison of frameworks, never "
                  "results/latest.",
            "matrix": "Execution-mode matrix: every variant, with fewer rounds per process than the default run "
                      "(see How to read this report); results/latest keeps the default run.",
            "duet": "Duet run (--duet): two cases timed together, one thread each on its own core; a duet "
                    "measures one thread per framework, not the default run's budget, and is never results/latest.",
            }.get(run.kind, "")


# --------------------------------------------------------------------------- the run folder

# Files that make a folder somebody's own: a run's, a sweep's, a plain check's. A report with an
# --output never writes into such a folder (it would overwrite that folder's report and tables).
OWNED_MARKS = (MANIFEST, "sweep.json", "plain.json")


def check_output(output: Path, sources: list[Path], own_mark: str, option: str = "--output") -> Path:
    """`output` as a place a report may write: new, empty, or one this kind of report wrote before
    (it holds `own_mark`); never a run folder, a folder inside one of `sources`, or a folder
    holding another command's files. UserError (one line, nothing written) otherwise."""
    out = Path(output).resolve()
    for src in sources:
        src = Path(src).resolve()
        if out == src or out.is_relative_to(src):
            raise UserError(f"{option} {output} is inside the run folder {src}: the report would overwrite that "
                            f"run's own files; name a new folder")
    if out.exists() and not out.is_dir():
        raise UserError(f"{option} {output} is a file, not a folder: name a new folder")
    mark = next((m for m in OWNED_MARKS if (out / m).exists() and m != own_mark), None)
    if mark:
        raise UserError(f"{option} {output} holds {mark}: it belongs to another fwbench command and its files "
                        f"would be overwritten; name a new folder")
    if out.is_dir() and any(out.iterdir()) and not (out / own_mark).is_file():
        raise UserError(f"{option} {output} already holds files this report did not write (no {own_mark}): "
                        f"name a new or empty folder")
    return Path(output)


def run_name(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname()) or "host"
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{host}"


def staging_dir(parent: Path, name: str) -> Path:
    """A hidden folder beside the final one (same file system, so the rename is atomic), named
    by shared/atomic's temp_name: the owner's pid and host in it let a later run sweep a killed
    run's leftovers (atomic.sweep_stale) without touching a live one's."""
    from shared.atomic import make_temp_dir
    parent.mkdir(parents=True, exist_ok=True)
    return make_temp_dir(parent, name)


def publish(staging: Path, parent: Path, name: str) -> Path:
    """Rename the finished folder into place under a name no earlier run has (suffix -2, -3...)."""
    parent.mkdir(parents=True, exist_ok=True)
    for i in range(1, 1000):
        target = parent / (name if i == 1 else f"{name}-{i}")
        if target.exists() or target.is_symlink():
            continue
        try:
            os.rename(staging, target)  # on POSIX only an empty folder could be replaced: never a run
            return target
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    raise RuntimeError(f"no free run folder name under {parent} for {name}")


def point_latest(output: Path, run_dir: Path) -> Path:
    """Swap output/latest to a relative symlink to run_dir in one rename."""
    latest = output / "latest"
    tmp = output / f".latest-{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(run_dir, output), tmp, target_is_directory=True)
    os.replace(tmp, latest)
    return latest
