#!/usr/bin/env python3
"""Rewrite every committed report under results/ with the current code, by the commands each
report records, and point results/latest to the newest complete full run. Re-rendering only:
nothing is timed or trained, so it runs anywhere (a few minutes on 2 cores).

    python scripts/regenerate_reports.py [--results results]

In order: every run folder (`fwbench report RUN`), every pooled folder (its pooled.json's
`fwbench report --pool ...`), every sweep (`fwbench report --sweep`), the comparisons
(`fwbench report ... --compare`), the noise study (`fwbench noise --report`), the plain-script
checks (`fwbench plain --report`), the bisections (`fwbench bisect --report`), the parity checks (`fwbench check --rewrite`), then the README's
blocks, results/ANSWER.md and results/index.html (scripts/refresh_readme.py). Exit 1 when a report
is still out of date afterwards (benchmarks/reports/published.py says which).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.reports import published  # noqa: E402

# The comparisons committed under results/, with the command that wrote each (it is in the README).
COMPARISONS = {
    "stability-cpu/compare": "fwbench report results/stability-cpu/runs/* --compare --output results/stability-cpu/compare",
    "stability-cpu-epyc/compare": ("fwbench report results/stability-cpu-epyc/runs/* --compare "
                                   "--output results/stability-cpu-epyc/compare"),
    "machines-cpu": ("fwbench report results/stability-cpu-epyc/pooled results/stability-cpu/pooled --compare "
                     "--output results/machines-cpu"),
}


def fwbench(*args: str) -> None:
    """One fwbench command, run from the repository root as a user would type it."""
    cmd = [sys.executable, "-m", "benchmarks.cli", *args]
    print("  $ fwbench " + " ".join(shlex.quote(a) for a in args), flush=True)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode not in (0, 1):  # 1: a check or gate that does not pass, which is a result
        raise SystemExit(f"fwbench {' '.join(args)} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")


def rel(p: Path) -> str:
    return os.path.relpath(p, REPO)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=REPO / "results")
    args = ap.parse_args(argv)
    results = args.results.resolve()
    manifests = sorted(m.parent for m in results.rglob(published.MANIFEST)
                       if "latest" not in m.relative_to(results).parts and "workers" not in m.parts)
    print(f"{len(manifests)} run folders")
    for run in manifests:
        fwbench("report", rel(run))
    for pooled in sorted(results.rglob("pooled.json")):
        command = json.loads(pooled.read_text())["command"]
        fwbench(*shlex.split(command)[1:])
    for sweep in sorted(results.rglob("sweep.json")):
        fwbench("report", "--sweep", rel(sweep.parent))
    for where, command in COMPARISONS.items():
        if (results / where).parent.is_dir():
            words = shlex.split(command)[1:]
            expanded = []
            for w in words:  # the shell's glob, in the order a shell gives it
                expanded += sorted(rel(p) for p in REPO.glob(w)) if "*" in w else [w]
            fwbench(*expanded)
    if (results / "noise-cpu" / "report.md").is_file():
        fwbench("noise", "--report", "--output", rel(results / "noise-cpu"))
    for b in sorted(results.rglob("bisect.json")):
        fwbench("bisect", "--report", rel(b.parent))
    for plain in sorted(results.rglob("plain.json")):
        if not (plain.parent / published.MANIFEST).is_file():  # a plain check's own folder (not --into RUN)
            fwbench("plain", "--report", rel(plain.parent))
    for rec in published.check_records(results):
        fwbench("check", "--rewrite", rel(rec))
    latest = published.newest_full_run(results)
    if latest is not None:
        link = results / "latest"
        tmp = results / ".latest.tmp"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(os.path.relpath(latest, results))
        os.replace(tmp, link)
        print(f"results/latest -> {os.readlink(link)}")
    subprocess.run([sys.executable, str(REPO / "scripts" / "refresh_readme.py")], cwd=REPO, check=True)
    left = published.problems(results)
    for line in left:
        print(f"still out of date: {line}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
