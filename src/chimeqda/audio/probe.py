"""Checking a recording before it is transcribed, and describing it.

PyAV (installed with faster-whisper) opens the container; a file that is
empty, truncated, corrupt, without an audio track, in a codec this build
cannot decode, or silent throughout raises :class:`InvalidInput` naming it.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput, ModelUnavailable

MIME_TYPES = {
    ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".flac": "audio/flac",
    ".ogg": "audio/ogg", ".opus": "audio/ogg", ".webm": "audio/webm", ".mp4": "video/mp4",
}
SAMPLE_RATE = 16_000  # what Whisper listens at
SILENCE_RMS = 1e-4  # below this root-mean-square level (full scale 1.0) a recording is silent


@dataclass(frozen=True)
class RecordingInfo:
    """What a recording is: its hash, length in seconds, channels and sample rate."""

    name: str
    sha256: str
    duration: float
    channels: int
    sample_rate: int
    codec: str
    mime: str
    voice_per_channel: bool = False  # stereo with one voice on each channel (turns by channel)

    def as_meta(self, file: str) -> dict[str, object]:
        """The ``documents.meta["media"]`` description, for a copy kept at ``file``."""
        return {"file": file, "sha256": self.sha256, "duration": round(self.duration, 3),
                "channels": self.channels, "sample_rate": self.sample_rate,
                "original_name": self.name, "mime": self.mime}


def import_av():
    """PyAV, or a clear error telling how to install the ``audio`` extra."""
    try:
        import av
    except ImportError:
        raise ModelUnavailable(
            "reading recordings needs the audio extra: pip install 'chimeqda[audio]'"
        ) from None
    return av


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def probe(path: Path | str) -> RecordingInfo:
    """Open ``path`` and check that its first audio track decodes; describe it.

    Decodes the whole track once at low cost (frames are not kept) to find
    truncation and corruption and to measure the loudness: a recording with
    no sound above ``SILENCE_RMS`` is refused.
    """
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError:
        raise InvalidInput("file not found", source=name) from None
    if size == 0:
        raise InvalidInput("the recording is empty (0 bytes)", source=name)
    av = import_av()
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise InvalidInput(
            f"not a recording this program can read ({_reason(exc)}); the file may be damaged "
            "or in another format than its name says", source=name) from None
    with container:
        streams = container.streams.audio
        if not streams:
            kind = "video" if container.streams.video else "file"
            raise InvalidInput(f"this {kind} has no audio track", source=name)
        stream = streams[0]
        codec = stream.codec_context.name if stream.codec_context else "unknown"
        channels = stream.codec_context.channels if stream.codec_context else 0
        sample_rate = stream.codec_context.sample_rate if stream.codec_context else 0
        duration, peak_power, voice_per_channel = _scan(av, container, stream, name, codec)
        declared = _declared_duration(container, stream)
    if path.suffix.lower() == ".wav":
        declared = max(declared or 0.0, _wav_declared_duration(path) or 0.0) or None
    if declared and duration > 0 and duration < declared - 1.0 and duration < 0.97 * declared:
        raise InvalidInput(
            f"the recording is truncated: it should last {declared:.1f} s but stops after {duration:.1f} s; "
            "copy it again from the recorder", source=name)
    if duration <= 0:
        raise InvalidInput("the recording contains no sound (no audio could be decoded)", source=name)
    if peak_power < SILENCE_RMS**2:
        raise InvalidInput(
            f"the recording is silent throughout ({duration:.1f} s without sound); check the microphone "
            "or choose another file", source=name)
    mime = MIME_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return RecordingInfo(name, file_sha256(path), duration, channels, sample_rate, codec, mime,
                         voice_per_channel)


DOMINANCE = 4.0  # a channel this many times (6 dB) more powerful than the other carries the voice alone
ACTIVE_POWER = 1e-5


def frame_channels(frame):
    """A decoded frame as a float array of shape (channels, samples), full scale 1.0."""
    import numpy as np

    samples = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        samples = samples.reshape(-1, channels).T
    if samples.dtype.kind in "iu":
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max)
    return samples


def _scan(av, container, stream, name: str, codec: str) -> tuple[float, float, bool]:
    """Decode every frame: its duration, the loudest frame's mean power, and whether each channel has its own voice.

    A stereo recording has one voice per channel when, in nearly every frame with
    sound, one channel is :data:`DOMINANCE` times more powerful than the other,
    and each channel leads in a good share of them.
    """
    import numpy as np

    duration = 0.0
    loudest = 0.0
    active = 0
    leads = [0, 0]
    try:
        for frame in container.decode(stream):
            if not frame.sample_rate:
                continue
            samples = frame_channels(frame)
            if samples.size:
                power = np.mean(np.square(samples, dtype=np.float64), axis=1)
                loudest = max(loudest, float(power.mean()))
                if len(power) >= 2 and power[:2].max() > ACTIVE_POWER:
                    active += 1
                    if power[0] > DOMINANCE * power[1]:
                        leads[0] += 1
                    elif power[1] > DOMINANCE * power[0]:
                        leads[1] += 1
            duration += frame.samples / frame.sample_rate
    except av.error.DecoderNotFoundError:
        raise InvalidInput(f"the audio codec {codec!r} is not supported; convert the recording "
                           "to .wav, .flac, .mp3 or .m4a", source=name) from None
    except (av.error.FFmpegError, ValueError) as exc:
        if duration == 0.0:
            raise InvalidInput(f"the recording cannot be decoded ({_reason(exc)}); the file is damaged",
                               source=name) from None
        raise InvalidInput(
            f"the recording is damaged after {duration:.1f} s ({_reason(exc)}); it may be truncated — "
            "copy it again from the recorder", source=name) from None
    separate = active > 0 and sum(leads) >= 0.8 * active and min(leads) >= 0.05 * active
    return duration, loudest, separate


def _declared_duration(container, stream) -> float | None:
    """How long the container says the audio lasts (its index or header), if it says."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration else None


def _wav_declared_duration(path: Path) -> float | None:
    """The length a WAV file's header declares (its data chunk size), which a cut-off copy does not reach."""
    import struct

    with path.open("rb") as stream:
        head = stream.read(4096)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    position, byte_rate = 12, 0
    while position + 8 <= len(head):
        chunk, size = head[position:position + 4], struct.unpack("<I", head[position + 4:position + 8])[0]
        if chunk == b"fmt " and position + 16 <= len(head):
            byte_rate = struct.unpack("<I", head[position + 16:position + 20])[0]
        if chunk == b"data":
            return size / byte_rate if byte_rate and size not in (0, 0xFFFFFFFF) else None
        position += 8 + size + (size & 1)
    return None


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(";")[0].strip().rstrip(".") or type(exc).__name__
