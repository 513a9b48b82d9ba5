"""A run folder: the merged table (CSV, Markdown) from the raw pytest-benchmark JSON, and
publishing the folder atomically with results/latest pointing at the newest complete run.

results.csv: one row per (phase, device). Per framework F (and "shared" for the data rows):
F_label, F_status (ok / skipped / failed / unavailable / absent), F_median_s, F_iqr_s,
F_rounds, F_accuracy, F_peak_rss_mb, F_peak_device_mem_mb, F_note; then ratio_A_over_B
(median of A / median of B) for the first two frameworks. Figures are copied from the
JSON's stats unrounded, so the table and the raw files agree exactly.
"""
from __future__ import annotations

import csv
import errno
import json
import os
import re
import socket
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.phases import ALL_PHASES, SHARED_PHASES

LABELS = {"torch": "PyTorch", "tensorflow": "TensorFlow", "shared": "shared"}
FIELDS = ("label", "status", "median_s", "iqr_s", "rounds", "accuracy", "peak_rss_mb", "peak_device_mem_mb", "note")


def bench_name(fw: str, device: str) -> str:
    return f"bench-{fw}-{device}.json"


def _cells_of(doc: dict) -> dict[str, dict]:
    """phase -> cell, from one pytest-benchmark JSON document."""
    out = {}
    for b in doc.get("benchmarks", []):
        info, stats = b.get("extra_info", {}), b["stats"]
        out[info["phase"]] = {"label": info.get("variant_label"), "status": "ok", "median_s": stats["median"],
                              "iqr_s": stats["iqr"], "rounds": stats["rounds"], "accuracy": info.get("accuracy"),
                              "peak_rss_mb": info.get("peak_rss_mb"),
                              "peak_device_mem_mb": info.get("peak_device_mem_mb"), "note": None}
    return out


def merge(run_dir: Path, processes: list[dict], frameworks: list[str], devices: list[str],
          phases: list[str]) -> tuple[list[str], list[dict]]:
    """(columns, rows) of the merged table; `processes` as in manifest.json."""
    by_key = {(p["framework"], p["device"]): p for p in processes}
    sides = list(frameworks) + (["shared"] if any(p in SHARED_PHASES for p in phases) else [])
    columns = ["phase", "device"] + [f"{s}_{f}" for s in sides for f in FIELDS]
    ratio = f"ratio_{frameworks[0]}_over_{frameworks[1]}" if len(frameworks) >= 2 else None
    if ratio:
        columns.append(ratio)
    rows = []
    for phase in [p for p in ALL_PHASES if p in phases]:
        shared = phase in SHARED_PHASES
        for device in (["cpu"] if shared else devices):
            row = {c: None for c in columns}
            row.update(phase=phase, device=device)
            for side in (["shared"] if shared else frameworks):
                proc = by_key.get((side, device))
                cell = {"label": LABELS.get(side, side), "status": "absent", "note": "not run"}
                if proc is not None:
                    cell = _cell(run_dir, proc, phase, cell)
                row.update({f"{side}_{k}": v for k, v in cell.items()})
            if ratio and not shared:
                a, b = (row[f"{fw}_median_s"] for fw in frameworks[:2])
                row[ratio] = a / b if a and b else None
            rows.append(row)
    return columns, rows


def _cell(run_dir: Path, proc: dict, phase: str, cell: dict) -> dict:
    cell = dict(cell, label=proc.get("label") or cell["label"])
    if proc["status"] == "unavailable":
        return dict(cell, status="unavailable", note=f"not available on this machine: {proc['reason']}")
    if proc["status"] == "failed":
        return dict(cell, status="failed", note=f"failed: {proc['reason']}")
    outcome = (proc.get("outcomes") or {}).get(phase, {})
    if outcome.get("outcome") in ("skipped", "failed"):
        return dict(cell, status=outcome["outcome"], note=outcome.get("reason"))
    name = proc.get("json")
    found = _cells_of(json.loads((run_dir / name).read_text())).get(phase) if name else None
    return dict(cell, **{k: v for k, v in found.items() if v is not None or k == "note"}) if found else cell


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in row.items()})


def time_unit(seconds: float) -> tuple[float, str]:
    """A scale and unit that puts `seconds` in a readable range."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale:
            return scale, unit
    return 1e-9, "ns"


def fmt_time(seconds: float | None) -> str:
    """3 significant digits in a readable unit ('' for no value); negative differences too."""
    if seconds is None:
        return ""
    scale, unit = time_unit(abs(seconds) if seconds else 1.0)
    v = seconds / scale
    return f"{v:.3g} {unit}" if abs(v) < 100 else f"{v:.0f} {unit}"


def _status_text(status: str) -> str:
    return {"unavailable": "not available", "skipped": "skipped", "failed": "FAILED", "absent": "not run"}[status]


def markdown(columns: list[str], rows: list[dict], frameworks: list[str]) -> str:
    fw_rows = [r for r in rows if r["phase"] not in SHARED_PHASES]
    sh_rows = [r for r in rows if r["phase"] in SHARED_PHASES]
    ratio = next((c for c in columns if c.startswith("ratio_")), None)
    labels = {fw: next((r[f"{fw}_label"] for r in fw_rows if r.get(f"{fw}_status") == "ok"), LABELS.get(fw, fw))
              for fw in frameworks}
    out = []
    if fw_rows:
        head = ["phase", "device"]
        for fw in frameworks:
            head += [f"{labels[fw]} median", "IQR"]
        if ratio:
            head.append(f"{LABELS.get(frameworks[0], frameworks[0])} / {LABELS.get(frameworks[1], frameworks[1])}")
        head += [f"accuracy {LABELS.get(fw, fw)}" for fw in frameworks]
        head += [f"peak RSS {LABELS.get(fw, fw)} (MB)" for fw in frameworks]
        head.append("notes")
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in fw_rows:
            cells, notes = [r["phase"], r["device"]], []
            for fw in frameworks:
                st = r[f"{fw}_status"]
                if st == "ok":
                    cells += [fmt_time(r[f"{fw}_median_s"]), fmt_time(r[f"{fw}_iqr_s"])]
                else:
                    cells += [_status_text(st), ""]
                    notes.append(f"{LABELS.get(fw, fw)}: {r[f'{fw}_note']}")
            if ratio:
                cells.append(f"{r[ratio]:.2f}" if r[ratio] else "")
            cells += [f"{r[f'{fw}_accuracy']:.4f}" if r[f"{fw}_accuracy"] is not None else "" for fw in frameworks]
            cells += [f"{r[f'{fw}_peak_rss_mb']:.0f}" if r[f"{fw}_peak_rss_mb"] is not None else "" for fw in frameworks]
            same = len(notes) > 1 and len({n.split(": ", 1)[1] for n in notes}) == 1
            cells.append(notes[0].split(": ", 1)[1] if same else "; ".join(notes))
            out.append("| " + " | ".join(str(c) for c in cells) + " |")
    if sh_rows:
        out += ["", "Data preparation (framework-neutral, its own process):", "",
                "| phase | median | IQR | rounds | peak RSS (MB) | notes |", "|---|---|---|---|---|---|"]
        for r in sh_rows:
            ok = r["shared_status"] == "ok"
            out.append("| " + " | ".join([
                r["phase"], fmt_time(r["shared_median_s"]) if ok else _status_text(r["shared_status"]),
                fmt_time(r["shared_iqr_s"]), str(r["shared_rounds"] or ""),
                f"{r['shared_peak_rss_mb']:.0f}" if r["shared_peak_rss_mb"] is not None else "",
                "" if ok else str(r["shared_note"])]) + " |")
    return "\n".join(out) + "\n"


# --- the run folder --------------------------------------------------------------------------

def run_name(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname()) or "host"
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{host}"


def staging_dir(parent: Path, name: str) -> Path:
    """A hidden folder beside the final one (same file system, so the rename is atomic)."""
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f".{name}-", suffix=".tmp", dir=parent))
    path.chmod(0o755)  # mkdtemp's 0700 would make the published run private
    return path


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
