"""Bad recordings are refused with an error naming the file, and nothing is stored."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from chimeqda.audio.probe import probe
from chimeqda.audio.synthetic import write_wav
from chimeqda.errors import InvalidInput
from chimeqda.store import tables as t


def _video_without_audio(path):
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 20, dtype=np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.fixture
def bad(tmp_path, recordings):
    wav, _ = recordings["mono"]
    data = wav.read_bytes()
    files = {}
    (files.setdefault("empty", tmp_path / "empty.m4a")).write_bytes(b"")
    (files.setdefault("truncated", tmp_path / "truncated.wav")).write_bytes(data[: len(data) // 2])
    (files.setdefault("corrupt", tmp_path / "corrupt.mp3")).write_bytes(bytes(range(256)) * 64)
    unknown = bytearray(data[:44 + 20000])
    unknown[20:22] = (0x1234).to_bytes(2, "little")  # a WAV format tag no decoder knows
    (files.setdefault("codec", tmp_path / "codec.wav")).write_bytes(bytes(unknown))
    files["silence"] = write_wav(tmp_path / "silence.wav", np.zeros((1, 22050 * 3), dtype=np.float32))
    files["video"] = _video_without_audio(tmp_path / "video.mp4")
    return files


MESSAGES = {
    "empty": "empty",
    "truncated": "truncated",
    "corrupt": "cannot read|damaged",
    "codec": "codec .* not supported",
    "silence": "silent",
    "video": "video has no audio track",
}


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_bad_recording_is_refused_naming_the_file(bad, kind):
    with pytest.raises(InvalidInput, match=MESSAGES[kind]) as caught:
        probe(bad[kind])
    assert caught.value.source == bad[kind].name and bad[kind].name in str(caught.value)


def test_a_bad_recording_in_an_import_stores_nothing(workspace, bad, recordings, tmp_path):
    from chimeqda.services.recordings import import_recordings

    good, _ = recordings["mono"]
    with pytest.raises(InvalidInput, match="silence.wav"):
        import_recordings(workspace, [good, bad["silence"]])
    with workspace.session() as session:
        assert session.scalar(select(func.count()).select_from(t.Document)) == 0
    assert not (workspace.directory / "media").exists()


def test_a_bad_recording_next_to_transcripts_stops_the_whole_import(tmp_path, bad):
    import shutil

    from click.testing import CliRunner

    from chimeqda.cli import main

    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "P01.txt").write_text("I: How are you?\nP: Fine, thanks.\n")
    shutil.copy(bad["silence"], folder / "P02.wav")
    project = tmp_path / "project"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(project)]).exit_code == 0
    result = runner.invoke(main, ["import", "-p", str(project), str(folder)])
    assert result.exit_code == 1 and "P02.wav" in result.output and "silent" in result.output
    from chimeqda.services import open_project

    with open_project(project).session() as session:
        assert session.scalar(select(func.count()).select_from(t.Document)) == 0
