"""Empty means unsure: flagged segments, "reviewed: no code", and the order of the stored review queue."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from chimeqda.errors import UnknownObject
from chimeqda.services.active import stored_queue
from chimeqda.services.coding import project_decisions, run_coder
from chimeqda.services.importing import import_files
from chimeqda.services.review import coverage_summary, mark_no_code, open_flags, reopen
from chimeqda.store import tables as t

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def strict(workspace, transcripts):
    """The lexicon asking for two distinct terms: sentences with one term get no suggestion, only a flag."""
    import_files(workspace, [transcripts], participants_csv=DATA / "participants.csv")
    run = run_coder(workspace, "lexicon", params={"min_hits": 2})
    return workspace, run


def test_a_segment_left_empty_with_a_likely_code_is_flagged_and_unflagged_once_reviewed(strict):
    ws, run = strict
    flags = open_flags(ws)
    assert run.flagged == len(flags) > 0
    flag = flags[0]
    assert flag.score >= 0.25 and flag.scores[flag.code] == pytest.approx(flag.score, abs=1e-3)
    with ws.session() as session:  # the flagged segment really has no suggestion
        assert session.scalar(select(func.count()).select_from(t.CodingEvent)
                              .where(t.CodingEvent.segment_id == flag.segment_id)) == 0
    assert flag.segment_id in {item.segment_id for item in stored_queue(ws)}

    assert len(mark_no_code(ws, [flag.segment_id], by="ann", note="small talk")) == 1
    assert flag.segment_id not in {f.segment_id for f in open_flags(ws)}
    assert flag.segment_id not in {item.segment_id for item in stored_queue(ws)}
    assert mark_no_code(ws, [flag.segment_id], by="ann") == []  # already so: nothing appended
    # the decision teaches the coders: a complete passage with no labels
    taught = [item for item in _decisions(ws)
              if item.source == f"segment:{flag.segment_id}"]
    assert taught and taught[0].labels == frozenset() and taught[0].complete

    reopen(ws, [flag.segment_id], by="ann")  # appended; the flag is open again
    assert flag.segment_id in {f.segment_id for f in open_flags(ws)}
    with ws.session() as session:
        actions = session.scalars(select(t.SegmentReview.action).where(
            t.SegmentReview.segment_id == flag.segment_id).order_by(t.SegmentReview.id)).all()
    assert actions == ["no_code", "reopened"]


def _decisions(ws):
    with ws.session() as session:
        return project_decisions(session, ws.project_id)


def test_coding_a_flagged_segment_also_closes_its_flag(strict):
    ws, _ = strict
    from chimeqda.services.coding import add_coding

    flag = open_flags(ws)[0]
    add_coding(ws, flag.document_id, flag.start, flag.end, flag.code, by="ann")
    assert flag.segment_id not in {f.segment_id for f in open_flags(ws)}


def test_no_code_on_an_unknown_segment_changes_nothing(strict):
    ws, _ = strict
    flag = open_flags(ws)[0]
    with pytest.raises(UnknownObject, match="no segment 999999"):
        mark_no_code(ws, [flag.segment_id, 999999], by="ann")
    with ws.session() as session:
        assert session.scalar(select(func.count()).select_from(t.SegmentReview)) == 0


def test_coverage_separates_reviewed_no_code_from_not_reviewed(strict):
    ws, _ = strict
    before = coverage_summary(ws)
    assert before.no_code == 0 and before.flagged > 0
    flag = open_flags(ws)[0]
    mark_no_code(ws, [flag.segment_id], by="ann")
    after = coverage_summary(ws)
    assert after.no_code == 1 and after.flagged == before.flagged - 1
    assert after.segments == (after.coded + after.no_code + after.pending + after.rejected + after.flagged
                              + after.not_reviewed)


def test_the_stored_queue_puts_the_least_settled_segment_first(workspace, transcripts):
    import_files(workspace, [transcripts], participants_csv=DATA / "participants.csv")
    run_coder(workspace, "lexicon")
    queue = stored_queue(workspace)
    values = [item.expected_value for item in queue]
    assert values == sorted(values, reverse=True) and len(set(values)) > 1
    with workspace.session() as session:
        scores = dict(session.execute(select(t.CodingEvent.id, t.CodingEvent.score)).all())
    top = queue[0]
    assert top.expected_value == pytest.approx(sum(1 - scores[i] for i in top.suggestions))


def test_the_report_separates_reviewed_no_code_from_not_reviewed(strict, tmp_path):
    from chimeqda.services.reporting import findings_report, project_report

    ws, _ = strict
    flags = open_flags(ws)
    mark_no_code(ws, [flags[0].segment_id], by="ann")
    summary = coverage_summary(ws)
    report = findings_report(ws, rigour=False)
    sections = dict(report.extra_sections)
    html = sections["Machine suggestions: calibration and review"]
    assert (f"{summary.coded} coded by a researcher; 1 <strong>reviewed: no code</strong>; {summary.rejected} with "
            f"the machine's suggestions rejected and no code given; not reviewed: {summary.pending} with a machine "
            f"suggestion waiting, {summary.flagged} flagged") in html
    written = project_report(ws, tmp_path / "out", rigour=True).read_text(encoding="utf-8")
    assert "reviewed: no code" in written and f"{summary.flagged} flagged" in written


def _states_one_by_one(ws) -> dict[str, int]:
    """Each participant segment of the current documents put in its review state by plain Python over every row."""
    from collections import Counter

    with ws.session() as session:
        segments = session.execute(
            select(t.Segment.id, t.Segment.document_id, t.Segment.start, t.Segment.end, t.Segment.role)
            .join(t.Document, t.Document.id == t.Segment.document_id)
            .where(t.Document.project_id == ws.project_id, t.Document.is_current.is_(True))).all()
        events = session.execute(
            select(t.CodingEvent.id, t.CodingEvent.document_id, t.CodingEvent.segment_id, t.CodingEvent.start,
                   t.CodingEvent.end, t.CodingEvent.action, t.CodingEvent.decides_id, t.Coder.kind)
            .join(t.Coder, t.Coder.id == t.CodingEvent.coder_id)
            .where(t.CodingEvent.project_id == ws.project_id)).all()
        reviews = session.execute(select(t.SegmentReview.segment_id, t.SegmentReview.action)
                                  .order_by(t.SegmentReview.id)).all()
        flagged = set(session.scalars(select(t.ReviewFlag.segment_id)))
    latest_review = dict(reviews)  # later rows overwrite earlier ones
    removed = {e.decides_id for e in events if e.action == "removed"}
    decided = {e.decides_id for e in events if e.decides_id is not None}

    def person(segment, action):
        return any(e.kind == "human" and e.action == action and e.document_id == segment.document_id
                   and e.start < segment.end and e.end > segment.start
                   and (action != "accepted" or e.id not in removed) for e in events)

    states: Counter = Counter()
    for segment in segments:
        if segment.role == "interviewer":
            continue
        if person(segment, "accepted"):
            states["coded"] += 1
        elif latest_review.get(segment.id) == "no_code":
            states["no_code"] += 1
        elif any(e.segment_id == segment.id and e.action == "suggested" and e.id not in decided for e in events):
            states["pending"] += 1
        elif person(segment, "rejected"):
            states["rejected"] += 1
        elif segment.id in flagged:
            states["flagged"] += 1
        else:
            states["not_reviewed"] += 1
    return dict(states)


def test_coverage_counts_equal_a_segment_by_segment_count_with_every_state_present(strict):
    from chimeqda.services.coding import add_coding, decide, pending_suggestions, remove_coding
    from chimeqda.services.revisions import revise_document

    ws, _ = strict
    # a revised document: its first version's segments, suggestions and flags must not be counted
    flags = open_flags(ws)
    revised = flags[-1]
    revise_document(ws, revised.document_id, [(0, 0, "Note. ")], reason="test", user="ann")
    run_coder(ws, "lexicon", documents=[revised.document])  # many suggestions waiting there
    by_segment: dict[int, list] = {}
    for suggestion in pending_suggestions(ws):
        by_segment.setdefault(suggestion.segment_id, []).append(suggestion)
    segments = sorted(by_segment)
    assert len(segments) >= 3
    decide(ws, [s.event_id for s in by_segment[segments[0]]], "accepted", by="ann")  # coded
    mark_no_code(ws, [segments[2]], by="ann")  # "no code" wins over a suggestion waiting
    decide(ws, [s.event_id for s in by_segment[segments[1]]], "accepted", by="ann")
    decide(ws, [s.event_id for s in by_segment[segments[1]]], "rejected", by="bob")  # withdrawn: rejected
    flags = open_flags(ws)  # segments[2:] stay pending
    assert len(flags) >= 3
    mark_no_code(ws, [flags[0].segment_id, flags[1].segment_id], by="ann")  # reviewed: no code
    reopen(ws, [flags[1].segment_id], by="ann")  # withdrawn: flagged again
    removed = add_coding(ws, flags[2].document_id, flags[2].start, flags[2].end, flags[2].code, by="ann")
    remove_coding(ws, removed, by="ann")  # a withdrawn coding codes nothing
    mark_no_code(ws, [segments[0]], by="bob")  # coded wins over "no code"

    expected = _states_one_by_one(ws)
    summary = coverage_summary(ws)
    states = ("coded", "no_code", "pending", "rejected", "flagged", "not_reviewed")
    assert {state: getattr(summary, state) for state in states} == {state: expected.get(state, 0)
                                                                     for state in states}
    assert all(expected.get(state, 0) > 0 for state in states), expected
    assert summary.segments == sum(expected.values())
