"""Reading a run folder (manifest.json + bench-*.json) into plain records for the report.

Everything the runner might leave out (a failed framework, a missing file, rounds saved
without their per-round data) becomes a sentence in `Run.notes` instead of an exception, so a
partial run still yields a report that says what is missing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared.errors import UserError

FRAMEWORK_LABELS = {"torch": "PyTorch (eager)", "tensorflow": "TensorFlow (graph)", "shared": "shared"}
FRAMEWORK_ORDER = ("torch", "tensorflow")
DEVICE_ORDER = ("cpu", "gpu")
# phase -> (verb phrase for "X ... 2x faster", gerund for "no difference in ...", table label)
PHASES = {
    "data_prepare": ("prepares the data", "preparing the data", "data preparation (shared)"),
    "data_load": ("loads the prepared data", "loading the prepared data", "data load from cache (shared)"),
    "train_epoch": ("trains an epoch", "training an epoch", "train epoch (warm)"),
    "pipeline_epoch": ("trains an epoch with its input pipeline", "training an epoch with its input pipeline",
                       "epoch incl. input pipeline"),
    "first_epoch": ("runs the first epoch of a fresh model", "the first epoch of a fresh model",
                    "first epoch (incl. tracing/warm-up)"),
    "train_to_accuracy": ("trains to final accuracy", "training to final accuracy", "train to accuracy"),
    "predict_all": ("predicts the whole test set", "predicting the whole test set", "predict all (test set)"),
    "predict_one": ("predicts one post", "predicting one post", "predict one (batch of 1)"),
}


def phase_words(phase: str) -> tuple[str, str, str]:
    return PHASES.get(phase, (f"runs {phase}", f"running {phase}", phase))


def phase_key(phase: str) -> tuple[int, str]:
    order = list(PHASES)
    return (order.index(phase) if phase in order else len(order), phase)


def framework_key(fw: str) -> tuple[int, str]:
    return (FRAMEWORK_ORDER.index(fw) if fw in FRAMEWORK_ORDER else len(FRAMEWORK_ORDER), fw)


def device_key(dev: str) -> tuple[int, str]:
    return (DEVICE_ORDER.index(dev) if dev in DEVICE_ORDER else len(DEVICE_ORDER), dev)


@dataclass
class Entry:
    """One benchmark: a framework's phase on a device, with its rounds in seconds."""

    framework: str
    device: str
    phase: str
    label: str
    median: float
    q1: float
    q3: float
    rounds: int
    data: np.ndarray | None  # per-round seconds; None when saved without --benchmark-save-data
    extra: dict = field(default_factory=dict)

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


@dataclass
class Run:
    path: Path
    manifest: dict
    entries: list[Entry]
    notes: list[str]  # what is missing or odd, in words
    # (framework, device) -> "failed: ..." / "not available on this machine: ..." for processes that gave no JSON
    absent: dict[tuple[str, str], str]
    # (framework, device, phase) -> "skipped: ..." / "failed: ..." for single phases of a process that ran
    phase_status: dict[tuple[str, str, str], str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    def get(self, framework: str, device: str, phase: str) -> Entry | None:
        for e in self.entries:
            if (e.framework, e.device, e.phase) == (framework, device, phase):
                return e
        return None

    def devices(self) -> list[str]:
        devs = {e.device for e in self.entries if e.framework != "shared"} | {d for _, d in self.absent}
        return sorted(devs, key=device_key)

    def frameworks(self) -> list[str]:
        fws = {e.framework for e in self.entries} | {f for f, _ in self.absent}
        return sorted(fws - {"shared"}, key=framework_key)

    def phases(self, include_shared: bool = False) -> list[str]:
        ph = {e.phase for e in self.entries if include_shared or e.framework != "shared"}
        return sorted(ph, key=phase_key)

    def table_phases(self, device: str) -> list[str]:
        """Phases worth a row on `device`: measured or explained there; every phase when the whole
        device is absent, so each row can say why."""
        rows = [p for p in self.phases() if any(e.device == device and e.phase == p for e in self.entries)
                or any(k[1:] == (device, p) for k in self.phase_status)]
        return rows or self.phases()

    def missing_text(self, framework: str, device: str, phase: str) -> str:
        """Why a table cell has no timing."""
        return (self.absent.get((framework, device)) or self.phase_status.get((framework, device, phase))
                or "not measured")

    def label(self, framework: str) -> str:
        for e in self.entries:
            if e.framework == framework:
                return e.label
        return FRAMEWORK_LABELS.get(framework, framework)


def losses(entry: "Entry") -> list[float]:
    """Per-epoch mean training loss (the runner's key, or the name the report format first used)."""
    return list(entry.extra.get("epoch_mean_loss") or [])


def _read_json(path: Path) -> dict:
    with open(path) as f:
        return json.load(f)


def _manifest_from_machine_info(files: list[Path]) -> dict:
    """What pytest-benchmark's machine_info (with the harness's "fwbench" key) says about the environment."""
    env, runtimes = {}, {}
    for path in files:
        try:
            mi = _read_json(path).get("machine_info") or {}
        except (OSError, ValueError):
            continue
        fw = mi.get("fwbench") or {}
        env.setdefault("host", mi.get("node"))
        env.setdefault("cpu", (mi.get("cpu") or {}).get("brand_raw"))
        env.setdefault("python", mi.get("python_version"))
        env.setdefault("gpus", fw.get("gpus"))
        env.setdefault("thread_env", fw.get("thread_env"))
        if fw.get("runtime"):
            runtimes[f"{fw.get('framework')}-{fw.get('device')}"] = fw["runtime"]
    return {"environment": {k: v for k, v in env.items() if v is not None}, "runtimes": runtimes} if env else {}


def _entry(bench: dict, fallback_fw: str, fallback_dev: str, source: str, notes: list[str]) -> Entry | None:
    info = bench.get("extra_info") or {}
    stats = bench.get("stats") or {}
    phase = info.get("phase")
    if not phase:
        notes.append(f"{source}: benchmark {bench.get('name', '?')!r} has no phase in extra_info; left out")
        return None
    fw = info.get("framework") or fallback_fw
    data = stats.get("data")
    arr = np.asarray(data, dtype=float) if data else None
    if arr is not None:
        # pytest-benchmark's own figures when present, so the report matches results.csv
        median = stats.get("median", float(np.median(arr)))
        q1 = stats.get("q1", float(np.percentile(arr, 25)))
        q3 = stats.get("q3", float(np.percentile(arr, 75)))
    elif "median" in stats:
        median, q1, q3 = stats["median"], stats.get("q1", stats["median"]), stats.get("q3", stats["median"])
    else:
        notes.append(f"{source}: benchmark {bench.get('name', '?')!r} has no timing statistics; left out")
        return None
    return Entry(framework=fw, device=info.get("device") or fallback_dev, phase=phase,
                 label=info.get("variant_label") or FRAMEWORK_LABELS.get(fw, fw),
                 median=float(median), q1=float(q1), q3=float(q3),
                 rounds=int(stats.get("rounds", arr.size if arr is not None else 1)), data=arr, extra=info)


def _split_name(path: Path) -> tuple[str, str]:
    """bench-<framework>-<device>.json -> (framework, device)."""
    parts = path.stem.split("-")
    return (parts[1] if len(parts) > 1 else "?", parts[2] if len(parts) > 2 else "?")


def _load_bench(path: Path, fw: str, dev: str, notes: list[str]) -> list[Entry]:
    try:
        doc = _read_json(path)
    except (OSError, ValueError) as e:
        notes.append(f"{path.name} could not be read ({e.__class__.__name__}: {e}); its results are missing")
        return []
    entries = [e for b in doc.get("benchmarks", []) if (e := _entry(b, fw, dev, path.name, notes))]
    without_data = [e.phase for e in entries if e.data is None]
    if without_data:
        notes.append(f"{path.name} has no per-round data (saved without --benchmark-save-data): "
                     f"no intervals or distributions for {', '.join(without_data)}")
    if not entries:
        notes.append(f"{path.name} holds no benchmarks")
    return entries


def load_run(path: str | Path) -> Run:
    """Read a run folder; raise UserError when it is not one (exit status 2)."""
    given = Path(path)
    if not given.exists():
        raise UserError(f"{given}: no such run folder (give a results/runs/<stamp>-<host> folder)")
    folder = given.resolve()
    if not folder.is_dir():
        raise UserError(f"{given}: not a folder; give a run folder such as results/latest")
    manifest_path = folder / "manifest.json"
    bench_files = sorted(folder.glob("bench-*.json"))
    if not manifest_path.is_file() and not bench_files:
        raise UserError(f"{given}: not a run folder (no manifest.json and no bench-*.json)")

    notes: list[str] = []
    manifest: dict = {}
    if manifest_path.is_file():
        try:
            manifest = _read_json(manifest_path)
        except (OSError, ValueError) as e:
            notes.append(f"manifest.json could not be read ({e}): configuration, environment and command unknown")
    else:
        notes.append("manifest.json is missing: configuration and command unknown; environment partly "
                     "from pytest-benchmark's machine_info")
        manifest = _manifest_from_machine_info(bench_files)

    entries: list[Entry] = []
    absent: dict[tuple[str, str], str] = {}
    phase_status: dict[tuple[str, str, str], str] = {}
    loaded: set[str] = set()
    for proc in manifest.get("processes", []):
        fw, dev = proc.get("framework", "?"), proc.get("device", "?")
        status, reason = proc.get("status"), proc.get("reason") or "no reason given"
        name = proc.get("json")
        for phase, out in (proc.get("outcomes") or {}).items():
            if out.get("outcome") in ("skipped", "failed"):
                text = f"{out['outcome']}: {out.get('reason') or 'no reason given'}"
                phase_status[(fw, dev, phase)] = text
                notes.append(f"{FRAMEWORK_LABELS.get(fw, fw)} on {dev.upper()}, {phase}: {text}")
        if name in loaded:  # listed twice: read once
            continue
        if status == "unavailable":
            absent[(fw, dev)] = f"not available on this machine: {reason}"
        elif status != "ok":
            absent[(fw, dev)] = f"failed: {reason}"
        elif not name or not (folder / name).is_file():
            absent[(fw, dev)] = f"results file {name or 'bench-' + fw + '-' + dev + '.json'} is missing"
        else:
            loaded.add(name)
            got = _load_bench(folder / name, fw, dev, notes)
            entries += got
            if not got:
                absent[(fw, dev)] = f"{name} holds no usable results"
    for extra in bench_files:  # files the manifest does not list (or no manifest at all)
        if extra.name not in loaded:
            fw, dev = _split_name(extra)
            entries += _load_bench(extra, fw, dev, notes)
    for (fw, dev), why in sorted(absent.items()):
        notes.insert(0, f"{FRAMEWORK_LABELS.get(fw, fw)} on {dev.upper()}: {why}")
    return Run(path=folder, manifest=manifest, entries=entries, notes=notes, absent=absent, phase_status=phase_status)
