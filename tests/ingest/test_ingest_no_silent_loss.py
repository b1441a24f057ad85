"""Readers never lose words silently (issue 17, defect 2 and its class).

Subtitles: a malformed timing line or an impossible time is refused with the
file and line, and nothing is stored; text outside any cue and cues out of
order are kept, with a warning on the import. Word/OpenDocument: footnotes,
endnotes and comments, which are not read, are counted in a warning. Each case
goes through a real import into a project database.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from chimeqda.cli import main
from chimeqda.errors import ImportRejected
from chimeqda.services import import_files
from chimeqda.store import tables as t

CUES = [
    ("00:00:01.000", "00:00:04.000", "Ann", "How did the diagnosis change your days?"),
    ("00:00:04.000", "00:00:09.000", "Bob", "I stopped driving, and that hurt most."),
    ("00:00:09.000", "00:00:12.000", "Ann", "Tell me more about that."),
]


def vtt(cues=CUES, arrow=("-->", "-->", "-->")) -> str:
    blocks = ["WEBVTT", ""]
    for number, ((start, end, who, said), sep) in enumerate(zip(cues, arrow), 1):
        blocks += [str(number), f"{start} {sep} {end}", f"<v {who}>{said}", ""]
    return "\n".join(blocks)


def srt(cues=CUES, arrow=("-->", "-->", "-->")) -> str:
    blocks = []
    for number, ((start, end, who, said), sep) in enumerate(zip(cues, arrow), 1):
        blocks += [str(number), f"{start.replace('.', ',')} {sep} {end.replace('.', ',')}", f"{who}: {said}", ""]
    return "\n".join(blocks)


def documents(ws) -> int:
    with ws.session() as session:
        return session.scalar(select(func.count()).select_from(t.Document))


def refused(ws, path) -> ImportRejected:
    with pytest.raises(ImportRejected) as info:
        import_files(ws, [path])
    assert info.value.source == path.name and path.name in str(info.value)
    assert documents(ws) == 0
    return info.value


def stored_text(ws, name: str) -> str:
    with ws.session() as session:
        return session.scalar(select(t.Document.text).where(t.Document.name == name))


@pytest.mark.parametrize("write, suffix", [(vtt, "vtt"), (srt, "srt")])
@pytest.mark.parametrize("typo", ["->", "—>", "- >", "", "=>"])
def test_a_mistyped_arrow_is_refused_with_its_line(workspace, tmp_path, write, suffix, typo):
    path = tmp_path / f"interview.{suffix}"
    path.write_text(write(arrow=("-->", typo, "-->")), encoding="utf-8")
    error = refused(workspace, path)
    line = 8 if suffix == "vtt" else 6
    assert error.location == f"line {line}"
    assert "looks like a cue timing line" in error.reason and "-->" in error.reason


@pytest.mark.parametrize("suffix", ["vtt", "srt"])
def test_a_broken_time_beside_an_arrow_is_refused(workspace, tmp_path, suffix):
    path = tmp_path / f"interview.{suffix}"
    text = (vtt if suffix == "vtt" else srt)().replace("00:00:09", "00:0009", 1)
    path.write_text(text, encoding="utf-8")
    error = refused(workspace, path)
    assert "not a valid cue timing line" in error.reason and error.location.startswith("line ")


@pytest.mark.parametrize("suffix", ["vtt", "srt"])
@pytest.mark.parametrize("stamp", ["00:00:99.000", "00:75:00.000", "75:00.000"])
def test_an_impossible_time_is_refused(workspace, tmp_path, suffix, stamp):
    cues = [CUES[0], (CUES[1][0], stamp, *CUES[1][2:]), CUES[2]]
    path = tmp_path / f"interview.{suffix}"
    path.write_text((vtt if suffix == "vtt" else srt)(cues), encoding="utf-8")
    error = refused(workspace, path)
    assert "impossible" in error.reason and error.location == ("line 8" if suffix == "vtt" else "line 6")


def test_a_cue_ending_before_it_starts_is_refused(workspace, tmp_path):
    path = tmp_path / "interview.vtt"
    path.write_text(vtt([CUES[0], ("00:00:09.000", "00:00:04.000", *CUES[1][2:]), CUES[2]]), encoding="utf-8")
    error = refused(workspace, path)
    assert "before it starts" in error.reason and error.location == "line 8"


def test_cues_out_of_order_are_kept_with_a_warning(workspace, tmp_path):
    path = tmp_path / "interview.srt"
    path.write_text(srt([CUES[0], CUES[2], CUES[1]]), encoding="utf-8")
    (outcome,) = import_files(workspace, [path])
    assert outcome.status == "imported"
    assert any("line 10" in w and "before the cue above" in w for w in outcome.warnings)
    text = stored_text(workspace, path.name)
    assert all(said in text for *_, said in CUES)


def test_text_after_a_blank_line_inside_a_cue_is_kept_with_a_warning(workspace, tmp_path):
    path = tmp_path / "interview.srt"
    text = srt().replace("I stopped driving, and that hurt most.", "I stopped driving.\n\nAnd that hurt most.")
    path.write_text(text, encoding="utf-8")
    (outcome,) = import_files(workspace, [path])
    assert any(w.startswith("line 9: text outside any cue") for w in outcome.warnings)
    stored = stored_text(workspace, path.name)
    assert "I stopped driving. And that hurt most." in stored  # kept in Bob's turn


def test_cues_without_blank_lines_between_them_stay_apart(workspace, tmp_path):
    path = tmp_path / "interview.srt"
    path.write_text(srt().replace("\n\n", "\n"), encoding="utf-8")
    import_files(workspace, [path])
    with workspace.session() as session:
        doc = session.scalar(select(t.Document))
        turns = session.scalars(select(t.Turn).where(t.Turn.document_id == doc.id).order_by(t.Turn.index)).all()
    assert [turn.time for turn in turns] == [1.0, 4.0, 9.0]
    assert doc.text.split("\n") == [f"{who}: {said}" for *_, who, said in CUES]  # no "2" or "-->" as speech


def test_angle_brackets_that_are_not_markup_are_text(workspace, tmp_path):
    path = tmp_path / "interview.srt"
    path.write_text(srt([(*CUES[0][:3], "It went from x < 5 to > 9 <laughs> <i>really</i>")]), encoding="utf-8")
    import_files(workspace, [path])
    assert stored_text(workspace, path.name) == "Ann: It went from x < 5 to > 9 <laughs> really"


def test_the_cli_prints_the_warning(tmp_path):
    project = tmp_path / "p"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(project)]).exit_code == 0
    path = tmp_path / "interview.srt"
    path.write_text(srt([CUES[0], CUES[2], CUES[1]]), encoding="utf-8")
    result = runner.invoke(main, ["import", "-p", str(project), str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: line 10: the cue starts before the cue above it" in result.output


@pytest.mark.parametrize("segment, fragment", [
    ({"start": -1.0, "end": 2.0, "text": "hello"}, "before the recording starts"),
    ({"start": 5.0, "end": 2.0, "text": "hello"}, "ends (2.0) before it starts (5.0)"),
])
def test_whisper_json_impossible_times_are_refused(workspace, tmp_path, segment, fragment):
    path = tmp_path / "interview.json"
    path.write_text(json.dumps({"segments": [{"start": 0.0, "end": 1.0, "text": "first"}, segment]}))
    error = refused(workspace, path)
    assert fragment in error.reason and error.location == "segments[1]"


def test_whisper_json_out_of_order_is_kept_with_a_warning(workspace, tmp_path):
    path = tmp_path / "interview.json"
    path.write_text(json.dumps({"segments": [{"start": 5.0, "end": 6.0, "text": "later"},
                                             {"start": 1.0, "end": 2.0, "text": "earlier"}]}))
    (outcome,) = import_files(workspace, [path])
    assert outcome.warnings and "segment(s) 1 start before" in outcome.warnings[0]
    assert stored_text(workspace, path.name) == "later earlier"


def test_office_footnotes_and_comments_are_counted_in_a_warning(workspace, tmp_path):
    import io
    import zipfile

    import docx
    from odf.office import Annotation
    from odf.opendocument import OpenDocumentText
    from odf.text import Note, NoteBody, NoteCitation, P

    document = OpenDocumentText()
    paragraph = P(text="R: It was hard.")
    note = Note(noteclass="footnote", id="n1")
    note.addElement(NoteCitation(text="1"))
    body = NoteBody()
    body.addElement(P(text="She cried here."))
    note.addElement(body)
    paragraph.addElement(note)
    comment = Annotation()
    comment.addElement(P(text="check this"))
    paragraph.addElement(comment)
    document.text.addElement(paragraph)
    document.save(str(tmp_path / "P01.odt"))

    word = docx.Document()
    word.add_paragraph("R: It was hard.")
    buffer = io.BytesIO()
    word.save(buffer)
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    footnotes = (f'<w:footnotes {w}><w:footnote w:type="separator" w:id="-1"/><w:footnote w:id="1"><w:p><w:r>'
                 "<w:t>She cried here.</w:t></w:r></w:p></w:footnote></w:footnotes>")
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("word/footnotes.xml", footnotes)
    (tmp_path / "P02.docx").write_bytes(buffer.getvalue())

    outcomes = import_files(workspace, [tmp_path / "P01.odt", tmp_path / "P02.docx"])
    assert outcomes[0].warnings == ("the document's 1 footnote and 1 comment were not imported (only its body text "
                                    "is); if they are part of the transcript, move them into the text and import it "
                                    "again",)
    assert outcomes[1].warnings and outcomes[1].warnings[0].startswith("the document's 1 footnote were not imported")



def test_files_of_a_folder_no_reader_takes_are_named(tmp_path):
    folder = tmp_path / "interviews"
    (folder / "sub").mkdir(parents=True)
    (folder / "P01.txt").write_text("I: How are you?\nR: Fine.\n", encoding="utf-8")
    (folder / "sub" / "P02.doc").write_bytes(b"\xd0\xcf\x11\xe0 an old Word file")
    (folder / "P03.pdf").write_bytes(b"%PDF-1.4")
    (folder / "~$P01.docx").write_bytes(b"lock")
    (folder / ".hidden.rtf").write_bytes(b"{\\rtf1}")
    (folder / "Thumbs.db").write_bytes(b"x")
    project = tmp_path / "p"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(project)]).exit_code == 0
    result = runner.invoke(main, ["import", "-p", str(project), str(folder)])
    assert result.exit_code == 0, result.output
    assert "1 imported" in result.output
    assert "not imported (no reader for their file type): P03.pdf, P02.doc." in result.output
