"""Exchanges with a real Taguette 1.5.2 installation (its own venv, made by scripts/setup-taguette.sh)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from chimeqda.codebook import load_codebook, write_codebook_csv
from chimeqda.interop import import_exchange
from chimeqda.store import tables as t

TAGUETTE_PYTHON = Path(__file__).resolve().parents[2] / ".venv-taguette" / "bin" / "python"
DRIVER = Path(__file__).parent / "taguette_driver.py"

pytestmark = pytest.mark.skipif(not TAGUETTE_PYTHON.exists(), reason="run scripts/setup-taguette.sh")

SPEC = {
    "project": "Recovery pilot",
    "description": "Pilot interviews coded in Taguette.",
    "tags": [{"path": "hope", "description": "Hope and optimism"}, {"path": "peer support", "description": ""},
             {"path": "identity.self", "description": "a sub-tag by naming convention"}],
    "documents": [
        {"name": "P01 interview", "description": "first interview",
         "html": "<html><head><title>x</title><style>p{}</style></head><body><h1>Interview P01</h1>\n"
                 "<p>I: How are things?</p>\n<p>R: Better &amp; brighter — I feel <b>hopeful</b> now 😀 and my "
                 "sister’s café visits help.</p><p>Ünïcödé line with&nbsp;space.</p>"
                 "<ul><li>item one</li><li>item two</li></ul></body></html>",
         "highlights": [{"text": "Better & brighter", "tags": ["hope"]},
                        {"text": "I feel hopeful now 😀 and", "tags": ["hope", "peer support"]},
                        {"text": "café visits help.Ünïcödé", "tags": ["peer support"]},
                        {"text": "item oneitem", "tags": ["identity.self"]},
                        {"text": "\u00a0space", "tags": ["hope"]}]},
        {"name": "P02 interview",
         "html": "<p>R: De groep helpt mij. Ik heb hoop.</p><p>R: De groep helpt mij echt.</p>",
         "highlights": [{"text": "De groep helpt mij", "occurrence": 2, "tags": ["peer support"]}]},
    ],
}


def _driver(*args: str) -> dict:
    result = subprocess.run([str(TAGUETTE_PYTHON), str(DRIVER), *args], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def taguette_project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("taguette")
    (folder / "spec.json").write_text(json.dumps(SPEC), encoding="utf-8")
    db = folder / "taguette.sqlite3"
    expected = _driver("project", str(folder / "spec.json"), str(db))
    return db, expected["highlights"]


def test_taguette_project_imports_with_every_highlight_at_the_right_characters(workspace, taguette_project):
    db, highlights = taguette_project
    report = import_exchange(workspace, db)
    assert report.skipped == [] and not any("differ" in r for r in report.remarks), report
    with workspace.session() as session:
        rows = session.execute(
            select(t.Document.name, t.Document.text, t.CodingEvent.start, t.CodingEvent.end, t.Code.name)
            .join(t.Document, t.Document.id == t.CodingEvent.document_id)
            .join(t.Code, t.Code.id == t.CodingEvent.code_id)
        ).all()
        texts = {d.name: d.text for d in session.scalars(select(t.Document))}
    got = sorted((name, text[start:end].replace("\n", ""), code) for name, text, start, end, code in rows)
    wanted = sorted((h["document"], h["text"], tag) for h in highlights for tag in h["tags"])
    # chimeqda adds a line break after paragraphs; apart from those, every highlight selects Taguette's text
    # (tag "hope" is matched to CHIME-D's code "hope", so code names may differ from tag paths)
    assert sorted((d, txt) for d, txt, _ in got) == sorted((d, txt) for d, txt, _ in wanted)
    assert "Interview P01\n" in texts["P01 interview"] and "help.\nÜnïcödé" in texts["P01 interview"]
    # the second occurrence, not the first
    p02 = [(s, e) for name, _, s, e, _ in rows if name == "P02 interview"]
    assert p02 == [(texts["P02 interview"].index("De groep helpt mij echt"),
                    texts["P02 interview"].index("De groep helpt mij echt") + len("De groep helpt mij"))]


def test_taguette_qdc_codebook_imports_leniently(workspace, taguette_project, tmp_path):
    import xmlschema

    db, _ = taguette_project
    qdc = tmp_path / "taguette.qdc"
    tags = _driver("codebook-qdc", str(db), str(qdc))["tags"]
    schema = xmlschema.XMLSchema(str(Path(__file__).resolve().parents[2] / "src/chimeqda/interop/schemas/Codebook.xsd"))
    assert not schema.is_valid(str(qdc))  # Taguette writes an empty <Sets/>
    report = import_exchange(workspace, qdc)
    assert report.imported.get("codes added", 0) + report.imported.get("codes matched", 0) == len(tags)
    # the project import afterwards finds the same codes (same GUIDs as Taguette's export)
    again = import_exchange(workspace, db)
    assert "codes added" not in again.imported


def test_chimeqda_csv_codebook_imports_into_taguette(tmp_path):
    book = load_codebook("chime-d")
    path = write_codebook_csv(book, tmp_path / "chime-d.csv")
    tags = _driver("codebook-csv", str(path))["tags"]
    assert [tag["path"] for tag in tags] == [code.name for code in book.codes]
