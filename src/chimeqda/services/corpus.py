"""Importing a large corpus (one document per row) in chunks, resumably.

Rows are read in bounded memory (``ingest.corpus``) and stored a chunk at a
time, one transaction per chunk, with bulk inserts. Each row becomes a
document named by its id, segmented exactly as a ``.txt`` file with the same
text would be (``ingest.build.parse_transcript_text``); the other columns
go to ``documents.meta["attributes"]`` and the row's place to
``documents.meta["corpus"]``. Importing the same file again skips the rows
already stored (same id and same text hash), so an import that was stopped
resumes where it was; a row whose text changed becomes a new version of its
document, as a changed transcript does. Bad rows are reported (file, row,
what to fix) and never stored; the good rows of their chunk are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select, update

from chimeqda.ingest.build import parse_transcript_text
from chimeqda.ingest.corpus import (
    DEFAULT_COLUMNS,
    MAX_TEXT_BYTES,
    BadRow,
    Columns,
    CorpusReader,
    CorpusRow,
)
from chimeqda.services.project import Workspace
from chimeqda.store import tables as t

KEPT_BAD_ROWS = 1000
"""Bad rows listed one by one; beyond this only their number is kept."""


@dataclass
class CorpusImport:
    """What an import of one corpus file did."""

    file: str
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    new_versions: int = 0
    segments: int = 0
    bad_count: int = 0
    bad: list[BadRow] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.imported} imported", f"{self.unchanged} already stored"]
        if self.new_versions:
            parts.append(f"{self.new_versions} changed (new versions)")
        if self.bad_count:
            parts.append(f"{self.bad_count} bad row(s) not imported")
        return f"{self.file}: {self.rows} rows; " + ", ".join(parts) + f"; {self.segments} segments"


def import_corpus(
    ws: Workspace,
    path: Path | str,
    *,
    columns: Columns = DEFAULT_COLUMNS,
    language: str | None = None,
    chunk_size: int = 1000,
    max_text_bytes: int = MAX_TEXT_BYTES,
    progress: Callable[[str], None] | None = None,
) -> CorpusImport:
    """Import a ``.jsonl``/``.csv``/``.parquet`` corpus, one transaction per ``chunk_size`` rows.

    ``language`` overrides each row's language (else the ``lang`` column, else
    detection). Header problems (no id or text column) raise
    :class:`~chimeqda.errors.InvalidInput` before anything is written.
    """
    reader = CorpusReader(path, columns, max_text_bytes=max_text_bytes, chunk_size=chunk_size)
    result = CorpusImport(reader.path.name)
    source_format = reader.path.suffix.lower().lstrip(".")
    seen: dict[int, int] = {}  # id digest -> row: an id may appear once per file (about 100 bytes per row)
    for chunk in reader.chunks():
        good: list[CorpusRow] = []
        for item in chunk:
            result.rows += 1
            if isinstance(item, BadRow):
                _keep_bad(result, item)
                continue
            digest = int.from_bytes(hashlib.blake2b(item.id.encode("utf-8"), digest_size=8).digest(), "big")
            if digest in seen:
                _keep_bad(result, BadRow(result.file, item.row, f"the id appears twice (also in row {seen[digest]}); "
                                                                "give every row its own id", item.id))
            else:
                seen[digest] = item.row
                good.append(item)
        if good:
            _store_chunk(ws, good, result, source_format=source_format, language=language)
        if progress:
            progress(f"{result.file}: {reader.fraction:.0%} — {result.rows} rows read, {result.imported} imported, "
                     f"{result.unchanged} already stored, {result.bad_count} bad")
    return result


def _keep_bad(result: CorpusImport, bad: BadRow) -> None:
    result.bad_count += 1
    if len(result.bad) < KEPT_BAD_ROWS:
        result.bad.append(bad)


def text_hash(text: str) -> str:
    """The hash a document made from this text gets (as a ``.txt`` import computes it)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _store_chunk(ws: Workspace, rows: list[CorpusRow], result: CorpusImport, *, source_format: str,
                 language: str | None) -> None:
    hashes = {row.id: text_hash(row.text) for row in rows}
    with ws.session(lock=True) as session:  # two imports of one corpus at once: the second waits, then skips
        stored = {
            name: (doc_id, sha, version)
            for doc_id, name, sha, version in session.execute(
                select(t.Document.id, t.Document.name, t.Document.sha256, t.Document.version).where(
                    t.Document.project_id == ws.project_id, t.Document.is_current.is_(True),
                    t.Document.name.in_(list(hashes)))
            )
        }
        fresh = [row for row in rows if row.id not in stored or stored[row.id][1] != hashes[row.id]]
        result.unchanged += len(rows) - len(fresh)
        if not fresh:
            return
        replaced = [stored[row.id][0] for row in fresh if row.id in stored]
        if replaced:
            session.execute(update(t.Document).where(t.Document.id.in_(replaced)).values(is_current=False))
        parsed = [parse_transcript_text(row.text, row.id, language=language or row.lang,
                                        source_format=source_format, sha256=hashes[row.id]) for row in fresh]
        documents = [
            {"project_id": ws.project_id, "participant_id": None, "name": row.id,
             "version": stored[row.id][2] + 1 if row.id in stored else 1,
             "supersedes_id": stored[row.id][0] if row.id in stored else None, "is_current": True,
             "source_format": source_format, "sha256": doc.sha256, "language": doc.language, "text": doc.text,
             "meta": {"attributes": row.attributes, "corpus": {"file": result.file, "row": row.row}},
             "imported_at": t.utcnow()}
            for row, doc in zip(fresh, parsed)
        ]
        ids = session.scalars(
            insert(t.Document).returning(t.Document.id, sort_by_parameter_order=True), documents
        ).all()
        turns = [{"document_id": doc_id, "index": turn.index, "start": turn.start, "end": turn.end,
                  "speaker": turn.speaker, "role": turn.role, "time": turn.time}
                 for doc_id, doc in zip(ids, parsed) for turn in doc.turns]
        segments = [{"document_id": doc_id, "index": s.index, "turn": s.turn, "speaker": s.speaker,
                     "role": s.role, "start": s.start, "end": s.end, "text": s.text}
                    for doc_id, doc in zip(ids, parsed) for s in doc.segments]
        if turns:
            session.execute(insert(t.Turn), turns)
        if segments:
            session.execute(insert(t.Segment), segments)
    result.imported += len(fresh) - len(replaced)
    result.new_versions += len(replaced)
    result.segments += len(segments)
