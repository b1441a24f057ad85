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



def test_transcript_options_are_refused_for_an_exchange_file(coded_project, tmp_path, new_project):
    archive = export_qdpx(coded_project, tmp_path / "study.qdpx")
    copy = new_project("options")

    result = _import(copy, archive, "--interviewer", "Els", "--language", "nl")

    assert result.exit_code != 0
    assert "--interviewer, --language" in result.output and "exchange file" in result.output
    with copy.session() as session:
        assert session.scalar(select(func.count()).select_from(t.Document)
                              .where(t.Document.project_id == copy.project_id)) == 0


def test_participants_csv_with_an_exchange_file_adds_attributes_and_keeps_its_cases(coded_project, tmp_path,
                                                                                    new_project):
    archive = export_qdpx(coded_project, tmp_path / "study.qdpx")
    people = tmp_path / "people.csv"
    people.write_text("participant,years_clean\nP02,4\n", encoding="utf-8")
    copy = new_project("linked")

    result = _import(copy, archive, "--participants", people)

    assert result.exit_code == 0, result.output
    with copy.session() as session:
        owners = dict(session.execute(
            select(t.Document.name, t.Participant.label)
            .join(t.Participant, t.Participant.id == t.Document.participant_id)
            .where(t.Document.project_id == copy.project_id)).all())
        p02 = session.scalar(select(t.Participant).where(t.Participant.project_id == copy.project_id,
                                                         t.Participant.label == "P02"))
    assert owners["P02-interview.txt"] == "P02"  # the case from the .qdpx
    assert p02.attributes["years_clean"] == 4


def test_participants_command_links_documents_that_have_no_participant(workspace, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "interview-anna.txt").write_text("I: How are you?\nR: Better, thanks.\n", encoding="utf-8")
    (tmp_path / "in" / "interview-bert.txt").write_text("I: And you?\nR: Fine.\n", encoding="utf-8")
    url = workspace.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    imported = runner.invoke(main, ["import", "-p", str(workspace.directory), "--db", url, str(tmp_path / "in")])
    assert imported.exit_code == 0, imported.output
    people = tmp_path / "people.csv"
    people.write_text("participant,file,gender\nP05,interview-anna.txt,f\n", encoding="utf-8")

    result = runner.invoke(main, ["participants", "-p", str(workspace.directory), "--db", url, str(people)])

    assert result.exit_code == 0, result.output
    assert "interview-anna.txt → P05" in result.output and "interview-bert" not in result.output
    with workspace.session() as session:
        owners = dict(session.execute(
            select(t.Document.name, t.Document.participant_id).where(t.Document.project_id == workspace.project_id)
        ).all())
        p05 = session.scalar(select(t.Participant.id).where(t.Participant.label == "P05"))
    assert owners == {"interview-anna.txt": p05, "interview-bert.txt": None}
