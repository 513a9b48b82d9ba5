"""report.html: the report model (benchmarks/reports/model.py) rendered as one self-contained page.

Everything is inside the file: plotly.js inlined, each figure's data, the PNG figures a text block
shows as data URIs, the raw per-process samples as JSON, a few lines of script that sort a table by
the column clicked. The page makes no request (tests/test_report_html.py checks it in Chromium).
"""
from __future__ import annotations

import base64
import html as _html
import json
import re
from pathlib import Path

from benchmarks.analysis.rundata import Markdown
from benchmarks.reports.model import (VERSION_MARK, Figure, MarkdownTable, Report, Table, Text)
from shared.atomic import write_atomic

HTML_NAME = "report.html"

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1400px;margin:1.5em auto;
padding:0 1em;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #ddd;padding-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #eee}
table{border-collapse:collapse;margin:.8em 0;font-size:.86em;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}td:first-child{min-width:8em}
th{background:#f4f4f4;cursor:pointer;white-space:nowrap;position:sticky;top:0}
th[data-order=asc]::after{content:" \\25B2"}th[data-order=desc]::after{content:" \\25BC"}
tr:nth-child(even) td{background:#fafafa}code{background:#f3f3f3;padding:0 .2em;border-radius:3px}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto}.figure{margin:1em 0;border:1px solid #eee}
img{max-width:100%}.version{color:#888;font-size:.8em;margin-top:3em}details{margin:1em 0}
"""

# Sorts a table by the column clicked; numbers with a unit (ns/µs/ms/s, x, %, MB) compare by value.
SORT_SCRIPT = r"""
(function(){
  var scale={ns:1e-9,'µs':1e-6,us:1e-6,ms:1e-3,s:1};
  function key(td){var t=(td?td.textContent:'').trim().replace(/,/g,'');
    var m=t.match(/^([-+]?\d*\.?\d+(?:e[-+]?\d+)?)\s*(ns|µs|us|ms|s|x|%|MB)?(?![a-z])/i);
    return m?[0,parseFloat(m[1])*(scale[m[2]]||1)]:[1,t.toLowerCase()];}
  document.querySelectorAll('table.sortable th').forEach(function(th){
    th.title='sort by this column';
    th.addEventListener('click',function(){
      var table=th.closest('table'),body=table.tBodies[0],i=Array.prototype.indexOf.call(th.parentNode.children,th);
      var asc=th.dataset.order!=='asc';
      table.querySelectorAll('th').forEach(function(h){delete h.dataset.order;});
      th.dataset.order=asc?'asc':'desc';
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);
        var c=(x[0]-y[0])||(x[1]<y[1]?-1:x[1]>y[1]?1:0);return asc?c:-c;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
})();
"""


def _md():
    from markdown_it import MarkdownIt
    return MarkdownIt("commonmark", {"html": False}).enable("table")


# plotly.js's cartesian bundle (npm plotly.js-cartesian-dist-min, MIT, benchmarks/reports/vendor/):
# every trace the reports draw (scatter, bar, heatmap, box) at 1.5 MB, where the full bundle that
# the plotly package ships is 4.8 MB. Inlined in every page (self-contained), the full bundle made
# the committed pages 250 MB; this one, a third. Its version is the plotly package's own plotly.js
# (tests/test_report_html.py checks), so the figures' JSON is read by the library that wrote it.
PLOTLY_BUNDLE = Path(__file__).resolve().parent / "vendor" / "plotly-cartesian.min.js"


def _plotly_js() -> str:
    return PLOTLY_BUNDLE.read_text()


def plotly_bundle_version() -> str:
    """The vendored bundle's plotly.js version, from its banner ("plotly.js (cartesian - minified) v4.1.1")."""
    head = PLOTLY_BUNDLE.read_text()[:400]
    return re.search(r"plotly\.js \(cartesian - minified\) v([0-9.]+)", head).group(1)


def _script_json(data) -> str:
    """JSON that cannot end the <script> element it sits in."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False, default=str).replace("</", "<\\/")


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


_LINK = re.compile(r'(href)="([^"]+)"')
_IMG = re.compile(r'<img src="([^"]+)"')


def _links(html_text: str, folder: Path | None) -> str:
    """Links to another report's Markdown point to its HTML twin; images are inlined (a page must
    make no request); a link to a file that is neither stays as it is (a relative link on disk)."""
    def href(m):
        url = m.group(2)
        if url.endswith("report.md"):
            url = url[:-len("report.md")] + HTML_NAME
        elif url.endswith("ANSWER.md"):
            url = url[:-len("ANSWER.md")] + "index.html"
        return f'{m.group(1)}="{url}"'

    def img(m):
        src = _html.unescape(m.group(1))
        p = (folder / src) if folder is not None else None
        if p is not None and p.is_file():
            return f'<img src="{_data_uri(p)}"'
        return '<img src=""' if not src.startswith("data:") else m.group(0)

    return _IMG.sub(img, _LINK.sub(href, html_text))


def _cell(md, x, markdown: bool) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return ""
    if markdown or isinstance(x, Markdown):
        return md.renderInline(str(x))
    return _html.escape(str(x))


def table_html(md, t: Table) -> str:
    markdown = isinstance(t, MarkdownTable)
    head = "".join(f"<th>{_cell(md, h, True)}</th>" for h in t.head)
    body = "\n".join("<tr>" + "".join(f"<td>{_cell(md, c, markdown)}</td>" for c in r) + "</tr>" for r in t.rows)
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def figure_html(f: Figure, n: int) -> str:
    if f.plot is not None:
        fid = f"fig-{n}"
        spec = {"data": f.plot.get("data", []), "layout": f.plot.get("layout", {})}
        return (f'<div class="figure" id="{fid}" data-key="{_html.escape(f.key)}" '
                f'aria-label="{_html.escape(f.alt)}"></div>\n'
                f'<script>(function(){{var s={_script_json(spec)};Plotly.newPlot("{fid}",s.data,s.layout,'
                f'{{responsive:true,displaylogo:false}});}})();</script>')
    if f.png is not None and f.png.is_file():
        return f'<div class="figure" data-key="{_html.escape(f.key)}"><img alt="{_html.escape(f.alt)}" ' \
               f'src="{_data_uri(f.png)}"></div>'
    return ""


def render(report: Report, folder: Path | None = None) -> str:
    md = _md()
    body = []
    for i, b in enumerate(report.blocks):
        if isinstance(b, Figure):
            body.append(figure_html(b, i))
        elif isinstance(b, Table):
            body.append(table_html(md, b))
        elif isinstance(b, Text):
            body.append(_links(md.render(b.markdown), folder))
    if report.samples:
        body.append("<details><summary>Raw samples: every round of every worker process (JSON, seconds), "
                    "embedded in this page</summary><p>In the page source as "
                    "<code>&lt;script id=\"fwbench-samples\"&gt;</code>; the figure of per-process medians above "
                    "draws them.</p></details>")
        body.append(f'<script type="application/json" id="fwbench-samples">{_script_json(report.samples)}</script>')
    body.append(f'<p class="version">{VERSION_MARK} {report.version}</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<meta name=\"fwbench-report-format\" content=\"{report.version}\">"
            f"<title>{_html.escape(report.title)}</title><style>{STYLE}</style>"
            f"<script>{_plotly_js()}</script></head>\n<body>\n" + "\n".join(body)
            + f"\n<script>{SORT_SCRIPT}</script>\n</body></html>\n")


def write(report: Report, folder: Path, name: str = HTML_NAME) -> Path:
    return write_atomic(Path(folder) / name, render(report, Path(folder)))


def write_from_markdown(md_path: Path, title: str | None = None, plots: dict | None = None) -> Path:
    """report.html beside a report written as Markdown text (sweep, comparison, noise, plain).
    plots: a PNG's name without .png ("fig-compare") -> its interactive twin (a plotly figure)."""
    from benchmarks.reports.model import from_markdown
    md_path = Path(md_path)
    text = md_path.read_text()
    first = next((line[2:] for line in text.splitlines() if line.startswith("# ")), md_path.stem)
    doc = from_markdown(title or first, text, md_path.parent)
    for f in doc.figures():
        fig = (plots or {}).get(f.key)
        if fig is not None:
            f.plot = json.loads(fig.to_json()) if hasattr(fig, "to_json") else fig
    return write(doc, md_path.parent, HTML_NAME if md_path.name == "report.md" else md_path.stem + ".html")


def publish_markdown(md_path: Path, text: str, plots: dict | None = None) -> Path:
    """A report its module writes as Markdown text: report.md with the report format's line, and
    report.html beside it (plots: as write_from_markdown). Returns the Markdown's path."""
    from benchmarks.reports.model import version_line
    text = text.rstrip("\n") + "\n\n" + version_line() + "\n"
    path = write_atomic(Path(md_path), text)
    write_from_markdown(path, plots=plots)
    return path
