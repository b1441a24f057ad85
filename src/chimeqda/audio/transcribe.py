"""Transcribing a recording offline with faster-whisper into a timed transcript.

The recording is decoded (PyAV, 16 kHz float) and transcribed in windows of
about ten minutes, cut at the quietest moment near each window's end, so a
90-minute interview needs the memory of one window, not of the whole file.
A stereo recording with one voice per channel (see
:func:`~chimeqda.audio.probe.probe`) is transcribed channel by channel and its
turns follow the channels (``Speaker 1`` left, ``Speaker 2`` right). Otherwise,
when Resemblyzer is installed, the voices are told apart offline
(:mod:`~chimeqda.audio.diarise`, ``speakers`` voices) and every segment is split
where the speaker changes; without it (or with ``diarise=False``) a new turn
starts after a pause of ``turn_pause`` seconds, without a speaker name. Either
way the researcher corrects the turns with ``chimeqda speakers``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InvalidInput, ModelUnavailable
from ..ingest.build import build_document
from ..ingest.timed import Utterance, assemble
from ..model import ParsedDocument
from .diarise import (
    DIARISE_HINT,
    VoiceEmbeddings,
    diarisation_available,
    diarise,
    encoder_provenance,
    split_by_speaker,
    suggest_interviewer,
)
from .model import BASE_MODEL_NAME, base_model_dir, check_model_dir, model_sha256
from .probe import SAMPLE_RATE, RecordingInfo, frame_channels, import_av, probe

Progress = Callable[[float, float], None]
"""Called with (seconds transcribed, seconds in the recording)."""

CHANNEL_SPEAKERS = ("Speaker 1", "Speaker 2")


@dataclass(frozen=True)
class AsrSettings:
    """How recordings are transcribed; recorded with every transcript."""

    model_dir: str | None = None  # a faster-whisper model folder; None: the shipped Whisper base
    language: str | None = None  # "en", "nl"; None: detected per file
    beam_size: int = 5
    compute_type: str = "int8"
    cpu_threads: int = 0  # 0: every core
    vad_filter: bool = True
    uncertain_below: float = 0.5  # words with a lower probability are marked uncertain
    turn_pause: float = 1.0  # seconds of silence that start a new turn (mono, not diarised)
    diarise: bool | None = None  # mono: tell voices apart; None: when Resemblyzer is installed
    speakers: int = 2  # voices to tell apart when diarising
    window_seconds: float = 600.0


@dataclass
class Transcript:
    """What a recording said: utterances with times and words, and how it was made."""

    info: RecordingInfo
    utterances: list[Utterance]
    language: str
    language_probability: float
    provenance: dict[str, object] = field(default_factory=dict)
    interviewer: str | None = None  # the diarised speaker suggested as interviewer

    def document(self, *, interviewer_labels=(), source_format: str | None = None) -> ParsedDocument:
        """The transcript as a document: one turn per line, sentences with times and words.

        Without ``interviewer_labels`` the suggested interviewer of a diarised recording gets that role.
        """
        if not tuple(interviewer_labels) and self.interviewer:
            interviewer_labels = (self.interviewer,)
        text, turns, timed = assemble(self.utterances, labels=False)
        probabilities = [span.probability for span in timed if span.probability is not None]
        uncertain = sum(1 for p in probabilities if p < float(self.provenance.get("uncertain_below", 0.5)))
        return build_document(
            self.info.name, text, turns,
            source_format=source_format or Path(self.info.name).suffix.lower().lstrip(".") or "audio",
            sha256=self.info.sha256, interviewer_labels=interviewer_labels,
            language_hint=self.language, guess_roles=True,
            metadata={"transcription": {**self.provenance, "words": len(probabilities), "uncertain_words": uncertain}},
            timed=timed,
        )


_MODELS: dict[tuple[str, str, int], object] = {}


def load_model(settings: AsrSettings):
    """The faster-whisper model of ``settings`` (loaded once per process) and its folder."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise ModelUnavailable("transcription needs the audio extra: pip install 'chimeqda[audio]'") from None
    folder = check_model_dir(settings.model_dir) if settings.model_dir else base_model_dir()
    threads = settings.cpu_threads or min(os.cpu_count() or 1, 8)
    key = (str(folder.resolve()), settings.compute_type, threads)
    if key not in _MODELS:
        try:
            _MODELS[key] = WhisperModel(str(folder), device="cpu", compute_type=settings.compute_type,
                                        cpu_threads=threads, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelUnavailable(f"the speech model in {folder} cannot be loaded ({exc})") from None
    return _MODELS[key], folder


def _provenance(settings: AsrSettings, folder: Path) -> dict[str, object]:
    import ctranslate2
    import faster_whisper

    return {
        "model": BASE_MODEL_NAME if not settings.model_dir else str(folder),
        "model_sha256": model_sha256(folder),
        "faster_whisper": faster_whisper.__version__,
        "ctranslate2": ctranslate2.__version__,
        "settings": {k: v for k, v in asdict(settings).items() if k not in ("model_dir", "uncertain_below")},
        "uncertain_below": settings.uncertain_below,
    }


def windows(path: Path, channels: int, seconds: float) -> Iterator[tuple[float, object]]:
    """The recording at 16 kHz as (offset in seconds, float32 array (channels, samples)) windows.

    Each window ends at the quietest tenth of a second within its last 30 seconds,
    so a cut rarely falls inside a word.
    """
    import numpy as np

    av = import_av()
    layout = "stereo" if channels == 2 else "mono"
    resampler = av.audio.resampler.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
    size = int(seconds * SAMPLE_RATE)
    pending: list = []
    pending_samples = 0
    offset = 0

    def cut(buffer):
        search = min(30 * SAMPLE_RATE, buffer.shape[1] // 2)
        tail = buffer[:, size - search: size]
        step = SAMPLE_RATE // 10
        usable = (tail.shape[1] // step) * step
        power = np.square(tail[:, :usable]).sum(axis=0).reshape(-1, step).mean(axis=1)
        return size - search + int(np.argmin(power)) * step + step // 2

    with av.open(str(path), metadata_errors="ignore") as container:
        frames = container.decode(audio=0)
        for frame in _then_none(frames):
            for out in resampler.resample(frame):
                samples = frame_channels(out).astype(np.float32, copy=False)
                pending.append(samples)
                pending_samples += samples.shape[1]
            while pending_samples >= size + 30 * SAMPLE_RATE:
                buffer = np.concatenate(pending, axis=1)
                end = cut(buffer)
                yield offset / SAMPLE_RATE, buffer[:, :end].copy()
                offset += end
                pending = [buffer[:, end:].copy()]
                pending_samples = pending[0].shape[1]
                del buffer
    if pending_samples:
        yield offset / SAMPLE_RATE, np.concatenate(pending, axis=1)


def _then_none(frames):
    yield from frames
    yield None  # flushes the resampler


def transcribe_file(
    path: Path | str,
    settings: AsrSettings = AsrSettings(),
    *,
    info: RecordingInfo | None = None,
    progress: Progress | None = None,
) -> Transcript:
    """Transcribe one recording; bad input raises :class:`InvalidInput` naming the file.

    The channels are mixed and transcribed once; with one voice per channel each
    word goes to the channel that is loudest while it is spoken.
    """
    import numpy as np

    path = Path(path)
    info = info or probe(path)
    model, folder = load_model(settings)
    per_channel = info.voice_per_channel and info.channels >= 2
    if settings.diarise and not per_channel and not diarisation_available():
        raise ModelUnavailable(DIARISE_HINT)
    voices = VoiceEmbeddings() if not per_channel and settings.diarise is not False and diarisation_available() \
        else None
    language = settings.language
    probability = 1.0 if language else 0.0
    utterances: list[Utterance] = []
    if progress:
        progress(0.0, info.duration)
    try:
        for offset, window in windows(path, 2 if per_channel else 1, settings.window_seconds):
            span = window.shape[1] / SAMPLE_RATE
            envelope = _envelope(window) if per_channel else None
            mono = window.mean(axis=0) if per_channel else window[0]
            del window
            segments, result = model.transcribe(
                mono, language=language, beam_size=settings.beam_size, vad_filter=settings.vad_filter,
                word_timestamps=True, condition_on_previous_text=False)
            heard = len(utterances)
            for segment in segments:
                utterances.extend(_segment_utterances(segment, offset, envelope))
                if progress:
                    progress(min(offset + min(segment.end, span), info.duration), info.duration)
            if voices is not None:
                voices.add(mono, offset, [(w[1], w[2]) for u in utterances[heard:] for w in u.words])
            if language is None and (result.duration_after_vad or 0) > 0:
                language, probability = result.language, float(result.language_probability)
            del mono
            if progress:
                progress(min(offset + span, info.duration), info.duration)
    except (RuntimeError, ValueError, OSError, np.linalg.LinAlgError) as exc:
        raise InvalidInput(f"the recording could not be transcribed ({exc})", source=info.name) from None
    if not utterances:
        raise InvalidInput("no speech was found in the recording", source=info.name)
    provenance = _provenance(settings, folder)
    turns = "by channel" if per_channel else f"pauses of {settings.turn_pause:g} s"
    diarisation = diarise(voices, settings.speakers) if voices is not None else None
    interviewer = None
    if diarisation is not None:
        utterances = split_by_speaker(utterances, diarisation)
        interviewer = suggest_interviewer(utterances)
        turns = f"diarised into {settings.speakers} voices"
        provenance["diarisation"] = {**encoder_provenance(), "speakers": settings.speakers, "hop": voices.hop,
                                     "prints": len(voices), "clustering": "spherical k-means (cosine)",
                                     "interviewer_suggested": interviewer}
    elif not per_channel:
        _mark_pauses(utterances, settings.turn_pause)
        if voices is not None:
            provenance["diarisation"] = "not used: no stretch of speech long enough to tell voices apart"
        elif settings.diarise is None:
            provenance["diarisation"] = f"not used: {DIARISE_HINT}"
    provenance.update({"language": language, "language_probability": round(probability, 4), "turns": turns})
    return Transcript(info, utterances, language or "", probability, provenance, interviewer)


ENVELOPE_STEP = SAMPLE_RATE // 50  # 20 ms


def _envelope(window):
    """Mean power per channel in 20 ms steps: shape (channels, steps)."""
    import numpy as np

    usable = (window.shape[1] // ENVELOPE_STEP) * ENVELOPE_STEP
    power = np.square(window[:, :usable]).reshape(window.shape[0], -1, ENVELOPE_STEP).mean(axis=2)
    return power


def _lane(envelope, start: float, end: float) -> int:
    """The channel loudest between ``start`` and ``end`` seconds of the window."""
    first = max(0, int(start * 50))
    last = max(first + 1, int(end * 50) + 1)
    return int(envelope[:, first:last].sum(axis=1).argmax()) if envelope.shape[1] > first else 0


def _segment_utterances(segment, offset: float, envelope) -> list[Utterance]:
    """One Whisper segment as utterances: itself, or its runs of words per channel."""
    words = [(w.word, w.start, w.end, float(w.probability)) for w in segment.words or []]
    if envelope is None or not words:
        speaker = CHANNEL_SPEAKERS[_lane(envelope, segment.start, segment.end)] if envelope is not None else None
        return [_utterance(speaker, segment.text, segment.start, segment.end, words, offset)]
    runs: list[tuple[int, list]] = []
    for word in words:
        lane = _lane(envelope, word[1], word[2])
        if runs and runs[-1][0] == lane:
            runs[-1][1].append(word)
        else:
            runs.append((lane, [word]))
    return [_utterance(CHANNEL_SPEAKERS[lane], "".join(w[0] for w in run), run[0][1], run[-1][2], run, offset)
            for lane, run in runs]


def _utterance(speaker, text: str, start: float, end: float, words: list, offset: float) -> Utterance:
    shifted = [(word, round(offset + a, 3), round(offset + b, 3), p) for word, a, b, p in words]
    return Utterance(speaker, round(offset + start, 3), " ".join(text.split()), round(offset + end, 3), shifted)


def _mark_pauses(utterances: list[Utterance], pause: float) -> None:
    """Start a new turn after ``pause`` seconds of silence (recordings without voice per channel)."""
    for previous, utterance in zip(utterances, utterances[1:]):
        if previous.time_end is not None and utterance.time is not None:
            utterance.new_turn = utterance.time - previous.time_end >= pause
