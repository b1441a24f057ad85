"""The coding API: codings, decisions and memos append events that the database and other coders see."""

from __future__ import annotations

from sqlalchemy import select

from chimeqda.services.frames import codings_frame
from chimeqda.store import tables as t


def _events(client, doc_id, after=0):
    response = client.get(f"/api/documents/{doc_id}/events?after={after}")
    assert response.status_code == 200
    return response.json()["events"]


def _suggestions(project, doc_id):
    with project.session() as session:
        return session.scalars(
            select(t.CodingEvent.id).where(t.CodingEvent.document_id == doc_id, t.CodingEvent.action == "suggested")
            .order_by(t.CodingEvent.id)
        ).all()


def test_applying_codes_appends_one_event_per_code(login, project, doc_id):
    cora = login("cora")
    response = cora.write("POST", f"/api/documents/{doc_id}/codings",
                          json={"start": 10, "end": 60, "codes": ["hope", "connectedness"]})
    assert response.status_code == 200, response.text
    rows = response.json()["events"]
    assert [r[5] for r in rows] == ["accepted", "accepted"] and all(r[1:3] == [10, 60] for r in rows)
    frame = codings_frame(project, coder="cora")
    assert set(frame["code"]) == {"hope", "connectedness"}


def test_remove_and_change_a_coding(login, project, doc_id):
    cora = login("cora")
    event = cora.write("POST", f"/api/documents/{doc_id}/codings",
                       json={"start": 0, "end": 40, "codes": ["hope"]}).json()["events"][0][0]
    changed = cora.write("POST", f"/api/codings/{event}/change", json={"code": "meaning"})
    assert changed.status_code == 200
    assert [r[5] for r in changed.json()["events"]] == ["removed", "accepted"]
    assert set(codings_frame(project, coder="cora")["code"]) == {"meaning"}
    new_id = changed.json()["events"][1][0]
    assert cora.write("POST", f"/api/codings/{new_id}/remove").status_code == 200
    assert codings_frame(project, coder="cora").empty


def test_changing_to_an_unknown_code_keeps_the_coding(login, project, doc_id):
    cora = login("cora")
    event = cora.write("POST", f"/api/documents/{doc_id}/codings",
                       json={"start": 0, "end": 40, "codes": ["hope"]}).json()["events"][0][0]
    refused = cora.write("POST", f"/api/codings/{event}/change", json={"code": "no.such.code"})
    assert refused.status_code == 404 and "no.such.code" in refused.json()["detail"]
    frame = codings_frame(project, coder="cora")
    assert list(frame["code"]) == ["hope"] and list(frame["event_id"]) == [event]
    with project.session() as session:
        assert session.scalar(select(t.CodingEvent.id).where(t.CodingEvent.decides_id == event)) is None


def test_bad_input_is_422_and_unknown_things_404(login, doc_id):
    cora = login("cora")
    assert cora.write("POST", f"/api/documents/{doc_id}/codings",
                      json={"start": 5, "end": 10**7, "codes": ["hope"]}).status_code == 422
    assert cora.write("POST", f"/api/documents/{doc_id}/codings",
                      json={"start": 5, "end": 9, "codes": ["no.such.code"]}).status_code == 404
    assert cora.write("POST", "/api/suggestions/999999/decide", json={"action": "accepted"}).status_code == 404


def test_decisions_are_per_person(login, project, doc_id):
    cora, carl = login("cora"), login("carl")
    suggestion = _suggestions(project, doc_id)[0]
    assert cora.write("POST", f"/api/suggestions/{suggestion}/decide", json={"action": "accepted"}).status_code == 200
    assert carl.write("POST", f"/api/suggestions/{suggestion}/decide", json={"action": "rejected"}).status_code == 200
    # carl's rejection does not withdraw cora's acceptance
    assert len(codings_frame(project, coder="cora")) >= 1
    again = cora.write("POST", f"/api/suggestions/{suggestion}/decide", json={"action": "rejected"}).json()["events"]
    assert [r[5] for r in again] == ["removed", "rejected"]


def test_other_coders_see_changes_by_polling(login, doc_id):
    cora, carl = login("cora"), login("carl")
    start = carl.get(f"/api/documents/{doc_id}").json()
    cora.write("POST", f"/api/documents/{doc_id}/codings", json={"start": 3, "end": 30, "codes": ["hope"]})
    seen = _events(carl, doc_id, start["cursor"])
    assert any(r[5] == "accepted" and r[1:3] == [3, 30] for r in seen)


def test_blind_coding_hides_other_coders_until_lifted(login, project, doc_id):
    olga, cora, carl = login("olga"), login("cora"), login("carl")
    assert olga.write("POST", f"/projects/{project.project_id}/blind", data={"on": "1"}).status_code == 303
    coded = cora.write("POST", f"/api/documents/{doc_id}/codings", json={"start": 3, "end": 30, "codes": ["hope"]})
    event = coded.json()["events"][0][0]
    cora.write("POST", f"/api/projects/{project.project_id}/memos",
               json={"target_type": "coding", "target_id": event, "text": "cora's private note"})
    carl_view = carl.get(f"/api/documents/{doc_id}").json()
    assert carl_view["me"]["hides_others"] is True
    assert all(r[4] != coded.json()["events"][0][4] for r in carl_view["events"])
    assert any(r[5] == "suggested" for r in carl_view["events"])  # the machine's suggestions stay visible
    assert carl_view["memos"] == []
    assert carl.write("POST", f"/api/codings/{event}/remove").status_code == 404
    assert any(r[0] == event for r in olga.get(f"/api/documents/{doc_id}").json()["events"])  # the owner reconciles
    olga.write("POST", f"/projects/{project.project_id}/blind", data={"on": "0"})
    assert any(r[0] == event for r in carl.get(f"/api/documents/{doc_id}").json()["events"])


def test_memos_on_document_coding_and_code(login, project, doc_id):
    cora = login("cora")
    event = cora.write("POST", f"/api/documents/{doc_id}/codings",
                       json={"start": 0, "end": 20, "codes": ["hope"]}).json()["events"][0][0]
    with project.session() as session:
        code_id = session.scalar(select(t.Code.id).where(t.Code.key == "hope"))
    for target_type, target_id in (("document", doc_id), ("coding", event), ("code", code_id)):
        response = cora.write("POST", f"/api/projects/{project.project_id}/memos",
                              json={"target_type": target_type, "target_id": target_id, "text": f"on the {target_type}"})
        assert response.status_code == 200, response.text
    memos = cora.get(f"/api/documents/{doc_id}").json()["memos"]
    assert {m[1] for m in memos} == {"document", "coding", "code"}
    assert cora.write("POST", f"/api/projects/{project.project_id}/memos",
                      json={"target_type": "document", "target_id": doc_id, "text": "  "}).status_code == 422


def test_a_superseded_version_is_refused_with_409(login, project, doc_id, transcripts):
    from chimeqda.services.importing import import_files

    cora = login("cora")
    suggestion = _suggestions(project, doc_id)[0]
    path = transcripts / "P01-interview.txt"  # re-imported changed while cora's page shows version 1
    path.write_text(path.read_text(encoding="utf-8") + "R: One more thing: I chair a meeting now.\n", encoding="utf-8")
    new = import_files(project, [path])[0]
    assert new.status == "new version"

    coded = cora.write("POST", f"/api/documents/{doc_id}/codings", json={"start": 0, "end": 40, "codes": ["hope"]})
    assert coded.status_code == 409
    assert "this document has a newer version (version 2); reload to code it" in coded.json()["detail"]
    decided = cora.write("POST", f"/api/suggestions/{suggestion}/decide", json={"action": "accepted"})
    assert decided.status_code == 409 and "newer version" in decided.json()["detail"]
    with project.session() as session:
        assert session.scalar(select(t.CodingEvent.id).where(t.CodingEvent.document_id == doc_id,
                                                             t.CodingEvent.action != "suggested")) is None
    fresh = cora.write("POST", f"/api/documents/{new.document_id}/codings",
                       json={"start": 0, "end": 40, "codes": ["hope"]})
    assert fresh.status_code == 200, fresh.text
