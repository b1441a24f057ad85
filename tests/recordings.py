"""Synthetic recordings for the web and exchange tests, made at test time."""

from __future__ import annotations

import hashlib
import math
import shutil
import struct
import wave
from pathlib import Path

from chimeqda.media_files import media_name
from chimeqda.store import tables as t


def write_wav(path: Path, seconds: float, *, rate: int = 8000) -> Path:
    """A mono 16-bit WAV of ``seconds``: a tone whose pitch changes every second (so every byte differs)."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        pitch = 220 + 40 * (i // rate)
        frames += struct.pack("<h", int(8000 * math.sin(2 * math.pi * pitch * i / rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


def attach_recording(ws, document_id: int, recording: Path, *, duration: float) -> Path:
    """Store ``recording`` as the document's recording the way the audio import does (media/ + meta)."""
    data = recording.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    name = media_name(sha, recording.suffix)
    target = ws.directory / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(recording, target)
    with ws.session() as session:
        doc = session.get(t.Document, document_id)
        doc.meta = {**(doc.meta or {}), "media": {
            "file": name, "sha256": sha, "duration": duration, "channels": 1, "sample_rate": 8000,
            "original_name": recording.name, "mime": "audio/wav"}}
    return target


def time_sentences(ws, document_id: int, times: list[tuple[float, float]]) -> None:
    """Give a document's sentences these (start, end) times, and each turn its first start and last end."""
    from sqlalchemy import select

    with ws.session() as session:
        segments = session.scalars(select(t.Segment).where(t.Segment.document_id == document_id)
                                   .order_by(t.Segment.index)).all()
        assert len(segments) == len(times), [s.text for s in segments]
        for segment, (start, end) in zip(segments, times, strict=True):
            segment.time_start, segment.time_end = start, end
        for turn in session.scalars(select(t.Turn).where(t.Turn.document_id == document_id)):
            mine = [s for s in segments if s.turn == turn.index]
            if mine:
                turn.time, turn.time_end = mine[0].time_start, mine[-1].time_end
