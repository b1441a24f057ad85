"""Corpus import: JSONL/CSV/Parquet rows become documents, in chunks, resumably; bad rows are reported."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from corpora import corpus_rows, write_jsonl
from sqlalchemy import func, select

from chimeqda.cli import main
from chimeqda.errors import InvalidInput
from chimeqda.ingest.corpus import Columns
from chimeqda.services import import_files, init_project
from chimeqda.services.corpus import import_corpus
from chimeqda.store import tables as t

SRC = Path(__file__).resolve().parents[2] / "src"


def _documents(ws):
    with ws.session() as session:
        return {name: (lang, meta) for name, lang, meta in session.execute(
            select(t.Document.name, t.Document.language, t.Document.meta).where(t.Document.is_current.is_(True)))}


def _segments(ws, name):
    with ws.session() as session:
        return session.execute(
            select(t.Segment.index, t.Segment.turn, t.Segment.speaker, t.Segment.role, t.Segment.start, t.Segment.end,
                   t.Segment.text).join(t.Document).where(t.Document.name == name).order_by(t.Segment.index)).all()


def test_jsonl_rows_become_documents_segmented_like_a_text_import(workspace, tmp_path):
    text = "I found hope again. My sister helped me.\nInterviewer: How so?\nP: She called every day."
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "a1", "text": text, "forum": "peers", "year": 2020},
                                              {"id": "a2", "text": "Er is weer hoop.", "lang": "nl"}])
    result = import_corpus(workspace, path)
    assert (result.rows, result.imported, result.bad_count) == (2, 2, 0)
    docs = _documents(workspace)
    assert docs["a1"][1]["attributes"] == {"forum": "peers", "year": 2020}
    assert docs["a1"][1]["corpus"] == {"file": "c.jsonl", "row": 1}
    assert docs["a2"][0] == "nl"
    (tmp_path / "a1.txt").write_text(text, encoding="utf-8")
    import_files(workspace, [tmp_path / "a1.txt"])
    assert _segments(workspace, "a1") == _segments(workspace, "a1.txt")
    assert len(_segments(workspace, "a1")) == 4


def test_csv_and_parquet_with_chosen_columns(workspace, tmp_path):
    rows = corpus_rows(25)
    with (tmp_path / "c.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["post", "body", "lang", "year"])
        writer.writerows([[r["id"], r["text"], r["lang"], r["year"]] for r in rows])
    result = import_corpus(workspace, tmp_path / "c.csv", columns=Columns(id="post", text="body"), chunk_size=10)
    assert (result.imported, result.bad_count) == (25, 0)
    assert _documents(workspace)["post-00003"][1]["attributes"] == {"year": rows[3]["year"]}  # a number again

    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"id": [f"pq-{r['id']}" for r in rows], "text": [r["text"] for r in rows],
                      "score": [1.5] * len(rows)})
    pq.write_table(table, tmp_path / "c.parquet", row_group_size=7)
    result = import_corpus(workspace, tmp_path / "c.parquet", chunk_size=4)
    assert (result.imported, result.bad_count) == (25, 0)
    assert _documents(workspace)["pq-post-00000"][1]["attributes"] == {"score": 1.5}


def test_missing_column_is_refused_before_anything_is_written(workspace, tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "x", "text": "hope"}])
    (tmp_path / "c.csv").write_text("post,body\nx,hope\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no column 'text'.*--text-column") as info:
        import_corpus(workspace, tmp_path / "c.csv", columns=Columns(id="post"))
    assert "c.csv" in str(info.value)
    assert _documents(workspace) == {}
    assert import_corpus(workspace, path).imported == 1


def test_bad_rows_are_listed_and_the_good_rows_of_their_chunk_stored(workspace, tmp_path):
    path = tmp_path / "bad.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"id": "ok1", "text": "I have hope."}\n')
        handle.write(b'{"id": "empty", "text": ""}\n')
        handle.write(b'{"id": "broken", "text": \n')
        handle.write('{"id": "bytes", "text": "caf\u00e9 '.encode() + b'\xff"}\n')
        handle.write(b'{"id": "huge", "text": "' + b"a" * 10_500_000 + b'"}\n')
        handle.write(b'{"id": "ok1", "text": "another text with the same id"}\n')
        handle.write(b'{"text": "no id here"}\n')
        handle.write(b'{"id": "ok2", "text": "My friends support me."}\n')
    result = import_corpus(workspace, path, chunk_size=100)
    assert (result.rows, result.imported, result.bad_count) == (8, 2, 6)
    reasons = {bad.row: str(bad) for bad in result.bad}
    assert set(reasons) == {2, 3, 4, 5, 6, 7}
    assert "bad.jsonl, row 2 (id empty): the 'text' cell is empty" in reasons[2]
    assert "row 3: not valid JSON" in reasons[3]
    assert "row 4: not valid UTF-8" in reasons[4]
    assert "row 5: the line is over" in reasons[5] and "split it" in reasons[5]
    assert "row 6 (id ok1): the id appears twice (also in row 1)" in reasons[6]
    assert "row 7: the 'id' cell is empty" in reasons[7]
    assert set(_documents(workspace)) == {"ok1", "ok2"}


def test_a_large_cell_in_csv_and_invalid_utf8_are_bad_rows(workspace, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,text\nr1,I have hope.\nr2," + b"b" * 10_500_000 + b"\nr3,caf\xe9 au lait\nr4,fine\n")
    result = import_corpus(workspace, path)
    assert result.imported == 2 and result.bad_count == 2
    assert "bad.csv, row 3: a cell is over 5 MB" in str(result.bad[0])
    assert "bad.csv, row 4 (id r3): the 'text' cell is not valid UTF-8" in str(result.bad[1])


def test_reimport_skips_stored_rows_and_versions_changed_ones(workspace, tmp_path):
    rows = corpus_rows(30)
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    assert import_corpus(workspace, path, chunk_size=7).imported == 30
    again = import_corpus(workspace, path, chunk_size=11)
    assert (again.imported, again.unchanged, again.new_versions, again.segments) == (0, 30, 0, 0)
    rows[4]["text"] = "A corrected text. It has hope."
    changed = import_corpus(workspace, write_jsonl(path, rows))
    assert (changed.unchanged, changed.new_versions) == (29, 1)
    with workspace.session() as session:
        versions = session.execute(select(t.Document.version, t.Document.is_current)
                                   .where(t.Document.name == "post-00004").order_by(t.Document.version)).all()
    assert versions == [(1, False), (2, True)]


def test_cli_imports_a_corpus_and_exits_3_on_bad_rows(tmp_path, db_url):
    init_project(tmp_path / "p", db=db_url)
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "text": "I have hope."}, {"id": "b"}])
    result = CliRunner().invoke(main, ["import", "-p", str(tmp_path / "p"), "--db", db_url, str(path)])
    assert result.exit_code == 3, result.output
    assert "1 imported" in result.output and "c.jsonl, row 2 (id b): the 'text' cell is empty" in result.output


def test_import_killed_midway_resumes_without_loss_or_duplicates(tmp_path, db_url):
    ws = init_project(tmp_path / "p", db=db_url)
    rows = corpus_rows(4000)
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from chimeqda.cli import main; main()", "import", "-p", str(tmp_path / "p"),
         "--db", db_url, "--chunk-size", "50", str(path)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    stored = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        with ws.session() as session:
            stored = session.scalar(select(func.count()).select_from(t.Document))
        if stored:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    with ws.session() as session:
        stored = session.scalar(select(func.count()).select_from(t.Document))
    assert 0 < stored < len(rows), "the import was not stopped midway"
    assert stored % 50 == 0  # whole chunks only
    result = import_corpus(ws, path, chunk_size=300)
    assert result.unchanged == stored and result.imported == len(rows) - stored and result.bad_count == 0
    reference = init_project(tmp_path / "ref", db=f"sqlite:///{tmp_path / 'ref.sqlite3'}")
    import_corpus(reference, path, chunk_size=1000)
    for ws_ in (ws, reference):
        with ws_.session() as session:
            names = session.scalars(select(t.Document.name)).all()
            assert len(names) == len(set(names)) == len(rows)
    def shape(ws_):
        with ws_.session() as session:
            return sorted(session.execute(
                select(t.Document.name, t.Segment.index, t.Segment.start, t.Segment.end, t.Segment.role)
                .join(t.Segment, t.Segment.document_id == t.Document.id)).all())
    assert shape(ws) == shape(reference)


def test_cli_reports_a_10_mb_row_by_default(tmp_path, db_url):
    init_project(tmp_path / "p", db=db_url)
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "big", "text": "a" * 10_100_000}) + "\n" + json.dumps({"id": "ok", "text": "Hope."})
                    + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "-p", str(tmp_path / "p"), "--db", db_url, str(path)])
    assert result.exit_code == 3 and "c.jsonl, row 1: the line is over" in result.output
    assert "1 imported" in result.output


def test_two_imports_of_one_corpus_at_once_store_each_row_once(tmp_path, db_url):
    ws = init_project(tmp_path / "p", db=db_url)
    path = write_jsonl(tmp_path / "c.jsonl", corpus_rows(3000))
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-c", "from chimeqda.cli import main; main()", "import", "-p", str(tmp_path / "p"),
               "--db", db_url, "--chunk-size", "100", str(path)]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]  # two terminals at once: each chunk is stored by one of them, the other skips it
    results = [run.communicate(timeout=600) for run in runs]
    for run, (_, err) in zip(runs, results):
        assert run.returncode == 0 and "Traceback" not in err, err
    imported = [int(out.split("rows; ", 1)[1].split(" imported")[0]) for out, _ in results]
    assert sum(imported) == 3000, [out for out, _ in results]
    with ws.session() as session:
        assert session.scalar(select(func.count()).select_from(t.Document)) == 3000
        assert session.scalar(select(func.count(func.distinct(t.Document.name)))
                              .where(t.Document.is_current.is_(True))) == 3000
