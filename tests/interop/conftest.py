"""A coded project for the exchange tests: transcripts, participants, human and machine codings, memos."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from chimeqda.store import tables as t

DATA = Path(__file__).parent.parent / "data"
SHARED_REFI = Path(os.environ.get("CHIMEQDA_SHARED", Path(__file__).resolve().parents[3] / "shared")) / "refi-qda"
TAGUETTE_PYTHON = Path(__file__).resolve().parents[2] / ".venv-taguette" / "bin" / "python"


def _memo(session, project_id, target_type, target_id, title, text, author_id=None):
    session.add(t.Memo(project_id=project_id, target_type=target_type, target_id=target_id, title=title,
                       text=text, author_id=author_id))


@pytest.fixture
def coded_project(workspace, transcripts):
    """``workspace`` with two transcripts, three participants, codings (one accepted from a machine), memos."""
    from chimeqda.model import CoderInfo
    from chimeqda.services import add_coding, decide, import_files
    from chimeqda.services.project import coder_row, human

    outcomes = import_files(workspace, [transcripts], participants_csv=DATA / "participants.csv")
    doc = {o.name: o.document_id for o in outcomes}
    with workspace.session() as session:
        text = session.get(t.Document, doc["P01-interview.txt"]).text
    sister = text.index("My sister drove me")
    first = add_coding(workspace, doc["P01-interview.txt"], sister, sister + 30, "connectedness", by="ann")
    add_coding(workspace, doc["P01-interview.txt"], sister + 10, sister + 50, "hope", by="bob")  # overlaps
    add_coding(workspace, doc["P02-interview.txt"], 0, 25, "identity", by="ann")
    with workspace.session() as session:
        codes = dict(session.execute(select(t.Code.key, t.Code.id)).all())
        machine = coder_row(session, CoderInfo(kind="machine", name="lexicon", version="0.1",
                                               params={"min_hits": 1})).id
        suggestion = t.CodingEvent(project_id=workspace.project_id, document_id=doc["P02-interview.txt"],
                                   start=30, end=60, code_id=codes["hope"], coder_id=machine,
                                   action="suggested", score=0.83, evidence="keyword: hoop", run_id="run1")
        session.add(suggestion)
        session.flush()
        suggestion_id = suggestion.id
        ann = coder_row(session, human("ann")).id
        people = dict(session.execute(select(t.Participant.label, t.Participant.id)).all())
        _memo(session, workspace.project_id, "project", workspace.project_id, "Plan", "Code all of P01 first.", ann)
        _memo(session, workspace.project_id, "document", doc["P01-interview.txt"], "", "Noisy recording.", ann)
        _memo(session, workspace.project_id, "code", codes["hope"], "Rule", "Hope includes ‘hoop’ in Dutch.")
        _memo(session, workspace.project_id, "coding", first, "Why", "Sister = family support.", ann)
        _memo(session, workspace.project_id, "participant", people["P02"], "Context", "Long recovery. 😀")
    decide(workspace, [suggestion_id], "accepted", by="ann")
    return workspace


@pytest.fixture
def ornio_qdpx(tmp_path):
    """The hand-authored Ornio sample zipped as a .qdpx."""
    import zipfile

    folder = SHARED_REFI / "samples" / "ornio-hand-authored"
    if not folder.is_dir():
        pytest.skip(f"REFI-QDA samples not found at {folder}")
    out = tmp_path / "ornio.qdpx"
    with zipfile.ZipFile(out, "w") as archive:
        archive.write(folder / "project.qde", "project.qde")
        for source in (folder / "sources").iterdir():
            archive.write(source, f"sources/{source.name}")
    return out


@pytest.fixture
def new_project(tmp_path, db_url):
    """Make another project: in its own SQLite file, or in the same PostgreSQL database."""
    from chimeqda.services import init_project

    def make(name: str):
        if db_url.startswith("sqlite"):
            folder = tmp_path / name
            shutil.rmtree(folder, ignore_errors=True)
            return init_project(folder, name=name)
        return init_project(tmp_path / name, name=name, db=db_url)

    return make


@pytest.fixture
def refi_samples():
    """shared/refi-qda (schemas and samples)."""
    if not SHARED_REFI.is_dir():
        pytest.skip(f"REFI-QDA reference files not found at {SHARED_REFI}")
    return SHARED_REFI
