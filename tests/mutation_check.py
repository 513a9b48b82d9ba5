"""Planted-bug check of issue 24: one-line bugs in the reader, pool, duet, plain check, answer and
gate, each run against the tests that should catch it.

    python -m tests.mutation_check [NAME ...]     (from the repository root)

The repository's source files are copied once into a temporary folder; each mutant replaces one
exact line fragment there (the script refuses a mutant whose fragment is not found exactly once,
so a mutant can never silently test nothing), runs only its own small test selection (never the
whole suite, and never tests/test_readme_block.py: a bug must be caught by a test with known
inputs, not by the committed README going stale), and restores the file. A mutant is killed when
its selection fails. Prints a line per mutant and the kill rate; exit 1 below 95%.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRUST = "tests/test_reader_trust.py"

# (name, file, fragment, replacement, pytest arguments)
MUTANTS = [
    # ---- the reader (benchmarks/analysis/rundata.py)
    ("reader: round-time domain unbounded above", "benchmarks/analysis/rundata.py",
     '"round time": (1e-8, 1e5, "s", False)', '"round time": (1e-8, 1e300, "s", False)', [TRUST, "-k", "domain"]),
    ("reader: domain without its upper bound", "benchmarks/analysis/rundata.py",
     "return _number(value) and math.isfinite(value) and lo <= value <= hi",
     "return _number(value) and math.isfinite(value) and lo <= value", [TRUST, "-k", "domain"]),
    ("reader: whole numbers may be fractions", "benchmarks/analysis/rundata.py",
     "return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi",
     "return _number(value) and lo <= value <= hi", [TRUST, "-k", "domain"]),
    ("reader: stats need not agree with rounds", "benchmarks/analysis/rundata.py",
     "if not math.isclose(got, want, rel_tol=1e-6):", "if False:", [TRUST, "-k", "domain"]),
    ("reader: a copied worker file counts twice", "benchmarks/analysis/rundata.py",
     "                if p.digest in seen:", "                if p.digest in seen and False:",
     [TRUST, "-k", "copied_under"]),
    ("reader: any device string accepted", "benchmarks/analysis/rundata.py",
     "if case.device not in DEVICES:", "if case.device is None:", [TRUST, "-k", "device_string"]),
    ("reader: text limit a thousand times larger", "benchmarks/analysis/rundata.py",
     "if len(value) > TEXT_LIMITS[limit]:", "if len(value) > 1000 * TEXT_LIMITS[limit]:", [TRUST, "-k", "huge"]),
    ("reader: a baseline naming no case accepted", "benchmarks/analysis/rundata.py",
     "if base is None or base.device != dev or base.is_shared:", "if base is not None and base.device != dev:",
     [TRUST, "-k", "baseline_naming"]),
    ("reader: result.json compared the wrong way", "benchmarks/analysis/rundata.py",
     'if "outcomes" in doc and theirs != mine:', 'if "outcomes" in doc and theirs == mine:',
     [TRUST, "-k", "result_json"]),
    ("reader: result.json never compared", "benchmarks/analysis/rundata.py",
     "    _check_result(folder, mpath, case, w, index)\n", "", [TRUST, "-k", "result_json"]),
    ("reader: speedup inverted", "benchmarks/analysis/rundata.py",
     "r = stats.ratio(bsamples, samples)", "r = stats.ratio(samples, bsamples)",
     [TRUST, "-k", "three_runs or baseline_faster"]),
    ("reader: derived cost mis-paired", "benchmarks/analysis/rundata.py",
     "[by_b[i] for i in common])", "[by_b[i] for i in reversed(common)])", [TRUST, "-k", "derived"]),
    ("reader: accuracy read as memory", "benchmarks/analysis/rundata.py",
     '(("accuracy", "accuracy"), ("peak_rss_mb", "memory")', '(("accuracy", "memory"), ("peak_rss_mb", "memory")',
     ["tests/test_bad_input.py", "-k", "damaged_run_folder and accuracy"]),
    ("reader: worker files may lie outside the folder", "benchmarks/analysis/rundata.py",
     "if Path(name).is_absolute() or not (folder / name).resolve().is_relative_to(folder):", "if False:",
     [TRUST, "-k", "outside_the_run_folder"]),
    ("reader: output inside a source run allowed", "benchmarks/analysis/rundata.py",
     "if out == src or out.is_relative_to(src):", "if out == src:", [TRUST, "-k", "pool_output"]),
    ("reader: output with foreign files allowed", "benchmarks/analysis/rundata.py",
     "if out.is_dir() and any(out.iterdir()) and not (out / own_mark).is_file():", "if False:",
     [TRUST, "-k", "foreign"]),
    ("reader: a copied run passes", "benchmarks/analysis/rundata.py",
     "if shared and (not whole or", "if shared and (whole and", [TRUST, "-k", "copy_are_one_run"]),
    ("reader: a duet pair counted twice", "benchmarks/analysis/rundata.py",
     "if len(set(indices)) != len(indices):", "if False:", [TRUST, "-k", "duet"]),
    ("reader: duet record unchecked", "benchmarks/analysis/rundata.py",
     '        _check_duet(mpath, manifest["duet"], cases)', "        pass", [TRUST, "-k", "duet"]),
    # ---- pooling (benchmarks/analysis/pool.py)
    ("pool: indices restart in each run", "benchmarks/analysis/pool.py",
     "offsets[cid] = base + max(", "offsets[cid] = max(", [TRUST, "-k", "three_runs"]),
    ("pool: no offset at all", "benchmarks/analysis/pool.py",
     "base = offsets.get(cid, 0)", "base = 0", [TRUST, "-k", "three_runs"]),
    ("pool: only the last run's processes", "benchmarks/analysis/pool.py",
     "dest.processes += [", "dest.processes = [", [TRUST, "-k", "three_runs"]),
    ("pool: a mismatched fingerprint accepted", "benchmarks/analysis/pool.py",
     "if fp[key] != first[key]:", "if False:", ["tests/test_pool.py", "-k", "mismatched"]),
    ("pool: run count from the first worker only", "benchmarks/analysis/pool.py",
     'srcs = {w.get("run") for w in c.workers if int(w.get("index", 0)) in idx}',
     'srcs = {w.get("run") for w in c.workers[:1]}', [TRUST, "-k", "three_runs"]),
    # ---- duet (benchmarks/analysis/duet.py)
    ("duet: ratio inverted", "benchmarks/analysis/duet.py",
     "return float(np.median(np.log(a / b)))", "return float(np.median(np.log(b / a)))", ["tests/test_duet.py", "-k", "ratio or order"]),
    ("duet: mean instead of median over rounds", "benchmarks/analysis/duet.py",
     "return float(np.median(np.log(a / b)))", "return float(np.mean(np.log(a / b)))", ["tests/test_duet.py", "-k", "ratio or order"]),
    ("duet: pairs mis-matched", "benchmarks/analysis/duet.py",
     "figures[k] = pair_figure(by_a[k], by_b[k])", "figures[k] = pair_figure(by_a[k], by_b[sorted(by_b)[0]])",
     ["tests/test_duet.py", "-k", "ratio or order"]),
    ("duet: per-core split inverted", "benchmarks/analysis/duet.py",
     "if core_of.get(k) == c]", "if core_of.get(k) != c]", ["tests/test_duet.py", "-k", "ratio or order"]),
    # ---- the plain check (benchmarks/plain/)
    ("plain: sides never alternate", "benchmarks/plain/check.py",
     'return ("plain", "twin") if k % 2 == 0 else ("twin", "plain")', 'return ("plain", "twin")',
     [TRUST, "-k", "alternates"]),
    ("plain: cases never rotate", "benchmarks/plain/check.py",
     "return cases[k % len(cases):] + cases[:k % len(cases)]", "return list(cases)", [TRUST, "-k", "alternates"]),
    ("plain: the reference never rotates", "benchmarks/plain/check.py",
     "return sides[k % 3:] + sides[:k % 3]", "return sides", [TRUST, "-k", "alternates"]),
    ("plain: ratio inverted", "benchmarks/plain/summary.py",
     "r = stats.ratio(twin, plain)", "r = stats.ratio(plain, twin)", [TRUST, "-k", "plain_report_figures"]),
    ("plain: first epoch kept", "benchmarks/plain/summary.py",
     'plain = [p["plain"]["epoch_seconds"][1:] for p in pairs]\n    twin = [p["twin"]["epoch_seconds"][1:] for p in pairs]\n    r =',
     'plain = [p["plain"]["epoch_seconds"] for p in pairs]\n    twin = [p["twin"]["epoch_seconds"][1:] for p in pairs]\n    r =',
     [TRUST, "-k", "plain_report_figures"]),
    ("plain: loss difference relative to the twin", "benchmarks/plain/summary.py",
     '/ np.abs(np.array(p["plain"]["epoch_losses"][0])))) for p in pairs)',
     '/ np.abs(np.array(p["twin"]["epoch_losses"][0])))) for p in pairs)', [TRUST, "-k", "plain_report_figures"]),
    ("plain: a zero loss accepted", "benchmarks/plain/report.py",
     'if not (in_domain(x, "loss") and x > 0):', 'if not in_domain(x, "loss"):', [TRUST, "-k", "damaged_plain"]),
    ("plain: a case's results twice accepted", "benchmarks/plain/report.py",
     "        if r[\"case\"] in seen:", "        if False:", [TRUST, "-k", "damaged_plain"]),
    # ---- the answer (benchmarks/reports/answer.py, and the sentence it reuses)
    ("answer: winner word inverted", "benchmarks/reports/answer.py",
     "x faster\" if r[\"verdict\"] == stats.FASTER", "x faster\" if r[\"verdict\"] == stats.SLOWER",
     [TRUST, "-k", "answer_default"]),
    ("answer: baseline faster by the case's speedup", "benchmarks/reports/answer.py",
     "else f\"{base.label} {fmt_ratio(1 / r['speedup'])}x faster\")",
     "else f\"{base.label} {fmt_ratio(r['speedup'])}x faster\")", [TRUST, "-k", "answer_default"]),
    ("answer: best against best inverted", "benchmarks/reports/answer.py",
     "r = stats.ratio(ts, fs)", "r = stats.ratio(fs, ts)", ["tests/test_answer.py", "-k", "best_against_best"]),
    ("answer: seed mean never checked", "benchmarks/reports/answer.py",
     "if vals and not math.isclose(", "if False and not math.isclose(", [TRUST, "-k", "accuracy_check"]),
    ("sentence: baseline faster by the case's speedup", "benchmarks/reports/report.py",
     "{ph.verb} {fmt_ratio(1 / s)}x faster than {row['label']}", "{ph.verb} {fmt_ratio(s)}x faster than {row['label']}",
     [TRUST, "-k", "baseline_faster or answer_default"]),
    ("sentence: baseline-faster interval not inverted", "benchmarks/reports/report.py",
     "fmt_interval(1 / hi, 1 / lo)", "fmt_interval(lo, hi)", [TRUST, "-k", "baseline_faster"]),
    ("matrix: memory ratio inverted", "benchmarks/reports/report.py",
     "te.iloc[0]['peak_rss_mb'] / bt.iloc[0]['peak_rss_mb']:.2f}x",
     "bt.iloc[0]['peak_rss_mb'] / te.iloc[0]['peak_rss_mb']:.2f}x", [TRUST, "-k", "matrix_memory"]),
    # ---- the gate and the comparison (benchmarks/reports/compare.py, benchmarks/commands/report.py)
    ("gate: no-interval slowdown rule dropped", "benchmarks/reports/compare.py",
     "if v.word == stats.SLOWER or (v.word == stats.NO_INTERVAL and r.value > 1 + threshold / 100):",
     "if v.word == stats.SLOWER:", [TRUST, "-k", "without_an_interval"]),
    ("gate: new and old swapped", "benchmarks/reports/compare.py",
     "r = stats.ratio(pd_new.samples(), pd_old.samples())", "r = stats.ratio(pd_old.samples(), pd_new.samples())",
     [TRUST, "-k", "without_an_interval"]),
    ("gate: change in percent inverted", "benchmarks/reports/compare.py",
     "change = (r.value - 1) * 100", "change = (1 - r.value) * 100", [TRUST, "-k", "without_an_interval"]),
    ("gate: lost workers pass", "benchmarks/reports/compare.py",
     "if pd_new.missing:  # some workers'", "if False:  # some workers'",
     ["tests/test_bad_input.py", "-k", "lost_worker_result and no_file_named"]),
    ("gate: the baseline's missing process unsaid", "benchmarks/reports/compare.py",
     "            if pd_.missing:\n                out.append(f\"the baseline", "            if False:\n                out.append(f\"the baseline",
     [TRUST, "-k", "baseline_lacking"]),
    ("comparison: consistent when any pair is", "benchmarks/reports/compare.py",
     "if all(w == CONSISTENT for w in words):", "if any(w == CONSISTENT for w in words):",
     [TRUST, "-k", "across_runs"]),
    ("gate: one folder as both sides", "benchmarks/commands/report.py",
     "if new.path == old.path:", "if False:", [TRUST, "-k", "both_sides"]),
    ("gate: an empty baseline passes", "benchmarks/commands/report.py",
     "failed |= bool(fails) or not (fails or other)", "failed |= bool(fails)",
     ["tests/test_report.py", "-k", "empty_baseline"]),
]


def copy_tree(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split("\n")
    for f in files:
        if not f or f.startswith("results/") or not (REPO / f).is_file():
            continue
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, dest / f)


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTANTS if not argv or any(a in m[0] for a in argv)]
    killed, rows = 0, []
    with tempfile.TemporaryDirectory(prefix="fwbench-mutants-") as tmp:
        root = Path(tmp)
        copy_tree(root)
        env = {**os.environ, "PYTHONPATH": str(root), "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
        # each selection first passes on the unmutated code: otherwise its "kill" would mean nothing
        for args in dict.fromkeys(tuple(m[4]) for m in chosen):
            p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=root,
                               env=env, capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                print(f"the selection pytest {' '.join(args)} fails without a planted bug (exit {p.returncode}):\n"
                      + p.stdout[-2000:])
                return 2
        for name, file, old, new, args in chosen:
            path = root / file
            original = path.read_text()
            if original.count(old) != 1:
                print(f"BAD MUTANT {name}: the fragment is found {original.count(old)} times in {file}")
                return 2
            path.write_text(original.replace(old, new))
            t0 = time.time()
            try:
                p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *args],
                                   cwd=root, env=env, capture_output=True, text=True, timeout=600)
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
            finally:
                path.write_text(original)
            dead = rc not in (0, 5)  # 5: no test selected, which kills nothing
            killed += dead
            print(f"{'killed  ' if dead else 'SURVIVED'} {name} ({file}; pytest {' '.join(args)}; exit {rc}; "
                  f"{time.time() - t0:.0f} s)", flush=True)
    rate = killed / len(chosen) if chosen else 0.0
    print(f"{killed} of {len(chosen)} planted bugs killed ({rate:.0%})")
    return 0 if rate >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
