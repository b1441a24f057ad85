"""The schema comes from the Alembic migrations and matches the table mappings."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from chimeqda.errors import ProjectError
from chimeqda.store.db import head_revision, open_database, schema_revision
from chimeqda.store.tables import Base

import pytest


def test_migrations_create_the_mapped_schema(db_url):
    engine = open_database(db_url, create=True)
    assert schema_revision(engine) == head_revision()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"tables.py and the migrations disagree: {diff}"
    assert {"coding_events", "documents", "segments", "codes", "memos"} <= set(inspect(engine).get_table_names())


def test_a_database_without_chimeqda_tables_is_refused(db_url):
    with pytest.raises(ProjectError, match="chimeqda init"):
        open_database(db_url)


def test_a_garbage_url_gets_a_clear_error():
    with pytest.raises(ProjectError, match="not a database URL"):
        open_database("this is not a url")
