"""Domain objects: plain, frozen dataclasses with no ORM and no I/O.

Coders, readers and statistics work on these, so they can be tested with a few
lines of setup. ``store/tables.py`` persists them; ``services.py`` converts.

Offsets are always Unicode code points into an immutable document text:
``document_text[segment.start:segment.end] == segment.text``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["interviewer", "participant", "other"]
ROLES: tuple[Role, ...] = ("interviewer", "participant", "other")

Status = Literal["suggested", "accepted", "rejected", "removed"]
"""What a coding event records. ``suggested`` is made by a machine coder;
``accepted``/``rejected`` are human decisions (on a suggestion, or an
``accepted`` coding made by hand); ``removed`` withdraws an accepted coding."""


@dataclass(frozen=True)
class Segment:
    """A sentence (or other unit) of a document, anchored by offsets.

    ``turn`` numbers the speaker turns of the document from 0; ``index``
    numbers segments from 0. ``context`` holds the text of neighbouring
    sentences of the same speaker turn (before, then after) when a caller
    provides it; coders may use it. ``key`` identifies the segment to the
    caller (a database id, a JSONL ``id``); coders pass it through.
    ``time_start``/``time_end`` are seconds into the recording (timed sources
    only); ``words`` holds a transcribed recording's words as
    ``(start, end, probability)`` with offsets into the document text.
    """

    text: str
    start: int = 0
    end: int = -1
    index: int = 0
    turn: int = 0
    speaker: str | None = None
    role: Role = "participant"
    lang: str | None = None
    context: tuple[str, ...] = ()
    key: object = None
    time_start: float | None = None
    time_end: float | None = None
    words: tuple[tuple[int, int, float], ...] | None = None

    def __post_init__(self) -> None:
        if self.end == -1:
            object.__setattr__(self, "end", self.start + len(self.text))


@dataclass(frozen=True)
class Turn:
    """One speaker turn: offsets of the whole turn's text in the document."""

    index: int
    start: int
    end: int
    speaker: str | None
    role: Role
    time: float | None = None  # seconds from the start of the recording, when known
    time_end: float | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """What a reader makes of one source file, before it is stored.

    ``text`` is the normalised document text (NFC, ``\\n`` line ends, no BOM);
    ``turns`` and ``segments`` point into it. ``warnings`` say what the reader
    kept but could not read as intended (text outside any cue, cues out of
    order), for the import to report.
    """

    name: str
    text: str
    language: str
    turns: tuple[Turn, ...]
    segments: tuple[Segment, ...]
    source_format: str
    sha256: str
    metadata: Mapping[str, object] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Example:
    """An example (or counter-example) sentence of a code, in one language."""

    text: str
    lang: str = "en"


@dataclass(frozen=True)
class Code:
    """One code of a codebook; ``parent`` is the id of its parent code or None.

    Text fields are in English; ``translations`` maps a language (``"nl"``) to
    the same fields (``name``, ``definition``, ``inclusion``, ``exclusion``).
    ``examples`` and ``counter_examples`` hold sentences in every language.
    """

    id: str
    name: str
    definition: str
    inclusion: str
    exclusion: str
    parent: str | None = None
    color: str | None = None
    examples: tuple[Example, ...] = ()
    counter_examples: tuple[Example, ...] = ()
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def text_in(self, field_name: str, lang: str = "en") -> str:
        """The value of ``field_name`` in ``lang``, falling back to English."""
        return self.translations.get(lang, {}).get(field_name) or getattr(self, field_name)


@dataclass(frozen=True)
class LabelledText:
    """A passage with known codes: training data for learning coders.

    ``labels`` are the codes that apply. When ``complete`` is true every other
    code is known not to apply (a fully labelled passage, as in the evaluation
    set); when false only ``rejected`` codes are known not to apply (a human
    rejected those suggestions) and the rest is unknown.
    """

    text: str
    labels: frozenset[str] = frozenset()
    lang: str = "en"
    complete: bool = True
    rejected: frozenset[str] = frozenset()
    context: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Codebook:
    """A named, versioned, hierarchical set of codes plus its example bank."""

    id: str
    name: str
    version: str
    codes: tuple[Code, ...]
    description: str = ""
    languages: tuple[str, ...] = ("en",)
    bank: tuple[LabelledText, ...] = ()
    research_question: str = ""
    """The question the codebook was made for; a new project starts with it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {code.id: code for code in self.codes})

    def __getitem__(self, code_id: str) -> Code:
        return self._by_id[code_id]  # type: ignore[attr-defined]

    def __contains__(self, code_id: object) -> bool:
        return code_id in self._by_id  # type: ignore[attr-defined]

    @property
    def top_level(self) -> tuple[Code, ...]:
        """The codes without a parent, in file order."""
        return tuple(code for code in self.codes if code.parent is None)

    def children(self, code_id: str) -> tuple[Code, ...]:
        return tuple(code for code in self.codes if code.parent == code_id)

    def root_of(self, code_id: str) -> str:
        """The id of the top-level ancestor of ``code_id`` (itself if top-level)."""
        code = self[code_id]
        while code.parent is not None:
            code = self[code.parent]
        return code.id

    def descendants(self, code_id: str) -> tuple[str, ...]:
        """Ids of every code below ``code_id``, depth first."""
        found: list[str] = []
        for child in self.children(code_id):
            found.append(child.id)
            found.extend(self.descendants(child.id))
        return tuple(found)


def span_within(start: int | None, end: int | None, text: str) -> tuple[int, int] | None:
    """``(start, end)`` when it is a non-empty part of ``text``, else None (the whole text)."""
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
        return start, end
    return None


@dataclass(frozen=True)
class Suggestion:
    """A machine coder's proposal that ``code_id`` applies to a segment.

    ``start``/``end``, when given, are code-point offsets into the segment's
    text of the words that show the code (an LLM's located quote); None means
    the whole segment. The segment stays the unit of review either way.
    """

    segment_key: object
    code_id: str
    score: float
    evidence: str = ""
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class CoderInfo:
    """Who or what made a coding: a person, or a machine coder with settings."""

    kind: Literal["human", "machine"]
    name: str
    version: str = ""
    params: Mapping[str, object] = field(default_factory=dict)
    training_size: int = 0
