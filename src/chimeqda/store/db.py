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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from chimeqda.errors import ProjectError

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
        raise ProjectError(f"cannot open the project database {_safe(url)}: {exc.orig}") from None
    head = head_revision()
    if current == head:
        return engine
    if current is None and not create:
        raise ProjectError(
            f"{_safe(url)} is not a chimeqda project; create one with `chimeqda init DIR`"
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


def _safe(url: str) -> str:
    try:
        return make_url(_normalise(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "the database"


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed together, or rolled back on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        with session.begin():
            yield session
