"""Timed transcripts: WebVTT, SubRip and Whisper-style JSON.

Cues become utterances; consecutive utterances of the same speaker merge
into one turn. The document text reads as a transcript, one turn per line:
``Name: utterance`` (or just the utterance when the speaker is unknown).
Each timed utterance (or each of its words, when it has word timings) becomes
a :class:`TimedSpan` of the text, from which segments and turns get their times.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field

from ..errors import ImportRejected
from .normalise import normalise_text
from .speakers import LABEL_RE, LabelCandidate, RawTurn, accepted_labels, is_label_shaped

_TIMING = re.compile(
    r"[ \t]*((?:\d+:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?)[ \t]*-->[ \t]*((?:\d+:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?)?"
)
_VOICE = re.compile(r"<v(?:\.[^\s<>]*)?[ \t]+([^<>]*)>")
_TAG = re.compile(r"<[^<>\n]*>|\{\\[^{}\n]*\}")
_BLOCK_SEP = re.compile(r"\n[ \t]*\n")


@dataclass
class Utterance:
    """What one cue or transcribed segment says; ``words`` are ``(word, start, end, probability)``."""

    speaker: str | None
    time: float | None
    text: str
    time_end: float | None = None
    words: list[tuple[str, float, float, float]] = field(default_factory=list)
    new_turn: bool = False  # starts a new turn even when the speaker is the same


@dataclass(frozen=True)
class TimedSpan:
    """Document text ``[start, end)`` spoken from ``time_start`` to ``time_end`` seconds.

    ``probability`` is set for a transcribed word (the recogniser's confidence).
    """

    start: int
    end: int
    time_start: float
    time_end: float
    probability: float | None = None


def _seconds(stamp: str) -> float:
    seconds = 0.0
    for part in stamp.replace(",", ".").split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _clean(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def cue_utterances(text: str, source: str, kind: str) -> list[Utterance]:
    """Utterances of the cues of a VTT or SRT text (already normalised)."""
    utterances: list[Utterance] = []
    for block in _BLOCK_SEP.split(text):
        lines = block.strip("\n").split("\n")
        first = lines[0].strip()
        if first.startswith(("NOTE", "STYLE", "REGION")):
            continue
        for position, line in enumerate(lines):  # noqa: B007 (used after the loop)
            timing = _TIMING.match(line)
            if timing:
                break
        else:
            continue
        start = _seconds(timing.group(1))
        end = _seconds(timing.group(2)) if timing.group(2) else None
        for line in lines[position + 1 :]:
            voice = _VOICE.search(line)
            spoken = _clean(line)
            if spoken:
                speaker = " ".join(voice.group(1).split()) if voice else None
                utterances.append(Utterance(speaker or None, start, spoken, end))
    if not utterances:
        raise ImportRejected(
            f"no {kind} cues found (expected timings like 00:00:01.000 --> 00:00:04.000 "
            "followed by text)",
            source=source,
        )
    return utterances


def apply_label_prefixes(utterances: list[Utterance]) -> None:
    """Take speakers from ``Name:`` prefixes where no voice tag gave one.

    Prefixes are accepted by the rule plain-text labels follow
    (:func:`~chimeqda.ingest.speakers.accepted_labels`): a known role label,
    a label used at least twice, or a label used once among accepted labels
    of the same form. An utterance without a speaker continues the previous
    speaker.
    """
    found: list[tuple[Utterance, LabelCandidate]] = []
    for utterance in utterances:
        if utterance.speaker is None:
            match = LABEL_RE.match(utterance.text)
            if match and is_label_shaped(match.group("label").strip()):
                found.append((utterance, LabelCandidate(match)))
    verdicts = accepted_labels([candidate for _, candidate in found])
    for (utterance, candidate), ok in zip(found, verdicts, strict=True):
        body = candidate.body.strip()
        if ok and body:
            utterance.speaker = candidate.label
            utterance.text = body
    previous: str | None = None
    for utterance in utterances:
        if utterance.speaker is None:
            utterance.speaker = previous
        previous = utterance.speaker


def assemble(
    utterances: list[Utterance], *, labels: bool = True
) -> tuple[str, list[RawTurn], list[TimedSpan]]:
    """Merge same-speaker runs into turns, write the document text and place the times.

    With ``labels`` each line starts ``Name: ``; a transcribed recording keeps its
    speakers on the turns only (so renaming a speaker leaves the text alone).
    """
    lines: list[str] = []
    turns: list[RawTurn] = []
    spans: list[TimedSpan] = []
    position = 0
    index = 0
    while index < len(utterances):
        first = utterances[index]
        prefix = f"{first.speaker}: " if first.speaker and labels else ""
        parts: list[str] = []
        cursor = position + len(prefix)
        while index < len(utterances) and (
            not parts or (utterances[index].speaker == first.speaker and not utterances[index].new_turn)
        ):
            utterance = utterances[index]
            following = utterances[index + 1].time if index + 1 < len(utterances) else None
            spans.extend(_spans_of(utterance, cursor, following))
            parts.append(utterance.text)
            cursor += len(utterance.text) + 1
            index += 1
        line = prefix + " ".join(parts)
        end = position + len(line)
        body = position + len(prefix)
        turns.append(RawTurn(position, end, body, first.speaker, None, first.time))
        lines.append(line)
        position += len(line) + 1
    return "\n".join(lines), turns, spans


def _spans_of(utterance: Utterance, offset: int, following: float | None) -> list[TimedSpan]:
    """The timed spans of one utterance whose text starts at ``offset``: its words, else itself."""
    if utterance.time is None:
        return []
    spans: list[TimedSpan] = []
    cursor = 0
    for word, start, end, probability in utterance.words:
        word = word.strip()
        found = utterance.text.find(word, cursor) if word else -1
        if found < 0:
            continue
        cursor = found + len(word)
        spans.append(TimedSpan(offset + found, offset + cursor, start, max(end, start), probability))
    if spans:
        return spans
    end = utterance.time_end
    if end is None or end < utterance.time:
        end = following if following is not None and following >= utterance.time else utterance.time
    return [TimedSpan(offset, offset + len(utterance.text), utterance.time, end)]


def json_utterances(raw: str, source: str) -> tuple[list[Utterance], object]:
    """Utterances of Whisper-style JSON and its ``language`` value (or None)."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ImportRejected(f"not valid JSON ({exc.msg})", source=source, location=where) from None
    except RecursionError:
        raise ImportRejected("not valid JSON (nested too deeply)", source=source) from None
    example = '{"segments": [{"start": 0.0, "end": 2.5, "text": "...", "speaker": "SPEAKER_00"}]}'
    language: object = None
    if isinstance(data, dict):
        if "segments" not in data:
            raise ImportRejected(
                f"the JSON has no 'segments' key; expected Whisper output like {example}",
                source=source,
            )
        segments = data["segments"]
        language = data.get("language")
    else:
        segments = data
    if not isinstance(segments, list):
        raise ImportRejected(
            f"'segments' must be a list of segments like {example}",
            source=source,
            location="segments",
        )
    utterances: list[Utterance] = []
    for number, segment in enumerate(segments):

        def fail(message: str, number: int = number) -> ImportRejected:
            return ImportRejected(message, source=source, location=f"segments[{number}]")

        if not isinstance(segment, dict):
            raise fail("a segment must be an object with a 'text' key")
        if "text" not in segment:
            raise fail(f"segment {number} has no 'text' key")
        text = segment["text"]
        if not isinstance(text, str):
            raise fail(f"segment {number}: 'text' must be a string")
        start, end = segment.get("start"), segment.get("end")
        for key, value in (("start", start), ("end", end)):
            if value is not None and not _seconds_value(value):
                raise fail(f"segment {number}: '{key}' must be a number of seconds")
        speaker = segment.get("speaker")
        if speaker is not None:
            speaker = " ".join(normalise_text(str(speaker)).split()) or None
        spoken = " ".join(normalise_text(text).split())
        if spoken:
            time = float(start) if start is not None else None
            time_end = float(end) if end is not None else None
            words = _json_words(segment.get("words")) if time is not None else []
            utterances.append(Utterance(speaker, time, spoken, time_end, words))
    return utterances, language


def _seconds_value(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _json_words(words: object) -> list[tuple[str, float, float, float]]:
    """Whisper word timings (``word``, ``start``, ``end``, ``probability``) that are usable, else none."""
    if not isinstance(words, list):
        return []
    found: list[tuple[str, float, float, float]] = []
    for word in words:
        if not isinstance(word, dict) or not isinstance(word.get("word"), str):
            return []
        start, end = word.get("start"), word.get("end")
        probability = word.get("probability", word.get("score", 1.0))
        if not (_seconds_value(start) and _seconds_value(end) and _seconds_value(probability)):
            return []
        found.append((" ".join(normalise_text(word["word"]).split()), float(start), float(end), float(probability)))
    return found
