"""Every write of the workspace goes through services: codings, decisions, codebook edits, memos."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services import codebook, coding, import_files, run_coder
from chimeqda.services.frames import codings_frame
from chimeqda.services.memos import add_memo
from chimeqda.services.project import project_codebook
from chimeqda.store import queries as q
from chimeqda.store import tables as t


@pytest.fixture
def coded(workspace, transcripts):
    import_files(workspace, [transcripts])
    run_coder(workspace, "lexicon")
    with workspace.session() as session:
        doc = session.scalar(select(t.Document.id).order_by(t.Document.id))
    return workspace, doc


def _count(ws, *where) -> int:
    with ws.session() as session:
        return session.scalar(select(func.count()).select_from(t.CodingEvent).where(*where))


def test_add_codings_writes_one_event_per_code_or_none(coded):
    ws, doc = coded
    before = _count(ws)
    ids = coding.add_codings(ws, doc, 0, 20, ["hope", "meaning", "hope"], by="ann")
    assert len(ids) == 2 and _count(ws) == before + 2
    with pytest.raises(UnknownObject, match="no.such"):
        coding.add_codings(ws, doc, 0, 20, ["hope", "no.such"], by="ann")
    with pytest.raises(InvalidInput, match="outside the document"):
        coding.add_codings(ws, doc, 0, 10**7, ["hope"], by="ann")
    assert _count(ws) == before + 2


def test_change_coding_is_one_transaction(coded):
    ws, doc = coded
    (event,) = coding.add_codings(ws, doc, 0, 20, ["hope"], by="ann")
    with pytest.raises(UnknownObject, match="no.such"):
        coding.change_coding(ws, event, "no.such", by="ann")
    assert list(codings_frame(ws, coder="ann")["code"]) == ["hope"]
    removal, added = coding.change_coding(ws, event, "meaning", by="ann")
    assert removal < added and set(codings_frame(ws, coder="ann")["code"]) == {"meaning"}
    with pytest.raises(UnknownObject, match="no coding"):  # the old coding is withdrawn: not again
        coding.change_coding(ws, event, "hope", by="ann")
    with pytest.raises(UnknownObject, match="no coding"):
        coding.remove_coding(ws, event, by="ann")


def test_decisions_per_person_do_not_withdraw_each_other(coded):
    ws, _ = coded
    with ws.session() as session:
        suggestion = session.scalar(q.pending_suggestions(ws.project_id).with_only_columns(t.CodingEvent.id)
                                    .order_by(t.CodingEvent.id).limit(1))
    assert coding.decide_events(ws, [suggestion], "accepted", by="ann", per_person=True)
    assert [e for e in coding.decide_events(ws, [suggestion], "rejected", by="bob", per_person=True)]
    assert len(codings_frame(ws, coder="ann")) >= 1  # bob's rejection leaves ann's acceptance
    assert coding.decide_events(ws, [suggestion], "accepted", by="ann", per_person=True) == []  # unchanged
    # one decision per suggestion (a single researcher): compared with the latest one, anyone's
    assert coding.decide_events(ws, [suggestion], "rejected", by="cy") == []  # bob rejected it last
    assert len(coding.decide_events(ws, [suggestion], "accepted", by="cy")) == 1
    assert len(coding.decide_events(ws, [suggestion], "rejected", by="cy")) == 2  # removed + rejected


def test_predicates_match_the_rule(coded):
    ws, doc = coded
    (kept,) = coding.add_codings(ws, doc, 0, 20, ["hope"], by="ann")
    (gone,) = coding.add_codings(ws, doc, 20, 40, ["hope"], by="ann")
    coding.remove_coding(ws, gone, by="ann")
    with ws.session() as session:
        current = set(session.scalars(q.current_codings(ws.project_id).with_only_columns(t.CodingEvent.id)))
        pending = session.scalar(select(func.count()).select_from(q.pending_suggestions(ws.project_id).subquery()))
        assert kept in current and gone not in current
        assert pending == _count(ws, t.CodingEvent.action == "suggested")
        book_id = q.first_codebook_id(session, ws.project_id)
        assert project_codebook(session, ws.project_id)[0].id == book_id


def test_codebook_edits_and_memos(coded):
    ws, doc = coded
    code_id = codebook.add_code(ws, "Hope.New ", "New hope", parent="hope", definition="d")
    with pytest.raises(InvalidInput, match="already has"):
        codebook.add_code(ws, "hope.new", "again")
    with pytest.raises(InvalidInput, match="no parent"):
        codebook.add_code(ws, "x", "x", parent="nope")
    codebook.update_code(ws, code_id, name="Newer", color="#112233", examples=[["I hope", "en"]])
    with pytest.raises(InvalidInput, match="colour"):
        codebook.update_code(ws, code_id, name="Newer", color="red")
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
    assert book["hope.new"].name == "Newer" and book["hope.new"].parent == "hope"
    assert add_memo(ws, "code", code_id, " a note ", by="ann") > 0
    assert add_memo(ws, "document", doc, "doc note", by="ann") > 0
    with pytest.raises(UnknownObject):
        add_memo(ws, "document", 10**6, "x", by="ann")
    with pytest.raises(InvalidInput, match="empty"):
        add_memo(ws, "code", code_id, "  ", by="ann")
    (bobs,) = coding.add_codings(ws, doc, 0, 20, ["hope"], by="bob")
    with pytest.raises(UnknownObject):  # blind: not on another person's coding
        add_memo(ws, "coding", bobs, "mine?", by="ann", blind=True)
    assert add_memo(ws, "coding", bobs, "seen", by="ann") > 0


def test_a_new_project_starts_with_the_codebooks_research_question(workspace):
    with workspace.session() as session:
        question = session.scalar(select(t.Project.research_question).where(t.Project.id == workspace.project_id))
    assert question.startswith("Which recovery-supportive processes") and "\n" not in question
