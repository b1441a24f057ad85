"""Reading user CSV files the way spreadsheets write them.

Excel in a Dutch or Belgian locale writes ``;``-separated CSV in cp1252;
others write ``,`` in UTF-8 with or without BOM. The delimiter is chosen from
the header line only (sniffing whole files misreads prose with commas).
"""

from __future__ import annotations

import csv
import io
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
        return raw.decode("cp1252", errors="replace")


def read_csv_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header's column names and the rows of a CSV file as dicts keyed by them."""
    text = decode_csv(path)
    header = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = [dict(row) for row in reader]
        return list(reader.fieldnames or []), rows
    except csv.Error as exc:
        raise InvalidInput(f"not a readable CSV file ({exc})", source=path.name, location=f"line {reader.line_num}") from None
