"""The recording route: the document's own media file, with range requests, for members only."""

from __future__ import annotations

import pytest
from recordings import attach_recording, write_wav
from sqlalchemy import select

from chimeqda.codebook import load_codebook
from chimeqda.services.accounts import grant
from chimeqda.services.importing import import_files
from chimeqda.services.project import Workspace, store_codebook
from chimeqda.store import tables as t
from chimeqda.web import create_app


@pytest.fixture
def recorded(project, doc_id, tmp_path):
    stored = attach_recording(project, doc_id, write_wav(tmp_path / "P01.wav", 3.0), duration=3.0)
    return stored.read_bytes()


@pytest.fixture
def app(project, people):
    return create_app(project.engine, project_dir=project.directory)


def test_the_whole_recording_is_served_as_audio(login, doc_id, recorded):
    response = login("vera").get(f"/api/documents/{doc_id}/media")
    assert response.status_code == 200
    assert response.content == recorded
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_range_request_gets_206_and_exactly_those_bytes(login, doc_id, recorded):
    client = login("cora")
    response = client.get(f"/api/documents/{doc_id}/media", headers={"Range": "bytes=100-1123"})
    assert response.status_code == 206
    assert response.content == recorded[100:1124]
    assert response.headers["content-range"] == f"bytes 100-1123/{len(recorded)}"
    tail = client.get(f"/api/documents/{doc_id}/media", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == recorded[-10:]
    beyond = client.get(f"/api/documents/{doc_id}/media", headers={"Range": f"bytes={len(recorded) + 5}-"})
    assert beyond.status_code == 416


def test_people_without_a_role_and_strangers_get_nothing(login, doc_id, recorded):
    assert login("nora").get(f"/api/documents/{doc_id}/media").status_code == 403
    assert login(None).get(f"/api/documents/{doc_id}/media").status_code == 401


def test_a_document_of_another_project_is_refused(tmp_path, project, people, login, recorded, transcripts):
    # a second project in the same database (and folder), where cora has no role
    with project.session() as session:
        row = t.Project(name="Second study")
        session.add(row)
        session.flush()
        store_codebook(session, row.id, load_codebook("chime-d"), source="chime-d")
    second = Workspace(engine=project.engine, project_id=row.id, directory=project.directory)
    import_files(second, [transcripts])
    with project.session() as session:
        theirs = session.scalar(select(t.Document.id).where(t.Document.project_id == second.project_id))
    attach_recording(second, theirs, write_wav(tmp_path / "other.wav", 1.0), duration=1.0)
    assert login("cora").get(f"/api/documents/{theirs}/media").status_code == 403
    with project.session() as session:
        grant(session, second.project_id, people["vera"], "viewer")
    assert login("vera").get(f"/api/documents/{theirs}/media").status_code == 200
    assert login("vera").get("/api/documents/999999/media").status_code == 404


def test_a_document_without_a_recording_is_404(login, project, doc_id):
    with project.session() as session:
        other = session.scalar(select(t.Document.id).where(t.Document.id != doc_id))
    response = login("cora").get(f"/api/documents/{other}/media")
    assert response.status_code == 404
    assert "no recording" in response.json()["detail"]


@pytest.mark.parametrize("file", ["media/../../chimeqda.sqlite3", "../secret.wav", "/etc/passwd",
                                  "media/" + "a" * 64 + ".html", "media/" + "a" * 64 + ".wav"])
def test_only_a_well_formed_file_inside_media_is_ever_opened(login, project, doc_id, recorded, file, tmp_path):
    (project.directory / "secret.wav").write_bytes(b"not yours")
    with project.session() as session:
        doc = session.get(t.Document, doc_id)
        doc.meta = {**doc.meta, "media": {**doc.meta["media"], "file": file}}
    assert login("cora").get(f"/api/documents/{doc_id}/media").status_code == 404


def test_a_link_out_of_the_media_folder_is_not_followed(login, project, doc_id, recorded, tmp_path):
    with project.session() as session:
        name = session.get(t.Document, doc_id).meta["media"]["file"]
    target = project.directory / name
    target.unlink()
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"RIFF elsewhere")
    target.symlink_to(outside)
    assert login("cora").get(f"/api/documents/{doc_id}/media").status_code == 404


def test_without_the_project_folder_the_server_says_where_to_start_it(project, people, doc_id, recorded):
    from fastapi.testclient import TestClient

    from chimeqda.services import accounts
    from chimeqda.web.security import SESSION_COOKIE

    client = TestClient(create_app(project.engine), base_url="https://testserver")
    with project.session() as session:
        token, _ = accounts.start_session(session, people["cora"])
    client.cookies.set(SESSION_COOKIE, token)
    response = client.get(f"/api/documents/{doc_id}/media")
    assert response.status_code == 404
    assert "chimeqda serve -p" in response.json()["detail"]


def test_recordings_are_never_gzipped(login, doc_id, recorded):
    from chimeqda.media_files import MEDIA_TYPES
    from chimeqda.web.app import UNCOMPRESSED

    assert set(MEDIA_TYPES.values()) <= set(UNCOMPRESSED)  # a compressed body would break range requests
    response = login("cora").get(f"/api/documents/{doc_id}/media", headers={"Accept-Encoding": "gzip",
                                                                             "Range": "bytes=0-99"})
    assert response.status_code == 206 and "content-encoding" not in response.headers
    assert response.content == recorded[:100]
