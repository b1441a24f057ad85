"""Bad, hostile and odd inputs are refused with ImportRejected naming the file."""

import io
import json
import struct
import zipfile

import docx
import pytest

from chimeqda.errors import ImportRejected, InvalidInput
from chimeqda.ingest import read_document

PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + bytes(range(40))


def rejected(path, **kwargs) -> ImportRejected:
    with pytest.raises(ImportRejected) as info:
        read_document(path, **kwargs)
    assert path.name in str(info.value)
    assert info.value.source == path.name
    assert isinstance(info.value, InvalidInput) and isinstance(info.value, ValueError)
    return info.value


@pytest.mark.parametrize("content", [b"", b"   \n\t\r\n  ", "\ufeff  \n".encode("utf-16")])
def test_empty(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    assert "empty" in rejected(path).reason


def test_png_renamed_txt(tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes(PNG)
    error = rejected(path)
    assert "not a text file" in error.reason and "byte 8" in error.reason
    assert error.location == "byte 8"


def test_zip_renamed_txt(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    path = tmp_path / "archive.txt"
    path.write_bytes(buffer.getvalue())
    assert "not a text file" in rejected(path).reason


def test_mostly_control_bytes(tmp_path):
    path = tmp_path / "noise.txt"
    path.write_bytes(b"ab" + bytes([1, 2, 3, 4, 5, 6]) * 50)
    assert rejected(path).location == "byte 2"


def test_undecodable_binary_without_nul(tmp_path):
    path = tmp_path / "noise.vtt"
    path.write_bytes(bytes(range(0x80, 0x100)) * 40 + b"\x01\x02\x03" * 200)
    assert "not a text file" in rejected(path).reason


def test_oversized(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("I: hello.\n" * 200)
    error = rejected(path, max_bytes=1000)
    assert "2,000" in error.reason and "1,000" in error.reason and "--max-size" in error.reason
    assert read_document(path, max_bytes=2000).turns


@pytest.mark.parametrize("suffix", [".docx", ".odt"])
def test_corrupt_office(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"this is not a zip file at all")
    assert "not a valid" in rejected(path).reason
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.xml", "<x/>")
    path.write_bytes(buffer.getvalue())
    error = rejected(path)
    assert "missing" in error.reason


def test_old_doc_renamed_docx(tmp_path):
    path = tmp_path / "old.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert "not a valid Word document" in rejected(path).reason


def test_damaged_document_xml(tmp_path):
    path = tmp_path / "damaged.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document><unclosed")
    assert "damaged" in rejected(path).reason


def test_docx_zip_bomb(tmp_path):
    document = docx.Document()
    document.add_paragraph("I: " + "a" * 300_000)
    path = tmp_path / "bomb.docx"
    document.save(path)
    size = path.stat().st_size
    assert size < 50_000
    error = rejected(path, max_bytes=50_000)
    assert "zip bomb" in error.reason and error.location == "word/document.xml"
    assert read_document(path).turns


def test_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>I: hello &xxe; there.</w:t></w:r></w:p></w:body></w:document>"
    )
    path = tmp_path / "xxe.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", xml)
    error = rejected(path)
    assert "TOP SECRET" not in str(error) and "entities" in error.reason


def test_billion_laughs_in_odt(tmp_path):
    xml = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        "<d>&c;</d>"
    )
    path = tmp_path / "laughs.odt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("content.xml", xml)
    assert "entities" in rejected(path).reason


def test_invalid_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"segments": [\n  {"text": "hi",}\n]}')
    error = rejected(path)
    assert error.location == "line 2, column 17" and "not valid JSON" in error.reason


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"text": "hello"}, "'segments'"),
        ({"segments": {"text": "x"}}, "must be a list"),
        ({"segments": [{"start": 0}]}, "no 'text'"),
        ({"segments": ["just text"]}, "'text'"),
        ({"segments": [{"text": "a", "start": "soon"}]}, "'start'"),
        ({"segments": []}, "no segments"),
        (42, "must be a list"),
        ({"segments": [{"text": "a", "start": float("nan")}]}, "'start'"),
    ],
)
def test_json_wrong_shape(tmp_path, data, fragment):
    path = tmp_path / "shape.json"
    path.write_text(json.dumps(data))
    assert fragment in rejected(path).reason


def test_vtt_without_cues(tmp_path):
    path = tmp_path / "nocues.vtt"
    path.write_text("WEBVTT\n\nJust some text.\n")
    assert "no WebVTT cues" in rejected(path).reason


def test_unsupported_and_missing(tmp_path):
    path = tmp_path / "notes.pdf"
    path.write_bytes(b"%PDF-1.4")
    assert "unsupported" in rejected(path).reason
    assert "not found" in rejected(tmp_path / "missing.txt").reason


def test_member_with_understated_size(tmp_path):
    # The zip headers claim 100 bytes; the member really unpacks to 500 kB.
    payload = b"<w:document xmlns:w='x'>" + b" " * 500_000 + b"</w:document>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", payload)
    data = bytearray(buffer.getvalue())
    real = struct.pack("<I", len(payload))
    for header, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(header)
        assert data[at + offset : at + offset + 4] == real
        data[at + offset : at + offset + 4] = struct.pack("<I", 100)
    path = tmp_path / "liar.docx"
    path.write_bytes(bytes(data))
    error = rejected(path, max_bytes=20_000)
    assert "not a valid Word document" in error.reason or "zip bomb" in error.reason


def test_odt_zip_bomb(tmp_path):
    path = tmp_path / "bomb.odt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "content.xml",
            b"<office:document-content>" + b" " * 500_000 + b"</office:document-content>",
        )
    assert "zip bomb" in rejected(path, max_bytes=20_000).reason


def test_deeply_nested_inputs(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in rejected(path).reason
    xml = '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    xml += "<w:sdt>" * 5000 + "</w:sdt>" * 5000 + "</w:body></w:document>"
    path = tmp_path / "deep.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", xml)
    assert "nested too deeply" in rejected(path).reason


def _undecompressable(path, member: str, extra: dict[str, bytes]):
    """A zip whose ``member`` claims to be deflated but is not (zlib fails while reading it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in {member: b"<not deflate data at all, just bytes>" * 20, **extra}.items():
            archive.writestr(name, data)
    raw = bytearray(buffer.getvalue())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = raw.find(signature)
        while at != -1:
            name_length = int.from_bytes(raw[at + (26 if signature == b"PK\x03\x04" else 28):][:2], "little")
            start = at + (30 if signature == b"PK\x03\x04" else 46)
            if raw[start:start + name_length] == member.encode():
                raw[at + offset:at + offset + 2] = (8).to_bytes(2, "little")
            at = raw.find(signature, at + 4)
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("suffix, member", [(".docx", "word/document.xml"), (".odt", "content.xml")])
def test_damaged_deflate_stream_is_refused(tmp_path, suffix, member):
    """zlib.error is no OSError: it escaped as a traceback (found by the property tests)."""
    error = rejected(_undecompressable(tmp_path / f"damaged{suffix}", member, {}))
    assert "cannot be unpacked" in error.reason


def test_office_xml_with_an_unknown_encoding_is_refused(tmp_path):
    path = tmp_path / "odd.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", b'<?xml version="1.0" encoding="no-such-encoding"?><document/>')
    assert "no-such-encoding" in rejected(path).reason
