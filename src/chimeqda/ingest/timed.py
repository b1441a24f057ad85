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

_STAMP = r"(?:\d+:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
# A cue timing line: start --> end (the end may be missing), then cue settings.
_TIMING = re.compile(rf"[ \t]*+({_STAMP})[ \t]*+-->[ \t]*+(?:({_STAMP})(?=[ \t]|$)|$)")
# What a mistyped timing line looks like: two times with a wrong or missing arrow between them.
_TIME_LIKE = r"\d{1,9}:\d{1,9}(?:[:.,]\d{0,9}){0,4}"
_TIMING_LIKE = re.compile(
    rf"[ \t]*{_TIME_LIKE}(?:[ \t]*(?:[^\w\s][ \t]*){{1,4}}|[ \t]+(?:(?:to|tot)[ \t]+)?){_TIME_LIKE}(?:[ \t]|$)"
)
_VOICE = re.compile(r"<v(?:\.[^\s<>]*)?[ \t]+([^<>]*)>")
# Markup of WebVTT and SubRip cue text: the tags they define, timestamp tags and {\an8}-style
# positions. Anything else in angle brackets (``<laughs>``, ``x < y > z``) is text.
_TAG = re.compile(
    r"</?(?:[bciuvs]|lang|ruby|rt|font)(?:\.[^\s<>]*)?(?:[ \t][^<>\n]*)?>"
    r"|<\d+(?::\d+)+(?:[.,]\d+)?>|\{\\[^{}\n]*\}"
)
_COMMENT_BLOCK = re.compile(r"NOTE(?:[ \t]|$)|STYLE[ \t]*$|REGION[ \t]*$")
_CUE_NUMBER = re.compile(r"[ \t]*\d+[ \t]*")
SHOWN_LINES = 5  # line numbers shown per warning


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


def _seconds(stamp: str, source: str, line: int) -> float:
    """Seconds of a cue timestamp; minutes and seconds past 59 are refused (a typo, not a time)."""
    *front, last = stamp.replace(",", ".").split(":")
    parts = [int(part) for part in front]
    whole = float(last)
    if whole >= 60 or (len(parts) == 2 and parts[1] >= 60) or (len(parts) == 1 and parts[0] >= 60):
        raise ImportRejected(
            f"the time {stamp} is impossible (minutes and seconds run from 00 to 59); correct the timing line",
            source=source,
            location=f"line {line}",
        )
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds * 60 + whole


def _clean(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def _listed(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:SHOWN_LINES])
    more = len(numbers) - SHOWN_LINES
    return f"line {shown}" if len(numbers) == 1 else f"lines {shown}" + (f" and {more} more" if more > 0 else "")


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines, each with the number (from 1) of its first line."""
    blocks: list[tuple[int, list[str]]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip(" \t"):
            continue
        if blocks and blocks[-1][0] + len(blocks[-1][1]) == number:
            blocks[-1][1].append(line)
        else:
            blocks.append((number, [line]))
    return blocks


def cue_utterances(text: str, source: str, kind: str) -> tuple[list[Utterance], list[str]]:
    """Utterances of the cues of a VTT or SRT text (already normalised), and warnings.

    No words are dropped without a word: a line that looks like a timing line
    but is not one (``00:00:04.000 -> 00:00:09.000``), an impossible time
    (``00:00:99.000``) and a cue that ends before it starts are refused with
    the line number. Text outside any cue (after a blank line inside a cue,
    say) is kept without a time, and cues out of time order are kept in file
    order; both with a warning. Skipped on purpose: the ``WEBVTT`` header,
    ``NOTE`` comments (counted in a warning), ``STYLE`` and ``REGION`` blocks,
    cue identifiers and cue numbers, and markup tags.
    """
    utterances: list[Utterance] = []
    untimed: list[int] = []
    disorder: list[int] = []
    notes = 0
    previous_start: float | None = None

    def refuse(number: int, line: str, why: str) -> ImportRejected:
        shown = line.strip()
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return ImportRejected(
            f"{shown!r} {why}; a timing line reads 00:00:04.000 --> 00:00:09.000 (two dashes and >, "
            "minutes and seconds from 00 to 59)",
            source=source,
            location=f"line {number}",
        )

    def add(line: str, number: int, start: float | None, end: float | None) -> None:
        spoken = _clean(line)
        if spoken:
            voice = _VOICE.search(line)
            speaker = " ".join(voice.group(1).split()) if voice else None
            utterances.append(Utterance(speaker or None, start, spoken, end))
            if start is None:
                untimed.append(number)

    for index, (first, block) in enumerate(_blocks(text.split("\n"))):
        head = block[0].strip()
        header = index == 0 and head.startswith("WEBVTT")
        if kind == "WebVTT" and _COMMENT_BLOCK.match(head):
            notes += head.startswith("NOTE")
            continue
        timed = False
        cue: tuple[float, float | None] | None = None
        pending: list[tuple[int, str]] = []  # lines before the first timing line of the block
        last_text: tuple[int, int] | None = None  # (line number, utterances before it) of the cue's last line
        for offset, line in enumerate(block):
            number = first + offset
            timing = _TIMING.match(line)
            if timing is None and "-->" in line:
                raise refuse(number, line, "is not a valid cue timing line")
            if timing is None and not timed and not header and _TIMING_LIKE.match(line):
                raise refuse(number, line, "looks like a cue timing line but is not one")
            if timing is None:
                if timed and cue is not None:
                    before = len(utterances)
                    add(line, number, *cue)
                    last_text = (number, before) if _CUE_NUMBER.fullmatch(line) else None
                else:
                    pending.append((number, line))
                continue
            start = _seconds(timing.group(1), source, number)
            end = _seconds(timing.group(2), source, number) if timing.group(2) else None
            if end is not None and end < start:
                raise refuse(number, line, f"ends ({timing.group(2)}) before it starts ({timing.group(1)})")
            if not timed:  # the line before the block's first timing line is the cue's identifier
                if not header:
                    for number_before, text_before in pending[:-1]:
                        add(text_before, number_before, None, None)
                pending = []
            elif last_text is not None and last_text[0] == number - 1:  # the next cue's number
                del utterances[last_text[1] :]
            last_text = None
            if previous_start is not None and start < previous_start:
                disorder.append(number)
            previous_start = start
            timed = True
            cue = (start, end)
        if not timed and not header:
            if len(pending) > 1 and _CUE_NUMBER.fullmatch(pending[0][1]):
                pending = pending[1:]
            for number_before, text_before in pending:
                add(text_before, number_before, None, None)
    if not any(u.time is not None for u in utterances):
        raise ImportRejected(
            f"no {kind} cues found (expected timings like 00:00:01.000 --> 00:00:04.000 "
            "followed by text)",
            source=source,
        )
    warnings: list[str] = []
    if untimed:
        warnings.append(f"{_listed(untimed)}: text outside any cue (no timing line before it) was kept, without "
                        "a time; if it belongs to a cue, remove the blank line before it or add a timing line")
    if disorder:
        warnings.append(f"{_listed(disorder)}: the cue starts before the cue above it; the cues were kept in "
                        "file order (check the times)")
    if notes:
        warnings.append(f"{notes} NOTE comment block(s) were not imported (comments, not speech)")
    return utterances, warnings


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


def json_utterances(raw: str, source: str) -> tuple[list[Utterance], object, list[str]]:
    """Utterances of Whisper-style JSON, its ``language`` value (or None) and warnings.

    Negative times and a segment that ends before it starts are refused with
    the segment's place; segments out of time order are kept, with a warning.
    """
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
    warnings: list[str] = []
    disorder: list[int] = []
    previous_start: float | None = None
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
            if isinstance(value, (int, float)) and value < 0:
                raise fail(f"segment {number}: '{key}' is {value}, a time before the recording starts")
        if start is not None and end is not None and end < start:
            raise fail(f"segment {number} ends ({end}) before it starts ({start})")
        speaker = segment.get("speaker")
        if speaker is not None:
            speaker = " ".join(normalise_text(str(speaker)).split()) or None
        spoken = " ".join(normalise_text(text).split())
        if spoken:
            time = float(start) if start is not None else None
            time_end = float(end) if end is not None else None
            words = _json_words(segment.get("words")) if time is not None else []
            if time is not None and previous_start is not None and time < previous_start:
                disorder.append(number)
            previous_start = time if time is not None else previous_start
            utterances.append(Utterance(speaker, time, spoken, time_end, words))
    if disorder:
        shown = ", ".join(str(n) for n in disorder[:SHOWN_LINES])
        more = len(disorder) - SHOWN_LINES
        warnings.append(f"segment(s) {shown}{f' and {more} more' if more > 0 else ''} start before the segment "
                        "above; the segments were kept in file order (check the times)")
    return utterances, language, warnings


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
