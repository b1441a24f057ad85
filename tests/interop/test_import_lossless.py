"""Imports from .qdpx never alter or lose text silently, nor fail with a traceback (issue 17)."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import select

from chimeqda.errors import InvalidInput
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



def _patched(tmp_path, field: int, value: int):
    """A .qdpx whose only member has ``field`` (an offset in its headers) set to ``value``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("project.qde", QDE * 3)
    raw = buffer.getvalue()
    for signature, offset in ((b"PK\x03\x04", field), (b"PK\x01\x02", field + 2)):
        at = raw.index(signature) + offset
        raw = raw[:at] + value.to_bytes(2, "little") + raw[at + 2:]
    path = tmp_path / "trial.qdpx"
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize("field, value", [
    (8, 8),  # stored data marked as deflated: zlib.error, which is no OSError
    (8, 9),  # deflate64, a method zipfile cannot unpack: NotImplementedError
    (6, 1),  # marked as encrypted: RuntimeError
])
def test_an_archive_member_that_cannot_be_unpacked_is_refused(workspace, tmp_path, field, value):
    """Each escaped the archive reader as a traceback (found by the property tests)."""
    path = _patched(tmp_path, field, value)
    with pytest.raises(InvalidInput) as info:
        import_exchange(workspace, path)
    assert info.value.source and "trial.qdpx" in str(info.value)
    with workspace.session() as session:
        assert session.scalar(select(t.Document.id)) is None


def test_an_xml_declaration_with_an_unknown_encoding_is_refused(workspace, tmp_path):
    """LookupError escaped parse_xml as a traceback (found by the property tests)."""
    path = tmp_path / "trial.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", QDE.replace(b'encoding="utf-8"', b'encoding="no-such-encoding"'))
    with pytest.raises(InvalidInput) as info:
        import_exchange(workspace, path)
    assert "trial.qdpx" in str(info.value) and "no-such-encoding" in info.value.reason
