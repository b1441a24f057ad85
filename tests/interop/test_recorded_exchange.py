"""Recorded interviews in exchange files: .qdpx with an AudioSource, and VTT/SRT subtitles.

The transcript is a WebVTT file (so its sentences have times) and the
recording a synthetic WAV made here; codings sit on sentence edges and
inside sentences, so both kinds of sync point are exercised.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
import xmlschema
from click.testing import CliRunner
from lxml import etree
from recordings import attach_recording, time_sentences, write_wav
from sqlalchemy import select

from chimeqda.cli import main
from chimeqda.errors import ImportRejected, InvalidInput
from chimeqda.interop import export_qdpx, import_exchange
from chimeqda.interop.refi_export import SCHEMAS, schema
from chimeqda.interop.subtitles import export_subtitles
from chimeqda.services import add_coding, import_files, init_project
from chimeqda.store import tables as t

NS = {"q": "urn:QDA-XML:project:1.0"}
SHARED_REFI = Path(os.environ.get("CHIMEQDA_SHARED", Path(__file__).resolve().parents[3] / "shared")) / "refi-qda"
VTT = """WEBVTT

1
00:00:00.000 --> 00:00:02.400
<v Interviewer>How have the last months been for you?

2
00:00:02.600 --> 00:00:05.100
<v P07>Better than I expected, honestly.

3
00:00:05.100 --> 00:00:08.900
<v P07>I started volunteering at the food bank on Tuesdays.

4
00:00:09.200 --> 00:00:10.800
<v Interviewer>What does that give you?

5
00:00:11.000 --> 00:00:14.500
<v P07>A reason to get up & somebody who expects me.
"""

CUES = [(0.0, 2.4), (2.6, 5.1), (5.1, 8.9), (9.2, 10.8), (11.0, 14.5)]


@pytest.fixture
def recorded(workspace, tmp_path):
    """A VTT transcript with a 15-second recording and three codings (one inside a sentence)."""
    source = tmp_path / "P07-session.vtt"
    source.write_text(VTT, encoding="utf-8")
    (outcome,) = import_files(workspace, [source])
    doc_id = outcome.document_id
    time_sentences(workspace, doc_id, CUES)  # as the VTT says (one sentence per cue)
    wav = write_wav(tmp_path / "P07-session.wav", 15.0)
    attach_recording(workspace, doc_id, wav, duration=15.0)
    with workspace.session() as session:
        text = session.get(t.Document, doc_id).text
    food = text.index("I started volunteering")
    add_coding(workspace, doc_id, food, text.index("Tuesdays.") + 9, "connectedness", by="ann")
    bank = text.index("food bank")
    add_coding(workspace, doc_id, bank, bank + 9, "meaning", by="ann")  # inside a sentence
    add_coding(workspace, doc_id, text.index("A reason"), len(text), "hope", by="bob")
    return workspace, doc_id, wav.read_bytes()


def _times(ws, doc_id):
    with ws.session() as session:
        segments = session.execute(select(t.Segment.start, t.Segment.end, t.Segment.text, t.Segment.speaker,
                                          t.Segment.time_start, t.Segment.time_end)
                                   .where(t.Segment.document_id == doc_id).order_by(t.Segment.index)).all()
        turns = session.execute(select(t.Turn.start, t.Turn.speaker, t.Turn.time, t.Turn.time_end)
                                .where(t.Turn.document_id == doc_id).order_by(t.Turn.index)).all()
    return [tuple(r) for r in segments], [tuple(r) for r in turns]


def _codings(ws, doc_id):
    with ws.session() as session:
        return sorted(session.execute(
            select(t.CodingEvent.start, t.CodingEvent.end, t.Code.key)
            .join(t.Code, t.Code.id == t.CodingEvent.code_id)
            .where(t.CodingEvent.document_id == doc_id, t.CodingEvent.action == "accepted")).all())


def test_the_exported_qdpx_carries_the_recording_as_a_schema_valid_audio_source(recorded, tmp_path):
    ws, doc_id, audio = recorded
    out = export_qdpx(ws, tmp_path / "study.qdpx")
    with zipfile.ZipFile(out) as archive:
        qde = archive.read("project.qde")
        names = archive.namelist()
        root = etree.fromstring(qde)
        assert schema("project").validate(root), schema("project").error_log
        for xsd in (SCHEMAS / "Project.xsd", SHARED_REFI / "Project-mrt2019.xsd"):  # a second validator too
            if xsd.exists():
                xmlschema.XMLSchema(str(xsd)).validate(qde.decode("utf-8"))
        (source,) = root.findall(".//q:AudioSource", NS)
        member = "sources/" + source.get("path").removeprefix("internal://")
        assert member.endswith(".wav") and archive.read(member) == audio
        assert archive.getinfo(member).compress_type == zipfile.ZIP_STORED
        transcript = source.find("q:Transcript", NS)
        text = archive.read("sources/" + transcript.get("plainTextPath").removeprefix("internal://")).decode()
    assert not root.findall(".//q:TextSource", NS)
    points = {p.get("guid"): (int(p.get("position")), p.get("timeStamp")) for p in transcript.findall("q:SyncPoint", NS)}
    segments, _ = _times(ws, doc_id)
    for start, end, _, _, time_start, time_end in segments:
        assert (start, str(round(time_start * 1000))) in points.values()
        assert (end, str(round(time_end * 1000))) in points.values()
    selections = transcript.findall("q:TranscriptSelection", NS)
    spans = sorted((points[s.get("fromSyncPoint")][0], points[s.get("toSyncPoint")][0]) for s in selections)
    assert spans == sorted((s, e) for s, e, _ in _codings(ws, doc_id))
    inside = text.index("food bank")
    estimated = [stamp for position, stamp in points.values() if position == inside]
    assert estimated and 5100 < int(estimated[0]) < 8900  # a time between the sentence's start and end
    assert sum(1 for n in names if n.endswith(".txt")) == 1


def test_round_trip_keeps_text_times_codings_and_the_recording(recorded, tmp_path):
    ws, doc_id, audio = recorded
    out = export_qdpx(ws, tmp_path / "study.qdpx")
    other = init_project(tmp_path / "copy", name="Copy")
    report = import_exchange(other, out)
    assert report.imported.get("recordings") == 1, report
    with other.session() as session:
        (copy,) = session.scalars(select(t.Document)).all()
        with ws.session() as s2:
            original = s2.get(t.Document, doc_id)
            assert copy.text == original.text
            assert copy.meta["media"]["sha256"] == original.meta["media"]["sha256"]
            assert copy.meta["media"]["duration"] == 15.0
    assert (other.directory / copy.meta["media"]["file"]).read_bytes() == audio
    assert _times(other, copy.id) == _times(ws, doc_id)
    assert _codings(other, copy.id) == _codings(ws, doc_id)
    again = import_exchange(other, out)  # the same file twice: nothing doubles
    assert again.imported.get("codings already present") == 3
    assert len(list((other.directory / "media").iterdir())) == 1


def test_word_probabilities_survive_the_round_trip(recorded, tmp_path):
    ws, doc_id, _ = recorded
    with ws.session() as session:
        first = session.scalars(select(t.Segment).where(t.Segment.document_id == doc_id)
                                .order_by(t.Segment.index)).first()
        word_end = first.start + first.text.index(" ")
        first.words = [[first.start, word_end, 0.31]]
    other = init_project(tmp_path / "copy", name="Copy")
    import_exchange(other, export_qdpx(ws, tmp_path / "study.qdpx"))
    with other.session() as session:
        copied = session.scalars(select(t.Segment).order_by(t.Segment.index)).first()
    assert copied.words == [[first.start, word_end, 0.31]]


def test_a_recording_outside_the_archive_is_never_read(recorded, tmp_path):
    ws, _, _ = recorded
    out = export_qdpx(ws, tmp_path / "study.qdpx")
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF private")
    hostile = tmp_path / "hostile.qdpx"
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(hostile, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "project.qde":
                data = data.replace(b' path="internal://', f' path="absolute://{tmp_path}/'.encode())
            target.writestr(info, data)
    other = init_project(tmp_path / "copy", name="Copy")
    report = import_exchange(other, hostile)
    assert any("outside the archive" in line for line in report.skipped)
    assert not (other.directory / "media").exists() or not any((other.directory / "media").iterdir())
    assert report.imported.get("sources") == 1  # the transcript itself still comes in


def test_a_recording_that_compresses_like_a_bomb_is_refused(recorded, tmp_path):
    ws, _, _ = recorded
    out = export_qdpx(ws, tmp_path / "study.qdpx")
    bomb = tmp_path / "bomb.qdpx"
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = b"\0" * (9 * 1024 * 1024) if info.filename.endswith(".wav") else source.read(info)
            target.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED)
    other = init_project(tmp_path / "copy", name="Copy")
    with pytest.raises(ImportRejected, match="zip bomb"):
        import_exchange(other, bomb)
    with other.session() as session:
        assert session.scalar(select(t.Document.id)) is None


def test_a_failed_import_leaves_no_recording_behind(recorded, tmp_path):
    ws, _, _ = recorded
    out = export_qdpx(ws, tmp_path / "study.qdpx")
    other = init_project(tmp_path / "copy", name="Copy")
    with other.session() as session:  # a project without a codebook fails inside the import's transaction,
        session.execute(t.Codebook.__table__.delete())  # after the recording was copied
    with pytest.raises(Exception, match="codebook"):
        import_exchange(other, out)
    assert not any((other.directory / "media").iterdir())


@pytest.mark.parametrize("fmt", ["vtt", "srt"])
def test_subtitles_read_back_with_the_projects_own_readers(recorded, tmp_path, fmt):
    ws, doc_id, _ = recorded
    out = export_subtitles(ws, "P07-session.vtt", tmp_path / f"again.{fmt}", fmt)
    other = init_project(tmp_path / f"copy-{fmt}", name="Copy")
    (outcome,) = import_files(other, [out])
    before, turns_before = _times(ws, doc_id)
    after, turns_after = _times(other, outcome.document_id)
    assert [(text, speaker) for _, _, text, speaker, _, _ in after] == \
        [(text, speaker) for _, _, text, speaker, _, _ in before]
    assert [(round(a, 3), round(b, 3)) for *_, a, b in after] == [(round(a, 3), round(b, 3)) for *_, a, b in before]
    assert [(speaker, time) for _, speaker, time, _ in turns_after] == [(s, time) for _, s, time, _ in turns_before]
    if fmt == "vtt":
        assert "<v P07>A reason to get up &amp; somebody who expects me." in out.read_text(encoding="utf-8")


def test_a_document_without_times_cannot_become_subtitles(workspace, transcripts, tmp_path):
    import_files(workspace, [transcripts])
    with pytest.raises(InvalidInput, match="has no times"):
        export_subtitles(workspace, "P01-interview.txt", tmp_path / "x.vtt", "vtt")


def test_the_export_command_writes_subtitles_of_one_document(recorded, tmp_path):
    ws, _, _ = recorded
    where = ["-p", str(ws.directory), "--db", ws.engine.url.render_as_string(hide_password=False)]
    runner = CliRunner()
    refused = runner.invoke(main, ["export", *where, "--format", "vtt"])
    assert refused.exit_code != 0 and "--document" in refused.output
    out = tmp_path / "P07.srt"
    done = runner.invoke(main, ["export", *where, "--format", "srt", "--document", "P07-session.vtt", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert out.read_text(encoding="utf-8").startswith("1\n00:00:00,000 --> 00:00:02,400\nInterviewer: How have")
    unknown = runner.invoke(main, ["export", *where, "--format", "srt", "--document", "nope"])
    assert unknown.exit_code != 0 and "P07-session.vtt" in unknown.output


def test_recordings_can_be_left_out_and_are_by_default_where_pseudonymisation_is_required(recorded, tmp_path):
    from chimeqda.services.privacy_audit import enable_privacy

    ws, _, _ = recorded
    out = export_qdpx(ws, tmp_path / "text-only.qdpx", recordings=False)
    with zipfile.ZipFile(out) as archive:
        root = etree.fromstring(archive.read("project.qde"))
        assert not [n for n in archive.namelist() if n.endswith(".wav")]
    assert not root.findall(".//q:AudioSource", NS)
    (source,) = root.findall(".//q:TextSource", NS)
    assert "left out of this export" in source.find("q:Description", NS).text

    with ws.session() as session:
        enable_privacy(session, ws.project_id)
    where = ["-p", str(ws.directory), "--db", ws.engine.url.render_as_string(hide_password=False)]
    runner = CliRunner()
    done = runner.invoke(main, ["export", *where, "--format", "qdpx", "--out", str(tmp_path / "p.qdpx"),
                                "--allow-unpseudonymised"])
    assert done.exit_code == 0, done.output
    assert "recordings are left out" in done.output
    with zipfile.ZipFile(tmp_path / "p.qdpx") as archive:
        assert not [n for n in archive.namelist() if n.endswith(".wav")]
    done = runner.invoke(main, ["export", *where, "--format", "qdpx", "--out", str(tmp_path / "q.qdpx"),
                                "--allow-unpseudonymised", "--recordings"])
    assert done.exit_code == 0, done.output
    with zipfile.ZipFile(tmp_path / "q.qdpx") as archive:
        assert [n for n in archive.namelist() if n.endswith(".wav")]
    refused = runner.invoke(main, ["export", *where, "--format", "vtt", "--document", "P07-session.vtt"])
    assert refused.exit_code != 0 and "pseudonymis" in refused.output


def test_corrected_speakers_and_roles_survive_the_round_trip(recorded, tmp_path):
    from chimeqda.services.speakers import set_speaker

    ws, doc_id, _ = recorded
    set_speaker(ws, doc_id, 1, speaker="Mira", role="participant")  # the text still says "P07:"
    set_speaker(ws, doc_id, 0, speaker="Ann", role="interviewer")
    other = init_project(tmp_path / "copy", name="Copy")
    import_exchange(other, export_qdpx(ws, tmp_path / "study.qdpx"))
    with other.session() as session, ws.session() as original:
        copied = session.execute(select(t.Turn.start, t.Turn.end, t.Turn.speaker, t.Turn.role)
                                 .order_by(t.Turn.index)).all()
        source = original.execute(select(t.Turn.start, t.Turn.end, t.Turn.speaker, t.Turn.role)
                                  .where(t.Turn.document_id == doc_id).order_by(t.Turn.index)).all()
    assert copied == source and copied[1].speaker == "Mira"
