"""A .qdpx source text with bytes that are no text is imported with a remark, not silently altered (issue 17)."""

from __future__ import annotations

import zipfile

from sqlalchemy import select

from chimeqda.interop import import_exchange
from chimeqda.store import tables as t

QDE = b"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="Trial" origin="Other tool">
 <Sources><TextSource guid="s1" name="damaged.txt" plainTextPath="internal://s1.txt"/></Sources>
</Project>"""


def test_undecodable_bytes_in_a_source_are_reported(workspace, tmp_path):
    path = tmp_path / "trial.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Trial.qde", QDE)
        archive.writestr("Sources/s1.txt", b"\xef\xbb\xbfR: caf\xc3\xa9 and \xff then more.\n")
    report = import_exchange(workspace, path)
    assert any("'damaged.txt'" in line and "byte 16" in line for line in report.remarks)
    with workspace.session() as session:
        assert session.scalar(select(t.Document.text)) == "R: café and \ufffd then more.\n"
