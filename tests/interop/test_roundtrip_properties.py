"""Property: any text with any overlapping codings on nested codes survives export → import exactly."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from chimeqda.ingest.build import build_document
from chimeqda.ingest.speakers import find_text_turns
from chimeqda.interop import export_qdpx, import_exchange
from chimeqda.services import add_coding, init_project
from chimeqda.services.importing import store_document
from chimeqda.store import tables as t

# Text as chimeqda stores it: any code point but surrogates and control characters other than \n and \t.
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\n\t"), min_size=1,
               max_size=200)
NESTED_CODES = ["connectedness", "hope", "identity", "meaning", "empowerment"]


@st.composite
def documents(draw):
    docs = []
    for number in range(draw(st.integers(1, 2))):
        text = draw(TEXT)
        spans = draw(st.lists(
            st.tuples(st.integers(0, len(text) - 1), st.integers(1, len(text)), st.integers(0, 100)),
            max_size=6))
        docs.append((f"doc{number}.txt", text, [(min(a, b - 1), max(a + 1, b), c) for a, b, c in spans]))
    return docs


def _codings(ws):
    with ws.session() as session:
        rows = session.execute(
            select(t.Document.name, t.Document.text, t.CodingEvent.start, t.CodingEvent.end, t.Code.key)
            .join(t.Document, t.Document.id == t.CodingEvent.document_id)
            .join(t.Code, t.Code.id == t.CodingEvent.code_id)
            .where(t.CodingEvent.action == "accepted")
        ).all()
    return sorted((name, start, end, key, text[start:end]) for name, text, start, end, key in rows)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=documents())
def test_round_trip_keeps_text_and_offsets(docs):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ws = init_project(tmp / "a", name="a")
        with ws.session() as session:
            _, book_codes = None, [c for c in session.scalars(select(t.Code).order_by(t.Code.position))]
        nested = [c.key for c in book_codes if c.parent_key] + NESTED_CODES
        texts = {}
        for name, text, spans in docs:
            sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
            with ws.session() as session:
                doc_id = store_document(session, ws.project_id,
                                         build_document(name, text, find_text_turns(text), source_format="txt",
                                                        sha256=sha), None).document_id
            texts[name] = text
            for start, end, pick in spans:
                add_coding(ws, doc_id, start, end, nested[pick % len(nested)], by="ann")
        out = export_qdpx(ws, tmp / "a.qdpx")
        copy = init_project(tmp / "b", name="b")
        report = import_exchange(copy, out)
        assert report.skipped == []
        with copy.session() as session:
            assert {d.name: d.text for d in session.scalars(select(t.Document))} == texts
        assert _codings(copy) == _codings(ws)
