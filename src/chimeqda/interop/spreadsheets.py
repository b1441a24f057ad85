"""Spreadsheets for R, SPSS and Excel: analysis tables, coded segments, code presence, codebooks.

- :func:`export_tables_xlsx`: every table of the findings report on its own
  sheet, a ``README`` sheet saying what each holds, and a ``coded_segments``
  sheet with one row per coding and the participant's attributes;
- :func:`presence_matrix`: participants × codes, 1 when a participant has at
  least one coding of the code (or of a sub-code), else 0;
- :func:`write_codebook_xlsx`: a codebook in the same columns as the CSV
  layout, which :func:`chimeqda.codebook.load_codebook` reads back.

Sheets are flat: one header row, no merged cells, and column names of
letters, digits and underscores where chimeqda chooses them. Every text is
stored as a text cell, never as a formula: a participant attribute or a quote
reading ``=HYPERLINK(...)`` stays those characters (marked with Excel's
quote prefix, so editing the cell keeps it text); numbers stay numbers. All
workbooks are written by :func:`_write_sheets`, which enforces this.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from chimeqda.codebook.loader import ROW_FIELDS, codebook_to_rows
from chimeqda.model import Codebook
from chimeqda.tabular import looks_like_formula, map_text_columns, write_csv

TABLE_NOTES = {
    "frequencies": "Per top-level code: coded segments, documents and participants (sub-codes rolled up).",
    "frequencies_all_codes": "The same counts for every code and sub-code.",
    "participant_matrix": "Participants × top-level codes: number of coded segments per participant.",
    "cooccurrence": "Pairs of codes: how often they occur in the same segment (or window of segments).",
    "cooccurrence_matrix": "The co-occurrence counts as a square code × code matrix.",
    "most_linked": "The codes most often co-occurring with the most frequent code.",
    "quotes": "Exemplar quotes per code.",
    "coded_segments": "One row per coding: document, participant and attributes, segment, offsets, code, coder.",
    "code_presence": "Participants × codes: 1 if the participant has a coding of the code or a sub-code, else 0.",
}


def _sheet_name(name: str, taken: set[str]) -> str:
    base = "".join(ch for ch in name if ch not in "[]:*?/\\")[:31] or "sheet"
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f"_{n}"
        candidate = base[: 31 - len(suffix)] + suffix
        n += 1
    taken.add(candidate.lower())
    return candidate


def sheet_names(names: Iterable[str]) -> dict[str, str]:
    """The sheet each table goes to: Excel's 31 characters, unique, never ``README``."""
    taken = {"readme"}
    return {name: _sheet_name(name, taken) for name in names}


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _clean_cell(value: Any) -> Any:
    """Text a spreadsheet stores safely: no control characters, at most 32,000 characters."""
    if isinstance(value, str):
        return _ILLEGAL.sub("", value)[:32000]
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return value


def _sheet_frame(table: pd.DataFrame, *, index: bool = False) -> pd.DataFrame:
    """A flat copy: one header row, the index as a column when it means something (or ``index``), text cleaned."""
    frame = table
    if isinstance(frame.columns, pd.MultiIndex):
        frame = frame.set_axis(["_".join(str(p) for p in col if str(p)) for col in frame.columns], axis="columns")
    if index or not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame = map_text_columns(frame, _clean_cell)  # a copy: the caller's table is left as it was
    frame.columns = [_clean_cell(str(c)) for c in frame.columns]
    return frame


def _as_text(book) -> None:
    """Every cell a writer stored as a formula becomes the text it is; formula-like text gets the quote prefix."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":  # openpyxl reads any str starting with "=" as a formula
                    cell.data_type = "s"
                if cell.data_type == "s" and looks_like_formula(cell.value):
                    cell.quotePrefix = True


def _write_sheets(path: Path | str, sheets: dict[str, pd.DataFrame]) -> Path:
    """Write named, already flat sheets to an XLSX file: text as text cells (:func:`_as_text`), columns sized."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
        _as_text(writer.book)
        for sheet in writer.book.worksheets:
            for column in sheet.columns:
                width = max((len(str(c.value)) for c in column[:50] if c.value is not None), default=8)
                sheet.column_dimensions[column[0].column_letter].width = min(max(width + 2, 8), 60)
    return path


def write_workbook(
    tables: dict[str, pd.DataFrame], path: Path | str, *, readme: Sequence[str] | pd.DataFrame = (),
) -> Path:
    """Write one sheet per table plus a ``README`` sheet (first) to an XLSX file: chimeqda's one XLSX writer.

    ``readme`` is a few lines (a list of the sheets is added) or a table of
    its own. Sheet names follow :func:`sheet_names`; text that a spreadsheet
    would read as a formula is stored as text, with the quote prefix.
    """
    names = sheet_names(tables)
    if isinstance(readme, pd.DataFrame):
        front = readme
    else:
        lines = [*readme, "", "Sheets:"] + [f"{names[n]}: {len(tables[n])} rows" for n in tables]
        front = pd.DataFrame({"README": lines})
    sheets = {"README": _sheet_frame(front)}
    sheets.update({names[name]: _sheet_frame(table) for name, table in tables.items()})
    return _write_sheets(path, sheets)


def coded_segments_frame(ws, *, include_suggested: bool = False) -> pd.DataFrame:
    """One row per coding with document, participant attributes, segment text, code names and coder."""
    from chimeqda.services import codings_frame, participants_frame
    from chimeqda.services.project import project_codebook

    codings = codings_frame(ws, include_suggested=include_suggested)
    people = participants_frame(ws)
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
    frame = codings.copy()
    frame["code_name"] = [book[c].name if c in book else c for c in frame["code"]]
    frame["top_level_code"] = [book.root_of(c) if c in book else c for c in frame["code"]]
    columns = ["document", "participant", "segment_index", "turn", "text", "code", "code_name", "top_level_code",
               "status", "coder", "score", "event_id"]
    frame = frame[columns]
    attributes = people.rename(columns={c: f"attr_{c}" for c in people.columns if c != "participant"})
    return frame.merge(attributes, on="participant", how="left")


def presence_matrix(ws, *, include_suggested: bool = False) -> pd.DataFrame:
    """Participants × codes (every code, parents counting their sub-codes): 1 present, 0 absent."""
    from chimeqda.services import codings_frame, participants_frame
    from chimeqda.services.project import project_codebook

    codings = codings_frame(ws, include_suggested=include_suggested)
    people = participants_frame(ws)
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
    labels = sorted(set(people["participant"].dropna()) | set(codings["participant"].dropna()))
    matrix = pd.DataFrame(0, index=pd.Index(labels, name="participant"), columns=[c.id for c in book.codes])
    for label, code in zip(codings["participant"], codings["code"]):
        if pd.isna(label) or code not in book:
            continue
        current = book[code]
        matrix.loc[label, current.id] = 1
        while current.parent is not None:
            current = book[current.parent]
            matrix.loc[label, current.id] = 1
    return matrix.astype(int)


def project_report_object(ws, *, include_suggested: bool = False, window: int = 1):
    """The project's findings report (:func:`chimeqda.services.reporting.findings_report`)."""
    from chimeqda.services.reporting import findings_report

    return findings_report(ws, include_suggested=include_suggested, window=window)


def export_tables_xlsx(ws, out: Path | str, *, include_suggested: bool = False, window: int = 1) -> Path:
    """Write every table of the findings report, the coded segments and the code presence matrix to one workbook."""
    report = project_report_object(ws, include_suggested=include_suggested, window=window)
    tables = dict(report.tables())
    tables["coded_segments"] = coded_segments_frame(ws, include_suggested=include_suggested)
    tables["code_presence"] = presence_matrix(ws, include_suggested=include_suggested)
    names = sheet_names(tables)
    readme = [
        {"sheet": names[name], "rows": len(frame), "contents": TABLE_NOTES.get(name) or (
            f"Codes by the participant attribute {name[3:]!r}." if name.startswith("by_") else name)}
        for name, frame in tables.items()
    ]
    readme.append({"sheet": "", "rows": "", "contents": f"Project {report.project_name!r}; include_suggested="
                   f"{include_suggested}; co-occurrence window={window}. Made by chimeqda."})
    return write_workbook(tables, out, readme=pd.DataFrame(readme, columns=["sheet", "contents", "rows"]))


def export_presence(ws, out: Path | str, *, include_suggested: bool = False) -> Path:
    """The code presence matrix as CSV (``.csv``) or a one-sheet workbook (``.xlsx``)."""
    out = Path(out)
    matrix = presence_matrix(ws, include_suggested=include_suggested)
    if out.suffix.lower() == ".xlsx":
        _write_sheets(out, {"code_presence": _sheet_frame(matrix, index=True)})
    else:
        write_csv(matrix, out)
    return out


def write_codebook_xlsx(codebook: Codebook, path: Path | str) -> Path:
    """Write a codebook to a workbook (sheet ``Codebook``, CSV column layout) that chimeqda reads back."""
    frame = pd.DataFrame(codebook_to_rows(codebook), columns=list(ROW_FIELDS))
    about = pd.DataFrame(
        [{"field": "codebook", "value": f"{codebook.name} ({codebook.id} {codebook.version})"},
         {"field": "list separator", "value": "examples, counter-examples and keywords are separated by ' | '"}]
    )
    return _write_sheets(path, {"Codebook": _sheet_frame(frame), "About": _sheet_frame(about)})
