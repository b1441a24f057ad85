"""Exports, reports and .qdpx after pseudonymisation hold no real value and nothing of the key.

Spans are marked by hand here (no detector needed): the guard, apply and the
exports are what is tested.
"""

from __future__ import annotations

import base64
import json
import re
import zipfile

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from chimeqda.cli import main
from chimeqda.services import add_coding, import_files
from chimeqda.services.privacy_audit import opt_in
from chimeqda.services.pseudonymise import add_proposal, apply_pseudonyms, unlock_key
from chimeqda.store import tables as t

PASS = "export test passphrase"
TEXT = """SYNTHETIC TEST TRANSCRIPT (written for chimeqda's tests; no real participant)

Interviewer: Where did it start?
Mieke: In Zwolle, at the meeting my sponsor Big Mike took me to. I felt hope again and I belong there.
Interviewer: And now?
Mieke: Big Mike still calls me. The group is my safety net and I feel connected.
"""
REAL = ("Mieke", "Big Mike", "Zwolle")


def run(*args, ok=True):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def pseudonymised(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("CHIMEQDA_USER", "ann")
    for name, body in (("P07.txt", TEXT), ("P08.txt", TEXT.replace("Zwolle", "the town"))):
        (tmp_path / name).write_text(body, encoding="utf-8")
    import_files(workspace, [tmp_path / "P07.txt", tmp_path / "P08.txt"], interviewer_labels=["Interviewer"])
    opt_in(workspace)
    p = ["-p", workspace.directory, "--db", workspace.engine.url.render_as_string(hide_password=False)]
    assert "not pseudonymised" in run("export", *p, "--format", "xlsx", "--out", tmp_path / "x.xlsx",
                                      ok=False).output
    key = unlock_key(workspace, PASS)
    with workspace.session() as session:
        docs = list(session.scalars(select(t.Document).where(t.Document.is_current.is_(True))))
    for doc in docs:
        for value, label in (("Big Mike", "PERSON"), ("Mieke", "PERSON"), ("Zwolle", "PLACE")):
            for match in re.finditer(re.escape(value), doc.text):
                add_proposal(workspace, doc.id, match.start(), match.end(), label, user="ann")
    apply_pseudonyms(workspace, key, user="ann")
    return workspace, key, p, tmp_path


def test_exports_and_the_report_hold_no_real_value_and_no_key(pseudonymised):
    ws, key, p, tmp = pseudonymised
    with ws.session() as session:
        docs = list(session.scalars(select(t.Document).where(t.Document.is_current.is_(True))))
    for doc in docs:  # codings on the pseudonymised text reach the exports too
        start = doc.text.index("my sponsor")
        add_coding(ws, doc.id, start, doc.text.index(".", start) + 1, "connectedness", by="ann")
    run("export", *p, "--format", "qdpx", "--out", tmp / "study.qdpx")
    run("export", *p, "--format", "xlsx", "--out", tmp / "tables.xlsx")
    run("export", *p, "--format", "docx", "--out", tmp / "report.docx")
    run("report", *p, "--out", tmp / "report")
    texts = []
    for archive in ("study.qdpx", "tables.xlsx", "report.docx"):
        with zipfile.ZipFile(tmp / archive) as zipped:
            for name in zipped.namelist():
                data = zipped.read(name)
                if name.endswith(".qde"):
                    texts.append(data.decode("utf-8"))
                for inner in ([data] if not name.endswith(".qdpx") else []):
                    texts.append(inner.decode("utf-8", "replace"))
    texts += [f.read_text("utf-8", "replace") for f in (tmp / "report").rglob("*") if f.is_file()]
    everything = "\n".join(texts)
    assert "[Person 1]" in everything and "[Town 1]" in everything  # the exports do hold the transcripts
    for real in REAL:
        assert real not in everything
    secret = base64.b64encode(key.secret).decode("ascii")
    key_file = json.loads(key.path.read_text("utf-8"))
    for part in (secret, key_file["ciphertext"][:40], key_file["kdf"]["salt"]):
        assert part not in everything
    exports = [e for e in run("audit", *p).output.splitlines() if "exported" in e]
    assert len(exports) == 4


def test_reveal_needs_a_reason_and_is_logged(pseudonymised, monkeypatch):
    ws, key, p, _ = pseudonymised
    monkeypatch.setenv("CHIMEQDA_KEY_PASSPHRASE", PASS)
    assert "reason" in run("pseudonymise", *p, "--reveal", ok=False).output
    shown = run("pseudonymise", *p, "--reveal", "--pseudonym", "[Town 1]", "--reason", "member check").output
    assert "[Town 1]\tPLACE\tZwolle" in shown
    trail = run("audit", *p).output
    assert "revealed" in trail and "member check" in trail and "Zwolle" not in trail
    check = run("privacy-check", *p)
    assert "No problems found" in check.output


def test_pseudonymised_documents_pass_the_guard(pseudonymised):
    _, _, p, _ = pseudonymised
    run("code", *p, "--coder", "lexicon")


def test_a_key_that_cannot_be_written_leaves_the_documents_as_they_were(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "P07.txt").write_text(TEXT, encoding="utf-8")
    (outcome,) = import_files(workspace, [tmp_path / "P07.txt"], interviewer_labels=["Interviewer"])
    opt_in(workspace)
    key = unlock_key(workspace, PASS)
    with workspace.session() as session:
        text = session.get(t.Document, outcome.document_id).text
    start = text.index("Zwolle")
    add_proposal(workspace, outcome.document_id, start, start + 6, "PLACE", user="ann")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    key.path = blocker / "key.key"  # the disk refuses the key file (its folder is a file)
    with pytest.raises(OSError):
        apply_pseudonyms(workspace, key, user="ann")
    with workspace.session() as session:
        documents = session.scalars(select(t.Document)).all()
        assert [(d.version, d.is_current) for d in documents] == [(1, True)]
        assert session.scalar(select(t.Document.text)) == text


def test_a_confirmed_age_is_not_followed_into_other_documents(workspace, tmp_path, monkeypatch):
    from chimeqda.services.pseudonymise import list_proposals

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    body = TEXT.replace("Where did it start?", "How old were you? I was twenty. Twenty years of hope.")
    for name in ("P07.txt", "P08.txt"):
        (tmp_path / name).write_text(body, encoding="utf-8")
    outcomes = import_files(workspace, [tmp_path / "P07.txt", tmp_path / "P08.txt"])
    opt_in(workspace)
    with workspace.session() as session:
        text = session.get(t.Document, outcomes[0].document_id).text
    age, town = text.index("twenty"), text.index("Zwolle")
    add_proposal(workspace, outcomes[0].document_id, age, age + 6, "AGE", user="ann")
    add_proposal(workspace, outcomes[0].document_id, town, town + 6, "PLACE", user="ann")
    followed = [(p.document, p.text) for p in list_proposals(workspace, status="proposed")]
    assert followed == [("P08.txt", "Zwolle")]
