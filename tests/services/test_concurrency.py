"""Two writers of one project at once (issue 17): imports are serialised per project, and the database itself
keeps one current version per file name, whoever writes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

import chimeqda
from chimeqda.errors import Conflict
from chimeqda.ingest import read_document
from chimeqda.services import import_files
from chimeqda.services.importing import ParticipantRow, store_document, upsert_participants
from chimeqda.store import tables as t

DATA = Path(__file__).parent.parent / "data"
WORDS = ("the group helped me feel less alone and I started to hope again after the diagnosis it was hard "
         "to talk about it with my family but the nurse listened").split()


def _interviews(folder: Path) -> list[str]:
    """Ten long synthetic interviews: five named with a participant id (P01-…), five without."""
    folder.mkdir()
    pick = random.Random(17)
    names = [f"P{i:02d}-interview.txt" for i in range(1, 6)] + [f"interview-{c}.txt" for c in "abcde"]
    for name in names:
        turns = [("I: " if j % 2 == 0 else "P: ") + " ".join(pick.choice(WORDS) for _ in range(30)) + ". "
                 + " ".join(pick.choice(WORDS) for _ in range(12)) + "?" for j in range(1200)]
        (folder / name).write_text("\n\n".join(turns), encoding="utf-8")
    return names


def _current(ws) -> list[tuple[str, int]]:
    with ws.session() as session:
        return sorted(session.execute(select(t.Document.name, t.Document.version)
                                      .where(t.Document.is_current.is_(True))).all())


def _import_twice_at_once(ws, db_url, folder: Path) -> list[str]:
    """``chimeqda import`` of ``folder`` in two processes started at the same moment (two terminals); their
    last lines (the counts). Both must end cleanly."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(chimeqda.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "chimeqda", "import", "-p", str(ws.directory), "--db", db_url, str(folder)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]
    results = [run.communicate(timeout=600) for run in runs]
    for run, (_, err) in zip(runs, results):
        assert run.returncode == 0 and "Traceback" not in err, err
    return sorted(out.strip().splitlines()[-1] for out, _ in results)


def test_two_imports_of_one_folder_at_once_store_each_file_once(workspace, db_url, tmp_path):
    folder = tmp_path / "interviews"
    names = _interviews(folder)
    # main raced here: the second died on participants' unique label, or stored every file twice as version 1
    assert _import_twice_at_once(workspace, db_url, folder) == ["10 imported", "10 unchanged"]
    assert _current(workspace) == sorted((name, 1) for name in names)
    with workspace.session() as session:
        assert session.scalar(select(func.count()).select_from(t.Document)) == len(names)
        assert sorted(session.scalars(select(t.Participant.label))) == ["P01", "P02", "P03", "P04", "P05"]

    for name in names[5:]:  # the interviews without a participant id change: each becomes version 2, once
        with (folder / name).open("a", encoding="utf-8") as file:
            file.write("\n\nI: Anything else you would like to add?")
    assert _import_twice_at_once(workspace, db_url, folder) == ["10 unchanged", "5 new version, 5 unchanged"]
    assert _current(workspace) == sorted((name, 1 if name.startswith("P") else 2) for name in names)
    with workspace.session() as session:
        assert session.scalar(select(func.count()).select_from(t.Document)) == len(names) + 5


def test_an_import_waits_for_the_project_lock_and_then_skips_what_was_stored(workspace, transcripts):
    first = read_document(transcripts / "P01-interview.txt")
    outcome: list = []
    with workspace.session(lock=True) as session:  # another import, in the middle of its transaction
        second = threading.Thread(target=lambda: outcome.extend(import_files(workspace, [transcripts])))
        second.start()
        second.join(1.5)
        assert second.is_alive() and not outcome  # it waits for the lock ...
        people = upsert_participants(session, workspace.project_id, [ParticipantRow("P01", (), {})])
        store_document(session, workspace.project_id, first, people["P01"])
    second.join(120)
    # ... and then sees what the first one stored: no second copy of P01
    assert [(o.name, o.status) for o in outcome] == [("P01-interview.txt", "unchanged"),
                                                     ("P02-interview.txt", "imported")]
    assert _current(workspace) == [("P01-interview.txt", 1), ("P02-interview.txt", 1)]


def test_a_second_current_version_of_a_name_is_refused_by_the_database_with_a_clear_message(workspace, transcripts):
    import_files(workspace, [transcripts])
    with workspace.session() as session:
        doc = session.scalar(select(t.Document).where(t.Document.name == "P01-interview.txt"))
        columns = {c.name: getattr(doc, c.key) for c in t.Document.__table__.columns if c.name != "id"}
    started = time.monotonic()
    with pytest.raises(Conflict, match="another process stored the same document .* run this again"):
        with workspace.session() as session:  # a writer that does not take the lock
            session.add(t.Document(**columns))
    assert time.monotonic() - started < 10
    assert _current(workspace) == [("P01-interview.txt", 1), ("P02-interview.txt", 1)]
