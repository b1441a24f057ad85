"""`chimeqda import` hands every exchange file the exchange layer reads to it, `.qde` included."""

from __future__ import annotations

import zipfile

from click.testing import CliRunner
from sqlalchemy import func, select

from chimeqda.cli import main
from chimeqda.interop import export_qdpx
from chimeqda.store import tables as t


def _import(project, *paths):
    url = project.engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(main, ["import", "-p", str(project.directory), "--db", url, *map(str, paths)])


def test_import_reads_an_unzipped_qde_with_its_sources(coded_project, tmp_path, new_project):
    archive = export_qdpx(coded_project, tmp_path / "study.qdpx")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(folder)
    qde = folder / "project.qde"
    assert qde.is_file() and any((folder / "sources").iterdir())

    copy = new_project("from-qde")
    result = _import(copy, qde)

    assert result.exit_code == 0, result.output
    assert "4 codings" in result.output
    with copy.session() as session:
        documents = session.scalar(select(func.count()).select_from(t.Document)
                                   .where(t.Document.project_id == copy.project_id))
    assert documents == 2


def test_exchange_files_cannot_be_mixed_with_transcripts(coded_project, tmp_path, new_project):
    archive = export_qdpx(coded_project, tmp_path / "study.qdpx")
    transcript = tmp_path / "P09.txt"
    transcript.write_text("I: How are you?\nP: Better, thanks.\n", encoding="utf-8")
    copy = new_project("mixed")

    result = _import(copy, archive, transcript)

    assert result.exit_code != 0
    assert "study.qdpx" in result.output and "separately" in result.output
    with copy.session() as session:
        assert session.scalar(select(func.count()).select_from(t.Document)
                              .where(t.Document.project_id == copy.project_id)) == 0

