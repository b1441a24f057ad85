"""one current version per document name: a partial unique index on documents (project_id, name) where current

Two imports of one folder started at once could both store a file as its current
version 1 (issue 17). Imports now take a per-project lock; this index makes a
second current version with the same name impossible for every writer.

A database that already holds such twins keeps all their rows: of each group,
the version with the most coding events (then the oldest) stays current, the
others become superseded versions (``chimeqda documents --all-versions`` lists
them; SQLite databases are backed up before they are migrated).

Revision ID: 0007
Revises: 0006
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

documents = sa.table("documents", sa.column("id", sa.Integer), sa.column("project_id", sa.Integer),
                     sa.column("name", sa.String), sa.column("version", sa.Integer),
                     sa.column("is_current", sa.Boolean))
events = sa.table("coding_events", sa.column("id", sa.Integer), sa.column("document_id", sa.Integer))


def upgrade() -> None:
    bind = op.get_bind()
    current = documents.c.is_current == sa.true()
    twins = bind.execute(
        sa.select(documents.c.project_id, documents.c.name).where(current)
        .group_by(documents.c.project_id, documents.c.name).having(sa.func.count() > 1)
    ).all()
    for project_id, name in twins:
        counted = (sa.select(sa.func.count()).select_from(events)
                   .where(events.c.document_id == documents.c.id).scalar_subquery())
        rows = bind.execute(
            sa.select(documents.c.id, counted).where(current, documents.c.project_id == project_id,
                                                     documents.c.name == name)
        ).all()
        keep = max(rows, key=lambda row: (row[1], -row[0]))
        others = [row[0] for row in rows if row[0] != keep[0]]
        bind.execute(sa.update(documents).where(documents.c.id.in_(others)).values(is_current=False))
        log.warning("project %s: %d current copies of %r (two imports at once); document %s stays current, "
                    "%s are kept as superseded versions", project_id, len(rows), name, keep[0], others)
    op.create_index("uq_documents_current_name", "documents", ["project_id", "name"], unique=True,
                    sqlite_where=sa.text("is_current"), postgresql_where=sa.text("is_current"))


def downgrade() -> None:
    op.drop_index("uq_documents_current_name", table_name="documents")
