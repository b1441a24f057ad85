"""Times of timed transcripts and kept recordings reach the project's database and folder."""

import subprocess

import pytest
from sqlalchemy import select

from chimeqda.errors import InvalidInput, ProjectError, UnknownObject
from chimeqda.services import import_files
from chimeqda.store import tables as t

SRT = "1\n00:00:01,000 --> 00:00:03,000\nINT: Hello. How are\n\n2\n00:00:03,000 --> 00:00:04,000\nyou today?\n"


def test_imported_srt_stores_segment_and_turn_times(workspace, tmp_path):
    path = tmp_path / "P06.srt"
    path.write_text(SRT)
    import_files(workspace, [path])
    with workspace.session() as session:
        segments = session.scalars(select(t.Segment).order_by(t.Segment.index)).all()
        turn = session.scalars(select(t.Turn)).one()
        assert [(s.time_start is not None, s.time_end) for s in segments][-1] == (True, 4.0)
        assert segments[0].time_start == 1.0 and segments[0].words is None
        assert (turn.time, turn.time_end) == (1.0, 4.0)


def test_a_kept_recording_is_named_by_its_hash_and_found_again(workspace, tmp_path):
    from chimeqda.audio.probe import probe
    from chimeqda.media_files import media_path
    from chimeqda.services.media import document_recording, keep_recording

    wav = tmp_path / "interview one.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "Hello there."], check=True)
    info = probe(wav)
    meta = keep_recording(workspace.directory, wav, info)
    assert meta["file"] == f"media/{info.sha256}.wav" and meta["original_name"] == "interview one.wav"
    assert meta["channels"] == 1 and meta["sample_rate"] == 22050 and 0.5 < meta["duration"] < 3
    kept = media_path(workspace.directory, {"media": meta}, strict=True)
    assert kept.read_bytes() == wav.read_bytes()
    assert keep_recording(workspace.directory, wav, info) == meta
    assert [p.name for p in (workspace.directory / "media").iterdir()] == [kept.name]
    assert media_path(workspace.directory, {}, strict=True) is None
    with pytest.raises(InvalidInput, match="media folder"):
        media_path(workspace.directory, {"media": {**meta, "file": "../chimeqda.toml"}}, strict=True)
    assert media_path(workspace.directory, {"media": {**meta, "file": "../chimeqda.toml"}}) is None
    with pytest.raises(ProjectError, match="open the project by its folder"):
        media_path(None, {"media": meta}, strict=True)
    doc_id = _stored_with_media(workspace, meta)
    assert document_recording(workspace, doc_id).path == kept and document_recording(workspace, doc_id).mime == "audio/wav"
    kept.unlink()
    with pytest.raises(ProjectError, match="interview one.wav"):
        media_path(workspace.directory, {"media": meta}, strict=True)
    assert media_path(workspace.directory, {"media": meta}) is None
    with pytest.raises(UnknownObject, match="interview one.wav.* is missing"):
        document_recording(workspace, doc_id)
    with pytest.raises(UnknownObject, match="has no recording"):
        document_recording(workspace, _stored_with_media(workspace, None))


def _stored_with_media(workspace, media) -> int:
    """A document row whose meta carries ``media`` (None: no recording)."""

    name = f"doc-{'rec' if media else 'text'}.txt"
    path = workspace.directory / name
    path.write_text("I: Hello?\nP: Hi.\n")
    [outcome] = import_files(workspace, [path])
    with workspace.session() as session:
        doc = session.get(t.Document, outcome.document_id)
        doc.meta = {**(doc.meta or {}), **({"media": media} if media else {})}
    return outcome.document_id
