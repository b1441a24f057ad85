"""The document view's pseudonymisation API: proposals, decisions, marking, applying, views logged."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chimeqda.services.privacy_audit import audit_trail, opt_in
from chimeqda.services.pseudonymise import unlock_key
from chimeqda.store import tables as t

PASS = "web passphrase long"


@pytest.fixture
def private(project, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    opt_in(project)
    unlock_key(project, PASS)  # the key is made once, from the command line
    return project


def _text(project, document_id):
    with project.session() as session:
        return session.get(t.Document, document_id).text


def test_mark_reject_and_apply_from_the_document_view(private, login, doc_id):
    cora, vera = login("cora"), login("vera")
    text = _text(private, doc_id)
    start = text.index("Ghent")
    assert vera.get(f"/api/documents/{doc_id}/identifiers").json() == {
        "enabled": True, "status": "not checked", "proposals": []}
    assert vera.write("POST", f"/api/documents/{doc_id}/identifiers",
                      json={"start": start, "end": start + 5, "label": "PLACE"}).status_code == 403
    marked = cora.write("POST", f"/api/documents/{doc_id}/identifiers",
                        json={"start": start, "end": start + 5, "label": "PLACE"})
    assert marked.status_code == 200
    assert [(p["text"], p["status"], p["label"]) for p in marked.json()["proposals"]] == [("Ghent", "added", "PLACE")]
    sponsor = text.index("sponsor")
    data = cora.write("POST", f"/api/documents/{doc_id}/identifiers",
                      json={"start": sponsor, "end": sponsor + 7, "label": "PERSON"}).json()
    # the other document's "sponsor" is now proposed there; reject it from that document's view
    with private.session() as session:
        other = session.scalar(select(t.Document.id).where(t.Document.name == "P02-interview.txt"))
    proposed = cora.get(f"/api/documents/{other}/identifiers").json()["proposals"]
    assert [(p["text"], p["status"]) for p in proposed] == [("sponsor", "proposed")]
    assert cora.write("POST", f"/api/documents/{doc_id}/identifiers/{proposed[0]['id']}/decide",
                      json={"status": "rejected"}).status_code == 422  # wrong document in the URL
    rejected = cora.write("POST", f"/api/documents/{other}/identifiers/{proposed[0]['id']}/decide",
                          json={"status": "rejected"}).json()
    assert rejected["proposals"][0]["status"] == "rejected"
    # take "sponsor" back in this document: reject the researcher's own mark
    mine = [p for p in data["proposals"] if p["text"] == "sponsor"][0]
    cora.write("POST", f"/api/documents/{doc_id}/identifiers/{mine['id']}/decide", json={"status": "rejected"})

    wrong = cora.write("POST", f"/api/documents/{doc_id}/pseudonymise", json={"passphrase": "nope nope nope"})
    assert wrong.status_code == 422 and "wrong passphrase" in wrong.json()["detail"]
    done = cora.write("POST", f"/api/documents/{doc_id}/pseudonymise", json={"passphrase": PASS})
    assert done.status_code == 200 and done.json()["version"] == 2
    new_text = _text(private, done.json()["document_id"])
    assert "Ghent" not in new_text and "[Town 1]" in new_text and "my sponsor" in new_text
    assert cora.get(f"/api/documents/{done.json()['document_id']}/identifiers").json()["status"] == "pseudonymised"


def test_viewing_a_document_is_logged_only_where_privacy_is_on(project, login, doc_id, tmp_path, monkeypatch):
    assert login("vera").get(f"/projects/{project.project_id}/documents/{doc_id}").status_code == 200
    assert audit_trail(project) == []
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    opt_in(project)
    assert login("vera").get(f"/projects/{project.project_id}/documents/{doc_id}").status_code == 200
    assert [(e.user, e.action) for e in audit_trail(project)] == [("vera", "viewed")]


def test_the_report_download_is_refused_until_pseudonymised_and_logged(private, login):
    refused = login("vera").get(f"/projects/{private.project_id}/report.zip")
    assert refused.status_code == 409 and "chimeqda pseudonymise" in refused.text


def test_the_earlier_version_is_served_masked_after_apply(private, login, doc_id):
    """The document view caches a version's text; once apply masks the earlier version, the cache must not
    keep serving its real values."""
    cora = login("cora")
    text = _text(private, doc_id)
    assert "Ghent" in cora.get(f"/api/documents/{doc_id}").json()["text"]  # now cached
    start = text.index("Ghent")
    cora.write("POST", f"/api/documents/{doc_id}/identifiers", json={"start": start, "end": start + 5,
                                                                    "label": "PLACE"})
    done = cora.write("POST", f"/api/documents/{doc_id}/pseudonymise", json={"passphrase": PASS})
    assert done.status_code == 200
    earlier = cora.get(f"/api/documents/{doc_id}").json()["text"]
    assert "Ghent" not in earlier and "█████" in earlier and len(earlier) == len(text)
    assert [p["text"] for p in cora.get(f"/api/documents/{doc_id}/identifiers").json()["proposals"]] == ["█████"]
