"""The chimeqda command, end to end on a real project (no mocks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chimeqda.cli import main

DATA = Path(__file__).parent / "data"


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def project(tmp_path, db_url, transcripts):
    folder = tmp_path / "study"
    run("init", folder, "--db", db_url)
    run("import", "-p", folder, "--db", db_url, transcripts, "--participants", DATA / "participants.csv")
    return folder, db_url


def test_the_research_path(project, tmp_path):
    folder, db = project
    p = ["-p", folder, "--db", db]
    out = run("code", *p, "--coder", "lexicon").output
    assert "new suggestions" in out
    listing = run("review", *p, "--limit", "3").output
    first_id = int(listing.split("#", 1)[1].split()[0])
    assert "accepted 1" in run("review", *p, "--accept", str(first_id), "--by", "ann").output
    assert "rejected" in run("review", *p, "--reject-listed", "--code", "difficulties", "--by", "ann").output
    freq = run("analyse", "frequencies", *p, "--include-suggested").output
    assert "Connectedness" in freq and "of 3 participants" in freq
    run("analyse", "cooccurrence", *p, "--window", "1", "--include-suggested")
    run("analyse", "linked", *p, "--include-suggested")
    by = run("analyse", "by-attribute", *p, "--attribute", "gender", "--include-suggested").output
    assert "woman" in by
    report = run("report", *p, "--out", tmp_path / "rep", "--include-suggested").output
    assert (tmp_path / "rep" / "report.html").exists() and "report.html" in report
    assert (tmp_path / "rep" / "tables" / "frequencies.csv").exists()


def test_reimport_reports_unchanged(project, transcripts):
    folder, db = project
    out = run("import", "-p", folder, "--db", db, transcripts).output
    assert "2 unchanged" in out


def test_reimport_with_participants_links_an_unchanged_file_and_says_so(tmp_path, db_url, transcripts):
    folder, p = tmp_path / "study", ["-p", tmp_path / "study", "--db", db_url]
    run("init", folder, "--db", db_url)
    interview = tmp_path / "flemish-utf8.txt"
    interview.write_bytes((transcripts / "P02-interview.txt").read_bytes())
    assert "[P01]" not in run("import", *p, interview).output
    parts = tmp_path / "parts.csv"
    parts.write_text("participant,file\nP01,flemish-utf8.txt\n", encoding="utf-8")
    out = run("import", *p, interview, "--participants", parts).output
    assert "linked       flemish-utf8.txt [P01]" in out and "now linked to P01" in out and "1 linked" in out
    assert "unchanged    flemish-utf8.txt [P01]" in run("import", *p, interview).output  # read back from the database


def test_participants_relinks_a_document_its_file_column_names_and_says_so(tmp_path, db_url, transcripts):
    folder, p = tmp_path / "study", ["-p", tmp_path / "study", "--db", db_url]
    run("init", folder, "--db", db_url)
    run("import", *p, transcripts)  # P01-interview.txt and P02-interview.txt: linked by their names
    parts = tmp_path / "parts.csv"
    parts.write_text("participant,file,group\nP05,P01-interview.txt,a\nP02,,b\n", encoding="utf-8")
    out = run("participants", *p, parts).output
    assert ("relinked    P01-interview.txt: P01 → P05 (the CSV's 'file' column names it; its codings now count "
            "for P05, not P01)") in out
    assert "P02-interview.txt" not in out  # linked by its name already, and the CSV names no file for P02
    documents = run("documents", *p).output
    assert [line.split()[-1] for line in documents.splitlines() if "interview.txt" in line] == ["P05", "P02"]
    assert "relinked" not in run("participants", *p, parts).output  # nothing left to change


def test_import_says_when_no_interviewer_is_recognised(tmp_path, db_url):
    folder = tmp_path / "study"
    run("init", folder, "--db", db_url)
    vtt = tmp_path / "P20.vtt"
    vtt.write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Jan>Hello.\n\n"
        "00:00:01.000 --> 00:00:02.000\n<v Els>Hello. Shall we start?\n"
    )
    out = run("import", "-p", folder, "--db", db_url, vtt).output
    assert "no interviewer recognised among the speakers Jan, Els" in out
    assert "--interviewer Jan" in out
    named = tmp_path / "P21.vtt"
    named.write_text(vtt.read_text())
    out = run("import", "-p", folder, "--db", db_url, named, "--interviewer", "Els").output
    assert "interviewer" not in out.replace("P21.vtt", "")


def test_errors_are_one_clear_line(tmp_path, project):
    folder, db = project
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    result = run("import", "-p", folder, "--db", db, bad, ok=False)
    assert result.exit_code == 1 and "bad.txt" in result.output and "empty" in result.output
    assert "Traceback" not in result.output
    missing = run("documents", "-p", tmp_path / "nothing-here", ok=False)
    assert missing.exit_code == 1 and "chimeqda init" in missing.output


def test_classify_jsonl_without_a_project(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(json.dumps({"id": i, "text": t}) for i, t in enumerate(
            ["My sponsor picks up the phone whenever I call.", "It rained all week in Ghent."]
        )) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    run("classify", "--coder", "lexicon", "--input", source, "--output", out)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [0, 1]
    assert set(rows[0]["scores"]) == {"connectedness", "hope", "identity", "meaning", "empowerment", "difficulties"}
    assert "connectedness" in rows[0]["labels"] and rows[1]["labels"] == []


def test_codebook_commands(tmp_path):
    shown = run("codebook", "show").output
    assert "connectedness.peer_support.safety_net" in shown
    exported = tmp_path / "chime-d.csv"
    run("codebook", "export", "chime-d", "--out", exported)
    assert "OK: 37 codes" in run("codebook", "validate", exported).output
    broken = tmp_path / "broken.csv"
    lines = exported.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    broken.write_text("id,name,definition,inclusion,exclusion,examples\nhope,Hope,,x,y,z\n", encoding="utf-8")
    result = run("codebook", "validate", broken, ok=False)
    assert "broken.csv, row 2" in result.output and "definition" in result.output
    assert header[0] == "id"


def test_demo_runs_the_whole_path(tmp_path):
    out = run("demo", "--out", tmp_path / "demo", "--coder", "lexicon").output
    assert (tmp_path / "demo" / "report" / "report.html").exists()
    assert "Report:" in out


def test_prepare_caches_the_codebook_only_fit(hermetic_cache):
    out = run("prepare", "--coder", "lexicon").output
    assert "lexicon coder ready for chime-d" in out
    assert list((hermetic_cache / "models").glob("lexicon-*.pickle"))


def test_documents_on_a_new_project_says_what_to_do_next(tmp_path, db_url):
    folder = tmp_path / "empty"
    run("init", folder, "--db", db_url)
    out = run("documents", "-p", folder, "--db", db_url).output
    assert "No documents yet" in out and "chimeqda import" in out


def test_init_refuses_a_folder_that_already_holds_a_project(tmp_path, db_url):
    from sqlalchemy import func, select

    from chimeqda.store import tables as t
    from chimeqda.store.db import make_engine

    folder = tmp_path / "p0"
    run("init", folder, "--db", db_url, "--name", "Recovery study")
    again = run("init", folder, "--db", db_url, ok=False)
    assert again.exit_code == 1 and "Created project" not in again.output
    assert "already holds project 'Recovery study'" in again.output and str(folder) in again.output
    assert "Traceback" not in again.output
    with make_engine(db_url).connect() as connection:  # no second, empty project
        assert connection.scalar(select(func.count()).select_from(t.Project)) == 1


def test_init_refuses_a_folder_with_a_project_database_and_no_config(tmp_path, monkeypatch):
    monkeypatch.delenv("CHIMEQDA_DATABASE_URL", raising=False)
    folder = tmp_path / "p1"
    run("init", folder)
    (folder / "chimeqda.toml").unlink()
    again = run("init", folder, "--name", "Another", ok=False)
    assert again.exit_code == 1 and "already holds a project database" in again.output
    run("documents", "-p", folder)  # the folder still opens its one project (two would need --project)
