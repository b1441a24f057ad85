"""`chimeqda db copy`: a whole project database into a new one (SQLite → the test database, PostgreSQL in CI)."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from chimeqda.cli import main
from chimeqda.errors import ProjectError
from chimeqda.services import add_coding, open_project
from chimeqda.store import tables as t
from chimeqda.store.base import Base
from chimeqda.store.copy import copy_database
from chimeqda.store.db import open_database, project_url

DATA = Path(__file__).resolve().parents[1] / "data"


def run(*args, ok: bool = True, input_text: str | None = None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input_text, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def laptop_project(tmp_path, transcripts):
    """A SQLite project with the kinds of rows a study has: documents and versions, suggestions, decisions,
    codings, memos of the coding log, participants, an account."""
    folder = tmp_path / "laptop"
    run("init", folder)
    run("import", "-p", folder, transcripts, "--participants", DATA / "participants.csv")
    run("code", "-p", folder, "--coder", "lexicon")
    first = run("review", "-p", folder, "--limit", "1").output.split("#", 1)[1].split()[0]
    run("review", "-p", folder, "--accept", first, "--by", "ann")
    run("review", "-p", folder, "--reject-listed", "--code", "difficulties", "--by", "ann")
    ws = open_project(folder)
    with ws.session() as session:
        document = session.scalars(select(t.Document).order_by(t.Document.id)).first()
        doc_id, text_length = document.id, len(document.text)
    add_coding(ws, doc_id, 0, min(40, text_length), "hope", by="ben")
    run("users", "add", "maria", "--role", "owner", "-p", folder, "--password-stdin", input_text="a long passphrase\n")
    return folder


def _rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every chimeqda table, times in UTC, ordered by key: what must arrive unchanged."""
    engine = open_database(url)
    out = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(_utc(value) for value in row) for row in rows]
    engine.dispose()
    return out


def _utc(value):
    if hasattr(value, "tzinfo") and hasattr(value, "hour"):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def test_copy_carries_every_row_and_the_project_works_there(laptop_project, db_url):
    source_url = project_url(laptop_project)
    before = _rows(source_url)
    assert before["coding_events"] and before["users"] and before["participants"]

    out = run("db", "copy", "-p", laptop_project, "--to", db_url).output
    assert "copied" in out and "coding_events" in out and "--db" in out

    assert _rows(db_url) == before  # nothing lost, nothing changed, same ids and times
    assert _rows(source_url) == before  # the source was only read
    table = ["analyse", "frequencies", "-p", laptop_project, "--include-suggested"]
    assert run(*table, "--db", db_url).output == run(*table).output
    # the copy is a working project: new rows get fresh ids (PostgreSQL's sequences moved past the copied ones)
    moved = open_project(laptop_project, db=db_url)
    with moved.session() as session:
        document_id = session.scalars(select(t.Document.id).order_by(t.Document.id)).first()
        highest = session.scalar(select(func.max(t.CodingEvent.id)))
    assert add_coding(moved, document_id, 0, 10, "meaning", by="carl") > highest


def test_a_target_with_data_is_refused_and_left_alone(laptop_project, db_url):
    run("db", "copy", "-p", laptop_project, "--to", db_url)
    kept = _rows(db_url)
    result = run("db", "copy", "-p", laptop_project, "--to", db_url, ok=False)
    assert result.exit_code != 0
    assert "already holds chimeqda data" in result.output and "empty database" in result.output
    assert _rows(db_url) == kept


def test_copying_onto_itself_is_refused(laptop_project):
    result = run("db", "copy", "-p", laptop_project, "--to", project_url(laptop_project), ok=False)
    assert result.exit_code != 0 and "own database" in result.output


def test_a_copy_that_fails_half_way_leaves_no_row(laptop_project, db_url):
    source = open_database(project_url(laptop_project))

    def crash(table: str, rows: int) -> None:  # the machine dies while segments are being written
        if table == "segments" and rows >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_database(source, db_url, progress=crash, chunk_rows=2)
    assert all(not rows for rows in _rows(db_url).values())
    copy_database(source, db_url)  # and the empty target takes the copy afterwards
    assert _rows(db_url) == _rows(project_url(laptop_project))
    source.dispose()


def test_an_outdated_source_is_refused(laptop_project, db_url):
    engine = open_database(project_url(laptop_project))
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    with pytest.raises(ProjectError, match="db migrate"):
        copy_database(engine, db_url)
    engine.dispose()
