"""Bytes to normalised document text: decoding, binary detection, cleaning.

The document text that offsets point into is made here, so it must be
stable: the same bytes always give the same text.
"""

from __future__ import annotations

import re
import unicodedata

from ..errors import ImportRejected

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# Bytes that never occur in text: C0 controls other than tab, LF, VT, FF, CR, ESC, SUB.
_CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_LEGACY_PREFERRED = ("cp1252", "iso8859_15", "latin_1")
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_SURROGATES = re.compile("[\ud800-\udfff]")

NOT_TEXT_ADVICE = (
    "if it is a transcript, open it in a word processor and save it as .docx, "
    "or as plain text (UTF-8)"
)


def rejected_binary(source: str, at: int) -> ImportRejected:
    """The error for a file that is not text."""
    return ImportRejected(
        f"this is not a text file (binary data at byte {at}); {NOT_TEXT_ADVICE}",
        source=source,
        location=f"byte {at}",
    )


def rejected_empty(source: str) -> ImportRejected:
    return ImportRejected(
        "the file is empty; check that the transcript was saved or exported with its text",
        source=source,
    )


def decode_bytes(data: bytes, source: str) -> tuple[str, str]:
    """Decode ``data`` and return ``(text, encoding)``.

    UTF-8 (with or without BOM), UTF-16/32 with a BOM, UTF-16 without BOM
    when every other byte is NUL and, when UTF-8 fails,
    legacy single-byte encodings guessed by charset-normalizer (Windows-1252
    preferred when it fits as well as the best guess). Raises
    :class:`ImportRejected` for empty or binary data.
    """
    if not data:
        raise rejected_empty(source)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise rejected_binary(source, len(bom) + exc.start) from None
    bomless = _bomless_utf16(data)
    if bomless:
        try:
            return data.decode(bomless), bomless
        except UnicodeDecodeError:
            pass
    nul = data.find(b"\x00")
    if nul != -1:
        raise rejected_binary(source, nul)
    sample = data[:65536]
    controls = _CONTROL_BYTE.findall(sample)
    if len(controls) * 10 > len(sample):
        match = _CONTROL_BYTE.search(sample)
        raise rejected_binary(source, match.start() if match else 0)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        bad_at = exc.start
    return _decode_legacy(data, source, bad_at)


def _bomless_utf16(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when every other byte of mostly-ASCII text is NUL."""
    sample = data[:4000]
    if len(sample) < 4 or len(data) % 2:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _decode_legacy(data: bytes, source: str, bad_at: int) -> tuple[str, str]:
    import charset_normalizer

    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        raise rejected_binary(source, bad_at)
    best = matches[0]
    for preferred in _LEGACY_PREFERRED:
        for match in matches:
            if match.encoding == preferred and match.chaos <= best.chaos + 0.1:
                return data.decode(preferred, errors="replace"), preferred
    return str(best), best.encoding


def unify_line_breaks(text: str) -> str:
    """Every line end (``\\r\\n``, ``\\r``, form feed, U+2028 ...) as ``\\n``."""
    return _LINE_BREAKS.sub("\n", text)


def normalise_text(text: str) -> str:
    """Strip a BOM, make line ends ``\\n``, replace control characters, NFC.

    Tabs and newlines are kept; other control characters become spaces and
    lone surrogates become U+FFFD. Form feeds and Unicode line separators
    become newlines.
    """
    text = text.lstrip("\ufeff")
    text = unify_line_breaks(text)
    text = _CONTROLS.sub(" ", text)
    text = _SURROGATES.sub("\ufffd", text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text
