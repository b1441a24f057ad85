"""Machine suggestions and human decisions on a real project database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services import (
    add_coding,
    codings_frame,
    decide,
    import_files,
    init_project,
    pending_suggestions,
    project_decisions,
    remove_coding,
    run_coder,
)
from chimeqda.store import tables as t


def _events(ws):
    with ws.session() as session:
        return session.scalars(select(t.CodingEvent).order_by(t.CodingEvent.id)).all()


def test_suggestions_are_stored_with_provenance(coded):
    ws, run = coded
    assert run.suggestions > 0
    pending = pending_suggestions(ws)
    assert len(pending) == run.suggestions
    assert all(p.evidence.startswith("lexicon") or "matched" in p.evidence for p in pending)
    with ws.session() as session:
        coder = session.scalar(select(t.Coder).where(t.Coder.kind == "machine"))
        assert coder.name == "lexicon" and coder.version and "training_size" in coder.params
        roles = session.execute(
            select(t.Segment.role).join(t.CodingEvent, t.CodingEvent.segment_id == t.Segment.id)
        ).scalars().all()
    assert "interviewer" not in roles  # interviewer turns are not coded by default


def test_provenance_records_the_calibration(coded):
    ws, _ = coded
    with ws.session() as session:
        coder = session.scalar(select(t.Coder).where(t.Coder.kind == "machine"))
        calibration = coder.params["calibration"]
    assert calibration["method"].startswith("platt-hierarchical")
    assert calibration["bank_rows"]["en"] > 0  # the synthetic codebook's bank calibrated it


def test_selective_coding_reaches_the_requested_precision_on_its_own_probabilities(workspace, transcripts):
    import_files(workspace, [transcripts])
    plain = run_coder(workspace, "lexicon", learn_from_decisions=False)
    with workspace.session() as session:
        session.execute(t.table(t.CodingEvent).delete())
    strict = run_coder(workspace, "lexicon", precision=0.9)
    assert strict.precision == 0.9 and strict.coder.params["precision"] == 0.9
    assert strict.suggestions <= plain.suggestions
    assert strict.left_for_review is not None and 0 <= strict.left_for_review <= strict.segments
    # Each suggestion's own calibrated probability reaches the requested precision.
    assert all(p.score >= 0.9 for p in pending_suggestions(workspace))
    assert strict.precision_check is not None and not strict.precision_check.verified
    with pytest.raises(InvalidInput, match="precision"):
        run_coder(workspace, "lexicon", precision=1.5)


def test_the_report_compares_probabilities_with_decisions_and_counts_unreviewed(coded):
    from chimeqda.services.reporting import calibration_section

    ws, run = coded
    pending = pending_suggestions(ws)
    decide(ws, [pending[0].event_id], "accepted", by="ana")
    decide(ws, [pending[1].event_id], "rejected", by="ana")
    title, html = calibration_section(ws)
    assert "calibration" in title
    assert f"{run.suggestions} machine suggestions: 2 reviewed by a researcher (1 accepted), " \
           f"{run.suggestions - 2} not reviewed" in html
    assert "<svg" in html and "<circle" in html


def test_a_rerun_does_not_suggest_again(coded):
    ws, run = coded
    again = run_coder(ws, "lexicon")
    assert again.suggestions == 0 and again.skipped_existing == run.suggestions


def test_decisions_are_appended_never_overwritten(coded):
    ws, _ = coded
    first, second = pending_suggestions(ws)[:2]
    before = {e.id: (e.action, e.code_id, e.start, e.end) for e in _events(ws)}
    decide(ws, [first.event_id], "accepted", by="ann")
    decide(ws, [second.event_id], "rejected", by="ann")
    decide(ws, [first.event_id], "rejected", by="ann")  # ann changes her mind
    after = _events(ws)
    for event in after:  # every earlier row is unchanged
        if event.id in before:
            assert before[event.id] == (event.action, event.code_id, event.start, event.end)
    new = [e for e in after if e.id not in before]
    assert [e.action for e in new] == ["accepted", "rejected", "removed", "rejected"]
    assert {p.event_id for p in pending_suggestions(ws)}.isdisjoint({first.event_id, second.event_id})
    frame = codings_frame(ws)
    assert frame.empty  # the one accepted coding was withdrawn


def test_manual_codings_and_removal(coded):
    ws, _ = coded
    with ws.session() as session:
        doc = session.scalar(select(t.Document).where(t.Document.name == "P01-interview.txt"))
        segs = session.scalars(
            select(t.Segment).where(t.Segment.document_id == doc.id, t.Segment.role == "participant")
            .order_by(t.Segment.index)
        ).all()
    span_start, span_end = segs[0].start, segs[1].end  # across two sentences
    event = add_coding(ws, doc.id, span_start, span_end, "connectedness.peer_support", by="bo")
    frame = codings_frame(ws)
    assert set(frame["segment_id"]) == {segs[0].id, segs[1].id}
    assert set(frame["code"]) == {"connectedness.peer_support"} and set(frame["coder"]) == {"bo"}
    remove_coding(ws, event, by="bo")
    assert codings_frame(ws).empty
    with pytest.raises(InvalidInput, match="outside the document"):
        add_coding(ws, doc.id, 0, len(doc.text) + 5, "hope", by="bo")
    with pytest.raises(UnknownObject, match="no code"):
        add_coding(ws, doc.id, 0, 5, "not-a-code", by="bo")


def test_suggestions_can_be_included_in_analysis_frames(coded):
    ws, run = coded
    frame = codings_frame(ws, include_suggested=True)
    assert set(frame["status"]) == {"suggested"}
    assert frame["segment_id"].nunique() <= run.suggestions


def test_filters_on_pending_suggestions(coded):
    ws, _ = coded
    hope = pending_suggestions(ws, code="connectedness")
    assert hope and all(p.code.startswith("connectedness") for p in hope)
    strong = pending_suggestions(ws, min_score=0.7)
    assert all(p.score >= 0.7 for p in strong)
    with pytest.raises(UnknownObject):
        pending_suggestions(ws, code="nope")


def test_training_data_never_crosses_projects(coded, tmp_path, db_url):
    ws, _ = coded
    other = init_project(tmp_path / "other", name="Other study", db=db_url)
    assert other.project_id != ws.project_id
    first = pending_suggestions(ws)[0]
    decide(ws, [first.event_id], "accepted", by="ann")
    mine = project_decisions(_session(ws), ws.project_id)
    theirs = project_decisions(_session(other), other.project_id)
    assert len(mine) == 1 and theirs == []


def _session(ws):
    from sqlalchemy.orm import Session

    return Session(ws.engine)


def test_a_superseded_version_keeps_its_codings_unchanged(coded, transcripts):
    from chimeqda.errors import Conflict
    from chimeqda.services.coding import add_codings, change_coding
    from chimeqda.services.review import mark_no_code
    from chimeqda.services.speakers import set_speaker

    ws, _ = coded
    with ws.session() as session:
        old = session.scalar(select(t.Document.id).where(t.Document.name == "P01-interview.txt"))
        suggestion = session.scalar(select(t.CodingEvent.id).where(t.CodingEvent.document_id == old,
                                                                   t.CodingEvent.action == "suggested"))
        segment = session.scalar(select(t.Segment.id).where(t.Segment.document_id == old))
    kept = add_coding(ws, old, 0, 10, "hope", by="ann")
    path = transcripts / "P01-interview.txt"
    path.write_text(path.read_text(encoding="utf-8") + "R: One more thing: I chair a meeting now.\n", encoding="utf-8")
    new = import_files(ws, [path])[0]
    assert new.status == "new version"
    before = len(_events(ws))
    refused = r"P01-interview.txt version 1: this document has a newer version \(version 2\); reload to code it"
    for write in (lambda: add_codings(ws, old, 0, 10, ["hope"], by="ann"),
                  lambda: change_coding(ws, kept, "meaning", by="ann"),
                  lambda: remove_coding(ws, kept, by="ann"),
                  lambda: decide(ws, [suggestion], "accepted", by="ann"),
                  lambda: mark_no_code(ws, [segment], by="ann"),
                  lambda: set_speaker(ws, old, 0, speaker="Els")):
        with pytest.raises(Conflict, match=refused):
            write()
    assert len(_events(ws)) == before  # nothing written on version 1
    assert add_coding(ws, new.document_id, 0, 10, "hope", by="ann")  # the current version codes as before
