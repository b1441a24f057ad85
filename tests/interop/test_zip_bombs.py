"""Zip bombs made of many members, or one large member, are refused naming the rule that fired; nothing is written.

The archives are built here, in the test's temporary folder, from zeros (which compress about 1000-fold).
"""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from chimeqda.errors import ImportRejected
from chimeqda.interop import import_exchange
from chimeqda.interop.safety import open_zip
from chimeqda.store import tables as t

QDE = (b'<?xml version="1.0"?><Project xmlns="urn:QDA-XML:project:1.0" name="x"><Sources>'
       b'<TextSource guid="s1" name="a.txt" plainTextPath="internal://a.txt"/>'
       b"</Sources></Project>")
MIB = 1024 * 1024


def _archive(path: Path, members: dict[str, int], chunk: int = MIB) -> Path:
    """``project.qde`` plus members of the given sizes in zeros, written in chunks (never held in memory)."""
    zeros = bytes(chunk)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", QDE)
        for name, size in members.items():
            with archive.open(name, "w", force_zip64=size > 2**31) as handle:
                left = size
                while left:
                    handle.write(zeros[: min(chunk, left)])
                    left -= min(chunk, left)
    return path


def _state(ws):
    with ws.session() as session:
        return tuple(session.scalar(select(func.count()).select_from(table))
                     for table in (t.Document, t.Code, t.CodingEvent, t.Participant, t.Memo))


def _refused(ws, path: Path) -> str:
    before, files = _state(ws), sorted(ws.directory.rglob("*"))
    with pytest.raises(ImportRejected) as info:
        import_exchange(ws, path)
    assert _state(ws) == before and sorted(ws.directory.rglob("*")) == files
    message = str(info.value)
    assert path.name in message and "nothing was imported" in message
    return message


def test_ten_members_just_under_8_mib_are_refused_by_the_ratio(workspace, tmp_path):
    path = _archive(tmp_path / "many.qdpx", {f"sources/part{i}.txt": 8 * MIB - 1024 for i in range(10)})
    assert path.stat().st_size < 1 * MIB  # ~84 MB of text from well under a megabyte
    message = _refused(workspace, path)
    assert "compression-ratio rule per file" in message and "sources/part0.txt" in message
    assert "512 MB" not in message


def test_many_small_members_are_refused_by_the_whole_archive_ratio(workspace, tmp_path):
    """Each member is under the per-file ratio floor; together they are a bomb."""
    path = _archive(tmp_path / "swarm.qdpx", {f"sources/s{i}.txt": 512 * 1024 for i in range(40)})
    message = _refused(workspace, path)
    assert "compression-ratio rule for the whole archive" in message and "41 files together" in message


def test_a_300_mb_member_names_the_member_size_rule_not_the_total(workspace, tmp_path):
    path = _archive(tmp_path / "big.qdpx", {"sources/a.txt": 300 * 1000 * 1000})
    message = _refused(workspace, path)
    assert "member-size limit" in message and "300,000,000 bytes" in message and "sources/a.txt" in message
    assert "more than 512 MB" not in message and "total-size" not in message


def test_the_total_size_rule_is_named_when_it_fires(tmp_path):
    path = tmp_path / "total.qdpx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(3):  # random bytes do not compress: only the total is too large
            archive.writestr(f"sources/t{i}.txt", random.Random(i).randbytes(2 * MIB))
    with pytest.raises(ImportRejected, match=r"total-size limit of 5 MB"):
        open_zip(path, max_total=5 * MIB)
    with pytest.raises(ImportRejected, match=r"member-count limit of 2"):
        open_zip(path, max_members=2)


def test_an_ordinary_archive_still_opens(tmp_path):
    words = "my sister drove me to the first meeting in Ghent and nobody judged me there".split()
    rng = random.Random(0)
    text = " ".join(rng.choice(words) for _ in range(400_000)).encode()  # ~2 MB of prose-like text
    path = tmp_path / "ok.qdpx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", QDE)
        archive.writestr("sources/a.txt", text)
    opened = open_zip(path)
    try:
        assert opened.read("sources/a.txt") == text
    finally:
        opened.close()



def test_a_codebook_workbook_that_is_a_zip_bomb_is_refused_before_openpyxl_unpacks_it(tmp_path):
    """A real codebook workbook whose sheet is padded with 50 MB of spaces (still valid XML)."""
    from chimeqda.codebook import load_codebook
    from chimeqda.errors import CodebookError
    from chimeqda.interop.spreadsheets import write_codebook_xlsx

    plain = write_codebook_xlsx(load_codebook("chime-d"), tmp_path / "plain.xlsx")
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info.filename, data)
                continue
            head, tail = data.rsplit(b"</worksheet>", 1)
            with target.open(info.filename, "w") as handle:
                handle.write(head)
                for _ in range(50):
                    handle.write(b" " * MIB)
                handle.write(b"</worksheet>" + tail)
    with pytest.raises(CodebookError, match="compression-ratio rule per file") as info:
        load_codebook(path)
    assert "book.xlsx" in str(info.value) and "xl/worksheets/sheet1.xml" in str(info.value)
