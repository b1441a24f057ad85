"""review flags and segment reviews: "empty means unsure", and "reviewed: no code"

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("coder_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["code_id"], ["codes.id"], name=op.f("fk_review_flags_code_id_codes"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["coder_id"], ["coders.id"], name=op.f("fk_review_flags_coder_id_coders")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_review_flags_document_id_documents"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_review_flags_project_id_projects"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], name=op.f("fk_review_flags_segment_id_segments"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_flags")),
        sa.UniqueConstraint("run_id", "segment_id", name=op.f("uq_review_flags_run_id")),
    )
    for column in ("coder_id", "document_id", "project_id", "run_id", "segment_id"):
        op.create_index(op.f(f"ix_review_flags_{column}"), "review_flags", [column], unique=False)
    op.create_table(
        "segment_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("coder_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["coder_id"], ["coders.id"], name=op.f("fk_segment_reviews_coder_id_coders")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"],
                                name=op.f("fk_segment_reviews_document_id_documents"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_segment_reviews_project_id_projects"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], name=op.f("fk_segment_reviews_segment_id_segments"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_reviews")),
    )
    op.create_index(op.f("ix_segment_reviews_coder_id"), "segment_reviews", ["coder_id"], unique=False)
    op.create_index(op.f("ix_segment_reviews_document_id"), "segment_reviews", ["document_id"], unique=False)
    op.create_index(op.f("ix_segment_reviews_project_id"), "segment_reviews", ["project_id"], unique=False)
    op.create_index("ix_segment_reviews_segment", "segment_reviews", ["segment_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_segment_reviews_segment", table_name="segment_reviews")
    for column in ("project_id", "document_id", "coder_id"):
        op.drop_index(op.f(f"ix_segment_reviews_{column}"), table_name="segment_reviews")
    op.drop_table("segment_reviews")
    for column in ("segment_id", "run_id", "project_id", "document_id", "coder_id"):
        op.drop_index(op.f(f"ix_review_flags_{column}"), table_name="review_flags")
    op.drop_table("review_flags")
