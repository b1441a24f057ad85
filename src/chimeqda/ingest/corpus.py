"""Reading a corpus file (one document per row) in bounded memory: JSONL, CSV, Parquet.

A corpus is a table of short documents (forum posts, shares, archive
records): an ``id`` column, a ``text`` column, an optional ``lang`` column
and any other columns, which become document attributes. The readers stream
rows one by one (JSONL line by line, CSV through the ``csv`` module,
Parquet batch by batch), so a file of any size is read with a bounded amount
of memory. A bad row does not stop the file: it is yielded as a
:class:`BadRow` naming the file and row, and the caller reports it.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

CORPUS_SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson", ".csv", ".parquet")
MAX_TEXT_BYTES = 5_000_000
"""The largest document text a row may hold (UTF-8 bytes); larger rows are reported, not stored."""
_ATTRIBUTE_BYTES = 1_000_000  # room for the other cells of a JSONL line


@dataclass(frozen=True)
class BadRow:
    """A row that cannot be imported: where it is and what to fix."""

    source: str
    row: int
    reason: str
    id: str | None = None

    def __str__(self) -> str:
        named = f" (id {self.id})" if self.id else ""
        return f"{self.source}, row {self.row}{named}: {self.reason}"


@dataclass(frozen=True)
class CorpusRow:
    """One good row: the document's id, text, language (or None) and attributes."""

    row: int
    id: str
    text: str
    lang: str | None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Columns:
    """Which columns hold the id, the text and the language."""

    id: str = "id"
    text: str = "text"
    lang: str = "lang"


DEFAULT_COLUMNS = Columns()


def is_corpus_file(path: Path | str) -> bool:
    return Path(path).suffix.lower() in CORPUS_SUFFIXES


class CorpusReader:
    """Rows of a corpus file as :class:`CorpusRow` or :class:`BadRow`; ``fraction`` tells how far it got."""

    def __init__(self, path: Path | str, columns: Columns = DEFAULT_COLUMNS, *, max_text_bytes: int = MAX_TEXT_BYTES,
                 chunk_size: int = 1000):
        self.path = Path(path)
        self.columns = columns
        self.max_text_bytes = max_text_bytes
        self.chunk_size = chunk_size
        self.fraction = 0.0
        if not self.path.is_file():
            raise InvalidInput("no such file", source=str(path))
        if not is_corpus_file(self.path):
            raise InvalidInput(f"not a corpus file; use one of {', '.join(CORPUS_SUFFIXES)}", source=self.path.name)

    def rows(self) -> Iterator[CorpusRow | BadRow]:
        suffix = self.path.suffix.lower()
        raw = self._csv() if suffix == ".csv" else self._parquet() if suffix == ".parquet" else self._jsonl()
        for number, values in raw:
            yield values if isinstance(values, BadRow) else self._check(number, values)

    def chunks(self) -> Iterator[list[CorpusRow | BadRow]]:
        """The rows in lists of ``chunk_size``."""
        chunk: list[CorpusRow | BadRow] = []
        for item in self.rows():
            chunk.append(item)
            if len(chunk) >= self.chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    # -- one row ---------------------------------------------------------------
    def _bad(self, number: int, reason: str, row_id: object = None) -> BadRow:
        return BadRow(self.path.name, number, reason, None if row_id in (None, "") else str(row_id)[:80])

    def _check(self, number: int, values: dict[str, Any]) -> CorpusRow | BadRow:
        cols = self.columns
        row_id = values.pop(cols.id, None)
        if isinstance(row_id, float) and row_id.is_integer():
            row_id = int(row_id)
        if row_id is None or str(row_id).strip() == "":
            return self._bad(number, f"the {cols.id!r} cell is empty; every row needs an id")
        row_id = str(row_id).strip()
        if len(row_id) > 500:
            return self._bad(number, f"the id is {len(row_id)} characters long; at most 500 are allowed")
        text = values.pop(cols.text, None)
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                return self._bad(number, f"the text is not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8", row_id)
        if text is None or not isinstance(text, str) or not text.strip():
            return self._bad(number, f"the {cols.text!r} cell is empty or not text; every row needs a text", row_id)
        for name, value in ((cols.text, text), *values.items()):
            if isinstance(value, str):
                try:
                    size = len(value.encode("utf-8"))
                except UnicodeEncodeError:
                    return self._bad(number, f"the {name!r} cell is not valid UTF-8; re-save the file as UTF-8", row_id)
                if name == cols.text and size > self.max_text_bytes:
                    return self._bad(number, f"the text is {size / 1e6:.1f} MB; one document may have at most "
                                             f"{self.max_text_bytes / 1e6:g} MB (split it into several rows)", row_id)
        lang = values.pop(cols.lang, None)
        lang = str(lang).strip() if lang not in (None, "") else None
        typed = self.path.suffix.lower() == ".csv"  # CSV cells are all text: numbers become numbers
        attributes = {str(k): _number_or_text(v) if typed else _jsonable(v)
                      for k, v in values.items() if v not in (None, "")}
        return CorpusRow(number, row_id, text, lang, attributes)

    # -- formats ---------------------------------------------------------------
    def _jsonl(self) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
        limit = self.max_text_bytes + _ATTRIBUTE_BYTES
        size = max(self.path.stat().st_size, 1)
        with self.path.open("rb") as handle:
            number = 0
            while True:
                line = handle.readline(limit)
                if not line:
                    break
                number += 1
                self.fraction = handle.tell() / size
                if len(line) >= limit and not line.endswith(b"\n"):
                    while (more := handle.readline(1 << 20)) and not more.endswith(b"\n"):
                        pass
                    yield number, self._bad(number, f"the line is over {limit / 1e6:g} MB; one document may have "
                                                    f"at most {self.max_text_bytes / 1e6:g} MB (split it into several rows)")
                    continue
                if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
                if not line.strip():
                    continue
                try:
                    decoded = line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield number, self._bad(number, f"not valid UTF-8 (byte {exc.start} of the line); "
                                                    "re-save the file as UTF-8")
                    continue
                try:
                    value = json.loads(decoded)
                except json.JSONDecodeError as exc:
                    yield number, self._bad(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
                    continue
                if not isinstance(value, dict):
                    yield number, self._bad(number, 'each line must be one JSON object, {"id": …, "text": …}')
                    continue
                yield number, value

    def _csv(self) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
        csv.field_size_limit(max(csv.field_size_limit(), self.max_text_bytes + 1))
        size = max(self.path.stat().st_size, 1)
        with self.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            reader = csv.reader(handle)
            try:
                header = [h.strip() for h in next(reader)]
            except (StopIteration, csv.Error):
                raise InvalidInput("the file is empty or has no header row", source=self.path.name, location="row 1") from None
            self._require(header)
            twice = sorted({name for name in header if header.count(name) > 1})
            if twice:
                raise InvalidInput(f"two columns are called {twice[0]!r}; one would hide the other, rename one",
                                   source=self.path.name, location="row 1")
            number = 1
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    number += 1
                    reason = (f"a cell is over {self.max_text_bytes / 1e6:g} MB, the most one document may have "
                              "(split it into several rows)" if "field limit" in str(exc)
                              else f"cannot be read as CSV ({exc}); check its quotes")
                    yield number, self._bad(number, reason)
                    continue
                number += 1
                self.fraction = handle.buffer.tell() / size
                if not cells:
                    continue
                if len(cells) != len(header):
                    yield number, self._bad(number, f"has {len(cells)} cells, the header has {len(header)}")
                    continue
                yield number, dict(zip(header, cells))

    def _parquet(self) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
        try:
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - the scale extra brings pyarrow
            raise InvalidInput("reading Parquet needs pyarrow: pip install 'chimeqda[scale]'",
                               source=self.path.name) from None
        try:
            parquet = pq.ParquetFile(self.path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a damaged file
            raise InvalidInput(f"not a readable Parquet file ({exc})", source=self.path.name) from None
        self._require(parquet.schema_arrow.names)
        total = max(parquet.metadata.num_rows, 1)
        number = 0
        for batch in parquet.iter_batches(batch_size=self.chunk_size):
            for values in batch.to_pylist():
                number += 1
                self.fraction = number / total
                yield number, values

    def _require(self, names: list[str]) -> None:
        for column, option in ((self.columns.id, "--id-column"), (self.columns.text, "--text-column")):
            if column not in names:
                raise InvalidInput(f"no column {column!r}; the columns are {', '.join(map(repr, names))}. "
                                   f"Name the right one with {option}", source=self.path.name, location="header")


def _number_or_text(value: str) -> Any:
    for kind in (int, float):
        try:
            number = kind(value)
        except ValueError:
            continue
        return number if math.isfinite(number) else value  # "nan" and "inf" stay text
    return value


def _jsonable(value: Any) -> Any:
    """A JSON value for an attribute cell (dates and decimals as text, numbers stay numbers)."""
    if isinstance(value, (datetime.date, datetime.time, decimal.Decimal)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)
