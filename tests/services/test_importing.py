"""Importing transcripts into a real project database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from chimeqda.errors import ImportRejected, InvalidInput
from chimeqda.services import documents_frame, import_files, participants_frame
from chimeqda.store import tables as t

DATA = Path(__file__).parent.parent / "data"


def _count(ws, table):
    with ws.session() as session:
        return session.scalar(select(func.count()).select_from(table))


def test_import_folder_with_participants(workspace, transcripts):
    outcomes = import_files(workspace, [transcripts], participants_csv=DATA / "participants.csv")
    assert [o.status for o in outcomes] == ["imported", "imported"]
    by_name = {o.name: o for o in outcomes}
    assert by_name["P01-interview.txt"].participant == "P01"
    assert by_name["P01-interview.txt"].language == "en"
    assert by_name["P02-interview.txt"].language == "nl"
    people = participants_frame(workspace).set_index("participant")
    assert list(people.index) == ["P01", "P02", "P03"]  # P03 has no transcript yet but counts
    assert people.loc["P02", "age"] == 51 and people.loc["P01", "years_in_recovery"] == 2.5
    with workspace.session() as session:
        doc = session.scalar(select(t.Document).where(t.Document.name == "P01-interview.txt"))
        segments = session.scalars(select(t.Segment).where(t.Segment.document_id == doc.id)).all()
        roles = {s.role for s in segments}
        assert roles == {"interviewer", "participant", "other"} or roles == {"interviewer", "participant"}
        for s in segments:
            assert doc.text[s.start:s.end] == s.text


def test_reimporting_an_unchanged_file_does_nothing(workspace, transcripts):
    import_files(workspace, [transcripts])
    before = _count(workspace, t.Segment)
    again = import_files(workspace, [transcripts])
    assert {o.status for o in again} == {"unchanged"}
    assert _count(workspace, t.Segment) == before


def test_a_changed_file_becomes_a_new_version_and_keeps_the_old(workspace, transcripts):
    from chimeqda.services import add_coding

    first = import_files(workspace, [transcripts / "P01-interview.txt"])[0]
    coding = add_coding(workspace, first.document_id, 0, 10, "connectedness", by="ann")
    path = transcripts / "P01-interview.txt"
    path.write_text(path.read_text(encoding="utf-8") + "R: One more thing: I chair a meeting now.\n", encoding="utf-8")
    second = import_files(workspace, [path])[0]
    assert second.status == "new version" and second.document_id != first.document_id
    assert "kept" in second.note
    docs = documents_frame(workspace)
    assert sorted(docs["version"]) == [1, 2] and docs["current"].sum() == 1
    with workspace.session() as session:
        old = session.get(t.CodingEvent, coding)
        assert old.document_id == first.document_id  # the coding stays on its text


def test_a_bad_file_in_a_batch_imports_nothing(workspace, transcripts):
    (transcripts / "broken.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(ImportRejected) as caught:
        import_files(workspace, [transcripts])
    assert "broken.txt" in str(caught.value)
    assert _count(workspace, t.Document) == 0 and _count(workspace, t.Segment) == 0


def test_participant_csv_errors_name_the_row(workspace, transcripts, tmp_path):
    bad = tmp_path / "people.csv"
    bad.write_text("participant,age\nP01,30\nP01,31\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"people.csv, row 3: participant 'P01' appears twice"):
        import_files(workspace, [transcripts], participants_csv=bad)
    missing = tmp_path / "nocol.csv"
    missing.write_text("id,age\nP01,30\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="participant"):
        import_files(workspace, [transcripts], participants_csv=missing)
    assert _count(workspace, t.Document) == 0


def test_missing_input_is_named(workspace, tmp_path):
    with pytest.raises(InvalidInput, match="nowhere"):
        import_files(workspace, [tmp_path / "nowhere"])


def test_importing_again_with_an_interviewer_updates_roles_and_keeps_codings(workspace, tmp_path):
    """Same text, new --interviewer: roles change in place; document, offsets and codings stay."""
    from chimeqda.services import add_coding, segments_frame

    path = tmp_path / "P07-focus.txt"
    path.write_text(
        "Els: How did you find the meetings?\n"
        "Marc: I kept going back because nobody judged me.\n"
        "Els: And now?\n"
        "Marc: Now I am the one who makes the coffee.\n",
        encoding="utf-8",
    )
    (first,) = import_files(workspace, [path])
    assert first.status == "imported"
    before = segments_frame(workspace)
    assert set(before["role"]) == {"participant"}  # nobody is known to be the interviewer
    start = path.read_text(encoding="utf-8").index("nobody judged me")
    coding = add_coding(workspace, first.document_id, start, start + len("nobody judged me"), "connectedness", by="ann")

    (again,) = import_files(workspace, [path], interviewer_labels=["Els"])
    assert again.status == "roles updated" and again.document_id == first.document_id
    assert "2 turn(s)" in again.note
    after = segments_frame(workspace)
    assert list(after["segment_id"]) == list(before["segment_id"]) and list(after["turn"]) == list(before["turn"])
    assert dict(zip(after["speaker"], after["role"])) == {"Els": "interviewer", "Marc": "participant"}
    with workspace.session() as session:
        event = session.get(t.CodingEvent, coding)
        assert (event.document_id, event.start) == (first.document_id, start)
        assert session.scalar(select(func.count()).select_from(t.Document)) == 1

    (third,) = import_files(workspace, [path], interviewer_labels=["Els"])
    assert third.status == "unchanged" and not third.note


def _participant_of(ws, name):
    with ws.session() as session:
        return session.scalar(select(t.Participant.label).join(t.Document, t.Document.participant_id == t.Participant.id)
                              .where(t.Document.name == name, t.Document.is_current.is_(True)))


def test_reimporting_an_unchanged_file_with_participants_links_it(workspace, transcripts, tmp_path):
    interview = tmp_path / "flemish-utf8.txt"  # no participant id in the name: imported unlinked
    interview.write_bytes((transcripts / "P02-interview.txt").read_bytes())
    assert import_files(workspace, [interview])[0].participant is None
    parts = tmp_path / "parts.csv"
    parts.write_text("participant,file,age\nP01,flemish-utf8.txt,40\n", encoding="utf-8")

    again = import_files(workspace, [interview], participants_csv=parts)[0]
    assert (again.status, again.participant, again.note) == ("linked", "P01", "same text; now linked to P01")
    assert _participant_of(workspace, "flemish-utf8.txt") == "P01"  # stored, not only said
    assert _count(workspace, t.Document) == 1

    parts.write_text("participant,file\nP02,flemish-utf8.txt\n", encoding="utf-8")
    third = import_files(workspace, [interview], participants_csv=parts)[0]
    assert (third.status, third.participant) == ("unchanged", "P01") and "still linked to P01" in third.note
    assert _participant_of(workspace, "flemish-utf8.txt") == "P01"

    interview.write_text(interview.read_text(encoding="utf-8") + "\nR: And one more thing.\n", encoding="utf-8")
    changed = import_files(workspace, [interview])[0]  # no participant data this time: the new version keeps P01
    assert (changed.status, changed.participant) == ("new version", "P01")
    assert _participant_of(workspace, "flemish-utf8.txt") == "P01"
