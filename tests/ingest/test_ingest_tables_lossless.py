"""Participants, codebook and corpus tables never drop a cell silently (issue 17).

A filled cell beyond the header, a filled cell under a column without a name,
two columns with one name and bytes that are neither UTF-8 nor Windows-1252
used to vanish (csv.DictReader's ``None`` key, the last duplicate column
winning, ``errors="replace"``); each is now refused with the file and row,
and nothing is stored.
"""

from __future__ import annotations

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from chimeqda.codebook import load_codebook
from chimeqda.errors import InvalidInput
from chimeqda.services import import_files
from chimeqda.store import tables as t


def participants(ws) -> int:
    with ws.session() as session:
        return session.scalar(select(func.count()).select_from(t.Participant))


@pytest.mark.parametrize("content, location, fragment", [
    ("participant,age\nP01,40,smoker\n", "row 2", "beyond the header's 2 columns"),
    ("participant;age\nP01;40;smoker;\n", "row 2", "beyond the header's 2 columns"),
    ("participant,age,\nP01,40,\nP02,51,lives alone\n", "row 3", "in a column without a name"),
    ("participant,Age,age \nP01,40,41\n", "row 1", "columns 2 and 3 are both called 'age'"),
])
def test_participants_csv_cells_are_never_dropped(workspace, tmp_path, content, location, fragment):
    (tmp_path / "P01-interview.txt").write_text("I: How are you?\nR: Fine.\n", encoding="utf-8")
    people = tmp_path / "parts.csv"
    people.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        import_files(workspace, [tmp_path / "P01-interview.txt"], participants_csv=people)
    assert info.value.source == "parts.csv" and info.value.location == location
    assert fragment in info.value.reason
    assert participants(workspace) == 0


def test_participants_csv_with_an_empty_trailing_cell_still_imports(workspace, tmp_path):
    (tmp_path / "P01-interview.txt").write_text("I: How are you?\nR: Fine.\n", encoding="utf-8")
    people = tmp_path / "parts.csv"
    people.write_bytes("participant;age;town\r\nP01;40;Gent;\r\nP02;51\r\n".encode("cp1252"))
    import_files(workspace, [tmp_path / "P01-interview.txt"], participants_csv=people)
    with workspace.session() as session:
        stored = {p.label: p.attributes for p in session.scalars(select(t.Participant))}
    assert stored == {"P01": {"age": 40, "town": "Gent"}, "P02": {"age": 51}}


def test_bytes_that_are_no_text_are_refused_not_replaced(workspace, tmp_path):
    people = tmp_path / "parts.csv"
    people.write_bytes(b"participant,town\nP01,Li\xe8ge\x81\n")  # 0x81 is no character in Windows-1252
    with pytest.raises(InvalidInput) as info:
        import_files(workspace, [], participants_csv=people)
    assert info.value.source == "parts.csv" and info.value.location == "byte 26"


def test_codebook_spreadsheet_cell_beyond_the_header_is_refused(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["id", "name", "definition", "inclusion", "exclusion", "examples"])
    sheet.append(["c1", "Hope", "Hope.", "Hope.", "None.", "I hope so", "a note that would vanish"])
    book.save(tmp_path / "book.xlsx")
    with pytest.raises(InvalidInput) as info:
        load_codebook(tmp_path / "book.xlsx")
    assert info.value.source == "book.xlsx" and info.value.location == "row 2"


def test_corpus_csv_with_two_text_columns_is_refused(tmp_path):
    from chimeqda.ingest.corpus import CorpusReader

    path = tmp_path / "corpus.csv"
    path.write_text("id,text,text\n1,first words,second words\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        list(CorpusReader(path).rows())
    assert info.value.source == "corpus.csv" and "two columns are called 'text'" in info.value.reason


def test_participant_cells_keep_what_was_written(workspace, tmp_path):
    """Only plainly written numbers become numbers: "nan", "007" or "1_000" are not what a researcher means by one."""
    people = tmp_path / "parts.csv"
    people.write_text("participant,a,b,c,d,e,f,g\nP01,nan,007,1_000,1e400,3,5,-0.25,42\n".replace("3,5", '"3,5"'),
                      encoding="utf-8")
    import_files(workspace, [], participants_csv=people)
    with workspace.session() as session:
        (stored,) = [p.attributes for p in session.scalars(select(t.Participant))]
    assert stored == {"a": "nan", "b": "007", "c": "1_000", "d": "1e400", "e": 3.5, "f": -0.25, "g": 42}


def test_a_nul_byte_anywhere_in_a_participants_file_is_refused(workspace, tmp_path):
    people = tmp_path / "parts.csv"
    people.write_bytes(b"participant,note\n" + b"P01,fine\n" * 600 + b"P99,bad\x00byte\n")
    with pytest.raises(InvalidInput) as info:
        import_files(workspace, [], participants_csv=people)
    assert info.value.source == "parts.csv" and info.value.location == f"byte {17 + 9 * 600 + 7}"
    assert participants(workspace) == 0
