"""A small project with two people and a machine coder, on the real database fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from chimeqda.services import add_coding, decide, import_files, pending_suggestions, run_coder
from chimeqda.store import tables as t

DATA = Path(__file__).parent.parent / "data"


def participant_segments(ws):
    with ws.session() as session:
        return session.execute(
            select(t.Segment.id, t.Segment.document_id, t.Segment.start, t.Segment.end, t.Document.name)
            .join(t.Document, t.Document.id == t.Segment.document_id)
            .where(t.Segment.role != "interviewer")
            .order_by(t.Segment.document_id, t.Segment.index)
        ).all()


@pytest.fixture
def coded(workspace, transcripts):
    """Two transcripts; ann and bob code both by hand; the lexicon coder suggests; ann reviews some."""
    import_files(workspace, [transcripts], participants_csv=DATA / "participants.csv")
    segments = participant_segments(workspace)
    plan = {
        "ann": [(0, "connectedness"), (1, "connectedness"), (2, "difficulties"), (4, "hope"), (6, "connectedness")],
        "bob": [(0, "connectedness"), (2, "difficulties"), (3, "hope"), (4, "hope"), (6, "identity")],
    }
    for person, items in plan.items():
        for index, code in items:
            seg = segments[index % len(segments)]
            add_coding(workspace, seg.document_id, seg.start, seg.end, code, by=person)
    run_coder(workspace, "lexicon", learn_from_decisions=False)
    pending = pending_suggestions(workspace)
    assert len(pending) >= 2, "the lexicon coder should suggest something on the test transcripts"
    decide(workspace, [pending[0].event_id], "accepted", by="ann")
    decide(workspace, [pending[1].event_id], "rejected", by="ann")
    return workspace
