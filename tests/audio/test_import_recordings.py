"""Importing recordings into a project: times, words and media stored; an interrupted batch resumes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

from chimeqda.cli import main
from chimeqda.media_files import media_path
from chimeqda.services.recordings import import_recordings, split_recordings
from chimeqda.store import tables as t

SHORT = [(0, "How are you today?"), (1, "I am fine, thank you.")]


def test_a_recording_is_stored_with_times_words_and_media(workspace, recordings, asr):
    path, _ = recordings["stereo"]
    [outcome] = import_recordings(workspace, [path])
    assert outcome.status == "imported" and outcome.participant == "P01" and outcome.language == "en"
    with workspace.session() as session:
        doc = session.get(t.Document, outcome.document_id)
        media = doc.meta["media"]
        assert set(media) == {"file", "sha256", "duration", "channels", "sample_rate", "original_name", "mime"}
        assert media["channels"] == 2 and media["mime"] == "audio/ogg" and media["original_name"] == path.name
        assert media_path(workspace.directory, doc.meta, strict=True).read_bytes() == path.read_bytes()
        assert doc.meta["transcription"]["language"] == "en" and doc.source_format == "ogg"
        segments = session.scalars(select(t.Segment).where(t.Segment.document_id == doc.id)
                                   .order_by(t.Segment.index)).all()
        assert all(s.time_start is not None and s.time_end >= s.time_start for s in segments)
        assert all(doc.text[a:b] for s in segments for a, b, _ in s.words)
        turns = session.scalars(select(t.Turn).where(t.Turn.document_id == doc.id).order_by(t.Turn.index)).all()
        assert [turn.role for turn in turns] == ["interviewer", "participant"] * 2
        assert all(turn.time_end > turn.time for turn in turns)
    [again] = import_recordings(workspace, [path])
    assert again.status == "unchanged" and again.document_id == outcome.document_id
    [named] = import_recordings(workspace, [path], interviewer_labels=["Speaker 2"])
    assert named.status == "roles updated"


def test_folders_with_transcripts_and_recordings_are_split(tmp_path, recordings):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "P09.txt").write_text("I: Hello?\nP: Hi.\n")
    shutil.copy(recordings["mono"][0], folder / "P10.wav")
    transcripts, found = split_recordings([folder])
    assert [p.name for p in transcripts] == ["P09.txt"] and [p.name for p in found] == ["P10.wav"]


def _documents(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("select count(*) from documents")).scalar_one()
    except Exception:
        return 0
    finally:
        engine.dispose()


def test_an_interrupted_batch_resumes_without_redoing_finished_files(tmp_path, asr, hermetic_cache):
    from chimeqda.audio.synthetic import speak_script, write_wav

    folder = tmp_path / "recordings"
    folder.mkdir()
    for number in range(1, 5):
        samples, _ = speak_script([(0, f"This is interview number {number}."), *SHORT])
        write_wav(folder / f"P0{number}.wav", samples)
    project = tmp_path / "study"
    assert CliRunner().invoke(main, ["init", str(project)]).exit_code == 0
    url = f"sqlite:///{project / 'chimeqda.sqlite3'}"
    if not (project / "chimeqda.sqlite3").exists():
        url = next(f"sqlite:///{p}" for p in project.glob("*.sqlite*"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "CHIMEQDA_CACHE_DIR": str(hermetic_cache)}
    process = subprocess.Popen([sys.executable, "-m", "chimeqda", "import", "-p", str(project), str(folder)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _documents(url) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stored = _documents(url)
    assert 1 <= stored < 4, "the batch should have been stopped part-way"
    from chimeqda.services import open_project

    ws = open_project(project)
    outcomes = import_recordings(ws, sorted(folder.iterdir()))
    assert [o.status for o in outcomes][:stored] == ["unchanged"] * stored
    assert [o.status for o in outcomes][stored:] == ["imported"] * (4 - stored)
    with ws.session() as session:
        names = session.scalars(select(t.Document.name).order_by(t.Document.name)).all()
        assert names == [f"P0{n}.wav" for n in range(1, 5)]
        assert session.scalar(select(func.count()).select_from(t.Turn).where(t.Turn.time_end.is_(None))) == 0
    kept = sorted(Path(project / "media").iterdir())
    assert len(kept) == 4 and not [p for p in kept if p.name.startswith(".partial")]


def test_import_command_transcribes_a_recording(tmp_path, recordings, asr, hermetic_cache):
    project = tmp_path / "study"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(project)]).exit_code == 0
    result = runner.invoke(main, ["import", "-p", str(project), str(recordings["stereo"][0])])
    assert result.exit_code == 0, result.output
    assert "imported" in result.output and "P01 stereo.ogg" in result.output
    listing = runner.invoke(main, ["speakers", "-p", str(project), "P01 stereo.ogg"])
    assert listing.exit_code == 0 and "Speaker 2 [participant]" in listing.output
    changed = runner.invoke(main, ["speakers", "-p", str(project), "P01 stereo.ogg", "--turn", "1-3",
                                   "--speaker", "Robin"])
    assert "changed 3 turn(s)" in changed.output and changed.output.count("Robin [participant]") == 2


def test_the_project_remembers_its_speech_model(workspace, tmp_path, asr):
    import pytest

    from chimeqda.audio.model import base_model_dir
    from chimeqda.errors import ModelUnavailable
    from chimeqda.services.recordings import project_asr_model

    assert project_asr_model(workspace) is None
    with pytest.raises(ModelUnavailable, match="not a faster-whisper"):
        (tmp_path / "empty-model").mkdir()
        project_asr_model(workspace, str(tmp_path / "empty-model"))
    assert project_asr_model(workspace) is None
    folder = str(base_model_dir().resolve())
    assert project_asr_model(workspace, folder) == folder
    assert project_asr_model(workspace) == folder
    assert project_asr_model(workspace, "default") is None and project_asr_model(workspace) is None
