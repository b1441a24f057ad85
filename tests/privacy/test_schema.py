"""Migration 0004: the privacy tables, and an audit log that refuses changes."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, select
from sqlalchemy.exc import DBAPIError

from chimeqda.store.db import _alembic_config, head_revision, make_engine, migrate, schema_revision
from chimeqda.store.privacy import PrivacyAudit


def _to(engine, revision, *, down=False):
    cfg = _alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_0004_adds_the_privacy_tables_and_downgrades(db_url):
    engine = make_engine(db_url)
    _to(engine, "0003")
    assert "pseudonyms" not in inspect(engine).get_table_names()
    migrate(engine)
    assert schema_revision(engine) == head_revision()
    names = set(inspect(engine).get_table_names())
    assert {"identifier_proposals", "pseudonyms", "privacy_audit"} <= names
    assert "value_hash" in {c["name"] for c in inspect(engine).get_columns("pseudonyms")}
    _to(engine, "0003", down=True)
    assert not {"identifier_proposals", "pseudonyms", "privacy_audit"} & set(inspect(engine).get_table_names())


def test_the_audit_log_cannot_be_rewritten(workspace):
    with workspace.session() as session:
        session.add(PrivacyAudit(project_id=workspace.project_id, user="ann", action="revealed", reason="ethics"))
    for change in ("update", "delete"):
        with pytest.raises(DBAPIError, match="append-only"), workspace.session() as session:
            row = session.scalar(select(PrivacyAudit))
            if change == "update":
                row.reason = "nothing happened"
            else:
                session.delete(row)
    with workspace.session() as session:
        assert [(r.user, r.reason) for r in session.scalars(select(PrivacyAudit))] == [("ann", "ethics")]
