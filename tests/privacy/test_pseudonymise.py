"""The pseudonymisation workflow on a real project: detect, review, apply, reveal, guard, audit."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import select, text

from chimeqda.errors import InvalidInput, PrivacyRequired, WrongPassphrase
from chimeqda.privacy.keyfile import open_key
from chimeqda.services import add_coding, import_files, read_participants_csv
from chimeqda.services.privacy_audit import (
    audit_csv,
    audit_trail,
    document_statuses,
    record_export,
    require_pseudonymised,
)
from chimeqda.services.pseudonymise import (
    add_proposal,
    apply_pseudonyms,
    decide_proposals,
    detect_identifiers,
    list_proposals,
    names_from_participants,
    reveal,
    unlock_key,
)
from chimeqda.store import tables as t
from chimeqda.store.privacy import IdentifierProposal

PASS = "correct horse battery"

FIRST = """SYNTHETIC TEST TRANSCRIPT (written for chimeqda's tests; no real participant)

Interviewer: Thank you for coming, Mieke. Where did you go to your first meeting?
Mieke: In Zwolle. My sponsor Big Mike took me along, and I felt hope for the first time.
Interviewer: What helps you most now?
Mieke: Mike calls me every morning. You can mail me at mieke@example.org if you want.
"""

SECOND = """SYNTHETIC TEST TRANSCRIPT (written for chimeqda's tests; no real participant)

Interviewer: How did you hear about the group?
Respondent: Big Mike told me about it. He knew Mieke from the meetings in Zwolle.
"""


@pytest.fixture
def study(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = tmp_path / "interviews"
    folder.mkdir()
    (folder / "P07.txt").write_text(FIRST, encoding="utf-8")
    (folder / "P08.txt").write_text(SECOND, encoding="utf-8")
    people = tmp_path / "participants.csv"
    people.write_text("participant,file,name,aliases,age\nP07,P07.txt,Mieke,Miek,31\nP08,P08.txt,Johan,,40\n",
                      encoding="utf-8")
    import_files(workspace, [folder], participants_csv=people, interviewer_labels=["Interviewer"])
    key = unlock_key(workspace, PASS)
    names_from_participants(key, people)
    key.add_name("Big Mike")
    key.save()
    return workspace, key, people


def _current(ws, name):
    with ws.session() as session:
        return session.scalar(select(t.Document).where(t.Document.name == name, t.Document.is_current.is_(True)))


def test_participant_names_are_never_stored_in_the_database(study):
    ws, _, people = study
    assert [row.attributes for row in read_participants_csv(people)] == [{"age": 31}, {"age": 40}]
    with ws.session() as session:
        attributes = [p.attributes for p in session.scalars(select(t.Participant))]
    assert all("name" not in a and "aliases" not in a for a in attributes)


def test_detect_review_apply_gives_one_pseudonym_per_real_value(study):
    ws, key, _ = study
    first = _current(ws, "P07.txt")
    coding = add_coding(ws, first.id, first.text.index("My sponsor"), first.text.index("first time.") + 11,
                        "connectedness.peer_support", by="ann")
    with ws.session() as session:
        session.add(t.Memo(project_id=ws.project_id, target_type="document", target_id=first.id,
                           text="mieke laughed about Big Mike"))
    summaries = detect_identifiers(ws, key, user="ann")
    assert {s.document for s in summaries} == {"P07.txt", "P08.txt"}
    proposals = list_proposals(ws)
    words = {(p.document, p.text) for p in proposals}
    assert {("P07.txt", "Mieke"), ("P07.txt", "Big Mike"), ("P08.txt", "Mieke"), ("P08.txt", "Big Mike")} <= words
    labels = [i for i in range(len(first.text)) if first.text.startswith("\nMieke:", i)]
    assert len(labels) == 2 and all(any(p.start == i + 1 for p in proposals) for i in labels)
    assert document_statuses(_session_of(ws), ws.project_id)["P07.txt"] == "to review"

    with pytest.raises(InvalidInput, match="not reviewed"):
        apply_pseudonyms(ws, key, user="ann")
    mail = [p.id for p in proposals if "@" in p.text]
    decide_proposals(ws, [p.id for p in proposals if p.id not in mail and p.text != "Zwolle"], "confirmed",
                     user="ann")
    decide_proposals(ws, mail, "rejected", user="ann")
    # a place marked by hand (replacing any open proposal there) is then proposed in the other document too
    zwolle = first.text.index("Zwolle")
    add_proposal(ws, first.id, zwolle, zwolle + 6, "PLACE", user="ann")
    elsewhere = [p for p in list_proposals(ws, status="proposed") if p.text == "Zwolle"]
    assert [p.document for p in elsewhere] == ["P08.txt"]
    decide_proposals(ws, [p.id for p in elsewhere], "confirmed", user="ann")

    outcomes = apply_pseudonyms(ws, key, user="ann")
    assert {o.document: o.version for o in outcomes} == {"P07.txt": 2, "P08.txt": 2}
    one, two = _current(ws, "P07.txt"), _current(ws, "P08.txt")
    for doc in (one, two):
        assert "Mieke" not in doc.text and "Big Mike" not in doc.text and "Zwolle" not in doc.text
    mieke = one.text.split("\n")[3].split(":")[0]
    assert mieke.startswith("[Person ") and one.text.count(mieke) >= 2 and mieke in two.text
    assert "[Town 1]" in one.text and "[Town 1]" in two.text
    assert "mieke@example.org" in one.text  # rejected: left as it was
    with ws.session() as session:
        speakers = set(session.scalars(select(t.Turn.speaker).where(t.Turn.document_id == one.id)))
        coded = session.get(t.CodingEvent, coding + 0)
        carried = session.scalars(select(t.CodingEvent).where(t.CodingEvent.document_id == one.id)).all()
        stored = " ".join(str(v) for v in session.execute(text("SELECT * FROM pseudonyms")).all())
    assert speakers - {None} == {"Interviewer", mieke}
    with ws.session() as session:
        memo = session.scalars(select(t.Memo).where(t.Memo.target_id == one.id)).one()
    big_mike = next(e["pseudonym"] for e in key.entries.values() if e["value"] == "Big Mike")
    assert memo.text == f"{mieke} laughed about {big_mike}"
    assert coded is not None and [one.text[e.start:e.end] for e in carried] == [
        f"My sponsor {big_mike} took me along, and I felt hope for the first time."]
    assert "Mieke" not in stored and "mieke" not in stored  # only keyed hashes in the database
    assert set(document_statuses(_session_of(ws), ws.project_id).values()) == {"pseudonymised"}

    # the key file holds the mapping, encrypted, owner-only
    assert stat.S_IMODE(os.stat(key.path).st_mode) == 0o600
    assert b"Mieke" not in key.path.read_bytes()
    reopened = open_key(key.path, PASS)
    assert ("Mieke", mieke) in {(e["value"], e["pseudonym"]) for e in reopened.entries.values()}
    shown = reveal(ws, reopened, [mieke], reason="ethics committee asked for a check", user="ann")
    assert shown == [(mieke, "PERSON", "Mieke")]
    trail = audit_trail(ws, "P07.txt")
    actions = [e.action for e in trail]
    assert {"detected", "confirmed", "rejected", "added", "pseudonymised"} <= set(actions)
    revealed = [e for e in audit_trail(ws) if e.action == "revealed"]
    assert revealed[0].reason == "ethics committee asked for a check" and revealed[0].detail == {"pseudonyms": [mieke]}
    assert "Mieke" not in audit_csv(audit_trail(ws))


def _session_of(ws):
    from sqlalchemy.orm import Session

    return Session(ws.engine)


def test_speaker_labels_that_are_names_are_proposed(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = tmp_path / "talk.txt"
    path.write_text("Interviewer: Hello.\nAnneke: Hello to you.\nInterviewer: And then?\n"
                    "Anneke: Then it got better.\nP03: Me too.\n", encoding="utf-8")
    import_files(workspace, [path])
    key = unlock_key(workspace, PASS)
    detect_identifiers(workspace, key, user="ann")
    found = [(p.text, p.source, p.label) for p in list_proposals(workspace)]
    assert found == [("Anneke", "speaker label", "PERSON")] * 2


def test_a_wrong_passphrase_changes_nothing(study):
    ws, key, _ = study
    before = key.path.read_bytes()
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        unlock_key(ws, "not the passphrase")
    assert key.path.read_bytes() == before


def test_the_key_file_is_refused_inside_the_project_folder(study):
    ws, _, _ = study
    with pytest.raises(InvalidInput, match="outside the project folder"):
        unlock_key(ws, PASS, ws.directory / "key.key")


def test_the_guard_refuses_until_every_document_is_pseudonymised(study):
    ws, key, _ = study
    with pytest.raises(PrivacyRequired, match="chimeqda pseudonymise"):
        require_pseudonymised(ws, what="export")
    require_pseudonymised(ws, allow=True)
    record_export(ws, "qdpx", "early.qdpx", user="ann")
    detect_identifiers(ws, key, user="ann")
    decide_proposals(ws, [p.id for p in list_proposals(ws)], "confirmed", user="ann")
    apply_pseudonyms(ws, key, user="ann")
    require_pseudonymised(ws, what="export")
    exports = [e for e in audit_trail(ws) if e.action == "exported"]
    assert exports[0].detail["unpseudonymised"] == ["P07.txt", "P08.txt"]
    assert exports[0].detail["unpseudonymised_count"] == 2


def test_the_guard_names_the_documents_it_refuses_and_only_the_chosen_ones(study):
    ws, _, _ = study
    with pytest.raises(PrivacyRequired, match=r"^2 document\(s\) of this project are not pseudonymised yet "
                                              r"\(P07\.txt, P08\.txt\); export refuses"):
        require_pseudonymised(ws, what="export")
    with pytest.raises(PrivacyRequired, match=r"^1 document\(s\) .* \(P08\.txt\)"):
        require_pseudonymised(ws, documents=["P08.txt"], what="export")


def test_an_export_entry_names_at_most_export_names_documents_and_counts_them_all(study, monkeypatch):
    from chimeqda.services import privacy_audit

    ws, _, _ = study
    monkeypatch.setattr(privacy_audit, "EXPORT_NAMES", 1)  # a million-post corpus: not a million names
    record_export(ws, "report", "report.html", user="ann")
    entry = [e for e in audit_trail(ws) if e.action == "exported"][-1]
    assert entry.detail["unpseudonymised"] == ["P07.txt"] and entry.detail["unpseudonymised_count"] == 2


def test_projects_that_never_opted_in_are_not_guarded(workspace, transcripts):
    import_files(workspace, [transcripts])
    require_pseudonymised(workspace, what="export")


def test_confirm_all_confirms_only_strong_evidence_and_says_what_it_left(study):
    from chimeqda.services.pseudonymise import CONFIRM_ALL_MIN_SCORE, confirm_strong, is_strong

    ws, key, _ = study
    first = _current(ws, "P07.txt")
    detect_identifiers(ws, key, user="ann")
    weak = first.text.index("Mieke: Mike calls")
    add_proposal(ws, first.id, weak + len("Mieke: "), weak + len("Mieke: Mike"), "PERSON", user="ann")
    with ws.session() as session:  # a proposal as weak as a lone capitalised word, to be left for review
        session.add(IdentifierProposal(project_id=ws.project_id, document_id=first.id, start=0, end=9,
                                       label="PERSON", source="capitalised word", score=0.3, status="proposed"))
    confirmed, left = confirm_strong(ws, user="ann")
    after = list_proposals(ws)
    assert confirmed >= 3 and left == len([p for p in after if p.status == "proposed"]) >= 1
    assert all(is_strong(p.source, p.score) for p in after if p.status == "confirmed" and p.source != "researcher")
    assert all(not is_strong(p.source, p.score) for p in after if p.status == "proposed")
    assert any(p.text == "SYNTHETIC" and p.status == "proposed" for p in after)
    assert {p.text for p in after if p.status == "confirmed"} >= {"Mieke", "Big Mike"}
    assert CONFIRM_ALL_MIN_SCORE == 0.7
    with pytest.raises(InvalidInput, match="not reviewed"):
        apply_pseudonyms(ws, key, user="ann")  # the weak one still waits for a decision


def test_places_are_named_as_a_researcher_expects():
    from chimeqda.services.pseudonymise import _place_word

    assert [_place_word(v) for v in ("Zwolle", "Kessel-Lo", "Capel Street", "Brugstraat", "Brugstraat 14",
                                     "Queen's Hall", "Sint-Pieterskerk")] == [
        "Town", "Town", "Street", "Street", "Address", "Building", "Building"]
