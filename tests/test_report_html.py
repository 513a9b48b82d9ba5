"""report.html and report.md come from one model of the report (benchmarks/reports/model.py):
the same tables, the same figures, the same values; the page is self-contained (plotly inlined,
no request leaves it). The second half opens the pages in headless Chromium (tests/browser.py):
every figure renders with the tables' values, no console error, no request but the file itself,
a table sorts when its header is clicked, and a screenshot is taken (FWBENCH_SCREENSHOTS=DIR keeps
them for a person to look at).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks.analysis import rundata, stats
from benchmarks.reports import colors, html, interactive, model, report
from tests import browser
from tests.runfolders import processes, write_run

REPO = Path(__file__).resolve().parents[1]


def synthetic_run(folder: Path) -> Path:
    """Three cases over four phases with clear and unclear differences, and single-post latency."""
    rng = np.random.default_rng(7)
    def ph(te, pa, p1):
        return {"train_epoch": processes(te, 3, 0.02, rng), "predict_all": processes(pa, 3, 0.02, rng),
                "predict_one": processes(p1, 60, 0.2, rng)}
    return write_run(folder, {
        "torch:eager@cpu": ph([1.0, 1.02, 0.98], [0.10, 0.101, 0.099], [0.002, 0.0021, 0.0019]),
        "tensorflow:graph@cpu": ph([0.5, 0.52, 0.49], [0.10, 0.13, 0.08], [0.004, 0.0041, 0.0039]),
        "jax:jit@cpu": ph([0.45, 0.46, 0.44], [0.09, 0.092, 0.088], [0.003, 0.0031, 0.0029]),
    })


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = synthetic_run(tmp_path_factory.mktemp("html") / "run")
    report.write_report(folder)
    return folder


def plots(page: str) -> dict[str, dict]:
    """Every interactive figure of a page: its key -> its plotly spec, read back from the page."""
    out = {}
    dec = json.JSONDecoder()
    for m in re.finditer(r'<div class="figure" id="(fig-\d+)" data-key="([^"]+)"', page):
        at = page.index("var s=", m.end()) + len("var s=")
        out[m.group(2)] = dec.raw_decode(page, at)[0]
    return out


def md_tables(text: str) -> list[list[list[str]]]:
    out, cur = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cur.append(model._split_row(line))
        elif cur:
            out.append([cur[0]] + cur[2:])
            cur = []
    return out


def test_markdown_and_html_render_one_model(written):
    md = (written / "report.md").read_text()
    page = (written / "report.html").read_text()
    # the same tables: as many, with the same header and the same number of rows
    heads = re.findall(r"<thead><tr>(.*?)</tr></thead>", page)
    tables = md_tables(md)
    assert len(heads) == len(tables) > 3
    for head, t in zip(heads, tables):
        assert len(re.findall(r"<th>", head)) == len(t[0])
    # every figure the Markdown shows is in the page, drawn interactively
    shown = re.findall(r"!\[[^\]]*\]\(fig-([a-z]+-?[a-z]*)\.png\)", md)
    keys = plots(page)
    assert shown and set(shown) <= set(keys), (shown, list(keys))
    assert "samples-cpu" in keys  # the per-process figure: what each verdict rests on
    # the format version in both
    assert model.written_version(md) == model.written_version(page) == model.REPORT_VERSION


def test_the_forest_figure_shows_the_timing_tables_speedups(written):
    md = (written / "report.md").read_text()
    timing = next(t for t in md_tables(md) if "speedup vs baseline (95% CI)" in t[0])
    col, verdict, case, phase = (timing[0].index(c) for c in ("speedup vs baseline (95% CI)", "verdict", "case",
                                                               "phase"))
    want = {f"{r[phase]}: {r[case]}": (r[col], r[verdict]) for r in timing[1:]
            if r[verdict] not in (stats.BASELINE, "")}
    forest = plots((written / "report.html").read_text())["forest-cpu"]
    got = {}
    for trace in forest["data"]:
        for y, text in zip(trace["y"], trace["customdata"]):
            got[y] = text
    assert set(got) == set(want)
    for name, (cell, word) in want.items():
        assert got[name].startswith(f"{cell}, {word},"), (name, got[name], cell)
    # and the points are the summary's numbers, not rounded copies
    frame = rundata.summary(rundata.load_run(written))
    for trace in forest["data"]:
        for y, x in zip(trace["y"], trace["x"]):
            ph, label = y.split(": ", 1)
            r = frame[(frame.label == label) & (frame.phase.map(lambda p: report.PHASES[p].label) == ph)].iloc[0]
            assert x == pytest.approx(r["speedup"], rel=1e-12)


def test_latency_and_phase_figures_carry_the_tables_values(written):
    run = rundata.load_run(written)
    frame = rundata.summary(run)
    _, pts = interactive.phases(run, frame, "cpu")
    for name, v, lo, hi in pts:
        ph, label = name.split(": ", 1)
        r = frame[(frame.label == label) & (frame.phase.map(lambda p: report.PHASES[p].label) == ph)].iloc[0]
        assert (v, lo, hi) == pytest.approx((r["time_s"], r["time_low_s"], r["time_high_s"]))
    _, pts = interactive.latency(run, "cpu")
    for _, r in frame[frame.phase == "predict_one"].iterrows():
        got = {n.rsplit(" ", 1)[1]: v for n, v, *_ in pts if n.startswith(r["label"] + " p")}
        assert (got["p50"], got["p90"], got["p99"]) == pytest.approx((r["time_s"], r["p90_s"], r["p99_s"]))


def test_ratio_axes_are_logarithmic_with_readable_ticks():
    ax = interactive.log_ticks(0.55, 2.3)
    assert ax["type"] == "log" and "1x" in ax["ticktext"] and "2x" in ax["ticktext"] and "0.5x" in ax["ticktext"]
    assert len(ax["tickvals"]) >= 5  # a short range gets ticks between the decades
    wide = interactive.log_ticks(0.01, 500)
    assert wide["ticktext"] == ["0.01x", "0.1x", "1x", "10x", "100x"]  # decades only over a long range


def test_one_colour_per_framework_and_per_case():
    assert colors.case_color("torch:eager@cpu") == colors.framework_color("torch")  # the default variant
    assert colors.case_color("torch:eager@gpu") == colors.case_color("torch:eager@cpu")
    assert colors.case_color("torch:eager@cpu~aa") == colors.case_color("torch:eager@cpu")
    ids = [f"{fw}:{v}@cpu" for fw, vs in (("torch", ["eager", "fused", "compile", "ftz", "sparse", "sparse+fused"]),
                                          ("tensorflow", ["graph", "eager", "xla", "sparse", "sparse+eager"]),
                                          ("jax", ["jit", "eager", "sparse"])) for v in vs]
    assert len({colors.case_color(c) for c in ids}) == len(ids)  # no two cases share a colour


def test_the_page_is_self_contained(written):
    page = (written / "report.html").read_text()
    from benchmarks.reports.html import PLOTLY_BUNDLE
    assert "Plotly.newPlot" in page and PLOTLY_BUNDLE.read_text()[:2000] in page  # plotly.js itself is inside
    assert not re.search(r'<script[^>]+src=', page) and not re.search(r'<link[^>]+href=', page)
    assert not re.search(r'<img[^>]+src="(?!data:)', page)
    samples = json.loads(re.search(r'<script type="application/json" id="fwbench-samples">(.*?)</script>',
                                   page, re.S).group(1))
    run = rundata.load_run(written)
    for c in run.framework_cases():
        got = samples[c.id]["phases"]["train_epoch"]
        assert [p["rounds_s"] for p in got] == [list(map(float, p.rounds)) for p in c.phases["train_epoch"].processes]


def test_text_from_a_run_folder_is_escaped_in_the_page(tmp_path):
    folder = synthetic_run(tmp_path / "run")
    m = json.loads((folder / "manifest.json").read_text())
    m["label"] = "<script>alert(1)</script> & <b>"
    (folder / "manifest.json").write_text(json.dumps(m))
    report.write_report(folder)
    page = (folder / "report.html").read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_a_markdown_report_becomes_a_page_with_its_tables_and_images(tmp_path):
    from benchmarks.reports import report_figures
    fig = report_figures.plt.figure()
    report_figures.save_png(fig, tmp_path / "fig-x.png")
    md = html.publish_markdown(tmp_path / "report.md", "# A sweep\n\nSome text.\n\n| a | b |\n|---|---|\n"
                                                         "| 1.5x | `code` |\n\n![x](fig-x.png)\n")
    page = (tmp_path / "report.html").read_text()
    assert md.read_text().rstrip().endswith(model.version_line())
    assert '<table class="sortable">' in page and "<code>code</code>" in page and 'src="data:image/png;base64,' in page


# --------------------------------------------------------------------------- in a real browser

why_not = browser.missing()
needs_browser = pytest.mark.skipif(why_not is not None and not browser.required(),
                                   reason=f"browser tests skipped: {why_not}")


@pytest.fixture(scope="module")
def chromium():
    if why_not is not None:  # FWBENCH_REQUIRE_BROWSER=1 (CI): a missing browser fails, never skips
        pytest.fail(f"FWBENCH_REQUIRE_BROWSER=1 but {why_not}")
    d = browser.start()
    yield d
    d.quit()


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    keep = os.environ.get("FWBENCH_SCREENSHOTS")
    folder = Path(keep) if keep else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    from PIL import Image
    px = np.asarray(Image.open(path).convert("L"))
    assert px.std() > 10, "the screenshot is blank"
    return path


def rendered(driver) -> list[dict]:
    """Per figure on the page: its key, whether plotly drew it, and the x and hover text of its points."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('.figure[id]')).map(function (el) {
          return {key: el.dataset.key, drawn: el.querySelectorAll('.main-svg').length > 0 && !!el._fullLayout,
                  points: el.querySelectorAll('.point').length + el.querySelectorAll('.bars path').length
                          + el.querySelectorAll('.hm image, .heatmaplayer image').length
                          + el.querySelectorAll('.scatterlayer .js-line').length,
                  data: (el.data || []).map(function (t) { return {x: t.x, y: t.y, customdata: t.customdata}; })};
        });""")


@needs_browser
def test_the_run_page_renders_in_chromium_with_the_tables_values(chromium, written, tmp_path):
    browser.open_page(chromium, written / "report.html")
    figs = rendered(chromium)
    page_keys = [f["key"] for f in figs]
    assert set(plots((written / "report.html").read_text())) == set(page_keys)
    for f in figs:
        assert f["drawn"] and f["points"] > 0, f["key"]
    forest = next(f for f in figs if f["key"] == "forest-cpu")
    drawn = {y: x for t in forest["data"] for y, x in zip(t["y"], t["x"])}
    frame = rundata.summary(rundata.load_run(written))
    rows = frame[frame.speedup.notna() & (frame.verdict != stats.BASELINE)]
    assert len(drawn) == len(rows)
    for _, r in rows.iterrows():
        assert drawn[f"{report.PHASES[r['phase']].label}: {r['label']}"] == pytest.approx(r["speedup"])
    assert browser.console_errors(chromium) == []
    asked = browser.requests(chromium)
    assert (written / "report.html").resolve().as_uri() in asked and browser.leaving(asked, written / "report.html") == []
    # a table sorts by the column clicked: the timing table by its time column, ascending by value
    order = chromium.execute_script("""
        var t = Array.from(document.querySelectorAll('table.sortable')).find(function (t) {
          return Array.from(t.tHead.rows[0].cells).some(function (c) { return c.textContent === 'time'; }); });
        var i = Array.from(t.tHead.rows[0].cells).findIndex(function (c) { return c.textContent === 'time'; });
        t.tHead.rows[0].cells[i].click();
        return Array.from(t.tBodies[0].rows).map(function (r) { return r.cells[i].textContent; });""")
    secs = [rundata_seconds(x) for x in order]
    assert secs == sorted(secs) and len(secs) > 3
    screenshot(chromium, tmp_path, "run-report")


def rundata_seconds(text: str) -> float:
    v, unit = text.split()
    return float(v) * {"s": 1, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}[unit]


def committed_pages() -> list[str]:
    """The answer, the run results/latest points to, the newest matrix run (every figure kind), a
    comparison, a sweep and the noise study: one page of each kind."""
    newest = (lambda pattern: [p.relative_to(REPO).as_posix() for p in sorted(REPO.glob(pattern))][-1:])
    return ["results/index.html", "results/latest/report.html", *newest("results/matrix-cpu/runs/*/report.html"),
            *newest("results/*/compare/report.html"), *newest("results/sweeps/*/report.html"),
            "results/noise-cpu/report.html"]


@needs_browser
@pytest.mark.parametrize("page", committed_pages())
def test_the_committed_pages_render_in_chromium(chromium, page, tmp_path):
    path = REPO / page
    assert path.is_file(), f"{page} is missing: python scripts/regenerate_reports.py"
    browser.open_page(chromium, path)
    figs = rendered(chromium)
    for f in figs:
        assert f["drawn"] and f["points"] > 0, f["key"]
    imgs = chromium.execute_script(
        "return Array.from(document.images).map(function (i) { return [i.complete && i.naturalWidth > 0, "
        "i.src.slice(0, 22)]; });")
    assert all(ok and src.startswith("data:image/png;base64") for ok, src in imgs), imgs
    assert browser.console_errors(chromium) == []
    assert browser.leaving(browser.requests(chromium), path) == []
    if page == "results/index.html":  # the answer: its best-against-best table names JAX, every line its machine
        text = chromium.find_element("tag name", "body").text
        assert "JAX: fastest configuration" in text
        assert len(figs) >= 3
    screenshot(chromium, tmp_path, page.replace("/", "_").removesuffix(".html"))


def test_the_comparison_page_draws_each_runs_speedups(tmp_path):
    from benchmarks.reports import compare
    a = rundata.load_run(synthetic_run(tmp_path / "a"))
    b = rundata.load_run(synthetic_run(tmp_path / "b"))
    compare.write_comparison([a, b], tmp_path / "cmp", "fwbench report a b --compare")
    page = (tmp_path / "cmp" / "report.html").read_text()
    fig = plots(page)["fig-compare"]
    frame = rundata.summary(a)
    want = sorted(frame[frame.speedup.notna() & (frame.verdict != stats.BASELINE)].speedup)
    assert [sorted(t["x"]) for t in fig["data"]] == [pytest.approx(want)] * 2
    assert fig["data"][0]["marker"]["color"] != fig["data"][1]["marker"]["color"]
    assert set(t["marker"]["color"] for t in fig["data"]).isdisjoint(colors.FRAMEWORK_COLORS.values())


def test_the_inlined_plotly_bundle_is_the_plotly_packages_own_version():
    """The pages inline plotly.js's cartesian bundle (a third of the full one); the figures are
    written by the plotly package, so the bundle must be the plotly.js version that package ships."""
    import re

    from plotly.offline import get_plotlyjs

    from benchmarks.reports import html
    shipped = re.search(r"plotly\.js v([0-9.]+)", get_plotlyjs()[:3000]).group(1)
    assert html.plotly_bundle_version() == shipped
    assert html.PLOTLY_BUNDLE.stat().st_size < 2_000_000
