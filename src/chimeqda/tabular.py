"""Reading user CSV files the way spreadsheets write them, and writing CSV that spreadsheets cannot run.

Excel in a Dutch or Belgian locale writes ``;``-separated CSV in cp1252;
others write ``,`` in UTF-8 with or without BOM. The delimiter is chosen from
the header line only (sniffing whole files misreads prose with commas).

Nothing in a file is dropped without a word: a byte that is neither UTF-8 nor
Windows-1252, two columns with one name, and a filled cell beyond the header's
columns or under a column without a name are refused with the file and row.

Every CSV chimeqda writes goes through :func:`csv_safe` (or :func:`csv_cell`):
a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return, which Excel, LibreOffice and Google Sheets would run as a formula
(``=HYPERLINK(...)`` in a participants file, a quote starting with ``=``),
gets a leading apostrophe, as OWASP recommends. Numbers stay numbers. Reading
a CSV back (:func:`read_csv_table`) removes that apostrophe again, so
chimeqda reads what it wrote. XLSX files store such text as text cells
instead (:mod:`chimeqda.interop.spreadsheets`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from chimeqda.errors import InvalidInput

DELIMITERS = (",", ";", "\t")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: object) -> bool:
    """Whether a spreadsheet would read this text as a formula (or the start of one)."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: formula-like text gets a leading ``'``; other values unchanged."""
    return "'" + value if looks_like_formula(value) else value


def csv_row(values: Iterable[Any]) -> list[Any]:
    """:func:`csv_cell` of every value of a row (for ``csv.writer``)."""
    return [csv_cell(v) for v in values]


def _uncell(value: Any) -> Any:
    """The inverse of :func:`csv_cell` for one cell read from a CSV file."""
    if isinstance(value, str) and value[:1] == "'" and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def map_text_columns(frame, fn):
    """A copy of a DataFrame with ``fn`` applied to every cell of its text columns.

    Text columns are all but the boolean, numeric and date ones (those are
    kept as they are); their cells are passed one by one, as objects. Columns
    are taken by position, so two columns with one name are both mapped.
    """
    from pandas.api import types

    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        dtype = column.dtype
        if types.is_bool_dtype(dtype) or types.is_numeric_dtype(dtype) or types.is_datetime64_any_dtype(dtype):
            continue
        out.isetitem(position, column.astype(object).map(fn))
    return out


def csv_safe(frame):
    """A copy of a DataFrame whose text cells, index values, column names and index names are :func:`csv_cell`-safe.

    Numeric, boolean and date columns are left as they are: counts and
    coefficients stay numbers, negative ones included.
    """
    import pandas as pd
    from pandas.api import types

    def safe_index(index: pd.Index) -> pd.Index:
        if isinstance(index, pd.MultiIndex):
            return pd.MultiIndex.from_tuples([tuple(csv_cell(v) for v in t) for t in index],
                                             names=[csv_cell(n) for n in index.names])
        if types.is_numeric_dtype(index.dtype) or types.is_datetime64_any_dtype(index.dtype):
            return index.rename(csv_cell(index.name))
        return pd.Index([csv_cell(v) for v in index], name=csv_cell(index.name), dtype=object)

    out = map_text_columns(frame, csv_cell)
    if not isinstance(out.index, pd.RangeIndex):
        out.index = safe_index(out.index)
    else:
        out.index = out.index.rename(csv_cell(out.index.name))
    out.columns = safe_index(out.columns)
    return out


def write_csv(frame, target, **options) -> None:
    """``frame.to_csv(target, **options)`` with formula-like text neutralised (:func:`csv_safe`): every CSV writer's way."""
    csv_safe(frame).to_csv(target, **options)


def decode_csv(path: Path) -> str:
    """The text of a CSV file: UTF-8 (BOM allowed), else cp1252; binary files are refused."""
    if not path.is_file():
        raise InvalidInput("no such file", source=str(path))
    raw = path.read_bytes()
    if b"\x00" in raw:
        at = raw.index(b"\x00")
        raise InvalidInput("this is not a CSV text file (binary data)", source=path.name, location=f"byte {at}")
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
        columns = [_uncell(name) for name in next(reader, [])]
        check_header(columns, path.name)
        rows: list[dict[str, str]] = []
        for cells in reader:
            if not cells:
                continue
            check_cells(columns, cells, path.name, len(rows) + 2)  # row 1 is the header
            rows.append({column: _uncell(cells[i]) if i < len(cells) else "" for i, column in enumerate(columns)})
        return list(columns), rows
    except csv.Error as exc:
        raise InvalidInput(f"not a readable CSV file ({exc})", source=path.name, location=f"line {reader.line_num}") from None
