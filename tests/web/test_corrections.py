"""Correcting words in the browser: a new version that keeps every coding, the recording and its times."""

from __future__ import annotations

import pytest
from recordings import attach_recording, time_sentences, write_wav
from sqlalchemy import func, select

from chimeqda.services import add_coding
from chimeqda.services.corrections import correct_transcript
from chimeqda.store import tables as t
from chimeqda.web import create_app


@pytest.fixture
def app(project, people):
    return create_app(project.engine, project_dir=project.directory)


@pytest.fixture
def recorded(project, doc_id, tmp_path):
    """P01 with a recording, times on every sentence, an uncertain word and a human coding on it."""
    with project.session() as session:
        segments = session.scalars(select(t.Segment).where(t.Segment.document_id == doc_id)
                                   .order_by(t.Segment.index)).all()
        count = len(segments)
    time_sentences(project, doc_id, [(2.0 * i, 2.0 * i + 1.5) for i in range(count)])
    attach_recording(project, doc_id, write_wav(tmp_path / "P01.wav", 2.0 * count), duration=2.0 * count)
    with project.session() as session:
        text = session.get(t.Document, doc_id).text
        ghent = text.index("Ghent")
        segment = session.scalars(select(t.Segment).where(t.Segment.document_id == doc_id,
                                                          t.Segment.start <= ghent, t.Segment.end > ghent)).one()
        segment.words = [[ghent, ghent + 5, 0.2]]
    add_coding(project, doc_id, segment.start, segment.end, "connectedness", by="cora")
    return ghent


def _accepted(project, doc_id):
    with project.session() as session:
        return session.scalar(select(func.count()).select_from(t.CodingEvent).where(
            t.CodingEvent.document_id == doc_id, t.CodingEvent.action == "accepted"))


def test_a_coder_corrects_a_word_and_keeps_everything(login, project, doc_id, recorded):
    ghent = recorded
    before = _accepted(project, doc_id)
    client = login("cora")
    response = client.write("POST", f"/api/documents/{doc_id}/corrections",
                            json={"start": ghent, "end": ghent + 5, "replacement": "Gent"})
    assert response.status_code == 200, response.text
    new_id = response.json()["document_id"]
    assert response.json()["url"] == f"/projects/{project.project_id}/documents/{new_id}"
    with project.session() as session:
        old, new = session.get(t.Document, doc_id), session.get(t.Document, new_id)
        assert not old.is_current and new.is_current and new.supersedes_id == doc_id
        assert "first meeting in Gent." in new.text
        assert new.meta["media"] == old.meta["media"]
        assert new.meta["revision"]["by"] == "cora"
        segment = session.scalars(select(t.Segment).where(t.Segment.document_id == new_id,
                                                          t.Segment.start <= ghent, t.Segment.end > ghent)).one()
        assert segment.words == [[ghent, ghent + 4, 1.0]]  # checked by a person: no longer uncertain
        assert segment.time_start is not None
    assert _accepted(project, new_id) == before
    payload = client.get(f"/api/documents/{new_id}").json()
    assert payload["words"] == [] and payload["media"]["available"]
    assert client.get(f"/api/documents/{new_id}/media").status_code == 200
    stale = client.get(f"/api/documents/{doc_id}/events?after=0").json()
    assert stale["superseded_by"] == new_id


@pytest.mark.parametrize("replacement, message", [("Ghent", "changes nothing"), ("Ge\nnt", "line breaks")])
def test_a_correction_that_changes_nothing_or_adds_a_line_is_refused(login, project, doc_id, recorded,
                                                                    replacement, message):
    ghent = recorded
    response = login("cora").write("POST", f"/api/documents/{doc_id}/corrections",
                                   json={"start": ghent, "end": ghent + 5, "replacement": replacement})
    assert response.status_code == 422 and message in response.json()["detail"]
    with project.session() as session:
        assert session.get(t.Document, doc_id).is_current


def test_viewers_and_other_projects_cannot_correct(login, project, doc_id, recorded):
    response = login("vera").write("POST", f"/api/documents/{doc_id}/corrections",
                                   json={"start": 0, "end": 1, "replacement": "x"})
    assert response.status_code == 403


def test_the_service_refuses_a_document_of_another_project(project, doc_id):
    from chimeqda.errors import UnknownObject
    from chimeqda.services.project import Workspace

    elsewhere = Workspace(engine=project.engine, project_id=project.project_id + 1000)
    with pytest.raises(UnknownObject):
        correct_transcript(elsewhere, doc_id, [(0, 1, "x")], user="cora")
