"""Responses are gzip-compressed when the browser accepts it; the document view shrinks about fourfold."""

from __future__ import annotations


def test_document_view_is_sent_compressed(login, doc_id):
    cora = login("cora")
    plain = cora.get(f"/api/documents/{doc_id}", headers={"Accept-Encoding": "identity"})
    packed = cora.get(f"/api/documents/{doc_id}", headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.json() == plain.json()
    assert packed.num_bytes_downloaded < plain.num_bytes_downloaded / 2


def test_zip_downloads_are_not_compressed_again(login, project):
    vera = login("vera")
    response = vera.get(f"/projects/{project.project_id}/report.zip", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert "content-encoding" not in response.headers
