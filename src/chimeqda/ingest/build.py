"""Turn raw turns and document text into a :class:`ParsedDocument`."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping

from ..model import ParsedDocument, Segment, Turn
from .normalise import normalise_text
from .sentences import detect_language, sentences_in
from .speakers import RawTurn, find_text_turns, guess_interviewer, interviewer_keys, role_for

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
) -> ParsedDocument:
    """Assign roles, split turn bodies into sentences and assemble the document.

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
    turns: list[Turn] = []
    segments: list[Segment] = []
    spans: list[tuple[int, int]] = []
    for raw in raw_turns:
        role = raw.role if raw.role is not None else roles[raw.speaker]
        index = len(turns)
        turns.append(Turn(index, raw.start, max(raw.end, raw.start), raw.speaker, role, raw.time))
        spans.clear()
        if raw.end > raw.body_start:
            sentences_in(text, raw.body_start, raw.end, spans)
        for start, end in spans:
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
