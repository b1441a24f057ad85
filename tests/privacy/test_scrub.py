"""After pseudonymisation no earlier version keeps a real value: not in any column, not in the database file.

A document with a version superseded by a re-import (carrying its own codings, memos, a decision note and a
review note) is pseudonymised; afterwards every text and JSON column of every table, and on SQLite the raw
bytes of the database file and its write-ahead log, are read for the real values. Codings keep their offsets.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, select, update

from chimeqda.cli import main
from chimeqda.services import add_coding, decide, import_files, pending_suggestions, run_coder
from chimeqda.services.privacy_audit import audit_trail
from chimeqda.services.privacy_check import privacy_check
from chimeqda.services.privacy_scrub import MASK
from chimeqda.services.pseudonymise import (
    add_proposal,
    apply_pseudonyms,
    decide_proposals,
    detect_identifiers,
    list_proposals,
    unlock_key,
)
from chimeqda.store import tables as t
from tests.privacy.conftest import span

PASS = "scrub test passphrase"
REAL = ("Mirthe", "Big Tjeerd", "Zwartewaal")

FIRST = """SYNTHETIC TEST TRANSCRIPT (written for chimeqda's tests; no real participant)

Interviewer: Thank you for coming, Mirthe. Where did you go to your first meeting?
Mirthe: In Zwartewaal. My sponsor Big Tjeerd took me along, and I felt hope for the first time.
Interviewer: What helps you most now?
Mirthe: Big Tjeerd calls me every morning. The group is my safety net and I feel connected again.
"""
# the transcript corrected and imported again: a new version, the first one keeps its codings
SECOND = FIRST.replace("Mirthe: Big Tjeerd calls", "Mirthe: Honestly, Big Tjeerd still calls") + (
    "Interviewer: And Zwartewaal itself?\nMirthe: I moved away from Zwartewaal last year.\n")




@pytest.fixture
def study(workspace, tmp_path, monkeypatch, stored_document):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = tmp_path / "P07.txt"
    path.write_text(FIRST, encoding="utf-8")
    (first,) = import_files(workspace, [path], interviewer_labels=["Interviewer"])
    v1 = first.document_id
    text = stored_document(v1).text
    add_coding(workspace, v1, *span(text, "My sponsor Big Tjeerd took me along"), "connectedness.peer_support",
               by="ann")
    run_coder(workspace, "lexicon")
    suggestion = pending_suggestions(workspace)[0].event_id
    decide(workspace, [suggestion], "rejected", by="ann", note="Mirthe means her sponsor here, not the group")
    with workspace.session() as session:
        coding = session.scalar(select(t.CodingEvent.id).where(t.CodingEvent.document_id == v1,
                                                               t.CodingEvent.action == "accepted"))
        segment = session.scalar(select(t.Segment).where(t.Segment.document_id == v1, t.Segment.index == 2))
        session.add(t.Memo(project_id=workspace.project_id, target_type="document", target_id=v1,
                           title="About Mirthe", text="Mirthe laughed about Big Tjeerd"))
        session.add(t.Memo(project_id=workspace.project_id, target_type="coding", target_id=coding,
                           text="the sponsor from Zwartewaal"))
        coder = session.scalar(select(t.Coder.id).where(t.Coder.kind == "human"))
        session.add(t.SegmentReview(project_id=workspace.project_id, document_id=v1, segment_id=segment.id,
                                    coder_id=coder, action="no_code", note="Mirthe only greets here"))
    path.write_text(SECOND, encoding="utf-8")
    (second,) = import_files(workspace, [path], interviewer_labels=["Interviewer"])
    v2 = second.document_id
    assert second.status == "new version"
    add_coding(workspace, v2, *span(stored_document(v2).text, "I moved away from Zwartewaal last year."),
               "connectedness", by="ann")
    with workspace.session() as session:
        session.add(t.Memo(project_id=workspace.project_id, target_type="document", target_id=v2,
                           text="Mirthe moved; ask Big Tjeerd"))
    key = unlock_key(workspace, PASS)
    key.add_name("Mirthe")
    key.add_name("Big Tjeerd")
    key.save()
    detect_identifiers(workspace, key, user="ann")
    current = stored_document(v2).text
    if not any(p.text == "Zwartewaal" for p in list_proposals(workspace)):
        add_proposal(workspace, v2, *span(current, "Zwartewaal"), "PLACE", user="ann")
    for _ in range(5):  # confirm everything; a confirmed value is proposed where else it occurs
        open_ = [p.id for p in list_proposals(workspace, status="proposed")]
        if not open_:
            break
        decide_proposals(workspace, open_, "confirmed", user="ann")
    return workspace, key, v1, v2


def _codings(ws, *document_ids):
    with ws.session() as session:
        rows = session.execute(select(t.CodingEvent.id, t.CodingEvent.document_id, t.CodingEvent.start,
                                      t.CodingEvent.end).where(t.CodingEvent.document_id.in_(document_ids))
                               .order_by(t.CodingEvent.id)).all()
        texts = {d: session.get(t.Document, d).text for d in document_ids}
    return [(i, d, a, b, texts[d][a:b]) for i, d, a, b in rows]


def every_text(ws) -> str:
    """Every value of every row of every table, read from the database itself (not through chimeqda)."""
    metadata = MetaData()
    metadata.reflect(ws.engine)
    parts = []
    with ws.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                parts.append(" ".join(str(v) for v in row))
    return "\n".join(parts)


def database_bytes(ws) -> bytes | None:
    """The SQLite file and its write-ahead log as bytes (None on PostgreSQL)."""
    if ws.engine.dialect.name != "sqlite":
        return None
    path = Path(ws.engine.url.database)
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def assert_no_real_value(ws):
    everything = every_text(ws).casefold()
    for real in REAL:
        assert real.casefold() not in everything, real
    raw = database_bytes(ws)
    if raw is not None:
        raw = raw.lower()
        for real in REAL:
            assert real.lower().encode("utf-8") not in raw, real


def assert_masked_only(before, after):
    """The same codings, same offsets; their words differ only where a real value became █."""
    assert [row[:4] for row in after] == [row[:4] for row in before]
    for (_, _, _, _, old), (_, _, _, _, new) in zip(before, after, strict=True):
        assert len(old) == len(new)
        assert all(a == b or (b == MASK and not a.isspace()) for a, b in zip(old, new, strict=True)), (old, new)


def test_apply_masks_every_earlier_version_and_leaves_no_bytes(study, stored_document):
    ws, key, v1, v2 = study
    assert database_bytes(ws) is None or b"Zwartewaal" in database_bytes(ws)
    before = _codings(ws, v1, v2)
    old_speakers = _speakers(ws, v1)

    outcomes = apply_pseudonyms(ws, key, user="ann")

    (outcome,) = outcomes
    assert outcome.previous_id == v2 and outcome.version == 3
    assert outcomes.scrub.versions == 2 and outcomes.scrub.characters > 0
    assert_no_real_value(ws)
    assert_masked_only(before, _codings(ws, v1, v2))
    with ws.session() as session:
        versions = [(d.version, d.is_current) for d in session.scalars(select(t.Document).order_by(t.Document.id))]
        memos = {(m.target_type, m.target_id): (m.title, m.text) for m in session.scalars(select(t.Memo))}
        segments = session.scalars(select(t.Segment).where(t.Segment.document_id.in_((v1, v2)))).all()
    assert versions == [(1, False), (2, False), (3, True)]  # nothing deleted
    assert memos["document", v1] == ("About ██████", "██████ laughed about ███ ██████")
    for segment in segments:  # sentences still match their masked text
        assert stored_document(segment.document_id).text[segment.start:segment.end] == segment.text
    assert "Mirthe" in old_speakers
    assert _speakers(ws, v1) == ["██████" if s == "Mirthe" else s for s in old_speakers]
    new_text = stored_document(outcome.document_id).text
    assert "[Person 1]" in new_text and "[Town 1]" in new_text  # the current version has pseudonyms, not masks
    masked = [e for e in audit_trail(ws) if e.action == "masked"]
    assert {e.document for e in masked} == {"P07.txt v1", "P07.txt v2"}
    assert all(e.detail["trigger"] == "pseudonymise --apply" for e in masked)
    check = privacy_check(ws, key)
    assert (check.unscrubbed, check.files, check.found_again) == ({}, [], [])


def _speakers(ws, document_id):
    with ws.session() as session:
        return list(session.scalars(select(t.Turn.speaker).where(t.Turn.document_id == document_id)
                                    .order_by(t.Turn.index)))


_RESTORED = {"documents": ("text", "meta"), "segments": ("text", "speaker"), "turns": ("speaker",),
             "coding_events": ("evidence",), "memos": ("title", "text"), "segment_reviews": ("note",)}


def _snapshot(ws):
    metadata = MetaData()
    metadata.reflect(ws.engine, only=list(_RESTORED))
    with ws.engine.connect() as connection:
        return {name: (metadata.tables[name], [(row.id, {c: getattr(row, c) for c in columns}) for row in
                                               connection.execute(select(metadata.tables[name]))])
                for name, columns in _RESTORED.items()}


def _restore(ws, snapshot):
    """Put the earlier versions' rows back as chimeqda before this change left them (unmasked)."""
    with ws.engine.begin() as connection:
        for table, rows in snapshot.values():
            for row_id, values in rows:
                connection.execute(update(table).where(table.c.id == row_id).values(**values))


def run(*args, ok=True, input=None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False,
                                env={"CHIMEQDA_KEY_PASSPHRASE": PASS, "CHIMEQDA_USER": "ann"})
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_purge_originals_masks_a_project_pseudonymised_before_masking_existed(study, stored_document):
    ws, key, v1, v2 = study
    before = _codings(ws, v1, v2)
    snapshot = _snapshot(ws)
    apply_pseudonyms(ws, key, user="ann")
    _restore(ws, snapshot)  # the state an earlier chimeqda left: pseudonymised, the earlier versions unmasked
    assert "Zwartewaal" in stored_document(v1).text and "Mirthe" in every_text(ws)
    p = ["-p", ws.directory, "--db", ws.engine.url.render_as_string(hide_password=False)]

    check = run("privacy-check", *p, ok=False).output
    assert "Earlier document versions still holding real values (2)" in check
    assert "P07.txt v1" in check and "--purge-originals" in check and "Mirthe" not in check

    refused = run("pseudonymise", *p, "--purge-originals", input="n\n", ok=False)
    assert refused.exit_code == 1 and "Zwartewaal" in stored_document(v1).text  # asked, declined: unchanged
    purged = run("pseudonymise", *p, "--purge-originals", "--yes").output
    assert "masked in 2 earlier version(s)" in purged
    if ws.engine.dialect.name == "sqlite":
        assert "compacted" in purged
    else:
        assert "VACUUM FULL" in purged

    assert_no_real_value(ws)
    assert_masked_only(before, _codings(ws, v1, v2))
    assert run("privacy-check", *p).exit_code == 0
    again = run("pseudonymise", *p, "--purge-originals", "--yes").output
    assert "masked in 0 earlier version(s)" in again  # nothing left to do
    triggers = [e.detail["trigger"] for e in audit_trail(ws) if e.action == "masked"]
    assert triggers.count("pseudonymise --purge-originals") == 2


def test_a_failed_apply_leaves_every_version_as_it_was(study, tmp_path, stored_document):
    ws, key, v1, v2 = study
    everything = every_text(ws)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    key.path = blocker / "key.key"  # the disk refuses the key file (its folder is a file): after the masking
    with pytest.raises(OSError):
        apply_pseudonyms(ws, key, user="ann")
    assert every_text(ws) == everything
    assert "Zwartewaal" in stored_document(v1).text and stored_document(v2).is_current
    assert not [e for e in audit_trail(ws) if e.action in ("masked", "pseudonymised")]


@pytest.mark.skipif(os.name != "posix", reason="file permissions")
def test_a_backup_copy_with_real_values_is_reported(study):
    ws, key, _, _ = study
    if ws.engine.dialect.name != "sqlite":
        pytest.skip("backup copies are made of SQLite files only")
    database = Path(ws.engine.url.database)
    backup = database.with_name(f"{database.name}.bak-0005_recording_times")
    backup.write_bytes(database.read_bytes() + b"Mirthe")  # as a schema upgrade leaves it: the old state
    apply_pseudonyms(ws, key, user="ann")
    check = privacy_check(ws, key)
    assert [Path(path).name for path, _ in check.files] == [backup.name] and not check.unscrubbed
