"""The model of a report: a list of blocks built once, rendered twice (report.md by `markdown`,
report.html by benchmarks/reports/html.py), so the two cannot disagree.

A block is Markdown text, a table (its header and cells, not a rendered string) or a figure (the
PNG the Markdown shows and the interactive figure the HTML draws, both from the same data, with
the figure's points kept as plain values so a test can compare them with the tables).

REPORT_VERSION is written into every report (Markdown and HTML): a committed report written by an
older version is found by tests/test_committed_reports.py and must be regenerated.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.analysis.rundata import md_table

# Raise when the words, rules or layout of the generated reports change, then regenerate every
# committed report (README, "Regenerating the committed reports").
REPORT_VERSION = 4
VERSION_MARK = "fwbench report format"
VERSION_LINE = re.compile(rf"{VERSION_MARK} (\d+)")


@dataclass
class Text:
    markdown: str


@dataclass
class Table:
    head: list[str]
    rows: list[list]

    @property
    def markdown(self) -> str:
        return md_table(self.head, self.rows)


@dataclass
class Figure:
    """A figure: key names its kind and device ("forest-cpu"); png is the file the Markdown shows
    (None: no static image); plot is the interactive figure (a plotly figure as a dict), filled by
    benchmarks/reports/interactive.py; points are the values drawn, (name, value, low, high) in the
    figure's own words, for the tests."""
    key: str
    alt: str
    png: Path | None = None
    plot: dict | None = None
    points: list[tuple[str, float, float | None, float | None]] = field(default_factory=list)
    href: str | None = None  # the PNG's link from the page, where it is not beside it

    @property
    def markdown(self) -> str:
        return f"![{self.alt}]({self.href or self.png.name})" if self.png is not None else ""


@dataclass
class Report:
    title: str
    blocks: list = field(default_factory=list)
    # the raw per-process samples behind the report's figures, embedded in the HTML as JSON
    samples: dict = field(default_factory=dict)
    version: int = REPORT_VERSION

    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]

    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    def markdown(self) -> str:
        parts = [b.markdown for b in self.blocks]
        parts.append(version_line(self.version))
        return "\n\n".join(p for p in parts if p) + "\n"


def version_line(version: int = REPORT_VERSION) -> str:
    return f"<sub>{VERSION_MARK} {version}</sub>"


def written_version(text: str) -> int | None:
    """The report format a report was written with (None: written before formats were numbered)."""
    m = VERSION_LINE.search(text)
    return int(m.group(1)) if m else None


def block(part) -> object:
    """A report part as a block: a Table or Figure as it is, a table that benchmarks.analysis.rundata
    rendered (it keeps its cells) as a Table, any other text as Markdown."""
    if isinstance(part, (Text, Table, Figure)):
        return part
    cells = getattr(part, "cells", None)
    if cells is not None:
        return Table(*cells)
    return Text(str(part))


def from_parts(title: str, parts: list) -> Report:
    """A report from the parts a report module assembles in order (text, tables, figures)."""
    return Report(title, [block(p) for p in parts if p is not None and p != ""])


_TABLE_LINE = re.compile(r"^\|.*\|\s*$")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")


def _split_row(line: str) -> list[str]:
    cells, cur, esc = [], "", False
    for ch in line.strip()[1:-1]:
        if esc:
            cur += ch if ch == "|" else "\\" + ch
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
    cells.append(cur.strip())
    return cells


def from_markdown(title: str, text: str, folder: Path) -> Report:
    """A report that its module writes as Markdown text (the sweep, comparison, noise and plain
    reports): its tables and images become blocks, so the HTML gets sortable tables and the
    figures inlined. Cells stay Markdown (their code spans and links are rendered as such)."""
    blocks, para = [], []

    def flush():
        if para:
            blocks.append(Text("\n".join(para)))
            para.clear()

    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if (_TABLE_LINE.match(line) and i + 1 < len(lines) and re.match(r"^\|(\s*:?-+:?\s*\|)+\s*$", lines[i + 1])):
            flush()
            head = _split_row(line)
            rows = []
            i += 2
            while i < len(lines) and _TABLE_LINE.match(lines[i]):
                rows.append(_split_row(lines[i]))
                i += 1
            blocks.append(MarkdownTable(head, rows))
            continue
        m = _IMAGE.match(line)
        if m and (folder / m.group(2)).is_file():
            flush()
            blocks.append(Figure(Path(m.group(2)).stem, m.group(1), folder / m.group(2)))
        elif VERSION_LINE.search(line):
            pass
        else:
            para.append(line)
        i += 1
    flush()
    return Report(title, blocks)


class MarkdownTable(Table):
    """A table read back from Markdown: its cells are Markdown already (not escaped again)."""

    @property
    def markdown(self) -> str:
        return "\n".join(["| " + " | ".join(self.head) + " |", "|" + "---|" * len(self.head)]
                         + ["| " + " | ".join(r) + " |" for r in self.rows])
