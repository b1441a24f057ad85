"""Fixtures of the large-corpus tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpora import corpus_rows, write_jsonl
from sqlalchemy import select

from chimeqda.services import add_coding, decide, import_files, pending_suggestions, run_coder
from chimeqda.services.project import project_codebook
from chimeqda.store import tables as t

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def corpus_file(tmp_path):
    return write_jsonl(tmp_path / "posts.jsonl", corpus_rows(60))


@pytest.fixture
def coded(workspace, transcripts):
    """Two transcripts with suggestions, accepted and rejected ones, and a hand coding over several segments."""
    import_files(workspace, [transcripts], participants_csv=DATA / "participants.csv")
    run_coder(workspace, "lexicon")
    pending = pending_suggestions(workspace)
    assert len(pending) > 6
    decide(workspace, [p.event_id for p in pending[:4]], "accepted", by="ann")
    decide(workspace, [p.event_id for p in pending[4:6]], "rejected", by="ann")
    with workspace.session() as session:
        doc = session.scalars(select(t.Document).order_by(t.Document.id)).first()
        segments = session.scalars(select(t.Segment).where(t.Segment.document_id == doc.id)
                                   .order_by(t.Segment.index)).all()
    add_coding(workspace, doc.id, segments[1].start, segments[3].end, "connectedness.peer_support.safety_net", by="ann")
    add_coding(workspace, doc.id, segments[2].start, segments[2].end, "hope", by="ann")
    with workspace.session() as session:
        _, book = project_codebook(session, workspace.project_id)
    return workspace, book
