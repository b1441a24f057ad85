"""Fixtures of the privacy tests: reading a stored document version, finding words in its text."""

from __future__ import annotations

import pytest

from chimeqda.store import tables as t


def span(text: str, words: str) -> tuple[int, int]:
    """Start and end offsets of the first occurrence of ``words`` in ``text``."""
    start = text.index(words)
    return start, start + len(words)


@pytest.fixture
def stored_document(workspace):
    """``stored_document(id)`` → that document version's row as stored (text, meta), read in a session of its own."""

    def read(document_id: int) -> t.Document:
        with workspace.session() as session:
            document = session.get(t.Document, document_id)
            assert document is not None, f"no document {document_id}"
            return document

    return read
