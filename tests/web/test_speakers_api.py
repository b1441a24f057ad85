"""Correcting speakers from the document view: one turn, or every turn of a speaker (services.speakers)."""

from __future__ import annotations

from sqlalchemy import select

from chimeqda.store import tables as t


def _turns(project, doc_id):
    with project.session() as session:
        return session.execute(select(t.Turn.index, t.Turn.speaker, t.Turn.role)
                               .where(t.Turn.document_id == doc_id).order_by(t.Turn.index)).all()


def test_a_coder_renames_one_turn_and_then_every_turn_of_a_speaker(login, project, doc_id):
    before = _turns(project, doc_id)
    index = next(i for i, speaker, _ in before if speaker == "R")
    client = login("cora")
    response = client.write("POST", f"/api/documents/{doc_id}/turns/{index}",
                            json={"speaker": "P01", "role": "participant", "scope": "turn"})
    assert response.status_code == 200, response.text
    after = _turns(project, doc_id)
    assert after[index].speaker == "P01"
    assert [row for row in after if row.index != index] == [row for row in before if row.index != index]
    assert response.json()["turns"][index][2] == "P01"

    interviewer = next(i for i, speaker, _ in before if speaker == "I")
    response = client.write("POST", f"/api/documents/{doc_id}/turns/{interviewer}",
                            json={"speaker": "Interviewer", "role": "interviewer", "scope": "speaker"})
    assert response.status_code == 200, response.text
    renamed = _turns(project, doc_id)
    assert {s for _, s, _ in renamed if s in ("I", "Interviewer")} == {"Interviewer"}
    assert sum(1 for _, s, _ in before if s == "I") == sum(1 for _, s, _ in renamed if s == "Interviewer")
    # the document view reads turns on every load: the change shows without a restart
    payload = client.get(f"/api/documents/{doc_id}").json()
    assert [turn[2] for turn in payload["turns"]] == [s or "" for _, s, _ in renamed]


def test_bad_speaker_changes_are_refused_and_change_nothing(login, project, doc_id):
    before = _turns(project, doc_id)
    client = login("cora")
    assert client.write("POST", f"/api/documents/{doc_id}/turns/1",
                        json={"speaker": "X", "role": "boss"}).status_code == 422
    assert client.write("POST", f"/api/documents/{doc_id}/turns/999",
                        json={"speaker": "X", "role": "other"}).status_code == 404
    assert login("vera").write("POST", f"/api/documents/{doc_id}/turns/1",
                               json={"speaker": "X", "role": "other"}).status_code == 403
    assert _turns(project, doc_id) == before
