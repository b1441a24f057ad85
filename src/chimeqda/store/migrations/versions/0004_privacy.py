"""privacy: identifier proposals, the pseudonym registry, the append-only audit log

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_REFUSE = "the privacy audit log is append-only: its rows are never changed or deleted"


def upgrade() -> None:
    op.create_table(
        "identifier_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("pseudonym", sa.String(length=200), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"],
                                name=op.f("fk_identifier_proposals_document_id_documents"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_identifier_proposals_project_id_projects"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identifier_proposals")),
    )
    op.create_index("ix_identifier_proposals_document", "identifier_proposals", ["document_id", "start"])
    op.create_index(op.f("ix_identifier_proposals_project_id"), "identifier_proposals", ["project_id"])
    op.create_table(
        "pseudonyms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=200), nullable=False),
        sa.Column("value_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_pseudonyms_project_id_projects"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pseudonyms")),
        sa.UniqueConstraint("project_id", "value_hash", name=op.f("uq_pseudonyms_project_id")),
        sa.UniqueConstraint("project_id", "label", "number", name="uq_pseudonyms_project_label_number"),
    )
    op.create_index(op.f("ix_pseudonyms_project_id"), "pseudonyms", ["project_id"])
    op.create_table(
        "privacy_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("document_name", sa.String(length=500), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_audit")),
    )
    op.create_index("ix_privacy_audit_project_document", "privacy_audit", ["project_id", "document_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION privacy_audit_append_only() RETURNS trigger AS $$ BEGIN "
            f"RAISE EXCEPTION '{_REFUSE}'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER privacy_audit_append_only BEFORE UPDATE OR DELETE ON privacy_audit "
            "FOR EACH ROW EXECUTE FUNCTION privacy_audit_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER privacy_audit_no_{verb.lower()} BEFORE {verb} ON privacy_audit "
                f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS privacy_audit_append_only ON privacy_audit")
        op.execute("DROP FUNCTION IF EXISTS privacy_audit_append_only()")
    op.drop_index("ix_privacy_audit_project_document", table_name="privacy_audit")
    op.drop_table("privacy_audit")
    op.drop_index(op.f("ix_pseudonyms_project_id"), table_name="pseudonyms")
    op.drop_table("pseudonyms")
    op.drop_index(op.f("ix_identifier_proposals_project_id"), table_name="identifier_proposals")
    op.drop_index("ix_identifier_proposals_document", table_name="identifier_proposals")
    op.drop_table("identifier_proposals")
