"""Reading user CSV files the way spreadsheets write them.

Excel in a Dutch or Belgian locale writes ``;``-separated CSV in cp1252;
others write ``,`` in UTF-8 with or without BOM. The delimiter is chosen from
the header line only (sniffing whole files misreads prose with commas).

Nothing in a file is dropped without a word: a byte that is neither UTF-8 nor
Windows-1252, two columns with one name, and a filled cell beyond the header's
columns or under a column without a name are refused with the file and row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from chimeqda.errors import InvalidInput

DELIMITERS = (",", ";", "\t")


def decode_csv(path: Path) -> str:
    """The text of a CSV file: UTF-8 (BOM allowed), else cp1252; binary files are refused."""
    if not path.is_file():
        raise InvalidInput("no such file", source=str(path))
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise InvalidInput("this is not a CSV text file (binary data)", source=path.name)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"the file is neither UTF-8 nor Windows-1252 text (byte {exc.start}); save it again as "
            "'CSV UTF-8' from your spreadsheet", source=path.name, location=f"byte {exc.start}") from None


def check_header(columns: Sequence[str], source: str) -> None:
    """Refuse two columns whose names differ only in case or spaces (one would hide the other)."""
    seen: dict[str, int] = {}
    for number, column in enumerate(columns, 1):
        key = column.strip().lower()
        if key and key in seen:
            raise InvalidInput(f"columns {seen[key]} and {number} are both called {column.strip()!r}; "
                               "rename or remove one", source=source, location="row 1")
        seen.setdefault(key, number)


def check_cells(header: Sequence[str], cells: Iterable[object], source: str, row: int) -> None:
    """Refuse a filled cell beyond the header's columns or under a column without a name."""
    for number, value in enumerate(cells, 1):
        if value in (None, "") or (isinstance(value, str) and not value.strip()):
            continue
        if number > len(header):
            raise InvalidInput(f"cell {number} ({str(value)[:40]!r}) is beyond the header's {len(header)} "
                               "columns; name its column in row 1, or quote a cell that contains the separator",
                               source=source, location=f"row {row}")
        if not str(header[number - 1]).strip():
            raise InvalidInput(f"cell {number} ({str(value)[:40]!r}) is in a column without a name; "
                               "name the column in row 1", source=source, location=f"row {row}")


def read_csv_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header's column names and the rows of a CSV file as dicts keyed by them."""
    text = decode_csv(path)
    header = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        columns = next(reader, [])
        check_header(columns, path.name)
        rows: list[dict[str, str]] = []
        for cells in reader:
            if not cells:
                continue
            check_cells(columns, cells, path.name, len(rows) + 2)  # row 1 is the header
            rows.append({column: cells[i] if i < len(cells) else "" for i, column in enumerate(columns)})
        return list(columns), rows
    except csv.Error as exc:
        raise InvalidInput(f"not a readable CSV file ({exc})", source=path.name, location=f"line {reader.line_num}") from None
