"""Nothing stale under results/: every committed report was written by the current report format,
uses none of the retired verdict words, has its report.html beside it; the answer has its
index.html; results/latest points where its definition says (the newest complete full run). The
fix for any failure here: python scripts/regenerate_reports.py (re-renders; times nothing)."""
from __future__ import annotations

import os
from pathlib import Path

from benchmarks.analysis import stats
from benchmarks.reports import published
from benchmarks.reports.model import REPORT_VERSION, written_version

RESULTS = Path(__file__).resolve().parents[1] / "results"
FIX = "run python scripts/regenerate_reports.py"


def test_every_committed_report_is_current():
    assert published.report_files(RESULTS), "no committed report found under results/"
    left = published.problems(RESULTS)
    assert left == [], f"{len(left)} stale report(s) ({FIX}):\n" + "\n".join(left[:20])


def test_the_answer_page_has_its_html_twin():
    for name in ("ANSWER.md", "index.html"):
        assert (RESULTS / name).is_file(), f"results/{name} is missing ({FIX})"
    assert written_version((RESULTS / "index.html").read_text()) == REPORT_VERSION


def test_results_latest_points_to_the_newest_complete_full_run():
    want = published.newest_full_run(RESULTS)
    link = RESULTS / "latest"
    assert link.is_symlink(), "results/latest is not a link"
    assert not os.path.isabs(os.readlink(link)), "results/latest must be relative (the clone moves)"
    assert link.resolve() == want.resolve(), f"results/latest -> {os.readlink(link)}, its definition gives {want} ({FIX})"


def test_the_staleness_check_finds_an_old_report_and_a_retired_word(tmp_path):
    """The check above can fail: an unversioned report, one with a retired word, one without HTML."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "report.md").write_text(f"# old\n\n- no measurable difference between A and B\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "report.md").write_text(f"# new\n\nfaster\n\n<sub>fwbench report format {REPORT_VERSION}</sub>\n")
    (tmp_path / "b" / "report.html").write_text(f"<p>fwbench report format {REPORT_VERSION}</p>")
    left = published.problems(tmp_path)
    assert any("a/report.md: written by report format before" in x for x in left)
    assert any("retired verdict word 'no measurable difference'" in x for x in left)
    assert any("a/report.md: no report.html" in x for x in left)
    assert not any("/b/" in x for x in left)
    assert set(stats.RETIRED_VERDICT_WORDS).isdisjoint(stats.VERDICT_WORDS)
