"""Hostile exchange files are refused with a clear message, and nothing is written."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from chimeqda.errors import ImportRejected
from chimeqda.interop import import_exchange
from chimeqda.store import tables as t

QDE = (b'<?xml version="1.0"?><Project xmlns="urn:QDA-XML:project:1.0" name="x"><Sources>'
       b'<TextSource guid="s1" name="a.txt"><PlainTextContent>hello</PlainTextContent></TextSource>'
       b"</Sources></Project>")


def _state(ws, folder: Path):
    with ws.session() as session:
        counts = tuple(session.scalar(select(func.count()).select_from(table))
                       for table in (t.Document, t.Code, t.CodingEvent, t.Participant, t.Memo))
    files = sorted(p.relative_to(folder) for p in folder.rglob("*") if "chimeqda.sqlite3" not in p.name)
    return counts, files


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _bomb(path: Path) -> Path:
    """A small archive whose member claims to expand to 2.5 GB (headers patched; nothing that big is written)."""
    _zip(path, {"project.qde": QDE, "sources/big.txt": b"0" * 100_000})
    data = bytearray(path.read_bytes())
    huge = 2_500_000_000
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(signature, start)) != -1:
            name_len = struct.unpack_from("<H", data, at + (26 if signature == b"PK\x03\x04" else 28))[0]
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if bytes(data[name_at:name_at + name_len]) == b"sources/big.txt":
                struct.pack_into("<I", data, at + offset, huge)
            start = at + 4
    path.write_bytes(bytes(data))
    return path


def _lying(path: Path) -> Path:
    """An archive whose member expands far beyond the size its headers declare."""
    qde = QDE.replace(b"><PlainTextContent>hello</PlainTextContent></TextSource>",
                      b' plainTextPath="internal://big.txt"/>')
    _zip(path, {"project.qde": qde, "sources/big.txt": b"0" * 2_000_000})
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(signature, start)) != -1:
            name_len = struct.unpack_from("<H", data, at + (26 if signature == b"PK\x03\x04" else 28))[0]
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if bytes(data[name_at:name_at + name_len]) == b"sources/big.txt":
                struct.pack_into("<I", data, at + offset, 10)
            start = at + 4
    path.write_bytes(bytes(data))
    return path


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="a" name="&lol4;" isCodable="true"/></Codes></CodeBook>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&secret;"/>"""


def _cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    return {
        "zip-slip": (_zip(tmp_path / "slip.qdpx", {"project.qde": QDE, "../../evil.txt": b"owned"}), "unsafe path"),
        "zip-slip-absolute": (_zip(tmp_path / "abs.qdpx", {"project.qde": QDE, "/tmp/evil.txt": b"x"}),
                              "unsafe path"),
        "billion-laughs": (tmp_path / "laughs.qdc", "DTD or entities"),
        "billion-laughs-in-zip": (_zip(tmp_path / "laughs.qdpx", {"project.qde": BILLION_LAUGHS}),
                                  "DTD or entities"),
        "external-entity": (tmp_path / "xxe.qde", "DTD or entities"),
        "bomb": (_bomb(tmp_path / "bomb.qdpx"), "zip bomb"),
        "lying-sizes": (_lying(tmp_path / "lying.qdpx"), "zip bomb|damaged|truncated"),
        "truncated": (tmp_path / "truncated.qdpx", "truncated or damaged"),
        "not-xml": (tmp_path / "broken.qdc", "not well-formed XML"),
        "not-sqlite": (tmp_path / "fake.sqlite3", "not an SQLite database"),
    }


@pytest.mark.parametrize("case", ["zip-slip", "zip-slip-absolute", "billion-laughs", "billion-laughs-in-zip",
                                  "external-entity", "bomb", "lying-sizes", "truncated", "not-xml", "not-sqlite"])
def test_hostile_file_is_refused_and_nothing_written(workspace, tmp_path, case):
    (tmp_path / "laughs.qdc").write_bytes(BILLION_LAUGHS)
    (tmp_path / "xxe.qde").write_bytes(EXTERNAL_ENTITY)
    full = _zip(tmp_path / "full.qdpx", {"project.qde": QDE, "sources/a.txt": b"hello " * 1000})
    (tmp_path / "truncated.qdpx").write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    (tmp_path / "broken.qdc").write_bytes(b"<CodeBook><Codes>")
    (tmp_path / "fake.sqlite3").write_bytes(b"not a database at all")
    path, message = _cases(tmp_path)[case]
    before = _state(workspace, tmp_path)
    with pytest.raises(ImportRejected, match=message) as info:
        import_exchange(workspace, path)
    assert "nothing was imported" in str(info.value) or case == "not-sqlite"
    assert path.name in str(info.value)
    assert _state(workspace, tmp_path) == before
    assert not (tmp_path.parent / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()


def test_bomb_is_refused_before_expanding(tmp_path):
    """The declared size is checked before any member is read."""
    from chimeqda.interop.safety import open_zip

    with pytest.raises(ImportRejected, match="2,500,000,000 bytes"):
        open_zip(_bomb(tmp_path / "bomb.qdpx"))
