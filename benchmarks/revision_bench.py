"""Benchmark: a new document version of a long, heavily coded transcript (``revise_document``).

A synthetic 300,000-character transcript (two speakers, one of them a name
that appears in speaker labels and in the text), 2,000 accepted codings and
2,000 machine suggestions half of them decided, then every occurrence of the
name replaced by a pseudonym: the time of the one transaction that makes the
new version and carries everything over, on SQLite (and PostgreSQL with
``--pg URL``). Also the time to open the key file (scrypt). Rewrites its
section of ``docs/benchmarks.md``. Not a test.

    .venv/bin/python benchmarks/revision_bench.py [--pg postgresql://…]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from chimeqda.privacy.keyfile import create_key, open_key  # noqa: E402
from chimeqda.services import import_files, init_project  # noqa: E402
from chimeqda.services.project import coder_row, human  # noqa: E402
from chimeqda.services.revisions import revise_document  # noqa: E402
from chimeqda.store import tables as t  # noqa: E402

START, END = "<!-- revision-bench:start -->", "<!-- revision-bench:end -->"
SENTENCES = [
    "I went to a meeting with Mieke and felt at home.",
    "Some days were hard, but the group kept me going.",
    "Mieke called me every morning that first year.",
    "I started to believe I could have a good life again.",
    "My sponsor said keep coming back, so I did.",
]


def transcript(characters: int) -> str:
    rng = random.Random(7)
    lines, size = [], 0
    while size < characters:
        speaker = rng.choice(["Interviewer", "Mieke"])
        line = f"{speaker}: " + " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 6)))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


def build(url: str, folder: Path, codings: int) -> tuple[object, int, int]:
    ws = init_project(folder / "project", name="bench", db=url)
    source = folder / "long.txt"
    source.write_text(transcript(300_000), encoding="utf-8")
    (outcome,) = import_files(ws, [source], interviewer_labels=["Interviewer"])
    rng = random.Random(11)
    with ws.session() as session:
        segments = session.execute(select(t.Segment.id, t.Segment.start, t.Segment.end)
                                   .where(t.Segment.document_id == outcome.document_id)).all()
        code_ids = list(session.scalars(select(t.Code.id)))
        ann = coder_row(session, human("ann")).id
        machine = coder_row(session, human("machine-stand-in")).id
        for _ in range(codings):
            sid, a, b = rng.choice(segments)
            session.add(t.CodingEvent(project_id=ws.project_id, document_id=outcome.document_id, segment_id=sid,
                                      start=a, end=b, code_id=rng.choice(code_ids), coder_id=ann, action="accepted"))
        suggested = []
        for _ in range(codings):
            sid, a, b = rng.choice(segments)
            row = t.CodingEvent(project_id=ws.project_id, document_id=outcome.document_id, segment_id=sid,
                                start=a, end=b, code_id=rng.choice(code_ids), coder_id=machine, action="suggested",
                                score=0.7, evidence="bench")
            session.add(row)
            suggested.append(row)
        session.flush()
        for row in suggested[: codings // 2]:
            session.add(t.CodingEvent(project_id=ws.project_id, document_id=outcome.document_id,
                                      segment_id=row.segment_id, start=row.start, end=row.end, code_id=row.code_id,
                                      coder_id=ann, action=rng.choice(["accepted", "rejected"]), decides_id=row.id))
        doc = session.get(t.Document, outcome.document_id)
        edits = [(m.start(), m.end(), "[Person 1]") for m in re.finditer("Mieke", doc.text)]
    return ws, outcome.document_id, edits


def measure(url: str, codings: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        ws, doc_id, edits = build(url, Path(tmp), codings)
        started = time.perf_counter()
        revision = revise_document(ws, doc_id, edits, reason="pseudonymisation", user="bench",
                                   speakers={"Mieke": "[Person 1]"})
        seconds = time.perf_counter() - started
        with ws.session() as session:
            events = session.scalar(text("SELECT count(*) FROM coding_events WHERE document_id = :d"),
                                    {"d": revision.document_id})
        ws.engine.dispose()
    return {"seconds": seconds, "edits": len(edits), "events": events, "segments": revision.segments}


def key_open_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "k.key"
        create_key(path, "benchmark passphrase", "bench")
        times = []
        for _ in range(5):
            started = time.perf_counter()
            open_key(path, "benchmark passphrase", "bench")
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def pg_database(base: str):
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"chimeqda_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return admin, name, url.set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="PostgreSQL URL of a throwaway cluster (scripts/postgres.sh start DIR)")
    parser.add_argument("--codings", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", args.codings)
        rows.append(("SQLite", result))
    if args.pg:
        admin, name, url = pg_database(args.pg)
        try:
            rows.append(("PostgreSQL", measure(url, args.codings)))
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    key = key_open_seconds()
    lines = [
        START,
        "## Document revisions and pseudonymisation",
        "",
        "`benchmarks/revision_bench.py" + (" --pg URL" if args.pg else "") + "`: a synthetic 300,000-character "
        f"transcript with {args.codings:,} accepted codings and {args.codings:,} suggestions (half of them decided); "
        "every occurrence of a name (text and speaker labels) replaced by a pseudonym in one new version.",
        "",
        "| database | edits | coding events carried over | segments | new version, one transaction |",
        "|---|---|---|---|---|",
    ]
    for database, r in rows:
        lines.append(f"| {database} | {r['edits']:,} | {r['events']:,} | {r['segments']:,} | {r['seconds']:.2f} s |")
    lines += ["", f"Opening the key file (scrypt N=2^15, r=8): {key * 1000:.0f} ms (median of 5).", END]
    section = "\n".join(lines)
    target = ROOT / "docs" / "benchmarks.md"
    current = target.read_text("utf-8")
    if START in current:
        current = current[: current.index(START)] + section + current[current.index(END) + len(END):]
    else:
        current = current.rstrip("\n") + "\n\n" + section + "\n"
    target.write_text(current, encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()
