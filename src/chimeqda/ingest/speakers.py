"""Speaker turns: label detection in plain text and role assignment.

A turn starts at a line that begins with a speaker label and a colon
(``I:``, ``Interviewer:``, ``P03:``, ``Dr. Peeters:``, ``**R:**``), optionally
after a timestamp (``[00:01:02]``, ``00:01:02``, ``(01:02)``); a tab may take
the place of the colon (tables and tab-separated exports). Lines without a
label continue the current turn.

Which ``Word:`` lines are speaker labels (:func:`accepted_labels`):

- a known role label (``I``, ``R``, ``Interviewer``, ``Respondent``,
  ``Deelnemer``, ``P``/``Speaker`` with a number ...) always is;
- any other label-shaped word (a code like ``P03`` or one to three
  capitalised words like ``Partner``, ``Dr. Peeters``) is when it starts at
  least two lines;
- a label that starts only one line (a partner or nurse who speaks once) is
  a speaker too when the transcript around it is clearly labelled: it comes
  after the first accepted label, is written in the same form as the
  accepted labels (with or without a timestamp, bold markup, colon or tab),
  is followed by text that does not start with a digit (and starts with a
  capital when the other turns do), and is not a word that introduces notes
  or metadata (``Note``, ``Time``, ``Date``, ``Location``, ``Opmerking``,
  ``Datum`` ... see ``_NOT_SPEAKERS``) or an interjection (``Yes``, ``So``).

So ``Note: the recorder stopped`` and ``Time: 10:32`` stay part of the
turn they are in, and anything before the first accepted label (a header
with ``Date: 12 May 2024``) is a turn with role ``other``. Headings
(markdown ``#`` lines, Word and OpenDocument heading paragraphs) are turns
with role ``other`` unless they start with an accepted label; a heading never
makes a label count.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
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


# Words that introduce notes, metadata or a list item rather than a speaker
# (compared case-folded, without a trailing dot): a label that starts only one
# line is never one of these. English and Dutch.
_NOT_SPEAKERS = frozenset(
    """
    note notes nb n.b ps p.s comment comments remark remarks observation observations
    memo edit update todo tip warning example answer question questions
    time date day place location setting venue duration length start end
    subject topic theme title heading section part chapter page appendix summary context
    transcript transcription transcriber translation translator interview recording
    audio video file source language project study code codes version status
    age gender sex occupation job education diagnosis background introduction
    aim purpose goal method methods result results conclusion total keywords tags
    pause break silence inaudible unclear crosstalk laughter laughs
    yes no ok okay well so and but or then also because yeah right sure
    honestly basically actually anyway first second third finally
    notitie opmerking opmerkingen noot nota datum tijd tijdstip dag plaats
    locatie duur lengte begin einde onderwerp thema titel kop deel hoofdstuk
    samenvatting transcriptie transcribent vertaling opname bestand bron taal
    leeftijd geslacht beroep opleiding diagnose achtergrond inleiding doel
    methode resultaat conclusie vraag antwoord pauze stilte onverstaanbaar
    ja nee nou dus en maar of dan ook want oké eerlijk eigenlijk eerst tweede derde
    """.split()
) | {"let op"}


@dataclass
class LabelCandidate:
    """A line (or cue) that starts with a label-shaped ``Label:``.

    ``heading``: the line is a heading, which never makes a label count.
    """

    match: re.Match[str]
    heading: bool = False

    @property
    def label(self) -> str:
        return self.match.group("label").strip()

    @property
    def key(self) -> str:
        return label_key(self.match.group("label"))

    @property
    def body(self) -> str:
        return self.match.string[self.match.end() : self.match.endpos]

    def form(self) -> tuple[bool, bool, bool]:
        """How the label is written: with a timestamp, in bold, with a tab."""
        m = self.match
        timed = bool(m.group("ts") or m.group("ts2") or m.group("ts3"))
        after = m.end("ts2") if m.group("ts2") else m.end("label")
        tab = ":" not in m.string[after : m.start("ts3") if m.group("ts3") else m.end()]
        return timed, bool(m.group("b1")), tab


def _opening(body: str) -> str:
    """``"upper"``, ``"lower"`` or ``"digit"`` for the first letter or digit of
    ``body`` after any bracketed note (``[laughs]``); ``""`` if there is none."""
    body = re.sub(r"^(?:\s*(?:\[[^\]\n]{0,60}\]|\([^)\n]{0,60}\)))+", "", body)
    for char in body:
        if char.isdigit():
            return "digit"
        if char.isalpha():
            return "upper" if char.isupper() else "lower" if char.islower() else ""
    return ""


def accepted_labels(candidates: Sequence[LabelCandidate]) -> list[bool]:
    """Which candidates (in document order) start a speaker turn; see the module doc."""
    counts = Counter(c.key for c in candidates if not c.heading)
    repeated = [counts[c.key] >= 2 or is_known_label(c.key) for c in candidates]
    if not any(repeated):
        return repeated
    settled = [c for c, ok in zip(candidates, repeated, strict=True) if ok and not c.heading]
    forms = {c.form() for c in settled}
    openings = Counter(_opening(c.body) for c in settled)
    capitals = openings["upper"] > openings["lower"]
    result = list(repeated)
    first = repeated.index(True)
    for number, candidate in enumerate(candidates):
        if repeated[number] or number < first or candidate.heading or counts[candidate.key] != 1:
            continue
        opening = _opening(candidate.body)
        result[number] = (
            candidate.key not in _NOT_SPEAKERS
            and candidate.form() in forms
            and opening != "digit"
            and bool(candidate.body.strip())
            and (opening == "upper" or not capitals)
        )
    return result


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


def find_text_turns(
    text: str, *, markdown: bool = False, heading_lines: Collection[int] = ()
) -> list[RawTurn]:
    """Split plain text into turns by speaker labels.

    Labels are accepted as described in the module docstring
    (:func:`accepted_labels`), so that ``Note: ...`` in a header is not a
    speaker. Text before the first label is a turn with role ``other``; so are
    markdown headings when ``markdown`` and the lines numbered (from 0) in
    ``heading_lines`` (headings of Word and OpenDocument files), unless such a
    line starts with an accepted label. Without any label, each paragraph is a
    participant turn.
    """
    lines = list(_lines(text))
    headings = frozenset(heading_lines)
    candidates: dict[int, LabelCandidate] = {}
    for number, (line_start, line_end) in enumerate(lines):
        match = LABEL_RE.match(text, line_start, line_end)
        if match and is_label_shaped(match.group("label").strip()):
            candidates[line_start] = LabelCandidate(match, number in headings)
    verdicts = accepted_labels(list(candidates.values()))
    if not any(verdicts):
        return _paragraph_turns(text, lines, markdown, headings)
    accepted = {start for start, ok in zip(candidates, verdicts, strict=True) if ok}

    turns: list[RawTurn] = []
    current: RawTurn | None = None
    for number, (line_start, line_end) in enumerate(lines):
        heading = _heading_body(text, line_start, line_end, number, markdown, headings)
        candidate = candidates.get(line_start) if line_start in accepted else None
        content_end = _content_end(text, line_start, line_end)
        if candidate is not None:
            match = candidate.match
            begin = _content_start(text, line_start, line_end)
            current = RawTurn(
                start=begin,
                end=max(content_end, begin + 1),
                body_start=match.end(),
                speaker=match.group("label").strip(),
                time=parse_time(match.group("ts") or match.group("ts2") or match.group("ts3")),
            )
            turns.append(current)
        elif heading is not None and content_end > line_start:
            begin = _content_start(text, line_start, line_end)
            current = RawTurn(begin, content_end, max(heading, begin), None, "other")
            turns.append(current)
        elif content_end > line_start:
            if current is None:
                begin = _content_start(text, line_start, line_end)
                current = RawTurn(begin, content_end, begin, None, "other")
                turns.append(current)
            current.end = content_end
    return turns


def _heading_body(
    text: str, start: int, end: int, number: int, markdown: bool, headings: frozenset[int]
) -> int | None:
    """Where a heading line's words begin, or None if the line is no heading."""
    if number in headings:
        return start
    if markdown:
        match = _HEADING.match(text, start, end)
        if match:
            return match.end()
    return None


def _paragraph_turns(
    text: str, lines: list[tuple[int, int]], markdown: bool, headings: frozenset[int]
) -> list[RawTurn]:
    turns: list[RawTurn] = []
    current: RawTurn | None = None
    for number, (line_start, line_end) in enumerate(lines):
        content_end = _content_end(text, line_start, line_end)
        if content_end == line_start:
            current = None
            continue
        heading = _heading_body(text, line_start, line_end, number, markdown, headings)
        begin = _content_start(text, line_start, line_end)
        if heading is not None:
            turns.append(RawTurn(begin, content_end, max(heading, begin), None, "other"))
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
