"""Turn raw turns and document text into a :class:`ParsedDocument`."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence

from ..model import ParsedDocument, Segment, Turn
from .normalise import normalise_text
from .sentences import detect_language, sentences_in
from .speakers import RawTurn, find_text_turns, guess_interviewer, interviewer_keys, role_for
from .timed import TimedSpan

_LANGUAGE_NAMES = {"english": "en", "dutch": "nl", "nederlands": "nl", "flemish": "nl"}


def _language_code(value: str) -> str:
    """``"nl"`` for ``"NL"``, ``"nl-BE"``, ``"dutch"``; other values lower-cased."""
    value = value.strip().lower()
    value = _LANGUAGE_NAMES.get(value, value)
    return value.replace("_", "-").split("-")[0]


def resolve_language(language: str | None, text: str, hint: object = None) -> str:
    """``language`` if given, else an English or Dutch ``hint``, else detected."""
    if language and language.strip():
        return _language_code(language)
    if isinstance(hint, str) and _language_code(hint) in ("en", "nl"):
        return _language_code(hint)
    return detect_language(text)


def build_document(
    name: str,
    text: str,
    raw_turns: list[RawTurn],
    *,
    source_format: str,
    sha256: str,
    interviewer_labels: Iterable[str] = (),
    language: str | None = None,
    language_hint: object = None,
    guess_roles: bool = False,
    metadata: Mapping[str, object] | None = None,
    timed: Sequence[TimedSpan] = (),
) -> ParsedDocument:
    """Assign roles, split turn bodies into sentences and assemble the document.

    ``timed`` (sorted by offset) gives segments and turns their times; spans
    with a ``probability`` are words, kept on the segments they fall in.

    With ``guess_roles`` (WebVTT, SubRip, Whisper JSON) and no ``interviewer_labels``, the
    two-speaker heuristic of :func:`~chimeqda.ingest.speakers.guess_interviewer`
    picks the interviewer when no speaker has a known interviewer label.
    """
    lang = resolve_language(language, text, language_hint)
    keys = interviewer_keys(interviewer_labels)
    roles = {turn.speaker: role_for(turn.speaker, keys) for turn in raw_turns if turn.role is None}
    if guess_roles and not keys and "interviewer" not in roles.values():
        guessed = guess_interviewer(raw_turns, text)
        if guessed is not None:
            roles[guessed] = "interviewer"
    timing = _Timing(timed)
    turns: list[Turn] = []
    segments: list[Segment] = []
    spans: list[tuple[int, int]] = []
    for raw in raw_turns:
        role = raw.role if raw.role is not None else roles[raw.speaker]
        index = len(turns)
        turn_start, turn_end = timing.between(raw.body_start, raw.end)
        time = raw.time if raw.time is not None else turn_start
        turns.append(Turn(index, raw.start, max(raw.end, raw.start), raw.speaker, role, time, turn_end))
        spans.clear()
        if raw.end > raw.body_start:
            sentences_in(text, raw.body_start, raw.end, spans)
        for start, end in spans:
            time_start, time_end = timing.between(start, end)
            segments.append(
                Segment(
                    text=text[start:end],
                    start=start,
                    end=end,
                    index=len(segments),
                    turn=index,
                    speaker=raw.speaker,
                    role=role,
                    lang=lang,
                    time_start=time_start,
                    time_end=time_end,
                    words=timing.words(start, end),
                )
            )
    return ParsedDocument(
        name=name,
        text=text,
        language=lang,
        turns=tuple(turns),
        segments=tuple(segments),
        source_format=source_format,
        sha256=sha256,
        metadata=dict(metadata or {}),
    )


class _Timing:
    """Times of stretches of text, from timed spans sorted by offset."""

    def __init__(self, spans: Sequence[TimedSpan]) -> None:
        self.spans = list(spans)
        self.ends = [span.end for span in self.spans]
        self.has_words = any(span.probability is not None for span in self.spans)

    def _overlapping(self, start: int, end: int) -> list[TimedSpan]:
        found = []
        for span in self.spans[bisect.bisect_right(self.ends, start) :]:
            if span.start >= end:
                break
            found.append(span)
        return found

    def between(self, start: int, end: int) -> tuple[float | None, float | None]:
        """Start and end time of text ``[start, end)``, interpolated inside a span; None if untimed."""
        spans = self._overlapping(start, end)
        if not spans:
            return None, None
        first, last = spans[0], spans[-1]
        return _at(first, max(start, first.start)), _at(last, min(end, last.end))

    def words(self, start: int, end: int) -> tuple[tuple[int, int, float], ...] | None:
        if not self.has_words:
            return None
        return tuple(
            (span.start, span.end, round(span.probability, 4))
            for span in self._overlapping(start, end)
            if span.probability is not None and start <= span.start and span.end <= end
        )


def _at(span: TimedSpan, position: int) -> float:
    """The time at ``position`` of a span, by its share of the span's characters."""
    if span.end <= span.start:
        return span.time_start
    share = (position - span.start) / (span.end - span.start)
    return round(span.time_start + share * (span.time_end - span.time_start), 3)


def parse_transcript_text(
    text: str,
    name: str,
    *,
    interviewer_labels: Iterable[str] = (),
    language: str | None = None,
    source_format: str = "txt",
    sha256: str = "",
    heading_lines: Collection[int] = (),
) -> ParsedDocument:
    """Parse a plain-text transcript (the core of the txt, md, docx and odt readers).

    ``text`` is normalised first (see :func:`~chimeqda.ingest.normalise.normalise_text`);
    turns come from speaker labels (:func:`~chimeqda.ingest.speakers.find_text_turns`),
    segments are the sentences of each turn's utterance. ``heading_lines``
    numbers (from 0) the lines that are headings in the source (Word and
    OpenDocument); they are turns with role ``other``. ``sha256`` defaults to
    the hash of ``text`` as UTF-8. Empty text gives a document without turns.
    """
    if not sha256:
        sha256 = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    clean = normalise_text(text)
    raw_turns = find_text_turns(
        clean, markdown=source_format == "md", heading_lines=heading_lines
    )
    return build_document(
        name,
        clean,
        raw_turns,
        source_format=source_format,
        sha256=sha256,
        interviewer_labels=interviewer_labels,
        language=language,
    )
