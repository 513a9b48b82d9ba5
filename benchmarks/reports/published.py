"""The committed reports under results/: where they are, which are out of date, and which run
`results/latest` must point to. tests/test_committed_reports.py holds the repository to these;
scripts/regenerate_reports.py rewrites every report with the current code (re-rendering only: it
times nothing).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.analysis import stats
from benchmarks.reports.model import REPORT_VERSION, written_version

MANIFEST = "manifest.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"


def report_files(results: Path) -> list[Path]:
    """Every report.md under results/ (run, pooled, sweep, comparison, noise and plain reports)."""
    return sorted(p for p in Path(results).rglob(REPORT_MD) if ".tmp" not in p.parent.name)


def check_records(results: Path) -> list[Path]:
    """The `fwbench check --json` records (JSON with its .md beside it)."""
    out = []
    for p in sorted(Path(results).rglob("*.json")):
        if p.name in (MANIFEST, "pooled.json", "sweep.json", "plain.json", "config.json") or "workers" in p.parts:
            continue
        try:
            doc = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "per_seed" in doc and "rules" in doc and "record" in doc:
            out.append(p)
    return out


def retired_words(text: str) -> list[str]:
    """The retired verdict words a report still uses (stats.RETIRED_VERDICT_WORDS)."""
    low = text.lower()
    return [w for w in stats.RETIRED_VERDICT_WORDS if re.search(rf"\b{re.escape(w)}\b", low)]


def problems(results: Path) -> list[str]:
    """Every way the committed reports are out of date, one line each (empty: all current)."""
    out = []
    for md in report_files(results):
        text = md.read_text(encoding="utf-8")
        v = written_version(text)
        if v != REPORT_VERSION:
            out.append(f"{md}: written by report format {v or 'before formats were numbered'}, the current is "
                       f"{REPORT_VERSION}")
        for w in retired_words(text):
            out.append(f"{md}: uses the retired verdict word {w!r}")
        html = md.with_name(REPORT_HTML)
        if not html.is_file():
            out.append(f"{md}: no {REPORT_HTML} beside it")
        elif written_version(html.read_text(encoding="utf-8")) != REPORT_VERSION:
            out.append(f"{html}: not written by report format {REPORT_VERSION}")
    for rec in check_records(results):
        md = rec.with_suffix(".md")
        text = md.read_text(encoding="utf-8") if md.is_file() else ""
        doc = json.loads(rec.read_text())
        if doc.get("optimizer") == "native" and "accuracy_parity" not in doc:
            out.append(f"{rec}: judged by the retired rule (an interval holding 0); `fwbench check --rewrite {rec}`")
        for w in retired_words(text):
            out.append(f"{md}: uses the retired verdict word {w!r}")
    return out


def full_runs(results: Path) -> list[tuple[str, Path]]:
    """(start time, folder) of every complete full run under results/ (the kind `fwbench run` gives
    a run with all phases, both frameworks and at least the default processes, not --quick)."""
    out = []
    for m in Path(results).rglob(MANIFEST):
        if "latest" in m.parts:
            continue
        try:
            doc = json.loads(m.read_text())
        except (OSError, ValueError):
            continue
        if doc.get("kind") == "full" and doc.get("finished_utc") and not doc.get("aa") and not doc.get("duet"):
            out.append((str(doc.get("started_utc") or ""), m.parent))
    return sorted(out)


def newest_full_run(results: Path) -> Path | None:
    """What results/latest points to by its definition (README: the newest complete full run)."""
    runs = full_runs(results)
    return runs[-1][1] if runs else None
