"""recording times: segment and turn times, word timings of transcribed recordings

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("time_start", sa.Float(), nullable=True))
        batch.add_column(sa.Column("time_end", sa.Float(), nullable=True))
        batch.add_column(sa.Column("words", sa.JSON(), nullable=True))
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("time_end", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("time_end")
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("words")
        batch.drop_column("time_end")
        batch.drop_column("time_start")
