"""The stored review queue is sorted and paged by the database: a page costs a page of memory.

A corpus of synthetic posts (written here) coded by the lexicon asking for two
distinct terms gives thousands of pending suggestions and flagged sentences.
The queue's order is checked against the rule recomputed in Python from the
raw rows (``coding_events`` and the open flags).
"""

from __future__ import annotations

import json
import random
import tracemalloc

import pytest
from sqlalchemy import select

from chimeqda.services import decide, run_coder
from chimeqda.services.active import queue_length, stored_queue
from chimeqda.services.corpus import import_corpus
from chimeqda.services.review import open_flags
from chimeqda.store import tables as t
from chimeqda.store.queries import pending_suggestion

SENTENCES = [
    "My friends at the group support me and I feel connected to them.",
    "I have hope for the future and I believe I can recover.",
    "My sponsor calls me every week.",
    "I was ashamed and hopeless, drinking every day.",
    "I volunteer at the shelter now, it gives my life purpose and meaning.",
    "The bus was late and the weather was grey.",
    "I decided to take responsibility for my own recovery.",
    "Ik heb weer hoop voor de toekomst.",
    "I relapsed after my father died and I felt so alone.",
    "The group gave me hope and my sister supports me.",
]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A project of 900 posts (about 2,700 sentences) with thousands of pending suggestions and open flags."""
    import os

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from chimeqda.services import init_project

    folder = tmp_path_factory.mktemp("queue")
    base = os.environ.get("CHIMEQDA_TEST_DATABASE_URL")
    if base:
        url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
        name = f"chimeqda_test_queue_{os.getpid()}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        db = url.set(database=name).render_as_string(hide_password=False)
    else:
        admin, db = None, f"sqlite:///{folder / 'queue.sqlite3'}"
    ws = init_project(folder / "project", name="Queue study", db=db)
    rng = random.Random(3)
    path = folder / "posts.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(900):
            body = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 4)))
            handle.write(json.dumps({"id": f"post-{i:04d}", "text": body}) + "\n")
    import_corpus(ws, path)
    run = run_coder(ws, "lexicon", params={"min_hits": 2})
    assert run.suggestions > 1500 and run.flagged > 100
    yield ws
    ws.engine.dispose()
    if admin is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _expected(ws) -> dict[int, float]:
    """Segment → expected value of a decision, recomputed from the raw rows in Python."""
    with ws.session() as session:
        rows = session.execute(
            select(t.CodingEvent.segment_id, t.CodingEvent.code_id, t.CodingEvent.score)
            .where(t.CodingEvent.project_id == ws.project_id, pending_suggestion())
        ).all()
    best: dict[tuple[int, int], float] = {}
    for segment, code, score in rows:
        p = 0.5 if score is None else float(score)
        best[(segment, code)] = max(p, best.get((segment, code), 0.0))
    value: dict[int, float] = {}
    for (segment, _), p in best.items():
        value[segment] = value.get(segment, 0.0) + 1.0 - p
    for flag in open_flags(ws):
        assert flag.segment_id not in value
        value[flag.segment_id] = sum(flag.scores.values())
    return value


def test_the_database_orders_the_queue_by_expected_value(big):
    expected = _expected(big)
    queue = stored_queue(big)
    assert len(queue) == queue_length(big) == len(expected) > 1500
    assert {item.segment_id: item.expected_value for item in queue} == pytest.approx(expected, abs=1e-9)
    assert any(item.flag_code for item in queue) and any(item.suggestions for item in queue)
    for before, after in zip(queue, queue[1:]):
        assert before.expected_value >= after.expected_value
        if before.expected_value == after.expected_value:
            assert (before.document_id, before.start) <= (after.document_id, after.start)
    with big.session() as session:
        scores = dict(session.execute(select(t.CodingEvent.id, t.CodingEvent.score)).all())
    for item in queue[:200]:  # each segment's pending suggestions, least sure first
        ps = [scores[i] for i in item.suggestions]
        assert ps == sorted(ps)


def test_pages_join_up_to_the_whole_queue(big):
    whole = [item.segment_id for item in stored_queue(big)]
    paged: list[int] = []
    for offset in range(0, len(whole), 700):
        paged += [item.segment_id for item in stored_queue(big, limit=700, offset=offset)]
    assert paged == whole
    assert stored_queue(big, limit=0) == [] and stored_queue(big, offset=len(whole)) == []
    document = stored_queue(big, limit=3)[0].document_id
    mine = stored_queue(big, document_id=document)
    assert mine and {item.document_id for item in mine} == {document}
    assert [i.segment_id for i in mine] == [i for i in whole if i in {m.segment_id for m in mine}]


def test_a_page_costs_a_page_of_memory(big):
    stored_queue(big, limit=50)  # warm: compiled statements, connections

    def peak(**kwargs) -> int:
        tracemalloc.start()
        try:
            stored_queue(big, **kwargs)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # What a call costs beyond a one-item page (statements, a session) grows with the page, not the queue.
    fixed = peak(limit=1)
    page, whole = peak(limit=50) - fixed, peak() - fixed
    assert page < 150_000 and whole > 10 * page, (fixed, page, whole)


def test_a_decision_takes_its_suggestion_out_of_that_persons_queue(big):
    queue = stored_queue(big, by="ann")
    position, top = next((k, item) for k, item in enumerate(queue) if item.suggestions)
    before = queue_length(big, by="ann")
    decide(big, list(top.suggestions), "rejected", by="ann")
    assert queue_length(big, by="ann") == before - 1
    assert top.segment_id not in {item.segment_id for item in stored_queue(big, limit=position + 50, by="ann")}
    # still pending for a colleague who has not decided it (the web decides per person)
    assert top.segment_id in {item.segment_id for item in stored_queue(big, limit=position + 1, by="bob")}
