"""Pages: documents with progress, codebook editing, members and blind coding, analysis and report."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import select

from chimeqda.store import tables as t


def test_documents_page_shows_progress_per_coder(login, project, doc_id):
    cora = login("cora")
    cora.write("POST", f"/api/documents/{doc_id}/codings", json={"start": 100, "end": 200, "codes": ["hope"]})
    page = login("vera").get(f"/projects/{project.project_id}")
    assert page.status_code == 200
    assert "P01-interview.txt" in page.text and "cora" in page.text and "1 codings" in page.text


def test_owners_edit_the_codebook_and_coders_write_code_memos(login, project):
    olga, cora = login("olga"), login("cora")
    with project.session() as session:
        code = session.scalars(select(t.Code).where(t.Code.key == "hope")).one()
    url = f"/projects/{project.project_id}/codebook/codes/{code.id}"
    form = {"name": "Hope and optimism", "definition": "New definition.", "inclusion": "Include this.",
            "exclusion": "Not that.", "examples": "I believe it will be fine\n[nl] Ik geloof erin", "counter_examples": "",
            "color": "#123456"}
    assert cora.write("POST", url, data=form).status_code == 403
    assert olga.write("POST", url, data=form).status_code == 303
    with project.session() as session:
        edited = session.get(t.Code, code.id)
        assert edited.definition == "New definition." and edited.data["examples"][1] == ["Ik geloof erin", "nl"]
    assert cora.write("POST", f"{url}/memos", data={"text": "borderline with meaning"}).status_code == 303
    added = olga.write("POST", f"/projects/{project.project_id}/codebook/codes",
                       data={"key": "hope.new_goal", "name": "New goals", "parent": "hope"})
    assert added.status_code == 303
    page = cora.get(f"/projects/{project.project_id}/codebook").text
    assert "New definition." in page and "borderline with meaning" in page and "New goals" in page
    assert olga.write("POST", f"/projects/{project.project_id}/codebook/codes",
                      data={"key": "Bad Key!", "name": "x"}).status_code == 422


def test_owner_manages_members(login, project):
    olga = login("olga")
    assert olga.write("POST", f"/projects/{project.project_id}/members",
                      data={"username": "nora", "role": "viewer"}).status_code == 303
    assert login("nora").get(f"/projects/{project.project_id}").status_code == 200
    assert olga.write("POST", f"/projects/{project.project_id}/members",
                      data={"username": "olga", "role": "coder"}).status_code == 422  # the last owner stays
    assert olga.write("POST", f"/projects/{project.project_id}/members",
                      data={"username": "nobody", "role": "coder"}).status_code == 404


def test_analysis_page_and_report_download(login, project, doc_id):
    cora = login("cora")
    for start, end, code in ((0, 120, "hope"), (121, 300, "connectedness"), (121, 300, "hope")):
        cora.write("POST", f"/api/documents/{doc_id}/codings", json={"start": start, "end": end, "codes": [code]})
    vera = login("vera")
    page = vera.get(f"/projects/{project.project_id}/analysis")
    assert page.status_code == 200 and "Co-occurrence" in page.text and "Hope" in page.text
    figure = vera.get(f"/projects/{project.project_id}/analysis/figures/participants.png")
    assert figure.status_code == 200 and figure.content[:4] == b"\x89PNG"
    report = vera.get(f"/projects/{project.project_id}/report.zip")
    names = zipfile.ZipFile(io.BytesIO(report.content)).namelist()
    assert "report.html" in names and any(n.startswith("tables/") for n in names)
