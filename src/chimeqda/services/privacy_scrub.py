"""Masking real values in superseded document versions, and leaving no old bytes in the database file.

Pseudonymisation makes a new version of a document; chimeqda never deletes the
old one (a version superseded by a re-import carries its own codings). So the
real values are *masked* there instead: every character of a confirmed value
becomes ``█`` — the same number of code points, so every offset (codings,
segments, turns, word timings, identifier proposals) stays valid and nothing is
deleted. ``scrub_superseded`` does this, inside the caller's transaction, for
every earlier version of the project's documents:

- ``documents.text`` (the confirmed spans of that version exactly, and every
  whole-word occurrence of a confirmed value), ``documents.meta`` (its strings);
- ``segments.text`` / ``segments.speaker`` and ``turns.speaker``;
- ``coding_events.evidence`` (plain or JSON, also ``\\u``-escaped), the memos on
  that version or its codings (title and text), ``segment_reviews.note``.

Names, places, organisations and contacts are masked wherever they occur in an
earlier version; dates and ages ("twenty", "one" recur with other meanings)
only in earlier versions of the document they were confirmed in. Afterwards
the real values live only in the key file. On SQLite the writes are made
with ``PRAGMA secure_delete=ON`` and ``compact_database`` then checkpoints the
write-ahead log and runs ``VACUUM``, so the old bytes stay neither in free
pages nor in the log; PostgreSQL keeps old row versions until ``VACUUM FULL``,
which a shared server's administrator runs (``compact_database`` says so).

``scan_project`` reads every text and JSON column of a project (any table with a
``project_id`` or ``document_id``, code names and definitions, the project's
own row) for ``privacy-check``; ``scan_files`` reads the raw database and its
backup copies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, String, Text, select, text
from sqlalchemy.orm import Session

from chimeqda.privacy.keyfile import normalise_value
from chimeqda.services.privacy_audit import record
from chimeqda.store import tables as t
from chimeqda.store.base import Base
from chimeqda.store.privacy import IdentifierProposal

MASK = "█"
MASKED_META = "privacy_masked"  # documents.meta key: when and how much of an earlier version was masked
CONFIRMED = ("confirmed", "added")
# Columns that never hold free text (hashes, ids, fixed vocabularies): not searched.
_NOT_TEXT = frozenset({"sha256", "value_hash", "password_hash", "csrf_token", "run_id", "action", "status", "role",
                       "source_format", "language", "kind", "target_type", "color", "params_hash"})
# Tables outside a project (web accounts, login sessions) or holding only hashes.
_SKIPPED_TABLES = frozenset({"pseudonyms", "users", "login_sessions", "login_failures", "coders", "alembic_version"})


@dataclass(frozen=True)
class ScrubResult:
    versions: int  # earlier versions changed
    characters: int  # characters masked in their texts
    fields: int  # other fields changed: segments, turns, evidence, memos, notes, meta


def value_pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive alternation of ``values`` (longest first); None without values."""
    cleaned = sorted({v.strip() for v in values if v and v.strip() and MASK not in v}, key=len, reverse=True)
    if not cleaned:
        return None
    return re.compile("|".join(rf"(?<!\w){re.escape(v)}(?!\w)" for v in cleaned), re.IGNORECASE)


def mask_text(value: str, pattern: re.Pattern[str] | None) -> str:
    """``value`` with every character of each match of ``pattern`` (but spaces) replaced by ``█``."""
    if pattern is None or not value:
        return value
    return pattern.sub(lambda m: _masked(m.group()), value)


def _masked(value: str) -> str:
    return "".join(c if c.isspace() else MASK for c in value)


def _mask_json(value: Any, pattern: re.Pattern[str] | None) -> Any:
    if isinstance(value, str):
        return mask_text(value, pattern)
    if isinstance(value, list):
        return [_mask_json(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _mask_json(v, pattern) for k, v in value.items()}
    return value


def mask_evidence(value: str, pattern: re.Pattern[str] | None) -> str:
    """Mask a coding's evidence: plain text, or JSON whose strings may be ``\\u``-escaped."""
    masked = mask_text(value, pattern)
    if pattern is None or not masked.lstrip().startswith(("{", "[")) or "\\u" not in masked:
        return masked
    try:
        data = json.loads(masked)
    except ValueError:
        return masked
    cleaned = _mask_json(data, pattern)
    return masked if cleaned == data else json.dumps(cleaned, ensure_ascii=False)


def _mask_label(value: str | None, pattern: re.Pattern[str] | None, exact: set[str]) -> str | None:
    """A speaker label: masked whole when it is a confirmed value, else word by word."""
    if not value:
        return value
    if normalise_value(value) in exact:
        return _masked(value)
    return mask_text(value, pattern)


def _span_values(session: Session, project_id: int) -> tuple[dict[int, list[tuple[int, int]]], dict[str, set[str]]]:
    """Confirmed spans per document version, and the confirmed values (still readable) per document name."""
    spans: dict[int, list[tuple[int, int]]] = {}
    by_name: dict[str, set[str]] = {}
    rows = session.execute(
        select(IdentifierProposal.document_id, IdentifierProposal.start, IdentifierProposal.end, t.Document.name,
               t.Document.text)
        .join(t.Document, t.Document.id == IdentifierProposal.document_id)
        .where(IdentifierProposal.project_id == project_id, IdentifierProposal.status.in_(CONFIRMED)))
    for document_id, start, end, name, doc_text in rows:
        spans.setdefault(document_id, []).append((start, end))
        value = doc_text[start:end].strip()
        if value and MASK not in value:
            by_name.setdefault(name, set()).add(value)
    return spans, by_name


def scrub_superseded(session: Session, project_id: int, values: Iterable[str], *, user: str,
                     trigger: str) -> ScrubResult:
    """Mask ``values`` (the project's confirmed names, places, organisations, contacts) and each version's
    confirmed spans in every earlier version of the project's documents; one audit entry per version changed.

    Runs inside the caller's transaction: an error leaves every version as it was.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))  # freed pages are zeroed, not left with the old bytes
    values = [v for v in values if v and v.strip()]
    spans, lineage = _span_values(session, project_id)
    exact_all = {normalise_value(v) for v in values}
    versions = characters = fields = 0
    old = session.scalars(select(t.Document).where(t.Document.project_id == project_id,
                                                   t.Document.is_current.is_(False)).order_by(t.Document.id)).all()
    for doc in old:
        own = lineage.get(doc.name, set())
        pattern = value_pattern([*values, *own])
        exact = exact_all | {normalise_value(v) for v in own}
        chars, changed = _scrub_version(session, doc, pattern, exact, spans.get(doc.id, []))
        if chars or changed:
            versions += 1
            characters += chars
            fields += changed
            meta = dict(doc.meta or {})
            meta[MASKED_META] = {"at": datetime.now(UTC).isoformat(timespec="seconds"),
                                 "characters": chars + int((meta.get(MASKED_META) or {}).get("characters", 0))}
            doc.meta = meta
            record(session, project_id, "masked", user=user, document=doc,
                   detail={"characters": chars, "fields": changed, "trigger": trigger})
    session.flush()
    return ScrubResult(versions, characters, fields)


def _scrub_version(session: Session, doc: t.Document, pattern: re.Pattern[str] | None, exact: set[str],
                   spans: list[tuple[int, int]]) -> tuple[int, int]:
    """Mask one earlier version; returns (characters masked in its text, other fields changed)."""
    old_text = doc.text
    chars = list(old_text)
    for start, end in spans:
        for i in range(max(0, start), min(end, len(chars))):
            if not chars[i].isspace():
                chars[i] = MASK
    new_text = mask_text("".join(chars), pattern)
    masked = sum(1 for a, b in zip(old_text, new_text, strict=True) if a != b)
    changed = 0
    if masked:
        doc.text = new_text
    meta = _mask_json(dict(doc.meta or {}), pattern)
    if meta != (doc.meta or {}):
        doc.meta = meta
        changed += 1
    changed += _mask_field(session.scalars(select(t.Turn).where(t.Turn.document_id == doc.id)), "speaker",
                           lambda speaker: _mask_label(speaker, pattern, exact))
    for segment in session.scalars(select(t.Segment).where(t.Segment.document_id == doc.id)):
        same = segment.text == old_text[segment.start:segment.end]
        new = new_text[segment.start:segment.end] if same else mask_text(segment.text, pattern)
        speaker = _mask_label(segment.speaker, pattern, exact)
        if (new, speaker) != (segment.text, segment.speaker):
            segment.text, segment.speaker = new, speaker
            changed += 1
    if pattern is None:
        return masked, changed
    changed += _mask_field(session.scalars(select(t.CodingEvent).where(
        t.CodingEvent.document_id == doc.id, t.CodingEvent.evidence != "")), "evidence",
        lambda evidence: mask_evidence(evidence, pattern))
    codings = select(t.CodingEvent.id).where(t.CodingEvent.document_id == doc.id).scalar_subquery()
    memos = session.scalars(select(t.Memo).where(
        t.Memo.project_id == doc.project_id,
        ((t.Memo.target_type == "document") & (t.Memo.target_id == doc.id))
        | ((t.Memo.target_type == "coding") & t.Memo.target_id.in_(codings))))
    for memo in memos:
        title, body = mask_text(memo.title or "", pattern), mask_text(memo.text or "", pattern)
        if (title, body) != (memo.title or "", memo.text or ""):
            memo.title, memo.text = title, body
            changed += 1
    changed += _mask_field(session.scalars(select(t.SegmentReview).where(
        t.SegmentReview.document_id == doc.id, t.SegmentReview.note != "")), "note",
        lambda note: mask_text(note, pattern))
    return masked, changed


def _mask_field(rows: Iterable[Any], name: str, mask: Callable[[Any], Any]) -> int:
    """Set each row's field ``name`` to ``mask`` of its value where that changes it; returns how many changed."""
    changed = 0
    for row in rows:
        value = getattr(row, name)
        new = mask(value)
        if new != value:
            setattr(row, name, new)
            changed += 1
    return changed


def compact_database(engine) -> str:
    """After masking has committed: leave no old bytes in the database file (SQLite) or say what to do (other)."""
    if engine.dialect.name != "sqlite":
        return ("PostgreSQL keeps the replaced row versions until they are vacuumed: ask the database's "
                "administrator to run VACUUM FULL documents, segments, turns, coding_events, memos, "
                "segment_reviews (old backups and WAL archives of the server keep them too)")
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.exec_driver_sql("VACUUM")
            busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
    except Exception as exc:  # noqa: BLE001 - the masking is committed; compaction can be repeated
        return (f"the database file could not be compacted now ({exc}); close other chimeqda programs using the "
                "project and run `chimeqda pseudonymise -p PROJECT --purge-originals` again")
    if busy and busy[0]:
        return ("the database file was compacted, but another program kept its write-ahead log open; close it and "
                "run `chimeqda pseudonymise -p PROJECT --purge-originals` again")
    return "the database file was compacted (VACUUM): no old bytes are left in free pages or the write-ahead log"


# ------------------------------------------------------------------ searching for values


@dataclass(frozen=True)
class Place:
    """A text field of the project: where it is, its text, and the earlier version it belongs to (if any)."""

    where: str
    text: str
    earlier: tuple[str, int] | None  # (document name, version) of a superseded version


def _text_columns(table) -> list:
    return [c for c in table.columns if isinstance(c.type, (String, Text, JSON)) and c.name not in _NOT_TEXT]


def scan_project(session: Session, project_id: int, *, skip_documents: AbstractSet[int] = frozenset()) -> Iterator[Place]:
    """Every text and JSON field of the project (``skip_documents``: versions whose rows are not wanted)."""
    docs = {row.id: row for row in session.execute(
        select(t.Document.id, t.Document.name, t.Document.version, t.Document.is_current)
        .where(t.Document.project_id == project_id))}
    codebooks = select(t.Codebook.id).where(t.Codebook.project_id == project_id).scalar_subquery()
    memo_codings = select(t.Memo.target_id).where(t.Memo.project_id == project_id, t.Memo.target_type == "coding")
    coding_document = {row[0]: row[1] for row in session.execute(
        select(t.CodingEvent.id, t.CodingEvent.document_id).where(t.CodingEvent.id.in_(memo_codings)))}
    for table in Base.metadata.sorted_tables:
        columns = _text_columns(table)
        if table.name in _SKIPPED_TABLES or not columns or "id" not in table.c:
            continue
        if table.name == "projects":
            where = table.c.id == project_id
        elif "project_id" in table.c:
            where = table.c.project_id == project_id
        elif "document_id" in table.c:
            where = table.c.document_id.in_(list(docs) or [-1])
        elif "codebook_id" in table.c:
            where = table.c.codebook_id.in_(codebooks)
        else:
            continue
        extra = [c for c in ("document_id", "target_type", "target_id") if c in table.c and c not in columns]
        query = select(table.c.id, *[table.c[c] for c in extra], *columns).where(where).execution_options(
            yield_per=2000)
        for row in session.execute(query):
            values = row._mapping
            document_id = values["id"] if table.name == "documents" else values.get("document_id")
            if table.name == "memos" and values.get("target_type") == "document":
                document_id = values.get("target_id")
            elif table.name == "memos" and values.get("target_type") == "coding":
                document_id = coding_document.get(values.get("target_id") or -1)
            if document_id in skip_documents:
                continue
            doc = docs.get(document_id) if document_id is not None else None
            earlier = (doc.name, doc.version) if doc is not None and not doc.is_current else None
            for column in columns:
                value = values[column.name]
                if value in (None, "", {}, []):
                    continue
                if table.name == "documents" and column.name == "name" and earlier is not None:
                    continue  # the name is the same in every version: read once, in the current one
                if table.name == "segments" and column.name == "text" and earlier is None:
                    continue  # a current version's sentences repeat its text, which is read already
                shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                label = f"{table.name}.{column.name} (row {values['id']})"
                if doc is not None:
                    label += f" of {doc.name} v{doc.version}" + (", an earlier version" if earlier else "")
                yield Place(label, shown, earlier)


def scan_files(paths: Iterable[Path], values: Iterable[str]) -> list[tuple[Path, int]]:
    """(file, how many of ``values`` its raw bytes contain, as UTF-8 in any letter case of ASCII) per file."""
    wanted = sorted({normalise_value(v).encode("utf-8") for v in values if v.strip()}, key=len, reverse=True)
    if not wanted:
        return []
    pattern = re.compile(b"|".join(re.escape(w) for w in wanted), re.IGNORECASE)
    found = []
    for path in paths:
        if not path.is_file():
            continue
        hits = {m.group().lower() for m in pattern.finditer(path.read_bytes())}
        if hits:
            found.append((path, len(hits)))
    return found


def database_files(engine, directory: Path | None) -> list[Path]:
    """The SQLite database file, its write-ahead log and the backup copies next to it (none for other databases)."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return []
    path = Path(engine.url.database)
    return [path, Path(f"{path}-wal"), *sorted(path.parent.glob(f"{path.name}.bak-*"))]

