"""REFI-QDA export and import: schema validity, stable GUIDs, round trips, other tools' files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import xmlschema
from sqlalchemy import select

from chimeqda.interop import export_qdc, export_qdpx, import_exchange
from chimeqda.store import tables as t

SCHEMAS = Path(__file__).resolve().parents[2] / "src" / "chimeqda" / "interop" / "schemas"


@pytest.fixture(scope="module")
def project_schema():
    return xmlschema.XMLSchema(str(SCHEMAS / "Project.xsd"))


@pytest.fixture(scope="module")
def codebook_schema():
    return xmlschema.XMLSchema(str(SCHEMAS / "Codebook.xsd"))


def test_bundled_schemas_are_the_official_ones(refi_samples):
    import hashlib

    official = refi_samples / "Project-mrt2019.xsd"
    assert (SCHEMAS / "Project.xsd").read_bytes() == official.read_bytes()
    assert hashlib.sha256((SCHEMAS / "Codebook.xsd").read_bytes()).hexdigest() == (
        "bc4706a6fdb736cc3248de1753366f2b1f5b13e6828d319cea2874deb7e61b52"
    )


def _qde(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read("project.qde")


def test_qdpx_export_is_valid_and_complete(coded_project, tmp_path, project_schema):
    out = export_qdpx(coded_project, tmp_path / "study.qdpx")
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        qde = archive.read("project.qde")
        texts = {n: archive.read(n).decode("utf-8") for n in names if n.startswith("sources/")}
    project_schema.validate(qde)  # raises when invalid
    assert len(texts) == 2 and all(n.endswith(".txt") for n in texts)
    xml = qde.decode("utf-8")
    for expected in ('isCodable="false"', "<User ", "<Variable ", 'typeOfVariable="Integer"', "<Case ",
                     "<PlainTextSelection ", "<Note ", "<Set ", "<Link ", "chimeqda machine coder lexicon",
                     "score 0.830", "#"):
        assert expected in xml, expected
    assert "\ufeff" not in "".join(texts.values())


def test_qdc_export_is_valid(coded_project, tmp_path, codebook_schema):
    out = export_qdc(coded_project, tmp_path / "book.qdc")
    codebook_schema.validate(out.read_bytes())


def test_guids_are_stable_across_exports(coded_project, tmp_path):
    first = export_qdpx(coded_project, tmp_path / "a.qdpx")
    second = export_qdpx(coded_project, tmp_path / "b.qdpx")
    assert _qde(first) == _qde(second)
    assert first.read_bytes() == second.read_bytes()


def _snapshot(ws):
    """Everything a round trip must keep, keyed by names rather than row ids."""
    with ws.session() as session:
        docs = {d.id: d for d in session.scalars(select(t.Document).where(t.Document.project_id == ws.project_id))}
        codes = dict(session.execute(select(t.Code.id, t.Code.key)).all())
        coders = {c.id: c for c in session.scalars(select(t.Coder))}
        events = session.scalars(select(t.CodingEvent).where(t.CodingEvent.project_id == ws.project_id)).all()
        decided = {e.decides_id for e in events if e.decides_id}
        codings = sorted(
            (docs[e.document_id].name, e.start, e.end, codes[e.code_id], coders[e.coder_id].name,
             docs[e.document_id].text[e.start:e.end])
            for e in events if e.action == "accepted"
        )
        suggestions = sorted((codes[e.code_id], coders[e.coder_id].name, e.score) for e in events
                             if e.action == "suggested" and e.id in decided)
        people = {p.id: p for p in session.scalars(select(t.Participant).where(t.Participant.project_id == ws.project_id))}
        participants = sorted((p.label, tuple(sorted(p.attributes.items()))) for p in people.values())
        owners = sorted((d.name, people[d.participant_id].label if d.participant_id else None, d.text)
                        for d in docs.values())
        memos = sorted((m.target_type, m.title, m.text) for m in session.scalars(
            select(t.Memo).where(t.Memo.project_id == ws.project_id)))
    return {"codings": codings, "suggestions": suggestions, "participants": participants, "documents": owners,
            "memos": memos}


def test_export_then_import_gives_the_same_project(coded_project, tmp_path, new_project):
    out = export_qdpx(coded_project, tmp_path / "study.qdpx")
    copy = new_project("copy")
    report = import_exchange(copy, out)
    assert report.skipped == [], report
    before, after = _snapshot(coded_project), _snapshot(copy)
    assert after == before
    assert len(before["codings"]) == 4 and before["suggestions"] == [("hope", "lexicon", 0.83)]
    # importing the same file again adds nothing
    again = import_exchange(copy, out)
    assert "codings" not in again.imported and _snapshot(copy) == before


def test_codebook_round_trip_through_qdc(coded_project, tmp_path, new_project):
    from chimeqda.services.project import project_codebook

    out = export_qdc(coded_project, tmp_path / "book.qdc")
    other = new_project("other")
    report = import_exchange(other, out)
    assert report.imported == {"codes matched": report.imported["codes matched"]}
    with coded_project.session() as session:
        _, book = project_codebook(session, coded_project.project_id)
    assert report.imported["codes matched"] == len(book.codes)


def test_foreign_codebook_adds_codes_with_hierarchy(workspace, tmp_path, codebook_schema):
    from chimeqda.services.project import project_codebook

    qdc = tmp_path / "book.qdc"
    qdc.write_text(
        '<?xml version="1.0" encoding="utf-8"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="Other">'
        '<Codes><Code guid="11111111-2222-3333-4444-555555555555" name="Work" isCodable="false">'
        "<Description>Paid or voluntary work</Description>"
        '<Code guid="11111111-2222-3333-4444-555555555556" name="Volunteering" isCodable="true" color="#abc"/>'
        "</Code></Codes></CodeBook>", encoding="utf-8")
    codebook_schema.validate(str(qdc))
    report = import_exchange(workspace, qdc)
    assert report.imported == {"codes added": 2}
    with workspace.session() as session:
        _, book = project_codebook(session, workspace.project_id)
    assert book["volunteering"].parent == "work" and book["volunteering"].color == "#aabbcc"
    assert book["work"].definition == "Paid or voluntary work"
    # the exported codebook keeps the folder non-codable
    out = export_qdc(workspace, tmp_path / "again.qdc")
    assert 'name="Work" isCodable="false"' in out.read_text("utf-8")


def test_ornio_sample_keeps_every_text_coding_at_its_offsets(workspace, ornio_qdpx, refi_samples):
    report = import_exchange(workspace, ornio_qdpx)
    with workspace.session() as session:
        doc = session.scalars(select(t.Document).where(t.Document.name == "Interview 1.txt")).one()
        spans = sorted((e.start, e.end, doc.text[e.start:e.end]) for e in session.scalars(
            select(t.CodingEvent).where(t.CodingEvent.document_id == doc.id)))
        person = session.scalars(select(t.Participant)).one()
        # the audio source's transcript (the same text) comes in with its coding between two sync points;
        # its recording (relative:///Audio/interview.m4a) is outside the archive and never read
        audio = session.scalars(select(t.Document).where(t.Document.name == "interview.m4a")).one()
        audio_spans = [(e.start, e.end) for e in session.scalars(
            select(t.CodingEvent).where(t.CodingEvent.document_id == audio.id))]
        first = session.scalars(select(t.Segment).where(t.Segment.document_id == audio.id)
                                .order_by(t.Segment.index)).first()
    raw = (refi_samples / "samples/ornio-hand-authored/sources/11111111-1111-1111-1111-111111111111.txt").read_text()
    assert doc.text == raw and audio.text == raw
    assert spans == [(0, 15, "Diet and health"), (9, 23, "health are clo")]
    assert audio_spans == [(0, 20)] and "media" not in audio.meta and first.time_start == 0.0
    assert person.label == "Participant 1" and person.attributes["Age"] == 34 and person.attributes["Consented"] is True
    text = str(report)
    for dropped in ("PictureSource", "PDFSource", "AudioSelection", "outside the archive", "VideoSource", "graph",
                    "set 'Diet-related'"):
        assert dropped in text
    # the research memo is referenced by the project and linked to the first selection
    assert report.imported["codings"] == 3 and report.imported["memos"] == 2
    with workspace.session() as session:
        assert sorted(m.target_type for m in session.scalars(select(t.Memo))) == ["coding", "project"]


def test_negative_codebook_imports_leniently(workspace, refi_samples):
    path = refi_samples / "samples/negative/openqda-example_codebook.qdc"
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        xmlschema.XMLSchema(str(SCHEMAS / "Codebook.xsd")).validate(str(path))
    report = import_exchange(workspace, path)
    assert report.imported["codes added"] + report.imported.get("codes matched", 0) == 44
    assert report.skipped == []


def _qdpx(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


QDE = """<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="Trial" origin="Other tool">
 <Users><User guid="u1" name="Kim"/></Users>
 <CodeBook><Codes><Code guid="c001" name="Peer support" isCodable="true"/></Codes></CodeBook>
 <Sources>
  <TextSource guid="s1" name="crlf.txt" plainTextPath="internal://s1.txt">
   <PlainTextSelection guid="x1" name="{name1}" startPosition="{start1}" endPosition="{end1}">
    <Coding guid="k1" creatingUser="u1"><CodeRef targetGUID="c001"/></Coding></PlainTextSelection>
   <PlainTextSelection guid="x2" name="{name2}" startPosition="{start2}" endPosition="{end2}">
    <Coding guid="k2" creatingUser="u1"><CodeRef targetGUID="c001"/></Coding></PlainTextSelection>
   <PlainTextSelection guid="x3" name="empty" startPosition="3" endPosition="3">
    <Coding guid="k3" creatingUser="u1"><CodeRef targetGUID="c001"/></Coding></PlainTextSelection>
  </TextSource>
 </Sources>
</Project>"""
RAW = "R: My group helps.\r\nI: How?\r\nR: They listen 😀 to me.\r\n"


def _deviating(tmp_path: Path, positions) -> Path:
    (s1, e1, n1), (s2, e2, n2) = positions
    qde = QDE.format(start1=s1, end1=e1, name1=n1, start2=s2, end2=e2, name2=n2)
    return _qdpx(tmp_path / "trial.qdpx", {"Trial.qde": qde.encode("utf-8"),
                                           "Sources/s1.txt": b"\xef\xbb\xbf" + RAW.encode("utf-8")})


def _codings(ws):
    with ws.session() as session:
        doc = session.scalars(select(t.Document)).one()
        return doc.text, sorted(doc.text[e.start:e.end] for e in session.scalars(select(t.CodingEvent)))


def test_deviating_file_with_standard_positions(workspace, tmp_path):
    start2 = RAW.index("They listen")
    path = _deviating(tmp_path, [(3, 17, "My group helps"), (start2, start2 + 15, "They listen")])
    report = import_exchange(workspace, path)
    text, spans = _codings(workspace)
    assert "\r" not in text and not text.startswith("\ufeff")
    assert spans == ["My group helps", "They listen 😀 t"]
    assert any("empty" in line for line in report.skipped)
    with workspace.session() as session:
        assert {c.name for c in session.scalars(select(t.Coder))} >= {"Kim"}


@pytest.mark.parametrize("counting", ["lf", "utf16"])
def test_positions_counted_differently_are_converted(workspace, tmp_path, counting):
    lf = RAW.replace("\r\n", "\n")
    base = lf if counting == "lf" else RAW
    start2 = base.index("They listen")
    end2 = start2 + len("They listen 😀 to me") + (1 if counting == "utf16" else 0)
    path = _deviating(tmp_path, [(3, 17, "My group helps"), (start2, end2, "They listen 😀 to me")])
    report = import_exchange(workspace, path)
    _, spans = _codings(workspace)
    assert spans == ["My group helps", "They listen 😀 to me"]
    assert any("positions were counted as" in line for line in report.remarks)
