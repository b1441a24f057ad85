"""The findings report as a Word document (``.docx``) to paste into a paper.

Headings, the summary and methods notes, every table as a real Word table,
the figures as embedded PNG images with captions, and exemplar quotes per
category in the "Quote" style with the participant and document.
"""

from __future__ import annotations

import io
import math
import re
from html import unescape
from pathlib import Path

import pandas as pd

from chimeqda.report import cell_text

FIGURE_CAPTIONS = {
    "participants": "Participants mentioning each category.",
    "heatmap": "Co-occurrence of categories.",
    "network": "Categories most linked to the most frequent category.",
}
TABLE_TITLES = {
    "frequencies": "Categories: segments, documents and participants",
    "frequencies_all_codes": "All codes",
    "participant_matrix": "Coded segments per participant and category",
    "cooccurrence": "Co-occurring categories",
    "cooccurrence_matrix": "Co-occurrence matrix",
    "most_linked": "Categories most linked to the most frequent category",
}
MAX_ROWS = 60
MAX_COLUMNS = 12


def _add_table(document, frame: pd.DataFrame, title: str) -> None:
    document.add_heading(title, level=2)
    flat = frame.reset_index() if not isinstance(frame.index, pd.RangeIndex) else frame
    flat = flat.loc[:, [c for c in flat.columns if str(c) != "index"]]
    columns = list(flat.columns)[:MAX_COLUMNS]
    rows = flat.head(MAX_ROWS)
    table = document.add_table(rows=1, cols=len(columns))
    table.style = "Table Grid"
    for cell, column in zip(table.rows[0].cells, columns):
        cell.text = str(column).replace("_", " ")
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for values in rows[columns].itertuples(index=False):
        cells = table.add_row().cells
        for cell, value in zip(cells, values):
            cell.text = cell_text(value)
    notes = []
    if len(flat) > MAX_ROWS:
        notes.append(f"first {MAX_ROWS} of {len(flat)} rows")
    if len(flat.columns) > MAX_COLUMNS:
        notes.append(f"first {MAX_COLUMNS} of {len(flat.columns)} columns")
    if notes:
        document.add_paragraph(f"({'; '.join(notes)}; the full table is in the XLSX export)").italic = True


def _html_paragraphs(html: str) -> list[str]:
    """The prose of an HTML section (its tables are written as tables; images are left out)."""
    without = re.sub(r"(?is)<(table|figure|style|script)\b.*?</\1>", "", html)
    blocks = re.split(r"(?i)</?(?:p|li|h[1-6]|div|br)\b[^>]*>", without)
    texts = (unescape(re.sub(r"<[^>]+>", "", block)) for block in blocks)
    return [" ".join(text.split()) for text in texts if text.strip()]


def write_docx(report, out: Path | str) -> Path:
    """Write a :class:`~chimeqda.report.Report` as a Word document."""
    from docx import Document
    from docx.shared import Cm

    out = Path(out)
    document = Document()
    document.add_heading(report.title, level=0)
    if report.project_name:
        document.add_paragraph(f"Project: {report.project_name}")
    if report.summary:
        document.add_heading("Summary", level=1)
        for line in report.summary:
            document.add_paragraph(str(line), style="List Bullet")
    if report.methods:
        document.add_heading("Methods", level=1)
        for line in report.methods:
            document.add_paragraph(str(line))

    document.add_heading("Figures", level=1)
    for number, (name, png) in enumerate(report.figures.items(), start=1):
        document.add_picture(io.BytesIO(png), width=Cm(15))
        document.add_paragraph(f"Figure {number}. {FIGURE_CAPTIONS.get(name, name)}", style="Caption")

    for title, html in report.extra_sections:
        document.add_heading(str(title), level=1)
        for paragraph in _html_paragraphs(html):
            document.add_paragraph(paragraph)

    document.add_heading("Tables", level=1)
    for name, frame in report.tables().items():
        if name == "quotes":
            continue
        title = TABLE_TITLES.get(name) or (f"Categories by {name[3:]}" if name.startswith("by_") else name)
        _add_table(document, frame, title)

    quotes = report.quotes
    if len(quotes):
        document.add_heading("Exemplar quotes", level=1)
        for _, group in quotes.groupby("code", sort=False):
            document.add_heading(str(group["name"].iloc[0]), level=2)
            for row in group.itertuples(index=False):
                who = ", ".join(str(v) for v in (getattr(row, "participant", None), getattr(row, "document", None))
                                if v is not None and not (isinstance(v, float) and math.isnan(v)))
                paragraph = document.add_paragraph(f"“{row.text}”", style="Quote")
                if who:
                    paragraph.add_run(f" ({who})")
    document.core_properties.title = report.title
    document.core_properties.author = "chimeqda"
    document.save(str(out))
    return out


def export_docx(ws, out: Path | str, *, include_suggested: bool = False, window: int = 1) -> Path:
    """Build the project's findings report and write it as ``.docx``."""
    from chimeqda.interop.spreadsheets import project_report_object

    return write_docx(project_report_object(ws, include_suggested=include_suggested, window=window), out)
