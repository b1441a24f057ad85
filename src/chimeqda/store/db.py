"""Connecting to a project database and keeping its schema current.

A project folder holds ``chimeqda.sqlite3`` by default; any SQLAlchemy URL
(``postgresql+psycopg://…``) can be used instead via ``--db`` or
``CHIMEQDA_DATABASE_URL``. The schema is always made by the Alembic migrations.
SQLite databases are migrated automatically (after a backup copy); PostgreSQL
only by ``chimeqda db migrate`` — a shared server is not changed behind a
team's back.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from chimeqda.errors import Conflict, ProjectError

DB_FILE = "chimeqda.sqlite3"
ENV_URL = "CHIMEQDA_DATABASE_URL"
_MIGRATIONS = Path(__file__).parent / "migrations"


def project_url(project_dir: Path | str | None, db: str | None = None) -> str:
    """The database URL of a project: explicit ``db``, the environment, or the folder's SQLite file."""
    url = db or os.environ.get(ENV_URL)
    if url:
        return url
    if project_dir is None:
        raise ProjectError("no project given: pass a project folder or --db URL")
    return f"sqlite:///{Path(project_dir).resolve() / DB_FILE}"


def _normalise(url: str) -> str:
    # Let users write plain postgresql:// and still get the psycopg 3 driver.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout."""
    try:
        parsed = make_url(_normalise(url))
    except ArgumentError as exc:
        raise ProjectError(f"not a database URL: {url!r} ({exc})") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def schema_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    script = ScriptDirectory(str(_MIGRATIONS))
    return script.get_current_head() or ""


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (creates it on an empty database)."""
    cfg = _alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def open_database(url: str, *, create: bool = False) -> Engine:
    """Open a project database, migrating SQLite automatically.

    ``create`` allows an empty database to receive the schema (``chimeqda
    init``); otherwise a database without chimeqda tables is refused with a
    message that says how to create one.
    """
    engine = make_engine(url)
    try:
        current = schema_revision(engine)
    except OperationalError as exc:
        raise ProjectError(f"cannot open the project database {shown_url(url)}: {exc.orig}") from None
    head = head_revision()
    if current == head:
        return engine
    if current is None and not create:
        raise ProjectError(
            f"{shown_url(url)} is not a chimeqda project; create one with `chimeqda init DIR`"
        )
    if engine.dialect.name == "sqlite":
        if current is not None:
            _backup_sqlite(engine)
        migrate(engine)
    elif current is None:
        migrate(engine)
    else:
        raise ProjectError(
            f"the database schema is at revision {current}, this chimeqda needs {head}; "
            "run `chimeqda db migrate` (back the database up first)"
        )
    return engine


def _backup_sqlite(engine: Engine) -> None:
    path = engine.url.database
    if path and Path(path).exists():
        shutil.copy2(path, f"{path}.bak-{schema_revision(engine)}")


def shown_url(url: str) -> str:
    """The URL as it may be printed: password hidden."""
    try:
        return make_url(_normalise(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "the database"


LOCK_WAIT_SECONDS = 120.0
"""How long a locked transaction waits for another writer of the project to finish."""
_LOCK_CLASS = 0x43514441  # "CQDA": the first key of chimeqda's PostgreSQL advisory locks, the project id the second
_AGAIN = ("nothing of this run was stored; wait until the other one has finished and run this again "
          "(files already stored are then skipped)")


@contextmanager
def transaction(engine: Engine, *, lock: int | None = None) -> Iterator[Session]:
    """A session whose work is committed together, or rolled back on any error.

    ``lock`` (a project id): the transaction first takes the project's write
    lock and holds it to its end, so two writers of one project (two imports
    started at once) run one after the other and the second sees what the first
    stored: on SQLite ``BEGIN IMMEDIATE`` (the database's write lock), on
    PostgreSQL an advisory transaction lock per project. It waits up to
    ``LOCK_WAIT_SECONDS``. A lock not got in time, a busy SQLite database, or a
    unique constraint that fails anyway (a writer that does not lock) becomes a
    :class:`Conflict` saying what to do; nothing is written then.
    """
    factory = sessionmaker(engine, expire_on_commit=False)
    try:
        with factory() as session:
            with session.begin():
                if lock is not None:
                    _take_lock(session.connection(), lock)
                yield session
    except IntegrityError as exc:
        conflict = _unique_conflict(exc)
        if conflict is None:
            raise
        raise conflict from None
    except OperationalError as exc:
        if _lock_unavailable(exc):
            raise Conflict(f"another process is writing to this project (a second import?); {_AGAIN}") from None
        raise


def _take_lock(connection: Connection, project_id: int) -> None:
    if connection.dialect.name == "sqlite":
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:  # each attempt waits the connection's busy timeout
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if not _lock_unavailable(exc) or time.monotonic() >= deadline:
                    raise
    elif connection.dialect.name == "postgresql":
        connection.execute(text(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_SECONDS * 1000)}ms'"))
        connection.execute(text("SELECT pg_advisory_xact_lock(:kind, :project)"),
                           {"kind": _LOCK_CLASS, "project": project_id})
        connection.execute(text("SET LOCAL lock_timeout TO DEFAULT"))


def _lock_unavailable(exc: OperationalError) -> bool:
    """SQLite's "database is locked" (busy), or PostgreSQL's lock_timeout (55P03)."""
    return "database is locked" in str(exc.orig) or getattr(exc.orig, "sqlstate", None) == "55P03"


_UNIQUE_WHAT = {
    "documents": "the same document (a current version with the same file name)",
    "participants": "the same participant",
    "codebooks": "a codebook with the same id",
    "codes": "a code with the same id",
    "projects": "a project with the same name",
}


def unique_violation(exc: IntegrityError) -> str | None:
    """The table whose unique constraint ``exc`` broke; ``None`` if it is another integrity failure."""
    message = str(exc.orig)
    if getattr(exc.orig, "sqlstate", None) == "23505":
        return getattr(getattr(exc.orig, "diag", None), "table_name", None) or ""
    if message.startswith("UNIQUE constraint failed: "):
        return message.removeprefix("UNIQUE constraint failed: ").split(".", 1)[0]
    return None


def _unique_conflict(exc: IntegrityError) -> Conflict | None:
    """A uniqueness failure as a :class:`Conflict` naming what was stored twice; ``None`` for other failures."""
    table = unique_violation(exc)
    if table is None:
        return None
    what = _UNIQUE_WHAT.get(table, f"the same row of {table or 'a table'}")
    return Conflict(f"another process stored {what} at the same time (a second import?); {_AGAIN}")
