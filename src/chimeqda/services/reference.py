"""A human-coded reference (CSV of file, code, quote) applied to a project.

Used by the demo to play the human reviewer: suggestions the reference
confirms are accepted, the others on reference-coded documents rejected, and
reference codings the machine missed are added as the reference coder's own.
Quotes are found in the document text with whitespace-tolerant matching.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from chimeqda.errors import InvalidInput
from chimeqda.services.coding import add_coding, decide, pending_suggestions
from chimeqda.services.project import Workspace, project_codebook
from chimeqda.store import tables as t


@dataclass(frozen=True)
class ReferenceCoding:
    file: str
    code: str
    quote: str
    row: int


@dataclass(frozen=True)
class ReferenceOutcome:
    accepted: int
    rejected: int
    added: int
    documents: int


def read_reference(path: Path) -> list[ReferenceCoding]:
    """Read ``file,code,quote`` rows (other columns ignored); errors name the row."""
    if not path.is_file():
        raise InvalidInput("no such reference file", source=str(path))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "code", "quote"} - set(reader.fieldnames or [])
        if missing:
            raise InvalidInput(f"missing column(s) {sorted(missing)}", source=path.name, location="row 1")
        return [
            ReferenceCoding(row["file"].strip(), row["code"].strip(), row["quote"].strip(), number)
            for number, row in enumerate(reader, start=2)
            if row.get("quote", "").strip()
        ]


def locate(text: str, quote: str) -> tuple[int, int] | None:
    """Code-point span of ``quote`` in ``text``, tolerant of whitespace differences."""
    at = text.find(quote)
    if at >= 0:
        return at, at + len(quote)
    pattern = r"\s+".join(re.escape(word) for word in quote.split())
    match = re.search(pattern, text)
    return (match.start(), match.end()) if match else None


def apply_reference(ws: Workspace, path: Path, *, reviewer: str = "reference") -> ReferenceOutcome:
    """Review the pending suggestions of reference-coded documents against the reference."""
    rows = read_reference(path)
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
        docs = {
            d.name: d
            for d in session.scalars(
                select(t.Document).where(t.Document.project_id == ws.project_id, t.Document.is_current.is_(True))
            )
        }
    spans: dict[str, list[tuple[int, int, str]]] = {}
    for ref in rows:
        doc = docs.get(ref.file)
        if doc is None:
            raise InvalidInput(f"file {ref.file!r} is not in the project", source=path.name, location=f"row {ref.row}")
        if ref.code not in book:
            raise InvalidInput(f"unknown code {ref.code!r}", source=path.name, location=f"row {ref.row}")
        span = locate(doc.text, ref.quote)
        if span is None:
            raise InvalidInput(
                f"the quote is not in {ref.file}: {ref.quote[:60]!r}", source=path.name, location=f"row {ref.row}"
            )
        spans.setdefault(ref.file, []).append((*span, ref.code))
    accept, reject = [], []
    covered: set[tuple[str, int, int, str]] = set()
    for suggestion in pending_suggestions(ws):
        if suggestion.document not in spans:
            continue
        root = book.root_of(suggestion.code)
        # the suggestion's segment is the unit judged, also when it names a quote inside it
        unit_start = suggestion.start if suggestion.segment_start is None else suggestion.segment_start
        unit_end = suggestion.end if suggestion.segment_end is None else suggestion.segment_end
        matches = [
            (s, e, c) for s, e, c in spans[suggestion.document]
            if s < unit_end and e > unit_start and book.root_of(c) == root
        ]
        if matches:
            accept.append(suggestion.event_id)
            # sub-code detail is always added below; only the top-level coding is covered
            covered.update((suggestion.document, s, e, c) for s, e, c in matches if book[c].parent is None)
        else:
            reject.append(suggestion.event_id)
    if accept:
        decide(ws, accept, "accepted", by=reviewer)
    if reject:
        decide(ws, reject, "rejected", by=reviewer)
    added = 0
    for name, items in spans.items():
        for start, end, code in items:
            if (name, start, end, code) not in covered:
                add_coding(ws, docs[name].id, start, end, code, by=reviewer)
                added += 1
    return ReferenceOutcome(len(accept), len(reject), added, len(spans))
