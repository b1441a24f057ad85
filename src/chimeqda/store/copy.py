"""Copying a whole project database to another one (``chimeqda db copy``).

The way a study moves from a laptop's SQLite file to the team's PostgreSQL
server (or back, to archive it): every row of every chimeqda table — documents
and their versions, every coding event with its author and time, suggestions,
review flags, memos, participants, accounts, the privacy audit trail — with the
same ids, so nothing is translated and nothing is lost. An exchange file
(``.qdpx``) carries codings but not their history; this carries everything.

The target must be an empty database (or a SQLite file that does not exist
yet); it gets the schema from the migrations, then all rows in one transaction
(a failure leaves it without a single row), read and written in chunks so a
million-segment project copies in bounded memory. Afterwards the rows are
counted on both sides, and PostgreSQL's id sequences are moved past the copied
ids. The source is only read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, Table, func, insert, select, text, update
from sqlalchemy.engine import Connection, Row

from chimeqda.errors import ProjectError
from chimeqda.store.base import Base
from chimeqda.store.db import head_revision, open_database, schema_revision, shown_url

CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class CopyResult:
    """Rows copied per table, in the order they were written."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def copy_database(source: Engine, target_url: str, *, progress: Callable[[str, int], None] | None = None,
                  chunk_rows: int = CHUNK_ROWS) -> CopyResult:
    """Copy every chimeqda row of ``source`` (at the current schema) into the empty database ``target_url``.

    ``progress(table, rows_so_far)`` is called after each chunk. Raises
    :class:`ProjectError` (nothing written) when the target is not empty, is
    the source itself, or the copy does not add up.
    """
    if schema_revision(source) != head_revision():
        raise ProjectError("the source database is not at this chimeqda's schema; "
                           "run `chimeqda db migrate` on it first")
    target = _empty_target(source, target_url)
    tables = [table for table in Base.metadata.sorted_tables]
    copied: dict[str, int] = {}
    try:
        with _snapshot(source) as reading, target.begin() as writing:
            for table in tables:
                copied[table.name] = _copy_table(reading, writing, table, chunk_rows, progress)
            _check_counts(writing, tables, copied)
            if writing.dialect.name == "postgresql":
                _advance_sequences(writing, tables)
    finally:
        target.dispose()
    return CopyResult(copied)


@contextmanager
def _snapshot(source: Engine) -> Iterator[Connection]:
    """A reading connection that sees the source as it was at one moment, while others go on writing."""
    if source.dialect.name == "sqlite":  # a deferred transaction holds one WAL snapshot for all its reads
        with source.connect() as connection:
            connection.exec_driver_sql("BEGIN")
            try:
                yield connection
            finally:
                connection.rollback()
    else:
        with source.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            with connection.begin():
                yield connection


def _empty_target(source: Engine, target_url: str) -> Engine:
    """The target engine with the current schema; refused unless it holds no chimeqda row."""
    target = open_database(target_url, create=True)
    if _same_database(source, target):
        target.dispose()
        raise ProjectError(f"{shown_url(target_url)} is the project's own database; give another one to copy into")
    with target.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if connection.execute(select(func.count()).select_from(table)).scalar_one():
                target.dispose()
                raise ProjectError(
                    f"{shown_url(target_url)} already holds chimeqda data (table {table.name}); copy into a new, "
                    "empty database (PostgreSQL: `createdb NAME`) so nothing there is mixed with this project")
    return target


def _same_database(a: Engine, b: Engine) -> bool:
    return a.url.render_as_string(hide_password=False) == b.url.render_as_string(hide_password=False)


def _copy_table(reading: Connection, writing: Connection, table: Table, chunk_rows: int,
                progress: Callable[[str, int], None] | None) -> int:
    """All rows of one table, in id order, chunk by chunk; rows pointing at a later row of the same table
    (a document version or coding event naming one written after it) get that link set afterwards."""
    self_links = [fk.parent for fk in table.foreign_keys if fk.column.table is table]
    zoned = [c.name for c in table.columns if isinstance(c.type, DateTime) and c.type.timezone]
    order = list(table.primary_key.columns)
    later: list[tuple[object, str, object]] = []
    count = 0
    for chunk in _chunks(reading, select(table).order_by(*order), chunk_rows):
        rows = []
        for row in chunk:
            values = dict(row._mapping)
            for name in zoned:  # SQLite gives back naive UTC times; PostgreSQL would read them as local time
                value = values[name]
                if isinstance(value, datetime) and value.tzinfo is None:
                    values[name] = value.replace(tzinfo=UTC)
            for column in self_links:
                linked = values[column.name]
                if linked is not None and linked >= values["id"]:
                    later.append((values["id"], column.name, linked))
                    values[column.name] = None
            rows.append(values)
        writing.execute(insert(table), rows)
        count += len(rows)
        if progress:
            progress(table.name, count)
    for row_id, name, linked in later:
        writing.execute(update(table).where(table.c.id == row_id).values({name: linked}))
    return count


def _chunks(connection: Connection, statement, size: int) -> Iterator[Sequence[Row]]:
    result = connection.execution_options(stream_results=True, yield_per=size).execute(statement)
    while chunk := result.fetchmany(size):
        yield chunk


def _check_counts(writing: Connection, tables: list[Table], copied: dict[str, int]) -> None:
    for table in tables:
        stored = writing.execute(select(func.count()).select_from(table)).scalar_one()
        if stored != copied[table.name]:
            raise ProjectError(f"copying table {table.name}: read {copied[table.name]} rows but the target holds "
                               f"{stored}; nothing was kept in the target")


def _advance_sequences(writing: Connection, tables: list[Table]) -> None:
    """Move each serial/identity id sequence past the highest copied id, so new rows get fresh ids."""
    for table in tables:
        if "id" not in table.c:
            continue
        sequence = writing.execute(text("SELECT pg_get_serial_sequence(:table, 'id')"),
                                   {"table": table.name}).scalar_one()
        if sequence:
            writing.execute(text("SELECT setval(CAST(:sequence AS regclass), "
                                 "COALESCE((SELECT MAX(id) FROM " + writing.dialect.identifier_preparer.quote(table.name)
                                 + "), 0) + 1, false)"), {"sequence": sequence})
