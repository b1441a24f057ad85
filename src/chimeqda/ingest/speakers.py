"""Speaker turns: label detection in plain text and role assignment.

A turn starts at a line that begins with a speaker label and a colon
(``I:``, ``Interviewer:``, ``P03:``, ``Dr. Peeters:``, ``**R:**``), optionally
after a timestamp (``[00:01:02]``, ``00:01:02``, ``(01:02)``); a tab may take
the place of the colon (tables and tab-separated exports). Lines without a
label continue the current turn.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ..model import Role

_TIME = r"\d{1,2}(?::\d{2}){1,2}(?:[.,]\d{1,3})?"
_BRACKETED = rf"(?:\[{_TIME}\]|\({_TIME}\))"
_STAMP = rf"(?:{_BRACKETED}|{_TIME})"
_WORDCHARS = r"[\w'\u2019.\-]"
# Possessive quantifiers keep matching linear even on lines of 1 MB of spaces.
LABEL_RE = re.compile(
    rf"[ \t]*+(?:(?P<ts>{_STAMP})[ \t]*+(?:[-\u2013][ \t]*+)?)?"
    r"(?P<b1>\*\*|__)?"
    rf"(?P<label>[^\W\d_]{_WORDCHARS}{{0,29}}+(?: {_WORDCHARS}{{1,29}}+){{0,4}}+)"
    rf"(?:[ \t]++(?P<ts2>{_STAMP}))?"
    r"[ \t]*+(?:\*\*|__)?"
    r"(?::(?:\*\*|__)?(?:[ \t]++|$)|(?<=\t))"
    rf"(?:(?P<ts3>{_BRACKETED})(?:[ \t]++|$))?"
)
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]+|$)")

_INTERVIEWER = re.compile(
    r"(?:i|q|int|interviewer|interviewster|onderzoeker|moderator|facilitator|researcher)"
    r"(?:[ _-]?\d{1,2})?"
)
_PARTICIPANT = re.compile(
    r"(?:r|a|p|resp|respondent|participant|deelnemer|geïnterviewde|geinterviewde|"
    r"interviewee|client|cliënt|patient|patiënt|speaker|spreker)(?:[ _-]?\d{1,3})?"
)
_CODE = re.compile(r"[A-Z][A-Za-z]*[ _-]?\d{1,3}")
_NAME_WORD = re.compile(r"[^\W\d_][^\W\d_'\u2019.\-]*(?:['\u2019\-][^\W\d_]+)*\.?")
_PARTICLES = frozenset("van de der den het ten ter te von la le da di du del 't".split())


@dataclass
class RawTurn:
    """A turn being built: ``body_start`` is where the utterance begins."""

    start: int
    end: int
    body_start: int
    speaker: str | None
    role: Role | None = None  # None: decide from the speaker
    time: float | None = None


def label_key(label: str) -> str:
    """How labels compare: NFC, case-folded, single spaces, no trailing dot."""
    label = unicodedata.normalize("NFC", label).casefold()
    return " ".join(label.split()).rstrip(".").strip()


def is_known_label(label: str) -> bool:
    key = label_key(label)
    return bool(_INTERVIEWER.fullmatch(key) or _PARTICIPANT.fullmatch(key))


def is_label_shaped(label: str) -> bool:
    """True for a known role label, a code (``P03``) or a short name."""
    if len(label) > 30 or not label:
        return False
    if is_known_label(label) or _CODE.fullmatch(label):
        return True
    words = label.split()
    if len(words) > 5:
        return False
    capitalised = 0
    for word in words:
        if word.casefold() in _PARTICLES:
            continue
        if not (word[0].isupper() and _NAME_WORD.fullmatch(word)):
            return False
        capitalised += 1
    return 1 <= capitalised <= 3


def parse_time(stamp: str | None) -> float | None:
    """Seconds in ``[01:02:03]``, ``00:01:02.5`` or ``(01:02)``; None if absent."""
    if not stamp:
        return None
    parts = stamp.strip("[]()").replace(",", ".").split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def role_for(speaker: str | None, interviewer_keys: frozenset[str]) -> Role:
    """``interviewer`` for a known or given interviewer label, else ``participant``."""
    if speaker is None:
        return "participant"
    key = label_key(speaker)
    if key in interviewer_keys or _INTERVIEWER.fullmatch(key):
        return "interviewer"
    return "participant"


def interviewer_keys(labels: Iterable[str]) -> frozenset[str]:
    if isinstance(labels, str):
        labels = [labels]
    return frozenset(label_key(label) for label in labels if label.strip())


def _lines(text: str) -> Iterable[tuple[int, int]]:
    start = 0
    size = len(text)
    while start <= size:
        newline = text.find("\n", start)
        if newline == -1:
            yield start, size
            return
        yield start, newline
        start = newline + 1


def _content_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _content_start(text: str, start: int, end: int) -> int:
    while start < end and text[start].isspace():
        start += 1
    return start


def find_text_turns(text: str, *, markdown: bool = False) -> list[RawTurn]:
    """Split plain text into turns by speaker labels.

    A label counts when it is a known role label (``I``, ``R``, ``Interviewer``,
    ``Deelnemer``, ``P03`` ...) or occurs as a label at least twice, so that
    ``Note: ...`` in a header is not a speaker. Text before the first label is
    a turn with role ``other``; so are markdown headings when ``markdown``.
    Without any label, each paragraph is a participant turn.
    """
    lines = list(_lines(text))
    candidates: dict[int, re.Match[str]] = {}
    counts: Counter[str] = Counter()
    for line_start, line_end in lines:
        match = LABEL_RE.match(text, line_start, line_end)
        if match and is_label_shaped(match.group("label").strip()):
            candidates[line_start] = match
            counts[label_key(match.group("label"))] += 1
    accepted = {key for key, n in counts.items() if n >= 2}
    accepted.update(key for key in counts if is_known_label(key))
    if not accepted:
        return _paragraph_turns(text, lines, markdown)

    turns: list[RawTurn] = []
    current: RawTurn | None = None
    for line_start, line_end in lines:
        heading = _HEADING.match(text, line_start, line_end) if markdown else None
        match = candidates.get(line_start)
        if match is not None and label_key(match.group("label")) not in accepted:
            match = None
        content_end = _content_end(text, line_start, line_end)
        if heading or match:
            begin = _content_start(text, line_start, line_end)
            if match:
                current = RawTurn(
                    start=begin,
                    end=max(content_end, begin + 1),
                    body_start=match.end(),
                    speaker=match.group("label").strip(),
                    time=parse_time(match.group("ts") or match.group("ts2") or match.group("ts3")),
                )
            else:
                assert heading is not None
                current = RawTurn(begin, content_end, heading.end(), None, "other")
            turns.append(current)
        elif content_end > line_start:
            if current is None:
                begin = _content_start(text, line_start, line_end)
                current = RawTurn(begin, content_end, begin, None, "other")
                turns.append(current)
            current.end = content_end
    return turns


def _paragraph_turns(text: str, lines: list[tuple[int, int]], markdown: bool) -> list[RawTurn]:
    turns: list[RawTurn] = []
    current: RawTurn | None = None
    for line_start, line_end in lines:
        content_end = _content_end(text, line_start, line_end)
        if content_end == line_start:
            current = None
            continue
        heading = _HEADING.match(text, line_start, line_end) if markdown else None
        begin = _content_start(text, line_start, line_end)
        if heading:
            turns.append(RawTurn(begin, content_end, heading.end(), None, "other"))
            current = None
        elif current is None:
            current = RawTurn(begin, content_end, begin, None, "participant")
            turns.append(current)
        else:
            current.end = content_end
    return turns


def guess_interviewer(turns: list[RawTurn], text: str) -> str | None:
    """The interviewer of a two-person recording, or None when unclear.

    With exactly two speakers, the one who speaks first is the interviewer
    if none of the other's turns end in ``?`` more often than theirs, and
    they ask at least one question.
    """
    speakers = [turn.speaker for turn in turns if turn.speaker is not None]
    if len(set(speakers)) != 2:
        return None
    questions: Counter[str] = Counter()
    for turn in turns:
        if turn.speaker is not None and text[turn.start : turn.end].rstrip().endswith("?"):
            questions[turn.speaker] += 1
    first = speakers[0]
    other = next(s for s in speakers if s != first)
    if questions[first] >= 1 and questions[first] >= questions[other]:
        return first
    return None
