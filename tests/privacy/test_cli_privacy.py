"""chimeqda pseudonymise / privacy-check / audit, and the guard on code, export and report, end to end."""

from __future__ import annotations

import json
import zipfile

import pytest
from click.testing import CliRunner

from chimeqda.cli import main

PASS = "a long enough passphrase"

TRANSCRIPT = """SYNTHETIC TEST TRANSCRIPT (written for chimeqda's tests; no real participant)

Interviewer: Thank you for coming. Where did you go to your first meeting?
Mieke: In Zwolle, with my sponsor Big Mike. He said keep coming back and I felt hope again.
Interviewer: What helps you most now?
Mieke: Mike calls me every morning. The group is my safety net and I feel connected to people.
"""


def run(*args, ok=True, input=None, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input, env=env, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def study(tmp_path, db_url, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("CHIMEQDA_KEY_PASSPHRASE", PASS)
    monkeypatch.setenv("CHIMEQDA_USER", "ann")
    folder = tmp_path / "study"
    run("init", folder, "--db", db_url, "--pseudonymise")
    (tmp_path / "P07.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (tmp_path / "P08.txt").write_text(TRANSCRIPT.replace("Mieke", "Respondent").replace("Zwolle", "town")
                                      .replace("Big Mike", "my sponsor").replace("Mike", "He"), encoding="utf-8")
    people = tmp_path / "participants.csv"
    people.write_text("participant,file,name,aliases\nP07,P07.txt,Mieke,\n", encoding="utf-8")
    run("import", "-p", folder, "--db", db_url, tmp_path / "P07.txt", tmp_path / "P08.txt", "--participants", people,
        "--interviewer", "Interviewer")
    return ["-p", folder, "--db", db_url], people, tmp_path


def test_a_study_is_guarded_until_pseudonymised_then_exports_hold_no_key(study):
    p, people, tmp = study
    refused = run("export", *p, "--format", "qdpx", "--out", tmp / "early.qdpx", ok=False)
    assert refused.exit_code == 1 and "chimeqda pseudonymise" in refused.output
    assert "not pseudonymised" in run("code", *p, "--coder", "lexicon", ok=False).output
    assert "--allow-unpseudonymised" in run("report", *p, "--out", tmp / "r", ok=False).output
    run("export", *p, "--format", "qdpx", "--out", tmp / "early.qdpx", "--allow-unpseudonymised")

    out = run("pseudonymise", *p, "--participants", people, "--add-name", "Big Mike").output
    assert "P07.txt:" in out and "proposal" in out
    # keyboard review: confirm everything, marking Zwolle (missed by the name lists) as a place
    keys = "+Zwolle\nPLACE\n" + "Y" * 40 + "q"
    review = run("pseudonymise", *p, "--review", input=keys).output
    assert "occurrence(s) marked" in review
    applied = run("pseudonymise", *p, "--apply").output
    assert "now version 2" in applied

    run("code", *p, "--coder", "lexicon")
    run("export", *p, "--format", "qdpx", "--out", tmp / "study.qdpx")
    run("report", *p, "--out", tmp / "report", "--include-suggested")
    exported = zipfile.ZipFile(tmp / "study.qdpx")
    everything = " ".join(exported.read(n).decode("utf-8", "replace") for n in exported.namelist())
    everything += " ".join(f.read_text("utf-8", "replace") for f in (tmp / "report").rglob("*") if f.is_file())
    for real in ("Mieke", "Big Mike", "Zwolle"):
        assert real not in everything
    assert "[Person 1]" in everything and "[Town 1]" in everything

    check = run("privacy-check", *p, ok=False)
    assert check.exit_code == 1 and "early.qdpx" in check.output  # the export made before pseudonymisation
    assert "Documents not yet pseudonymised" not in check.output

    shown = run("pseudonymise", *p, "--reveal", "--pseudonym", "[Person 1]", "--reason", "ethics audit").output
    assert "Mieke" in shown
    assert "reason" in run("pseudonymise", *p, "--reveal", ok=False).output
    trail = run("audit", *p, "P07.txt", "--csv", tmp / "audit.csv").output
    for action in ("detected", "confirmed", "added", "pseudonymised"):
        assert action in trail
    assert "revealed" in (tmp / "audit.csv").read_text("utf-8") or "revealed" in run("audit", *p).output
    assert "Mieke" not in (tmp / "audit.csv").read_text("utf-8")


def test_a_memo_with_a_real_name_is_found_again(study):
    p, people, tmp = study
    run("pseudonymise", *p, "--participants", people, "--confirm-all", "--apply")
    from chimeqda.services import open_project
    from chimeqda.store import tables as t

    ws = open_project(p[1], db=p[3])
    with ws.session() as session:
        session.add(t.Memo(project_id=ws.project_id, target_type="project", text="Ask mieke about the sponsor"))
    check = run("privacy-check", *p, ok=False).output
    assert "Identifiers found again (1)" in check and "memo" in check and "mieke" not in check.lower().replace(
        "ask <", "")  # shown as its pseudonym
    assert "<[Person 1]>" in check


def test_wrong_passphrase_is_a_clear_error(study, monkeypatch):
    p, people, _ = study
    run("pseudonymise", *p)
    monkeypatch.setenv("CHIMEQDA_KEY_PASSPHRASE", "not the passphrase")
    result = run("pseudonymise", *p, "--apply", ok=False)
    assert result.exit_code == 1 and "wrong passphrase" in result.output and "nothing was changed" in result.output


def test_detect_only_needs_no_project(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Mieke went to Zwolle.", "lang": "en"}) + "\n", encoding="utf-8")
    run("pseudonymise", "--detect-only", "--input", source, "--output", tmp_path / "out.jsonl",
        "--add-name", "Mieke")
    (line,) = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    assert line["id"] == "a" and {"start": 0, "end": 5, "label": "PERSON"} in line["spans"]
