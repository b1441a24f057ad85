"""revise_document: a new version whose codings, decisions and memos still cover the coded words."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from chimeqda.errors import InvalidInput
from chimeqda.services import (
    add_coding,
    decide,
    import_files,
    pending_suggestions,
    remove_coding,
    run_coder,
)
from chimeqda.services.revisions import OffsetMap, apply_edits, checked_edits, revise_document
from chimeqda.store import tables as t
from tests.privacy.conftest import span

TRANSCRIPT = """SYNTHETIC TEST TRANSCRIPT (written for chimeqda's tests; no real participant)

Interviewer: Hello Mieke, thank you for coming. How did you first hear about the meetings in Zwolle?
Mieke: My sponsor Big Mike took me along to my first meeting. I felt hope for the first time.
Interviewer: And what does the group mean to you now?
Mieke: Mike called me every morning. The group is my safety net and I feel connected to people again.
Mieke: Today I believe I can have a good life in Zwolle.
"""

NAMES = {"Big Mike": "[Person 2]", "Mieke": "[Person 1]", "Mike": "[Person 2]", "Zwolle": "[Town 1]"}


def name_edits(text: str) -> list[tuple[int, int, str]]:
    pattern = re.compile("|".join(re.escape(n) for n in sorted(NAMES, key=len, reverse=True)))
    return [(m.start(), m.end(), NAMES[m.group()]) for m in pattern.finditer(text)]


@pytest.fixture
def study(workspace, tmp_path):
    path = tmp_path / "P07-interview.txt"
    path.write_text(TRANSCRIPT, encoding="utf-8")
    (outcome,) = import_files(workspace, [path], interviewer_labels=["Interviewer"])
    return workspace, outcome.document_id




def test_codings_decisions_and_memos_survive_with_the_coded_words(study, stored_document):
    ws, doc_id = study
    old_text = stored_document(doc_id).text
    run_coder(ws, "lexicon")
    pending = pending_suggestions(ws)
    assert len(pending) >= 3
    decide(ws, [pending[0].event_id], "accepted", by="ann")
    decide(ws, [pending[1].event_id], "rejected", by="ann")
    sponsor = add_coding(ws, doc_id, *span(old_text, "My sponsor Big Mike took me along"),
                         "connectedness.peer_support", by="ann")
    name_only = add_coding(ws, doc_id, *span(old_text, "Big Mike"), "connectedness.peer_support", by="ann")
    withdrawn = add_coding(ws, doc_id, *span(old_text, "The group is my safety net"), "connectedness", by="ann")
    remove_coding(ws, withdrawn, by="ann")
    with ws.session() as session:
        session.add(t.Memo(project_id=ws.project_id, target_type="document", target_id=doc_id, text="calm interview"))
        session.add(t.Memo(project_id=ws.project_id, target_type="coding", target_id=sponsor, text="the sponsor"))
        before = [
            (e.action, e.code_id, e.coder_id, old_text[e.start:e.end], e.decides_id is not None)
            for e in session.scalars(select(t.CodingEvent).where(t.CodingEvent.document_id == doc_id)
                                     .order_by(t.CodingEvent.id))
        ]

    revision = revise_document(ws, doc_id, name_edits(old_text), reason="pseudonymisation", user="ann")

    new = stored_document(revision.document_id)
    old = stored_document(doc_id)
    assert (new.version, new.supersedes_id, new.is_current) == (2, doc_id, True)
    assert not old.is_current and old.text == old_text  # the old version is kept as it was
    assert "Mieke" not in new.text and "Zwolle" not in new.text and "[Person 1]: Mike" not in new.text
    with ws.session() as session:
        events = session.scalars(select(t.CodingEvent).where(t.CodingEvent.document_id == new.id)
                                 .order_by(t.CodingEvent.id)).all()
        by_old = {e.id: e for e in events}
        after = [
            (e.action, e.code_id, e.coder_id, new.text[e.start:e.end], e.decides_id is not None) for e in events
        ]
        # every decision decides an event of the new version
        assert all(e.decides_id in by_old for e in events if e.decides_id is not None)
        memos = session.scalars(select(t.Memo).where(t.Memo.id > 0).order_by(t.Memo.id)).all()
        segment_of = {s.id: s for s in session.scalars(select(t.Segment).where(t.Segment.document_id == new.id))}
    assert len(after) == len(before) == revision.coding_events
    expected = [(a, c, w, apply_edits(words, name_edits(words)), d) for a, c, w, words, d in before]
    assert after == expected
    texts = [words for _, _, _, words, _ in after]
    assert "My sponsor [Person 2] took me along" in texts and "[Person 2]" in texts
    # suggestions still point at a segment of the new version that holds their words
    for event in events:
        if event.segment_id is not None:
            segment = segment_of[event.segment_id]
            assert segment.start <= event.start and event.end <= segment.end
    new_memos = [(m.target_type, m.text) for m in memos if m.target_id in (new.id, *by_old)]
    assert ("document", "calm interview") in new_memos and ("coding", "the sponsor") in new_memos
    assert revision.memos == 2
    # the review queue now shows the new version's suggestions, with the same count
    assert len(pending_suggestions(ws)) == len(pending) - 2
    del name_only


def test_turn_speakers_are_renamed_and_segments_cover_the_new_text(study, stored_document):
    ws, doc_id = study
    text = stored_document(doc_id).text
    revision = revise_document(ws, doc_id, name_edits(text), reason="pseudonymisation", user="ann",
                               speakers={"Mieke": "[Person 1]"})
    with ws.session() as session:
        turns = session.scalars(select(t.Turn).where(t.Turn.document_id == revision.document_id)
                                .order_by(t.Turn.index)).all()
        segments = session.scalars(select(t.Segment).where(t.Segment.document_id == revision.document_id)
                                   .order_by(t.Segment.index)).all()
        old_roles = [r for r in session.scalars(select(t.Turn.role).where(t.Turn.document_id == doc_id)
                                                .order_by(t.Turn.index))]
    new_text = stored_document(revision.document_id).text
    assert [turn.speaker for turn in turns if turn.role == "participant"] == ["[Person 1]"] * 3
    assert [turn.role for turn in turns] == old_roles
    assert all(new_text[s.start:s.end] == s.text for s in segments)
    assert any(s.text == "Today I believe I can have a good life in [Town 1]." for s in segments)
    assert {s.speaker for s in segments if s.role == "participant"} == {"[Person 1]"}
    for turn in turns:
        if turn.speaker == "[Person 1]":
            assert new_text[turn.start:turn.end].startswith("[Person 1]:")


def test_bad_edits_change_nothing(study, stored_document):
    ws, doc_id = study
    text = stored_document(doc_id).text
    start = text.index("Zwolle")
    with pytest.raises(InvalidInput, match="overlap"):
        revise_document(ws, doc_id, [(start, start + 6, "x"), (start + 2, start + 4, "y")], reason="r", user="ann")
    with pytest.raises(InvalidInput, match="outside the text"):
        revise_document(ws, doc_id, [(0, len(text) + 1, "x")], reason="r", user="ann")
    with ws.session() as session:
        assert session.scalar(select(func.count()).select_from(t.Document)) == 1
    assert stored_document(doc_id).is_current


def test_a_crash_after_the_revision_leaves_the_old_version_intact(study, stored_document):
    ws, doc_id = study
    text = stored_document(doc_id).text
    add_coding(ws, doc_id, *span(text, "Mike called me every morning."), "connectedness", by="ann")
    with pytest.raises(RuntimeError), ws.session() as session:
        revise_document(session, doc_id, name_edits(text), reason="pseudonymisation", user="ann")
        raise RuntimeError("the machine stopped")
    with ws.session() as session:
        assert session.scalar(select(func.count()).select_from(t.Document)) == 1
        assert session.scalar(select(func.count()).select_from(t.CodingEvent)) == 1
    assert stored_document(doc_id).is_current


def test_rewrite_applies_to_copied_memos_and_evidence(study, stored_document):
    ws, doc_id = study
    text = stored_document(doc_id).text
    with ws.session() as session:
        session.add(t.Memo(project_id=ws.project_id, target_type="document", target_id=doc_id,
                           title="About Mieke", text="Mieke spoke of Zwolle"))
    revision = revise_document(ws, doc_id, name_edits(text), reason="pseudonymisation", user="ann",
                               rewrite=lambda words: apply_edits(words, name_edits(words)))
    with ws.session() as session:
        copied = session.scalars(select(t.Memo).where(t.Memo.target_id == revision.document_id)).one()
        original = session.scalars(select(t.Memo).where(t.Memo.target_id == doc_id)).one()
    assert (copied.title, copied.text) == ("About [Person 1]", "[Person 1] spoke of [Town 1]")
    assert original.text == "Mieke spoke of Zwolle"  # the old version's memo is kept as it was


def test_only_the_current_version_can_be_revised(study, stored_document):
    ws, doc_id = study
    text = stored_document(doc_id).text
    revise_document(ws, doc_id, name_edits(text), reason="pseudonymisation", user="ann")
    with pytest.raises(InvalidInput, match="newer version"):
        revise_document(ws, doc_id, [], reason="again", user="ann")


# ------------------------------------------------------------------ offset remapping, as a property


@st.composite
def text_edits_andspan(draw):
    text = draw(st.text(alphabet="abcdé \n", min_size=1, max_size=40))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    edits, at = [], 0
    for a, b in zip(cuts[::2], cuts[1::2]):
        if a < at:
            continue
        edits.append((a, b, draw(st.text(alphabet="XY[]1", max_size=6))))
        at = b if b > a else b + 1  # no two insertions at one place
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, len(text)))
    return text, edits, start, end


def _expected(text, edits, start, end):
    """The span's words with every edit that touches it applied, widened to whole replacements."""
    s, e = start, end
    for a, b, _ in edits:
        if a < s < b:
            s = a
        if a < e < b:
            e = b
    inside = [(a - s, b - s, r) for a, b, r in edits
              if s <= a and b <= e and not (a == b and (a == s or a == e)) and not (a == b == s == e)]
    return apply_edits(text[s:e], inside)


@settings(max_examples=400, deadline=None)
@given(text_edits_andspan())
def test_remapped_spans_cover_the_same_words(case):
    text, edits, start, end = case
    edits = checked_edits(text, edits)
    new_text = apply_edits(text, edits)
    new_start, new_end = OffsetMap(edits).span(start, end)
    assert 0 <= new_start <= new_end <= len(new_text)
    assert new_text[new_start:new_end] == _expected(text, edits, start, end)


@settings(max_examples=200, deadline=None)
@given(text_edits_andspan())
def test_spans_away_from_every_edit_keep_their_text(case):
    text, edits, start, end = case
    edits = checked_edits(text, edits)
    if any(not (b < start or a > end) for a, b, _ in edits):
        return
    new_start, new_end = OffsetMap(edits).span(start, end)
    assert apply_edits(text, edits)[new_start:new_end] == text[start:end]


def test_recording_times_and_word_timings_follow_the_words(workspace, tmp_path, stored_document):
    import json

    words = [
        {"word": " Mieke", "start": 0.0, "end": 0.4, "probability": 0.9},
        {"word": " helped", "start": 0.4, "end": 0.8, "probability": 0.8},
        {"word": " me.", "start": 0.8, "end": 1.0, "probability": 0.95},
        {"word": " Really.", "start": 1.2, "end": 1.6, "probability": 0.7},
    ]
    path = tmp_path / "P09.json"
    path.write_text(json.dumps({"language": "en", "segments": [
        {"start": 0.0, "end": 1.6, "text": " Mieke helped me. Really.", "speaker": "P", "words": words},
        {"start": 2.0, "end": 3.0, "text": " Good to hear.", "speaker": "I"}]}), encoding="utf-8")
    (outcome,) = import_files(workspace, [path])
    text = stored_document(outcome.document_id).text
    start = text.index("Mieke")
    revision = revise_document(workspace, outcome.document_id, [(start, start + 5, "[Person 1]")],
                               reason="pseudonymisation", user="ann")
    new_text = stored_document(revision.document_id).text
    with workspace.session() as session:
        old = session.scalars(select(t.Segment).where(t.Segment.document_id == outcome.document_id)
                              .order_by(t.Segment.index)).all()
        new = session.scalars(select(t.Segment).where(t.Segment.document_id == revision.document_id)
                              .order_by(t.Segment.index)).all()
        turns = session.scalars(select(t.Turn).where(t.Turn.document_id == revision.document_id)
                                .order_by(t.Turn.index)).all()
    assert [(s.time_start, s.time_end) for s in new] == [(s.time_start, s.time_end) for s in old]
    assert [new_text[a:b] for a, b, _ in new[0].words] == ["[Person 1]", "helped", "me."]
    assert [p for _, _, p in new[0].words] == [0.9, 0.8, 0.95]
    assert [(turn.time, turn.time_end) for turn in turns] == [(0.0, 1.6), (2.0, 3.0)]


def test_review_marks_and_flags_follow_their_sentences_to_the_new_version(study, stored_document):
    from chimeqda.services.review import coverage_summary, mark_no_code, no_code_segment_ids, reopen

    ws, doc_id = study
    with ws.session() as session:
        segments = {s.text: s.id for s in session.scalars(
            select(t.Segment).where(t.Segment.document_id == doc_id, t.Segment.role != "interviewer"))}
    hope, safety, life = (next(sid for text, sid in segments.items() if words in text)
                          for words in ("I felt hope", "safety net", "good life in Zwolle"))
    mark_no_code(ws, [hope], by="ann", note="Mieke only greets Big Mike here")
    reopen(ws, [hope], by="ann")  # withdrawn: no longer reviewed
    mark_no_code(ws, [safety], by="bob")
    run_coder(ws, "lexicon")  # a machine coder to flag with
    with ws.session() as session:
        machine = session.scalar(select(t.Coder.id).where(t.Coder.kind == "machine"))
        code = session.scalar(select(t.Code.id).limit(1))
        session.add(t.ReviewFlag(run_id="run-1", project_id=ws.project_id, coder_id=machine, document_id=doc_id,
                                 segment_id=life, code_id=code, score=0.4, level=0.25, scores={}))
    before = coverage_summary(ws)

    revision = revise_document(ws, doc_id, name_edits(stored_document(doc_id).text), reason="pseudonymisation",
                               user="ann", rewrite=lambda words: apply_edits(words, name_edits(words)))

    assert coverage_summary(ws) == before
    with ws.session() as session:
        new_text = {s.id: s.text for s in session.scalars(
            select(t.Segment).where(t.Segment.document_id == revision.document_id))}
        assert [new_text[i] for i in no_code_segment_ids(session, ws.project_id,
                                                         document_id=revision.document_id)] == [
            "The group is my safety net and I feel connected to people again."]
        reviews = session.execute(select(t.SegmentReview.action, t.SegmentReview.note, t.SegmentReview.segment_id)
                                  .where(t.SegmentReview.document_id == revision.document_id)
                                  .order_by(t.SegmentReview.id)).all()
        assert [(action, note) for action, note, _ in reviews] == [
            ("no_code", "[Person 1] only greets [Person 2] here"), ("reopened", ""), ("no_code", "")]
        assert "I felt hope" in new_text[reviews[0].segment_id]
        (flag,) = session.scalars(select(t.ReviewFlag).where(t.ReviewFlag.document_id == revision.document_id))
        assert new_text[flag.segment_id] == "Today I believe I can have a good life in [Town 1]."
