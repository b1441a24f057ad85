"""Text of .docx and .odt files, read from their XML with defusedxml.

Only the one member holding the text is unpacked, with a size cap against
zip bombs. Paragraphs become lines; a table row becomes one line with its
cells separated by tabs (so ``Interviewer | How are you?`` tables keep their
speaker labels).

Both readers also return the numbers of the lines that are headings: in Word,
paragraphs whose style is (or is based on) ``Title``, ``Subtitle`` or
``Heading 1``-``9`` or that have an outline level (``styles.xml`` gives the
style names; style ids such as ``Heading2`` are used when it is missing); in
OpenDocument, ``text:h`` elements. Speaker turns make these role ``other``.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Callable
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ..errors import ImportRejected
from .normalise import unify_line_breaks

_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_HEADING_STYLE = re.compile(r"(?:heading ?[1-9]|title|subtitle)")
_OUTLINE_LEVELS = frozenset("012345678")  # 9 is body text


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
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, zlib.error) as exc:
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
    except (LookupError, ValueError) as exc:  # <?xml encoding="…"?> names no known encoding
        reason = f"unreadable XML: {exc}"
    raise ImportRejected(f"not a valid {kind} ({member}: {reason})", source=source, location=member)


def docx_text(data: bytes, source: str, limit: int) -> tuple[str, frozenset[int], list[str]]:
    """The text of a Word document (paragraphs and table rows, one per line),
    the numbers of its heading lines and warnings (footnotes, endnotes and
    comments are not read: they are counted in a warning)."""
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
    heading_styles = _docx_heading_styles(data, source, limit, w)

    def paragraph(element: Element) -> str:
        parts: list[str] = []
        for node in element.iter():
            if node.tag == t:
                parts.append(node.text or "")
            elif node.tag in others:
                parts.append(others[node.tag])
        return "".join(parts)

    def is_heading(element: Element) -> bool:
        properties = element.find(w + "pPr")
        if properties is None:
            return False
        level = properties.find(w + "outlineLvl")
        if level is not None and level.get(w + "val") in _OUTLINE_LEVELS:
            return True
        style = properties.find(w + "pStyle")
        style_id = style.get(w + "val") if style is not None else None
        if not style_id:
            return False
        if heading_styles is None:  # no styles.xml: go by the id (Heading1, Title)
            return bool(_HEADING_STYLE.fullmatch(style_id.casefold()))
        return style_id in heading_styles

    body = root.find(w + "body")
    text, headings = _walk_lines(
        body if body is not None else root,
        {p},
        w + "tbl",
        w + "tr",
        w + "tc",
        paragraph,
        {w + "sectPr"},
        is_heading,
    )
    counts = {}
    for what, member in (("footnote", "word/footnotes.xml"), ("endnote", "word/endnotes.xml"),
                         ("comment", "word/comments.xml")):
        try:
            part = _parse(_unpack(data, member, source, kind, limit), member, source, kind)
        except ImportRejected:
            continue
        counts[what] = sum(1 for el in part.iter() if el.tag == w + what
                           and el.get(w + "type", "normal") == "normal")
    return text, headings, _notes_warning(counts)


def _notes_warning(counts: dict[str, int]) -> list[str]:
    found = [f"{n} {what}{'s' if n != 1 else ''}" for what, n in counts.items() if n]
    if not found:
        return []
    listed = ", ".join(found[:-1]) + (" and " if len(found) > 1 else "") + found[-1]
    return [f"the document's {listed} were not imported (only its body text is); if they are part of the "
            "transcript, move them into the text and import it again"]


def _docx_heading_styles(data: bytes, source: str, limit: int, w: str) -> frozenset[str] | None:
    """Ids of the paragraph styles that are headings (by name, outline level or
    base style); None when ``word/styles.xml`` is missing or unreadable."""
    member = "word/styles.xml"
    kind = "Word document"
    try:
        root = _parse(_unpack(data, member, source, kind, limit), member, source, kind)
    except ImportRejected:
        return None
    own: dict[str, bool] = {}
    based_on: dict[str, str] = {}
    for style in root.iter(w + "style"):
        style_id = style.get(w + "styleId")
        if style_id is None or style.get(w + "type", "paragraph") != "paragraph":
            continue
        name = style.find(w + "name")
        label = " ".join((name.get(w + "val", "") if name is not None else style_id).split())
        level = style.find(f"{w}pPr/{w}outlineLvl")
        own[style_id] = bool(
            _HEADING_STYLE.fullmatch(label.casefold())
            or (level is not None and level.get(w + "val") in _OUTLINE_LEVELS)
        )
        base = style.find(w + "basedOn")
        if base is not None and base.get(w + "val"):
            based_on[style_id] = base.get(w + "val", "")
    headings = set()
    for style_id in own:
        current: str | None = style_id
        for _ in range(20):  # base chains are short; a cycle must not hang
            if current is None or current not in own:
                break
            if own[current]:
                headings.add(style_id)
                break
            current = based_on.get(current)
    return frozenset(headings)


def odt_text(data: bytes, source: str, limit: int) -> tuple[str, frozenset[int], list[str]]:
    """The text of an OpenDocument text file (text:p and text:h, one per line),
    the numbers of its heading (text:h) lines and warnings (footnotes,
    endnotes and comments are not read: they are counted in a warning)."""
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
    text, headings = _walk_lines(
        body if body is not None else root,
        {_TEXT + "p", _TEXT + "h"},
        _TABLE + "table",
        _TABLE + "table-row",
        _TABLE + "table-cell",
        paragraph,
        skip | {_TEXT + "sequence-decls", _OFFICE + "forms"},
        lambda element: element.tag == _TEXT + "h",
    )
    notes = [el.get(_TEXT + "note-class", "footnote") for el in root.iter(_TEXT + "note")]
    counts = {"footnote": notes.count("footnote"), "endnote": notes.count("endnote"),
              "comment": sum(1 for _ in root.iter(_OFFICE + "annotation"))}
    return text, headings, _notes_warning(counts)


def _walk_lines(
    body: Element,
    paragraph_tags: set[str],
    table_tag: str,
    row_tag: str,
    cell_tag: str,
    paragraph: Callable[[Element], str],
    skip: set[str],
    is_heading: Callable[[Element], bool],
) -> tuple[str, frozenset[int]]:
    lines: list[str] = []
    headings: set[int] = set()
    line_count = 0

    def add(text: str, heading: bool) -> None:
        nonlocal line_count
        # Line ends made uniform here so that normalising the text later
        # keeps the line numbers of the headings.
        text = unify_line_breaks(text)
        count = text.count("\n") + 1
        if heading:
            headings.update(range(line_count, line_count + count))
        lines.append(text)
        line_count += count

    def walk(element: Element) -> None:
        for child in element:
            tag = child.tag
            if tag in paragraph_tags:
                add(paragraph(child), is_heading(child))
            elif tag == table_tag:
                for row in child.iter(row_tag):
                    cells = [
                        " ".join(
                            paragraph(p) for p in cell.iter() if p.tag in paragraph_tags
                        ).strip()
                        for cell in row
                        if cell.tag == cell_tag
                    ]
                    add("\t".join(cells), False)
            elif tag not in skip and isinstance(tag, str):
                walk(child)

    walk(body)
    return "\n".join(lines), frozenset(headings)
