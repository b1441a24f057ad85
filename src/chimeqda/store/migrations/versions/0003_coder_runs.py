"""coder_runs: the documents each machine coding run covered

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coder_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("coder_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["coder_id"], ["coders.id"], name=op.f("fk_coder_runs_coder_id_coders")),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_coder_runs_document_id_documents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_coder_runs_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coder_runs")),
        sa.UniqueConstraint("run_id", "document_id", name=op.f("uq_coder_runs_run_id")),
    )
    op.create_index(op.f("ix_coder_runs_coder_id"), "coder_runs", ["coder_id"], unique=False)
    op.create_index(op.f("ix_coder_runs_document_id"), "coder_runs", ["document_id"], unique=False)
    op.create_index(op.f("ix_coder_runs_project_id"), "coder_runs", ["project_id"], unique=False)
    op.create_index(op.f("ix_coder_runs_run_id"), "coder_runs", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_coder_runs_run_id"), table_name="coder_runs")
    op.drop_index(op.f("ix_coder_runs_project_id"), table_name="coder_runs")
    op.drop_index(op.f("ix_coder_runs_document_id"), table_name="coder_runs")
    op.drop_index(op.f("ix_coder_runs_coder_id"), table_name="coder_runs")
    op.drop_table("coder_runs")
