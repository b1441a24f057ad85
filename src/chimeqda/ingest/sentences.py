"""Sentence segmentation and language detection for English and Dutch.

Rule based and linear in the length of the text: good enough for spoken
interview transcripts, where a line break always ends a sentence.
"""

from __future__ import annotations

import re

ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "mr. mrs. ms. dr. prof. st. jr. sr. e.g. i.e. etc. vs. a.m. p.m. approx. cf. "
        "fig. dept. govt. mt. no.".split()
    ),
    "nl": frozenset(
        "dhr. mevr. mw. dr. prof. bijv. bv. d.w.z. o.a. enz. ca. m.a.w. z.g.a.n. nl. "
        "e.d. evt. t.o.v. i.p.v. incl. excl. m.b.t. i.v.m. resp. zgn. jl. a.s. vs. etc.".split()
    ),
}
# Transcripts mix languages, so both lists apply whatever the language.
_ALL_ABBREVIATIONS = frozenset().union(*ABBREVIATIONS.values()) - {"no."}
# These may end a sentence: they split when a capital follows.
_MAY_END = frozenset({"etc.", "enz.", "e.d.", "a.s.", "jl."})

_ENDER = re.compile("(?<![.!?\u2026])[.!?\u2026]++[\"'\u201d\u2019\u00bb)\\]]*+(?=\\s|$)")
_OPENERS = "\"'(\u201c\u2018\u201e\u00ab[\u00bf\u00a1"

_WORD = re.compile(r"[^\W\d_]+")
_STOP = {
    "en": frozenset(
        "the and to of it that you my with for have this but not what they so just "
        "really because when about would like are be know think there were been "
        "your how did then which she her our".split()
    ),
    "nl": frozenset(
        "de het een en ik dat je niet van ze wat maar met voor op te die er ook heb "
        "heel mijn wel nog zijn naar dan als om hij bij toen echt gewoon weet "
        "hebben kan nu zo mee jij wordt werd hoe waar".split()
    ),
}


def split_sentences(text: str, lang: str = "en") -> list[tuple[int, int]]:
    """Return ``(start, end)`` code-point offsets of the sentences in ``text``.

    A sentence ends at ``.``, ``!``, ``?`` or ``…`` (plus closing quotes or
    brackets) followed by whitespace and anything but a lowercase letter, and
    at every line break. Abbreviations of English and Dutch (``Dr.``,
    ``e.g.``, ``bijv.``, ``d.w.z.``, ...), initials, list numbers, decimals and
    times (``3.5``, ``10.30``) do not end a sentence. A bracketed interjection
    right after the end (``[laughs]``) stays with the sentence before it.
    Spans are trimmed of whitespace; empty ones are left out. ``lang`` is
    accepted for future per-language rules.
    """
    spans: list[tuple[int, int]] = []
    sentences_in(text, 0, len(text), spans)
    return spans


def sentences_in(text: str, pos: int, endpos: int, spans: list[tuple[int, int]]) -> None:
    """Append the sentence spans of ``text[pos:endpos]`` to ``spans``."""
    line_start = pos
    while line_start <= endpos:
        newline = text.find("\n", line_start, endpos)
        line_end = endpos if newline == -1 else newline
        seg_start = line_start
        for match in _ENDER.finditer(text, line_start, line_end):
            if match.start() < seg_start:
                continue
            boundary = _boundary(text, match, line_start, line_end)
            if boundary is not None:
                _emit(text, seg_start, boundary, spans)
                seg_start = boundary
        _emit(text, seg_start, line_end, spans)
        if newline == -1:
            break
        line_start = newline + 1


def _emit(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))


def _boundary(text: str, match: re.Match[str], line_start: int, line_end: int) -> int | None:
    """Where the sentence ending at ``match`` ends, or None if it goes on."""
    end = match.end()
    nxt = end
    while nxt < line_end and text[nxt].isspace():
        nxt += 1
    if nxt >= line_end:
        return end
    char = text[nxt]
    punct = match.group()
    if punct[0] == "." and not punct.startswith(".."):
        token_start = match.start()
        while (
            token_start > line_start
            and not text[token_start - 1].isspace()
            and match.start() - token_start < 20
        ):
            token_start -= 1
        token = text[token_start : match.start()].lstrip(_OPENERS)
        abbreviation = token.lower() + "."
        if abbreviation in _ALL_ABBREVIATIONS and not (abbreviation in _MAY_END and char.isupper()):
            return None
        if len(token) == 1 and token.isupper() and token != "I" and char.isupper():
            return None  # an initial: J. Smith
        if token.isdigit() and not text[line_start:token_start].strip():
            return None  # a numbered list item: 1. First
    if char in "[(":
        close = text.find("]" if char == "[" else ")", nxt, min(line_end, nxt + 60))
        if close != -1:
            after = close + 1
            while after < line_end and text[after].isspace():
                after += 1
            if after >= line_end or not text[after].islower():
                return close + 1
            return None
    if char.islower():
        return None
    return end


def detect_language(text: str) -> str:
    """Guess ``"en"`` or ``"nl"`` from stop words in the first 100,000 characters.

    Returns ``"en"`` unless clearly more Dutch than English stop words occur.
    """
    counts = {"en": 0, "nl": 0}
    for word in _WORD.findall(text[:100_000].lower()):
        for lang, words in _STOP.items():
            if word in words:
                counts[lang] += 1
    return "nl" if counts["nl"] > counts["en"] and counts["nl"] >= 2 else "en"
