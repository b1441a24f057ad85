"""recording times: segment and turn times, word timings of transcribed recordings

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
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
