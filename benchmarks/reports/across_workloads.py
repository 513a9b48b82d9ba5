"""The answer across workloads: one table, workload x phase, each framework's default against
PyTorch's default, from one committed run per workload made on one machine.

Evidence: every run folder under results/<WORKLOADS>/ (any depth: a run folder is a folder with a
manifest). A run counts for the workload its manifest names (never its path); where a workload
has several runs, the newest. Each row names the machine (CPU model, threads) and the date its
run started, so a reader sees when two rows come from different machines or days, and the ratio
is the run's own (two cases measured interleaved in one run). Where a pairing's verdict is not the
same for every workload, a sentence says so and the step breakdown of each workload (when the
runs measured it, --anatomy) says which part of the training step moved, and the minor page
faults per round of each default case (where its workers recorded them) say where one framework
asks the kernel for fresh memory every call and another does not.

Beside them, results/<ALLOCATOR>/ holds the same workloads run with allocator variables given to
every case (each manifest records which): the pairs (allocator_rows) say how much of a verdict the
memory allocator carries, refused where a pair does not isolate it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.analysis import stats
from benchmarks.analysis.rundata import Run, fmt_interval, fmt_ratio, fmt_time, load_run, md_table, summary
from benchmarks.model.phases import PHASES
from shared.errors import UserError

WORKLOADS = Path("workloads-cpu")  # relative to the results folder
# The same workloads run with allocator variables given to every case (their manifests record
# which): how much of each verdict the memory allocator carries. Relative to the results folder.
ALLOCATOR = Path("allocator-cpu")
# The first-screen phases: a warm epoch, the whole training, the test set, one post.
PHASES_SHOWN = ("train_epoch", "train_to_accuracy", "predict_all", "predict_one")
DEVICE = "cpu"


@dataclass
class Row:
    workload: str  # label
    phase: str
    challenger: str  # case label
    baseline: str  # case label
    speedup: float | None  # baseline time / challenger time: above 1, the challenger is faster
    low: float | None
    high: float | None
    verdict: str | None  # the suite's words (benchmarks/analysis/stats.py), of the challenger against the baseline
    machine: str
    date: str
    run: Path
    allocator: str | None = None  # the run's allocator variables in words ("none set"); None: not recorded

    @property
    def winner(self) -> str:
        if self.verdict == stats.FASTER:
            return self.challenger
        if self.verdict == stats.SLOWER:
            return self.baseline
        return "none"


def runs_by_workload(results: Path, where: Path = WORKLOADS) -> dict[str, Run]:
    """The newest run per workload (by its manifest's start time) under results/where, read and
    verified by rundata."""
    folder = results / where
    if not folder.is_dir():
        return {}
    newest: dict[str, Run] = {}
    for manifest in sorted(folder.rglob("manifest.json")):
        run = load_run(manifest.parent)
        have = newest.get(run.workload)
        if have is None or (run.manifest.get("started_utc") or "") > (have.manifest.get("started_utc") or ""):
            newest[run.workload] = run
    return newest


def machine_of(run: Run) -> str:
    env = run.manifest.get("environment") or {}
    threads = (run.manifest.get("threads") or {}).get("intra_op")
    return f"{env.get('cpu') or 'unknown CPU'}, {threads} threads a case"


def rows(results: Path, where: Path = WORKLOADS) -> list[Row]:
    return rows_of(runs_by_workload(results, where))


def rows_of(runs: dict[str, Run]) -> list[Row]:
    """The table's rows from runs already read (runs_by_workload)."""
    out = []
    for _, run in sorted(runs.items()):
        frame = summary(run)
        base = run.baseline(DEVICE)
        if base is None:
            raise UserError(f"{run.path}: no baseline on {DEVICE}: the workloads table compares with the baseline case")
        challengers = [c for c in run.framework_cases(DEVICE) if c.id != base.id and c.variant == _default_variant(c)]
        for phase in [p for p in PHASES_SHOWN if p in run.phases()]:
            for c in challengers:
                r = frame[(frame.case == c.id) & (frame.phase == phase)]
                if not len(r):
                    continue
                r = r.iloc[0]
                ok = r["status"] == "ok" and r["speedup"] == r["speedup"] and r["speedup"] is not None
                out.append(Row(run.workload_label, phase, c.label, base.label,
                               float(r["speedup"]) if ok else None,
                               float(r["speedup_low"]) if ok and r["speedup_low"] == r["speedup_low"] else None,
                               float(r["speedup_high"]) if ok and r["speedup_high"] == r["speedup_high"] else None,
                               r["verdict"] if ok else None, machine_of(run),
                               (run.manifest.get("started_utc") or "")[:10], run.path, _env_words(allocator_of(run))))
    return out


def _default_variant(case) -> str:
    from shared import registry
    return registry.default_variant(case.framework)


def table_cells(rs: list[Row]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): a row per (phase, challenger), a column per workload, each cell the speedup
    over the baseline with its interval and verdict (short enough for the first screen); the machine
    and date of each workload's run are the finding's (machines()), the runs its evidence."""
    workloads = list(dict.fromkeys(r.workload for r in rs))
    keys = list(dict.fromkeys((r.phase, r.challenger) for r in rs))
    cell = {(r.phase, r.challenger, r.workload): r for r in rs}

    head = ["phase", "challenger (speedup over " + (rs[0].baseline if rs else "the baseline") + ", 95% CI)", *workloads]
    return head, [[PHASES[p].label, c, *[_cell(cell.get((p, c, w))) for w in workloads]] for p, c in keys]


def machines(rs: list[Row]) -> str:
    """Where each workload's run was made: one machine and date for all, or each workload's own."""
    runs = list(dict.fromkeys((r.workload, r.machine, r.date) for r in rs))
    if len({(m, d) for _, m, d in runs}) == 1:
        return f"{runs[0][1]}; {runs[0][2]}"
    return "; ".join(f"{w}: {m}, {d}" for w, m, d in runs)


def table(rs: list[Row]) -> str:
    """The table in Markdown (md_table escapes every cell)."""
    return md_table(*table_cells(rs))


def evidence(rs: list[Row]) -> list[tuple[str, Path]]:
    """(words, report path) per run the table rests on, in the table's order."""
    runs = dict.fromkeys((r.workload, r.run) for r in rs)
    return [(f"{w} run", run / "report.md") for w, run in runs]


def changes(rs: list[Row]) -> list[str]:
    """Sentences naming each (challenger framework, phase) whose verdict is not the same on every
    workload; [] when every verdict holds across the workloads measured."""
    out = []
    keys = dict.fromkeys((r.challenger, r.phase) for r in rs)
    for challenger, phase in keys:
        got = [r for r in rs if (r.challenger, r.phase) == (challenger, phase)]
        words = {r.verdict for r in got}
        if len(got) > 1 and len(words) > 1:
            each = "; ".join(f"{r.workload}: {r.verdict or 'not measured'}"
                             + (f" ({fmt_ratio(r.speedup)}x)" if r.speedup is not None else "") for r in got)
            out.append(f"{challenger} against {got[0].baseline}, {PHASES[phase].label}: the verdict changes with "
                       f"the workload ({each}).")
    return out


def breakdown_lines(results: Path) -> list[str]:
    """Why a verdict moves: per workload, the baseline's and each default's training step taken
    apart (forward, backward, optimizer), where the run measured it (--anatomy)."""
    from benchmarks.reports.report import breakdown_rows
    out = []
    for _, run in sorted(runs_by_workload(results).items()):
        parts = []
        for r in breakdown_rows(run, DEVICE):
            c = r["case"]
            if c.variant != _default_variant(c):
                continue
            p = r["parts"]
            parts.append(f"{c.label} step {fmt_time(r['step'])} (forward {fmt_time(p.get('forward'))}, backward "
                         f"{fmt_time(p.get('backward'))}, optimizer {fmt_time(p.get('optimizer'))})")
        if parts:
            out.append(f"{run.workload_label}: " + "; ".join(parts) + ".")
    return out


def fault_lines(results: Path, where: Path = WORKLOADS) -> list[str]:
    """Per workload, the first-screen phases' minor page faults per round of PyTorch's default
    and each framework's default (benchmarks/reports/disturbance.py's figures), for phases where
    the cases differ by more than FAULTS_SHOWN a round; [] for runs that did not record them."""
    from benchmarks.reports.disturbance import disturbance_rows
    out = []
    for _, run in sorted(runs_by_workload(results, where).items()):
        parts = []
        for phase in PHASES_SHOWN:
            got = [r for r in disturbance_rows(run) if r["phase"] == phase and r["faults"] is not None
                   and r["case"].device == DEVICE and r["case"].variant == _default_variant(r["case"])]
            if len(got) > 1 and max(r["faults"] for r in got) - min(r["faults"] for r in got) > FAULTS_SHOWN:
                parts.append(f"{PHASES[phase].label}: " + ", ".join(f"{r['case'].label} {r['faults']:,.0f}" for r in got))
        if parts:
            out.append(f"{run.workload_label}: " + "; ".join(parts) + ".")
    return out


# A difference below this many faults a round (400 KB of 4 KB pages) is not worth a reader's line.
FAULTS_SHOWN = 100


def allocator_of(run: Run) -> dict | None:
    """The allocator variables the run's workers inherited (None: not recorded)."""
    return (run.manifest.get("environment") or {}).get("allocator_env")


def _env_words(given: dict | None) -> str | None:
    from shared.environment import allocator_words
    return None if given is None else allocator_words(given) or "none set"


def allocator_rows(results: Path) -> list[tuple[Row, Row]]:
    """(as given, with the allocator variables) per workload, phase and challenger, for each
    workload that has a run in both folders. Refused (UserError) where the pair does not isolate the
    allocator: a run under ALLOCATOR that records no variables or the same as its partner, a partner
    that did not record its own (a run from before they were recorded: what it had is unknown), or
    a pair from two CPU models or thread budgets."""
    alt = runs_by_workload(results, ALLOCATOR)
    if not alt:
        return []
    plain = runs_by_workload(results, WORKLOADS)
    for w, run in alt.items():
        mine, theirs = allocator_of(run), allocator_of(plain[w]) if w in plain else None
        if not mine:
            raise UserError(f"{run.path}: records no allocator variables, so it cannot show what they change; "
                            f"rerun it with them set (an older run: rerun it) or move it out of {ALLOCATOR}")
        if w in plain and theirs is None:
            raise UserError(f"{plain[w].path}: records no allocator environment (a run from before fwbench recorded "
                            f"it), so the pair with {run.path} does not isolate the allocator; rerun it")
        if w in plain and (theirs == mine or machine_of(plain[w]) != machine_of(run)):
            why = "the same allocator variables" if theirs == mine else "another machine or thread budget"
            raise UserError(f"{run.path}: its partner {plain[w].path} has {why}: the pair does not isolate the "
                            f"allocator; rerun one of them")
    given = {(r.workload, r.phase, r.challenger): r for r in rows_of(plain)}
    return [(given[(r.workload, r.phase, r.challenger)], r) for r in rows_of(alt)
            if (r.workload, r.phase, r.challenger) in given]


def _cell(r: Row | None) -> str:
    """A table cell: the speedup with its interval and verdict."""
    if r is None:
        return "not measured"
    if r.speedup is None:
        return r.verdict or "no interval"
    ci = f" ({fmt_interval(r.low, r.high)})" if r.low is not None else ""
    return f"{fmt_ratio(r.speedup)}x{ci} {r.verdict}"


def allocator_table_cells(pairs: list[tuple[Row, Row]]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): per workload, phase and challenger, the speedup over the baseline in the
    environment as given and with the allocator variables, each with its interval and verdict;
    the variables in the header when every run set the same, else in each cell."""
    words = {b.allocator for _, b in pairs}
    same = len(words) == 1
    head = ["workload", "phase", "challenger (speedup over " + (pairs[0][0].baseline if pairs else "the baseline") + ")",
            "allocator as given", "allocator variables set" + (f" ({next(iter(words))})" if same else "")]
    return head, [[a.workload, PHASES[a.phase].label, a.challenger, _cell(a),
                   _cell(b) + ("" if same else f" ({b.allocator})")] for a, b in pairs]


def _moved(a: Row, b: Row) -> bool:
    """The verdict differs, or the two runs' intervals do not overlap (a conservative test of two
    independent runs' ratios: each interval covers what a rerun of its run would show)."""
    if a.verdict != b.verdict:
        return True
    if None in (a.low, a.high, b.low, b.high):
        return False
    return a.high < b.low or b.high < a.low


def _said(r: Row) -> str:
    if r.speedup is None:
        return r.verdict or "not measured"
    ci = f", {fmt_interval(r.low, r.high)}" if r.low is not None else ""
    return f"{r.verdict} ({fmt_ratio(r.speedup)}x{ci})"


def allocator_lines(pairs: list[tuple[Row, Row]]) -> list[str]:
    """Sentences naming each (workload, challenger, phase) the allocator variables move: its
    verdict changes, or its interval no longer overlaps; [] when none moves."""
    return [f"{a.workload}, {a.challenger} against {a.baseline}, {PHASES[a.phase].label}: {_said(a)} as given, "
            f"{_said(b)} with them." for a, b in pairs if _moved(a, b)]


def allocator_evidence(pairs: list[tuple[Row, Row]]) -> list[tuple[str, Path]]:
    runs = dict.fromkeys((b.workload, a.run, b.run) for a, b in pairs)
    return [x for w, ra, rb in runs for x in ((f"{w} run, allocator as given", ra / "report.md"),
                                              (f"{w} run, allocator variables set", rb / "report.md"))]
