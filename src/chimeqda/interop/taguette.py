"""Read a Taguette project database (``.sqlite3``): the migration path for Taguette users.

Taguette stores each document as sanitised HTML and each highlight as a pair
of **UTF-8 byte** offsets into the document's text with the tags left out
(every text node of the parsed HTML, in order; see Taguette's
``extract.py``). chimeqda stores the same text, with a line break added
after each paragraph-like element so the transcript stays readable, and
converts every highlight to code-point offsets into it. Each highlight's
stored snippet is compared with the text at its converted offsets; any
difference is reported.

Tags become codes (flat, as in Taguette; their GUIDs are the ones Taguette
writes into its own ``.qdc`` export, so a codebook exported from Taguette and
its project match). Highlights carry no author in Taguette: they are
recorded as accepted by one person named after the project's Taguette
member. The database is opened read-only.
"""

from __future__ import annotations

import sqlite3
import uuid
from html.parser import HTMLParser
from pathlib import Path

from chimeqda.errors import ImportRejected
from chimeqda.interop.exchange import Exchange, XCode, XCoding, XNote, XSource
from chimeqda.interop.text import clean_with_map

TAGUETTE_NAMESPACE = uuid.UUID("51B2B2B7-27EB-4ECB-9D56-E75B0A0496C2")
"""The namespace Taguette uses for the code GUIDs of its ``.qdc`` export (uuid5 of the tag path)."""

_BLOCKS = {"p", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr", "dd", "dt",
           "caption", "div", "table", "ul", "ol", "dl"}
_SKIP = {"script", "style", "head", "title"}
_REQUIRED = {"projects", "documents", "highlights", "tags", "highlight_tags"}


class _Text(HTMLParser):
    """Taguette's text (``chars``) and chimeqda's readable text (``out``) with the map between them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chars: list[str] = []  # Taguette's characters
        self.out: list[str] = []  # chimeqda's characters
        self.where: list[int] = []  # for each Taguette character, its index in out
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self._break()

    def handle_startendtag(self, tag, attrs):
        if tag == "br":
            self._break()

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCKS:
            self._break()

    def _break(self) -> None:
        if self.out and self.out[-1] != "\n":
            self.out.append("\n")

    def handle_data(self, data):
        if self.skip:
            return
        for ch in data:
            self.chars.append(ch)
            self.where.append(len(self.out))
            self.out.append(ch)


def html_text(html: str) -> _Text:
    """Parse a Taguette document (its line ends normalised as an HTML5 parser does)."""
    parser = _Text()
    parser.feed(html.replace("\r\n", "\n").replace("\r", "\n"))
    parser.close()
    while parser.out and parser.out[-1] == "\n" and (not parser.where or parser.where[-1] < len(parser.out) - 1):
        parser.out.pop()
    return parser


def _byte_to_char(chars: list[str]) -> list[int]:
    """Cumulative UTF-8 byte offset of each character boundary."""
    bounds = [0]
    for ch in chars:
        bounds.append(bounds[-1] + len(ch.encode("utf-8", "surrogatepass")))
    return bounds


def _char_at(bounds: list[int], byte: int) -> int | None:
    """The character boundary at or after ``byte`` (Taguette rounds up inside a character)."""
    from bisect import bisect_left

    if byte < 0 or byte > bounds[-1]:
        return None
    return bisect_left(bounds, byte)


def _strip_tags(snippet: str) -> str:
    return "".join(html_text(snippet).chars)


def read_taguette(path: Path) -> Exchange:
    """Read a Taguette database into an :class:`Exchange` (nothing is stored)."""
    with path.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise ImportRejected("this is not an SQLite database (a Taguette project is exported as .sqlite3)",
                                 source=path.name)
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise ImportRejected(f"cannot open the database ({exc})", source=path.name) from None
    try:
        return _read(db, path.name)
    except sqlite3.DatabaseError as exc:
        raise ImportRejected(f"the database is damaged or not a Taguette project ({exc})", source=path.name) from None
    finally:
        db.close()


def _read(db: sqlite3.Connection, source: str) -> Exchange:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not _REQUIRED <= tables:
        raise ImportRejected(
            f"this database is not a Taguette project (missing tables: {', '.join(sorted(_REQUIRED - tables))})",
            source=source,
        )
    projects = db.execute("SELECT id, name, description FROM projects ORDER BY id").fetchall()
    if not projects:
        raise ImportRejected("the Taguette database holds no project", source=source)
    ex = Exchange(source=source, kind="project", origin="Taguette", name=projects[0][1])
    members = []
    if "project_members" in tables:
        members = [r[0] for r in db.execute("SELECT DISTINCT user_login FROM project_members ORDER BY user_login")]
    person = f"{members[0]} (Taguette)" if len(members) == 1 else "Taguette"
    ex.users["taguette"] = person
    ex.remarks.append(f"Taguette records no author for highlights; they are recorded as coded by {person!r}")
    several = len(projects) > 1
    seen_codes: dict[str, str] = {}
    for project_id, project_name, description in projects:
        prefix = f"{project_name}: " if several else ""
        if description and description.strip():
            ex.notes.append(XNote(guid=f"project-{project_id}", title=f"{project_name} (Taguette project description)",
                                  text=description.strip(), targets=[("project", "")]))
        tag_guid: dict[int, str] = {}
        for tag_id, tag_path, tag_description in db.execute(
            "SELECT id, path, description FROM tags WHERE project_id = ? ORDER BY path", (project_id,)
        ):
            guid = str(uuid.uuid5(TAGUETTE_NAMESPACE, tag_path))
            tag_guid[tag_id] = guid
            if guid not in seen_codes:
                seen_codes[guid] = tag_path
                ex.codes.append(XCode(guid=guid, name=tag_path, description=tag_description or ""))
        names: set[str] = set()
        for doc_id, name, doc_description, contents in db.execute(
            "SELECT id, name, description, contents FROM documents WHERE project_id = ? ORDER BY id", (project_id,)
        ):
            ex.sources.append(_document(db, ex, doc_id, prefix + (name or f"document {doc_id}"), contents or "",
                                        tag_guid, names))
            if doc_description and doc_description.strip():
                ex.notes.append(XNote(guid=f"document-{doc_id}", title="Taguette document description",
                                      text=doc_description.strip(), targets=[("source", f"document-{doc_id}")]))
    return ex


def _document(db, ex: Exchange, doc_id: int, name: str, contents: str, tag_guid: dict[int, str],
              names: set[str]) -> XSource:
    base, n = name, 2
    while name in names:
        name = f"{base} ({n})"
        n += 1
    names.add(name)
    parsed = html_text(contents)
    readable = "".join(parsed.out)
    text, to_clean = clean_with_map(readable)
    bounds = _byte_to_char(parsed.chars)
    src = XSource(guid=f"document-{doc_id}", name=name, text=text, fmt="taguette")
    tags_of: dict[int, list[int]] = {}
    for highlight_id, tag_id in db.execute(
        "SELECT ht.highlight_id, ht.tag_id FROM highlight_tags ht JOIN highlights h ON h.id = ht.highlight_id "
        "WHERE h.document_id = ?", (doc_id,)
    ):
        tags_of.setdefault(highlight_id, []).append(tag_id)
    mismatches = 0
    for highlight_id, start, end, snippet in db.execute(
        "SELECT id, start_offset, end_offset, snippet FROM highlights WHERE document_id = ? ORDER BY id", (doc_id,)
    ):
        a, b = _char_at(bounds, start), _char_at(bounds, end)
        if a is None or b is None or a >= b:
            ex.skipped.append(f"{name!r}: highlight {highlight_id} ({start}–{end} bytes) lies outside the text")
            continue
        if snippet is not None and _strip_tags(snippet) != "".join(parsed.chars[a:b]):
            mismatches += 1
        our_start = to_clean[parsed.where[a]]
        our_end = to_clean[parsed.where[b - 1] + 1]
        tags = tags_of.get(highlight_id, [])
        if not tags:
            ex.skipped.append(f"{name!r}: highlight {highlight_id} has no tag")
        for tag_id in tags:
            if tag_id in tag_guid:
                src.codings.append(XCoding(start=our_start, end=our_end, code=tag_guid[tag_id], user="taguette",
                                           selection=f"highlight-{highlight_id}"))
    if mismatches:
        ex.remarks.append(f"{name!r}: {mismatches} highlight snippet(s) differ from the text at their offsets "
                          "(the document's HTML is parsed differently); check them")
    return src
