"""Fixing speaker turns: names, roles, merge and split; offsets and codings stay."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services import add_coding, import_files
from chimeqda.services.speakers import list_turns, merge_turns, set_speaker, split_turn
from chimeqda.store import tables as t

SRT = """1
00:00:01,000 --> 00:00:03,000
How are you? Tell me.

2
00:00:04,000 --> 00:00:08,000
I feel better. I go to a group. It helps.

3
00:00:09,000 --> 00:00:10,000
Why does it help?
"""


@pytest.fixture
def doc(workspace, tmp_path):
    path = tmp_path / "P04.srt"
    path.write_text(SRT)
    [outcome] = import_files(workspace, [path])
    with workspace.session() as session:
        turns = session.scalars(select(t.Turn).where(t.Turn.document_id == outcome.document_id)).all()
        assert len(turns) == 1  # no speakers: one unnamed turn
    split_turn(workspace, "P04.srt", 0, 2)
    split_turn(workspace, "P04.srt", 1, 3)
    return outcome.document_id


def _state(ws, document_id):
    with ws.session() as session:
        turns = session.scalars(select(t.Turn).where(t.Turn.document_id == document_id).order_by(t.Turn.index)).all()
        segments = session.scalars(select(t.Segment).where(t.Segment.document_id == document_id)
                                   .order_by(t.Segment.index)).all()
        return ([(x.index, x.speaker, x.role, x.start, x.end, x.time, x.time_end) for x in turns],
                [(s.turn, s.speaker, s.role, s.start, s.end, s.text) for s in segments])


def test_split_makes_turns_at_sentences_with_times(workspace, doc):
    turns, segments = _state(workspace, doc)
    assert [s[0] for s in segments] == [0, 0, 1, 1, 1, 2]
    assert [(x[5], x[6]) for x in turns] == [(1.0, 3.0), (4.0, 8.0), (9.0, 10.0)]
    for turn in turns:
        own = [s for s in segments if s[0] == turn[0]]
        assert turn[3] <= own[0][3] and own[-1][4] <= turn[4]
    assert [v.sentences for v in list_turns(workspace, "P04.srt")] == [2, 3, 1]


def test_speaker_and_role_on_a_range_reach_the_segments(workspace, doc):
    assert set_speaker(workspace, "P04.srt", 0, speaker="Els", role="interviewer") == 1
    set_speaker(workspace, str(doc), 1, 2, speaker="Sam")
    turns, segments = _state(workspace, doc)
    assert [(x[1], x[2]) for x in turns] == [("Els", "interviewer"), ("Sam", "participant"), ("Sam", "participant")]
    assert [(s[1], s[2]) for s in segments][:3] == [("Els", "interviewer")] * 2 + [("Sam", "participant")]


def test_merge_keeps_offsets_and_codings(workspace, doc):
    _, before = _state(workspace, doc)
    start, end = before[3][3], before[3][4]
    add_coding(workspace, doc, start, end, "connectedness", by="tester")
    set_speaker(workspace, "P04.srt", 1, speaker="Sam")
    merge_turns(workspace, "P04.srt", 0, 1)
    turns, segments = _state(workspace, doc)
    assert len(turns) == 2 and turns[0][1] is None and turns[1][0] == 1
    assert [s[0] for s in segments] == [0, 0, 0, 0, 0, 1]
    assert [s[3:] for s in segments] == [s[3:] for s in before]
    assert (turns[0][5], turns[0][6]) == (1.0, 8.0)
    with workspace.session() as session:
        event = session.scalars(select(t.CodingEvent).where(t.CodingEvent.document_id == doc)).one()
        assert (event.start, event.end) == (start, end)


def test_bad_edits_are_refused_and_change_nothing(workspace, doc):
    before = _state(workspace, doc)
    with pytest.raises(InvalidInput, match="numbered 0 to 2"):
        set_speaker(workspace, "P04.srt", 1, 5, speaker="X")
    with pytest.raises(InvalidInput, match="unknown role"):
        set_speaker(workspace, "P04.srt", 0, role="boss")
    with pytest.raises(InvalidInput, match="split at sentence 1 to 2"):
        split_turn(workspace, "P04.srt", 1, 0)
    with pytest.raises(InvalidInput, match="at least two"):
        merge_turns(workspace, "P04.srt", 2, 2)
    with pytest.raises(UnknownObject, match="no document"):
        list_turns(workspace, "nothing.txt")
    assert _state(workspace, doc) == before
