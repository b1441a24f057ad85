"""Synthetic recorded interviews, spoken by espeak-ng: for tests, benchmarks and the sample study.

A script is a list of ``(speaker, text)`` lines with speaker 0 or 1; each
speaker has their own espeak-ng voice. Stereo puts speaker 0 on the left
channel and speaker 1 on the right; mono mixes them. Turns are separated by
``gap`` seconds of silence. Needs the ``espeak-ng`` program (Debian package).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

VOICES = {"en": ("en-us", "en-gb+m3"), "nl": ("nl", "nl+f3")}
RATE = 22_050


def _speak(text: str, voice: str, speed: int):
    import numpy as np

    program = shutil.which("espeak-ng")
    if program is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    raw = subprocess.run([program, "-v", voice, "-s", str(speed), "--stdout", text],
                         check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(raw)) as reader:
        assert reader.getframerate() == RATE and reader.getsampwidth() == 2
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def speak_script(script: list[tuple[int, str]], language: str = "en", *, stereo: bool = False,
                 gap: float = 1.2, speed: int = 150, voices: tuple[str, str] | None = None):
    """The script as float samples at 22,050 Hz: shape (channels, samples), and each line's (start, end) s.

    ``voices`` overrides the two espeak-ng voices of :data:`VOICES` for ``language``.
    """
    import numpy as np

    pieces: list = []
    times = []
    position = 0
    silence = np.zeros(int(gap * RATE), dtype=np.float32)
    for speaker, text in script:
        samples = _speak(text, (voices or VOICES[language])[speaker], speed)
        channels = np.zeros((2 if stereo else 1, len(samples)), dtype=np.float32)
        channels[speaker if stereo else 0] = samples
        pieces.append(channels)
        times.append((position / RATE, (position + len(samples)) / RATE))
        position += len(samples)
        pieces.append(np.zeros((channels.shape[0], len(silence)), dtype=np.float32))
        position += len(silence)
    return np.concatenate(pieces, axis=1), times


def write_wav(path: Path, samples) -> Path:
    """Write float samples (channels, n) as 16-bit PCM WAV."""
    import numpy as np

    data = (np.clip(samples, -1, 1) * 32767).astype("<i2").T.copy()
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(samples.shape[0])
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(data.tobytes())
    return path


def encode(source_wav: Path, target: Path, codec: str = "libopus", bit_rate: int = 32_000) -> Path:
    """Re-encode a WAV file (e.g. to Ogg Opus, 48 kHz) with PyAV; no ffmpeg program needed."""
    import av

    with av.open(str(source_wav)) as source, av.open(str(target), "w") as out:
        layout = source.streams.audio[0].layout.name
        rate = 48_000 if codec == "libopus" else source.streams.audio[0].rate
        stream = out.add_stream(codec, rate=rate, layout=layout)
        stream.bit_rate = bit_rate
        resampler = av.audio.resampler.AudioResampler(format=stream.format.name, layout=layout, rate=rate)
        for frame in source.decode(audio=0):
            for piece in resampler.resample(frame):
                out.mux(stream.encode(piece))
        for piece in resampler.resample(None):
            out.mux(stream.encode(piece))
        out.mux(stream.encode(None))
    return target
