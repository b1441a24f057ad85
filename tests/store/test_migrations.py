"""The schema comes from the Alembic migrations and matches the table mappings."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect

from chimeqda.errors import ProjectError
from chimeqda.store.db import (
    _alembic_config,
    head_revision,
    make_engine,
    migrate,
    open_database,
    schema_revision,
)
from chimeqda.store.tables import Base


def test_migrations_create_the_mapped_schema(db_url):
    engine = open_database(db_url, create=True)
    assert schema_revision(engine) == head_revision()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"tables.py and the migrations disagree: {diff}"
    assert {"coding_events", "documents", "segments", "codes", "memos"} <= set(inspect(engine).get_table_names())


def _to_revision(engine, revision, *, down=False):
    cfg = _alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_0003_adds_coder_runs_to_a_0002_database_and_downgrades(db_url):
    engine = make_engine(db_url)
    _to_revision(engine, "0002")
    assert schema_revision(engine) == "0002"
    assert "coder_runs" not in inspect(engine).get_table_names()
    migrate(engine)
    assert schema_revision(engine) == head_revision()
    assert {"run_id", "project_id", "coder_id", "document_id", "created_at"} <= {
        column["name"] for column in inspect(engine).get_columns("coder_runs")}
    _to_revision(engine, "0002", down=True)
    assert schema_revision(engine) == "0002" and "coder_runs" not in inspect(engine).get_table_names()


def test_a_database_without_chimeqda_tables_is_refused(db_url):
    with pytest.raises(ProjectError, match="chimeqda init"):
        open_database(db_url)


def test_a_garbage_url_gets_a_clear_error():
    with pytest.raises(ProjectError, match="not a database URL"):
        open_database("this is not a url")


def test_0005_adds_recording_times_to_a_0004_database_and_downgrades(db_url):
    engine = make_engine(db_url)
    _to_revision(engine, "0004")
    assert "time_start" not in {column["name"] for column in inspect(engine).get_columns("segments")}
    migrate(engine)
    assert schema_revision(engine) == head_revision()
    assert {"time_start", "time_end", "words"} <= {c["name"] for c in inspect(engine).get_columns("segments")}
    assert "time_end" in {c["name"] for c in inspect(engine).get_columns("turns")}
    _to_revision(engine, "0004", down=True)
    assert schema_revision(engine) == "0004"
    assert not {"time_start", "time_end", "words"} & {c["name"] for c in inspect(engine).get_columns("segments")}
    assert "time_end" not in {c["name"] for c in inspect(engine).get_columns("turns")}
    assert "time" in {c["name"] for c in inspect(engine).get_columns("turns")}


def test_0006_adds_review_flags_and_segment_reviews_and_downgrades(db_url):
    engine = make_engine(db_url)
    _to_revision(engine, "0005")
    assert not {"review_flags", "segment_reviews"} & set(inspect(engine).get_table_names())
    migrate(engine)
    assert schema_revision(engine) == head_revision()
    assert {"run_id", "segment_id", "code_id", "score", "level", "scores"} <= {
        column["name"] for column in inspect(engine).get_columns("review_flags")}
    assert {"segment_id", "coder_id", "action", "note"} <= {
        column["name"] for column in inspect(engine).get_columns("segment_reviews")}
    _to_revision(engine, "0005", down=True)
    assert schema_revision(engine) == "0005"
    assert not {"review_flags", "segment_reviews"} & set(inspect(engine).get_table_names())


def test_0007_keeps_one_current_copy_of_twins_and_makes_a_second_impossible(db_url, tmp_path, transcripts):
    from sqlalchemy import insert, select, text
    from sqlalchemy.exc import IntegrityError

    from chimeqda.services import import_files, init_project
    from chimeqda.services.coding import add_coding
    from chimeqda.store import tables as t

    ws = init_project(tmp_path / "p", db=db_url)
    import_files(ws, [transcripts])
    _to_revision(ws.engine, "0006", down=True)
    columns = [c.name for c in t.Document.__table__.columns if c.name != "id"]
    with ws.engine.begin() as connection:  # what two imports at once left behind before 0007
        original = connection.scalar(select(t.Document.id).where(t.Document.name == "P01-interview.txt"))
        connection.execute(insert(t.Document).from_select(
            columns, select(*[t.Document.__table__.c[c] for c in columns]).where(t.Document.id == original)))
        twin = connection.scalar(select(func.max(t.Document.id)))
    add_coding(ws, twin, 0, 10, "hope", by="ann")  # the twin holds the coding: it stays current

    migrate(ws.engine)
    assert schema_revision(ws.engine) == head_revision()
    with ws.engine.connect() as connection:
        current = connection.execute(select(t.Document.id).where(
            t.Document.name == "P01-interview.txt", t.Document.is_current.is_(True))).scalars().all()
        assert current == [twin]
        assert connection.scalar(select(func.count()).select_from(t.Document)) == 3  # nothing deleted
    with pytest.raises(IntegrityError), ws.engine.begin() as connection:
        connection.execute(text("UPDATE documents SET is_current = :yes WHERE id = :id"),
                           {"yes": True, "id": original})
    _to_revision(ws.engine, "0006", down=True)
    assert "uq_documents_current_name" not in {i["name"] for i in inspect(ws.engine).get_indexes("documents")}


def test_0008_indexes_the_segment_of_coding_events_and_downgrades(db_url):
    engine = make_engine(db_url)
    _to_revision(engine, "0007")
    indexes = lambda: {index["name"] for index in inspect(engine).get_indexes("coding_events")}  # noqa: E731
    assert "ix_coding_events_segment" not in indexes()
    migrate(engine)
    assert schema_revision(engine) == head_revision() and "ix_coding_events_segment" in indexes()
    _to_revision(engine, "0007", down=True)
    assert schema_revision(engine) == "0007" and "ix_coding_events_segment" not in indexes()
