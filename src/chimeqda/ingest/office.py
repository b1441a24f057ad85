"""Text of .docx and .odt files, read from their XML with defusedxml.

Only the one member holding the text is unpacked, with a size cap against
zip bombs. Paragraphs become lines; a table row becomes one line with its
cells separated by tabs (so ``Interviewer | How are you?`` tables keep their
speaker labels).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ..errors import ImportRejected

_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


def _unpack(data: bytes, member: str, source: str, kind: str, limit: int) -> bytes:
    """Read ``member`` from the zip in ``data``, refusing more than ``limit`` bytes."""
    if data.startswith(_OLE_MAGIC):
        raise ImportRejected(
            f"not a valid {kind} (this looks like an old binary .doc file or an "
            "encrypted document); save it as .docx or .odt without a password and import that",
            source=source,
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ImportRejected(
            f"not a valid {kind} (not a zip archive: {exc}); open it in a word "
            "processor and save it again",
            source=source,
        ) from None
    with archive:
        try:
            info = archive.getinfo(member)
        except KeyError:
            raise ImportRejected(
                f"not a valid {kind} ({member} is missing); open it in a word "
                "processor and save it again",
                source=source,
            ) from None
        too_big = ImportRejected(
            f"the {kind}'s text part {member} unpacks to more than {limit:,} bytes "
            "(a damaged file or a zip bomb); if the document is genuine, raise the "
            "limit with --max-size",
            source=source,
            location=member,
        )
        if info.file_size > limit:
            raise too_big
        chunks: list[bytes] = []
        total = 0
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(1 << 20):
                    total += len(chunk)
                    if total > limit:
                        raise too_big
                    chunks.append(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise ImportRejected(
                f"not a valid {kind} ({member} cannot be unpacked: {exc})", source=source
            ) from None
    return b"".join(chunks)


def _parse(xml: bytes, member: str, source: str, kind: str) -> Element:
    """Parse with DTDs, entities and external references forbidden."""
    try:
        return fromstring(xml, forbid_dtd=True)
    except DefusedXmlException:
        reason = "it declares a DTD or entities, which documents never need"
    except ParseError as exc:
        reason = f"damaged XML: {exc}"
    raise ImportRejected(f"not a valid {kind} ({member}: {reason})", source=source, location=member)


def docx_text(data: bytes, source: str, limit: int) -> str:
    """The text of a Word document: paragraphs and table rows, one per line."""
    kind = "Word document"
    member = "word/document.xml"
    root = _parse(_unpack(data, member, source, kind, limit), member, source, kind)
    w = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == _MC_FALLBACK:  # a copy of the mc:Choice content
                parent.remove(child)
    p, t = w + "p", w + "t"
    others = {w + "tab": "\t", w + "br": "\n", w + "cr": "\n", w + "noBreakHyphen": "-"}

    def paragraph(element: Element) -> str:
        parts: list[str] = []
        for node in element.iter():
            if node.tag == t:
                parts.append(node.text or "")
            elif node.tag in others:
                parts.append(others[node.tag])
        return "".join(parts)

    body = root.find(w + "body")
    return _walk_lines(
        body if body is not None else root,
        {p},
        w + "tbl",
        w + "tr",
        w + "tc",
        paragraph,
        {w + "sectPr"},
    )


def odt_text(data: bytes, source: str, limit: int) -> str:
    """The text of an OpenDocument text file: text:p and text:h, one per line."""
    kind = "OpenDocument text document"
    member = "content.xml"
    root = _parse(_unpack(data, member, source, kind, limit), member, source, kind)
    skip = {_TEXT + "note", _OFFICE + "annotation", _TEXT + "tracked-changes"}

    def collect(element: Element, parts: list[str]) -> None:
        if element.text:
            parts.append(element.text)
        for child in element:
            tag = child.tag
            if tag == _TEXT + "s":
                try:
                    count = int(child.get(_TEXT + "c", "1"))
                except ValueError:
                    count = 1
                parts.append(" " * max(1, min(count, 1000)))
            elif tag == _TEXT + "tab":
                parts.append("\t")
            elif tag == _TEXT + "line-break":
                parts.append("\n")
            elif tag not in skip:
                collect(child, parts)
            if child.tail:
                parts.append(child.tail)

    def paragraph(element: Element) -> str:
        parts: list[str] = []
        collect(element, parts)
        return "".join(parts)

    body = root.find(f"{_OFFICE}body/{_OFFICE}text")
    return _walk_lines(
        body if body is not None else root,
        {_TEXT + "p", _TEXT + "h"},
        _TABLE + "table",
        _TABLE + "table-row",
        _TABLE + "table-cell",
        paragraph,
        skip | {_TEXT + "sequence-decls", _OFFICE + "forms"},
    )


def _walk_lines(
    body: Element,
    paragraph_tags: set[str],
    table_tag: str,
    row_tag: str,
    cell_tag: str,
    paragraph: Callable[[Element], str],
    skip: set[str],
) -> str:
    lines: list[str] = []

    def walk(element: Element) -> None:
        for child in element:
            tag = child.tag
            if tag in paragraph_tags:
                lines.append(paragraph(child))
            elif tag == table_tag:
                for row in child.iter(row_tag):
                    cells = [
                        " ".join(
                            paragraph(p) for p in cell.iter() if p.tag in paragraph_tags
                        ).strip()
                        for cell in row
                        if cell.tag == cell_tag
                    ]
                    lines.append("\t".join(cells))
            elif tag not in skip and isinstance(tag, str):
                walk(child)

    walk(body)
    return "\n".join(lines)
