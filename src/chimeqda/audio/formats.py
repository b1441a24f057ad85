"""Writing a transcribed recording: plain text, WebVTT, SubRip or Whisper-style JSON."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InvalidInput
from ..model import ParsedDocument

OUTPUT_SUFFIXES = (".txt", ".vtt", ".srt", ".json")


def _stamp(seconds: float | None, comma: bool = False) -> str:
    millis = int(round((seconds or 0.0) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    text = f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
    return text.replace(".", ",") if comma else text


def as_text(doc: ParsedDocument) -> str:
    """One turn per line: ``Speaker: text`` (just the text when the speaker is unknown)."""
    lines = []
    for turn in doc.turns:
        body = " ".join(doc.text[turn.start:turn.end].split())
        lines.append(f"{turn.speaker}: {body}" if turn.speaker else body)
    return "\n".join(lines) + "\n"


def _cues(doc: ParsedDocument):
    for segment in doc.segments:
        if segment.time_start is not None:
            end = segment.time_end if segment.time_end is not None else segment.time_start
            yield segment, segment.time_start, max(end, segment.time_start)


def as_vtt(doc: ParsedDocument) -> str:
    """A WebVTT cue per sentence, with the speaker as a voice tag."""
    out = ["WEBVTT", ""]
    for segment, start, end in _cues(doc):
        voice = f"<v {segment.speaker}>" if segment.speaker else ""
        out += [f"{_stamp(start)} --> {_stamp(end)}", voice + segment.text, ""]
    return "\n".join(out)


def as_srt(doc: ParsedDocument) -> str:
    """A SubRip cue per sentence, ``Speaker: text``."""
    out = []
    for number, (segment, start, end) in enumerate(_cues(doc), start=1):
        text = f"{segment.speaker}: {segment.text}" if segment.speaker else segment.text
        out += [str(number), f"{_stamp(start, True)} --> {_stamp(end, True)}", text, ""]
    return "\n".join(out)


def as_whisper_json(doc: ParsedDocument, utterances=None) -> str:
    """Whisper-style JSON (``language``, ``segments`` with start, end, text, speaker, words); importable again.

    With the transcript's ``utterances`` each Whisper segment keeps its word
    timings; without, each sentence is a segment.
    """
    segments = []
    if utterances is not None:
        for utterance in utterances:
            item: dict[str, object] = {"start": utterance.time, "end": utterance.time_end, "text": utterance.text}
            if utterance.speaker:
                item["speaker"] = utterance.speaker
            if utterance.words:
                item["words"] = [{"word": w, "start": a, "end": b, "probability": round(p, 4)}
                                 for w, a, b, p in utterance.words]
            segments.append(item)
    for segment, start, end in _cues(doc) if utterances is None else ():
        item = {"start": start, "end": end, "text": segment.text}
        if segment.speaker:
            item["speaker"] = segment.speaker
        segments.append(item)
    data = {"language": doc.language, "segments": segments,
            "transcription": doc.metadata.get("transcription", {})}
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def check_output(path: Path) -> None:
    """Refuse an output file type before any work is done."""
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InvalidInput(f"unsupported output type {path.suffix or '(none)'!r}; use {', '.join(OUTPUT_SUFFIXES)}",
                           source=str(path))


def render(doc: ParsedDocument, suffix: str, utterances=None) -> str:
    """``doc`` in the format of ``suffix`` (.txt .vtt .srt .json)."""
    suffix = suffix.lower()
    if suffix == ".json":
        return as_whisper_json(doc, utterances)
    return {".txt": as_text, ".vtt": as_vtt, ".srt": as_srt}[suffix](doc)
