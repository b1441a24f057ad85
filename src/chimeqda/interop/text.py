"""Source texts from other tools, and their positions, converted to chimeqda's.

chimeqda stores text without BOM, with ``\\n`` line ends and control
characters as spaces, and counts positions in Unicode code points. Other
tools' texts may differ; :func:`decode_source` cleans a text and keeps a map
from every raw position to the cleaned one, and :func:`position_schemes`
picks how a file counted its positions.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

_CONTROLS = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass
class Decoded:
    """``raw``: the text as the file holds it (BOM removed); ``text``: as chimeqda stores it.

    ``to_clean[i]`` is the position in ``text`` of raw position ``i`` (for
    ``0 <= i <= len(raw)``). ``bad_byte``: where the first byte that is no
    character of the encoding was (it became U+FFFD), for the importer to say so.
    """

    raw: str
    text: str
    to_clean: list[int]
    had_bom: bool
    bad_byte: int | None = None  # the first byte that was no text and became U+FFFD


def decode_bytes(data: bytes) -> tuple[str, bool]:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    text, had_bom, _ = decode_checked(data)
    return text, had_bom


def decode_checked(data: bytes) -> tuple[str, bool, int | None]:
    """As :func:`decode_bytes`, and the position of the first byte that had to be replaced by U+FFFD (or None)."""
    if data.startswith(b"\xef\xbb\xbf"):
        encoding, body, bom = "utf-8", data[3:], True
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding, body, bom = "utf-16", data, True
    else:
        try:
            return data.decode("utf-8"), False, None
        except UnicodeDecodeError:
            encoding, body, bom = "cp1252", data, False
    try:
        return body.decode(encoding), bom, None
    except UnicodeDecodeError as exc:
        return body.decode(encoding, errors="replace"), bom, exc.start + len(data) - len(body)


def clean_with_map(raw: str) -> tuple[str, list[int]]:
    """``\\r\\n``/``\\r`` → ``\\n``, other line separators → ``\\n``, controls → space; with the position map."""
    out: list[str] = []
    to_clean: list[int] = []
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        to_clean.append(len(out))
        if ch == "\r":
            if i + 1 < n and raw[i + 1] == "\n":
                to_clean.append(len(out))
                i += 1
            out.append("\n")
        elif ch in "\x85\u2028\u2029\x0b\x0c":
            out.append("\n")
        elif _CONTROLS.match(ch):
            out.append(" ")
        elif _SURROGATES.match(ch):
            out.append("\ufffd")
        else:
            out.append(ch)
        i += 1
    to_clean.append(len(out))
    return "".join(out), to_clean


def decode_source(data: bytes) -> Decoded:
    raw, had_bom, bad_byte = decode_checked(data)
    if raw.startswith("\ufeff"):
        raw, had_bom = raw[1:], True
    text, to_clean = clean_with_map(raw)
    return Decoded(raw=raw, text=text, to_clean=to_clean, had_bom=had_bom, bad_byte=bad_byte)


@dataclass
class Scheme:
    """One way of counting positions; ``convert`` gives cleaned code-point positions or None."""

    name: str
    to_raw: Callable[[int], int | None]
    decoded: Decoded

    def convert(self, start: int, end: int) -> tuple[int, int] | None:
        a, b = self.to_raw(start), self.to_raw(end)
        if a is None or b is None or a > b:
            return None
        return self.decoded.to_clean[a], self.decoded.to_clean[b]


def _utf16_mapper(raw: str) -> Callable[[int], int | None]:
    bounds = [0]
    for ch in raw:
        bounds.append(bounds[-1] + (2 if ord(ch) > 0xFFFF else 1))

    def to_raw(pos: int) -> int | None:
        i = bisect_right(bounds, pos) - 1
        return i if 0 <= i < len(bounds) and bounds[i] == pos else None

    return to_raw


def _lf_mapper(raw: str) -> Callable[[int], int | None]:
    """Positions in the text with ``\\r\\n`` counted as one character."""
    starts = []  # raw index of each character of the LF-only text
    i = 0
    while i < len(raw):
        starts.append(i)
        i += 2 if raw[i] == "\r" and raw[i + 1 : i + 2] == "\n" else 1
    starts.append(len(raw))
    return lambda pos: starts[pos] if 0 <= pos < len(starts) else None


def position_schemes(decoded: Decoded, spans: list[tuple[int, int, str]]) -> Scheme:
    """The counting that fits the selections best; the standard (code points) unless evidence says otherwise.

    A counting is considered only when it differs for this text. It must
    keep every selection inside the text; among those, one wins over the
    standard only if selection names match the text they select strictly
    better (names are often, but not always, the selected text; an exact
    match counts twice, a prefix once).
    """
    raw = decoded.raw
    n = len(raw)
    standard = Scheme("code points", lambda p: p if 0 <= p <= n else None, decoded)
    candidates = [standard]
    if "\r\n" in raw:
        candidates.append(Scheme("characters with \\r\\n as one", _lf_mapper(raw), decoded))
    if any(ord(ch) > 0xFFFF for ch in raw):
        candidates.append(Scheme("UTF-16 code units", _utf16_mapper(raw), decoded))
    if decoded.had_bom:
        candidates.append(Scheme("characters including the BOM", lambda p: p - 1 if 1 <= p <= n + 1 else None, decoded))
    if len(candidates) == 1 or not spans:
        return standard

    def score(scheme: Scheme) -> tuple[int, int]:
        inside = matches = 0
        for start, end, name in spans:
            a, b = scheme.to_raw(start), scheme.to_raw(end)
            if a is None or b is None or a > b:
                continue
            inside += 1
            selected = raw[a:b].replace("\r\n", "\n").strip()
            label = name.replace("\r\n", "\n").strip()
            if label and selected == label:
                matches += 2
            elif label and selected and (selected.startswith(label) or label.startswith(selected)):
                matches += 1
        return inside, matches

    scores = {c.name: score(c) for c in candidates}
    best = standard
    for scheme in candidates[1:]:
        if scores[scheme.name][0] < len(spans):
            continue
        if scores[best.name][0] < len(spans) or scores[scheme.name][1] > scores[best.name][1]:
            best = scheme
    return best
