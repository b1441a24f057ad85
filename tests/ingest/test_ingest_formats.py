"""Every file format, written to tmp_path and read back."""

import hashlib
import json
import zipfile

import docx
import pytest
from odf.opendocument import OpenDocumentText
from odf.text import H, P, Span

from chimeqda.ingest import read_document


def check(doc):
    for segment in doc.segments:
        assert doc.text[segment.start : segment.end] == segment.text
        assert segment.text == segment.text.strip() and segment.start < segment.end
        turn = doc.turns[segment.turn]
        assert turn.start <= segment.start < segment.end <= turn.end
        assert (segment.speaker, segment.role, segment.lang) == (
            turn.speaker,
            turn.role,
            doc.language,
        )
    assert [s.index for s in doc.segments] == list(range(len(doc.segments)))
    assert [t.index for t in doc.turns] == list(range(len(doc.turns)))
    return doc


def speakers(doc):
    return [(t.speaker, t.role) for t in doc.turns]


def test_txt_utf8_and_sha(tmp_path):
    data = b"Interview P01\n\nI: How are you?\r\nR: Fine. Thanks.\r\n"
    path = tmp_path / "P01.txt"
    path.write_bytes(data)
    doc = check(read_document(path))
    assert doc.name == "P01.txt" and doc.source_format == "txt"
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert speakers(doc) == [(None, "other"), ("I", "interviewer"), ("R", "participant")]
    assert "\r" not in doc.text
    assert read_document(path).text == doc.text


@pytest.mark.parametrize(
    "encoding, prefix",
    [
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-8", b""),
        ("utf-16", b""),
        ("utf-16-le", b""),
        ("utf-16-be", b"\xfe\xff"),
        ("cp1252", b""),
        ("latin-1", b""),
    ],
)
def test_encodings(tmp_path, encoding, prefix):
    text = (
        "Onderzoeker: Hoe was het café? Ça va?\n"
        "Geïnterviewde: Het was één keer heel fijn, zei de naïeve jongen.\n"
    ) * 3
    path = tmp_path / "enc.txt"
    path.write_bytes(prefix + text.encode(encoding))
    doc = check(read_document(path))
    assert doc.text == text
    assert doc.turns[1].speaker == "Geïnterviewde" and doc.turns[1].role == "participant"
    assert doc.language == "nl"


def test_markdown(tmp_path):
    path = tmp_path / "P03.md"
    path.write_text("# Interview P03\n\n**Interviewer:** Hello?\n\n**Respondent:** Hi. Yes.\n")
    doc = check(read_document(path, language="en"))
    assert speakers(doc) == [
        (None, "other"),
        ("Interviewer", "interviewer"),
        ("Respondent", "participant"),
    ]
    assert [s.text for s in doc.segments] == ["Interview P03", "Hello?", "Hi.", "Yes."]


def test_docx_paragraphs_and_tables(tmp_path):
    document = docx.Document()
    document.add_heading("Interview P02", level=1)
    document.add_paragraph("Interviewer: How did it start?")
    paragraph = document.add_paragraph("P02: ")
    paragraph.add_run("It started slowly.").bold = True
    paragraph.add_run(" Then fast.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Interviewer"
    table.cell(0, 1).text = "And now?"
    table.cell(1, 0).text = "P02"
    table.cell(1, 1).text = "Better."
    path = tmp_path / "P02.docx"
    document.save(path)
    doc = check(read_document(path))
    assert doc.source_format == "docx"
    assert speakers(doc) == [
        (None, "other"),
        ("Interviewer", "interviewer"),
        ("P02", "participant"),
        ("Interviewer", "interviewer"),
        ("P02", "participant"),
    ]
    assert [s.text for s in doc.segments] == [
        "Interview P02",
        "How did it start?",
        "It started slowly.",
        "Then fast.",
        "And now?",
        "Better.",
    ]
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_odt(tmp_path):
    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Interview P08"))
    document.text.addElement(P(text="Onderzoeker: Hoe gaat het nu met je?"))
    paragraph = P(text="Deelnemer: Goed, dank je. ")
    paragraph.addElement(Span(text="Het gaat bijv. beter dan vorig jaar."))
    document.text.addElement(paragraph)
    path = tmp_path / "P08.odt"
    document.save(str(path))
    doc = check(read_document(path))
    assert doc.source_format == "odt" and doc.language == "nl"
    assert speakers(doc) == [
        (None, "other"),
        ("Onderzoeker", "interviewer"),
        ("Deelnemer", "participant"),
    ]
    assert [s.text for s in doc.segments][-2:] == [
        "Goed, dank je.",
        "Het gaat bijv. beter dan vorig jaar.",
    ]


VTT = """WEBVTT
Kind: captions

NOTE a comment
that spans lines

1
00:00:01.000 --> 00:00:03.500 align:start
<v Interviewer>So how <i>are</i> you</v>

2
00:00:03.500 --> 00:00:05.000
<v Interviewer>doing today?</v>

00:01:05.250 --> 00:01:09.000
<v.loud Sam><c.yellow>Good</c>, <00:01:06.000>thanks &amp; you?
"""


def test_vtt(tmp_path):
    path = tmp_path / "P05.vtt"
    path.write_text(VTT)
    doc = check(read_document(path))
    assert doc.text == "Interviewer: So how are you doing today?\nSam: Good, thanks & you?"
    assert speakers(doc) == [("Interviewer", "interviewer"), ("Sam", "participant")]
    assert [t.time for t in doc.turns] == [1.0, 65.25]
    assert [s.text for s in doc.segments] == ["So how are you doing today?", "Good, thanks & you?"]


SRT = """1
00:00:01,000 --> 00:00:02,500
INT: Hello. How are

2
00:00:02,500 --> 00:00:04,000
you today?

3
00:00:04,000 --> 00:00:06,000
Anna: <i>Good</i>, thanks.

4
00:00:06,000 --> 00:00:08,000
INT: Great.

5
00:00:08,000 --> 00:00:09,000
Anna: Yes.
"""


def test_srt(tmp_path):
    path = tmp_path / "P06.srt"
    path.write_text(SRT)
    doc = check(read_document(path))
    assert speakers(doc) == [("INT", "interviewer"), ("Anna", "participant")] * 2
    assert doc.text.splitlines()[0] == "INT: Hello. How are you today?"
    assert doc.turns[1].time == 4.0


def test_srt_without_speakers(tmp_path):
    path = tmp_path / "plain.srt"
    path.write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nHello there.\n\n"
        "2\n00:00:02,000 --> 00:00:03,000\nBye now.\n"
    )
    doc = check(read_document(path))
    assert speakers(doc) == [(None, "participant")]
    assert [s.text for s in doc.segments] == ["Hello there.", "Bye now."]


def whisper(segments, **extra):
    return json.dumps({"segments": segments, **extra})


def test_whisper_json_guesses_interviewer(tmp_path):
    segments = [
        {"start": 0.0, "end": 2.0, "text": " Hoe gaat het met je?", "speaker": "SPEAKER_00"},
        {"start": 2.0, "end": 4.0, "text": " Goed, dank je.", "speaker": "SPEAKER_01"},
        {"start": 4.0, "end": 5.0, "text": " Echt waar.", "speaker": "SPEAKER_01"},
        {"start": 5.0, "end": 7.0, "text": " En je werk?", "speaker": "SPEAKER_00"},
    ]
    path = tmp_path / "P07.json"
    path.write_text(whisper(segments, language="nl"))
    doc = check(read_document(path))
    assert doc.language == "nl" and doc.source_format == "json"
    assert speakers(doc) == [
        ("SPEAKER_00", "interviewer"),
        ("SPEAKER_01", "participant"),
        ("SPEAKER_00", "interviewer"),
    ]
    assert doc.text.splitlines()[1] == "SPEAKER_01: Goed, dank je. Echt waar."
    assert [t.time for t in doc.turns] == [0.0, 2.0, 5.0]
    given = read_document(path, interviewer_labels=["SPEAKER_01"])
    assert speakers(given)[:2] == [("SPEAKER_00", "participant"), ("SPEAKER_01", "interviewer")]
    assert read_document(path, language="en").language == "en"


def test_whisper_json_list_without_speakers(tmp_path):
    path = tmp_path / "list.json"
    path.write_text(
        json.dumps(
            [{"start": 0, "end": 1, "text": "Hello there."}, {"start": 1, "end": 2, "text": "Bye."}]
        )
    )
    doc = check(read_document(path))
    assert doc.text == "Hello there. Bye."
    assert speakers(doc) == [(None, "participant")]


def test_whisper_json_no_guess_when_unclear(tmp_path):
    segments = [
        {"start": 0, "text": "I like it.", "speaker": "A1"},
        {"start": 1, "text": "Why?", "speaker": "B1"},
    ]
    path = tmp_path / "unclear.json"
    path.write_text(whisper(segments))
    assert {t.role for t in read_document(path).turns} == {"participant"}


NAMED_VTT = """WEBVTT

00:00:01.000 --> 00:00:03.000
<v Els>How have you been since the diagnosis?

00:00:04.000 --> 00:00:08.000
<v Jan>Not great. I was tired all the time.

00:00:09.000 --> 00:00:10.000
<v Els>What helped you most?

00:00:11.000 --> 00:00:14.000
<v Jan>My daughter did.
"""


def test_vtt_two_named_speakers_guesses_interviewer(tmp_path):
    path = tmp_path / "P09.vtt"
    path.write_text(NAMED_VTT)
    doc = check(read_document(path))
    assert speakers(doc) == [("Els", "interviewer"), ("Jan", "participant")] * 2
    given = read_document(path, interviewer_labels=["Jan"])
    assert speakers(given)[:2] == [("Els", "participant"), ("Jan", "interviewer")]
    # the first speaker asks no question: no guess, both stay participants
    unclear = tmp_path / "P10.vtt"
    unclear.write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Jan>Hello.\n\n"
        "00:00:01.000 --> 00:00:02.000\n<v Els>Hello. Shall we start?\n"
    )
    assert speakers(read_document(unclear)) == [("Jan", "participant"), ("Els", "participant")]


def test_srt_two_named_speakers_guesses_interviewer(tmp_path):
    path = tmp_path / "P11.srt"
    path.write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nEls: How are you?\n\n"
        "2\n00:00:02,000 --> 00:00:04,000\nJan: Fine, thanks.\n\n"
        "3\n00:00:04,000 --> 00:00:05,000\nEls: And at work?\n\n"
        "4\n00:00:05,000 --> 00:00:07,000\nJan: Busy.\n"
    )
    doc = check(read_document(path))
    assert speakers(doc) == [("Els", "interviewer"), ("Jan", "participant")] * 2


def test_srt_speaker_named_once(tmp_path):
    path = tmp_path / "P12.srt"
    path.write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nInterviewer: Who helps at home?\n\n"
        "2\n00:00:02,000 --> 00:00:04,000\nP12: My partner.\n\n"
        "3\n00:00:04,000 --> 00:00:05,000\nPartner: I do the cooking.\n\n"
        "4\n00:00:05,000 --> 00:00:06,000\nInterviewer: Thanks.\n\n"
        "5\n00:00:06,000 --> 00:00:07,000\nP12: You are welcome.\n"
    )
    doc = check(read_document(path))
    assert speakers(doc) == [
        ("Interviewer", "interviewer"),
        ("P12", "participant"),
        ("Partner", "participant"),
        ("Interviewer", "interviewer"),
        ("P12", "participant"),
    ]
    assert doc.text.splitlines()[2] == "Partner: I do the cooking."


def test_docx_headings_are_other_turns(tmp_path):
    document = docx.Document()
    document.add_heading("Interview P04", level=0)  # Title
    document.add_paragraph("Interviewer: How did it start?")
    document.add_paragraph("P04: Slowly.")
    document.add_heading("Part two: treatment", level=2)
    document.add_paragraph("Interviewer: And now?")
    document.add_paragraph("P04: Better.")
    document.add_heading("Closing remarks", level=1)
    document.add_paragraph("Interviewer: Anything else?", style="Heading 3")  # label wins
    document.add_paragraph("P04: No.")
    path = tmp_path / "P04.docx"
    document.save(path)
    doc = check(read_document(path))
    assert speakers(doc) == [
        (None, "other"),
        ("Interviewer", "interviewer"),
        ("P04", "participant"),
        (None, "other"),
        ("Interviewer", "interviewer"),
        ("P04", "participant"),
        (None, "other"),
        ("Interviewer", "interviewer"),
        ("P04", "participant"),
    ]
    assert [s.text for s in doc.segments if s.role == "other"] == [
        "Interview P04",
        "Part two: treatment",
        "Closing remarks",
    ]
    assert [s.text for s in doc.segments if s.speaker == "P04"] == ["Slowly.", "Better.", "No."]


def test_docx_heading_styles_with_translated_ids(tmp_path):
    # Dutch Word names the style id "Kop2"; its name in styles.xml is "heading 2".
    document = docx.Document()
    styles = document.styles.element
    for style in styles.iter("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}style"):
        w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
        if style.get(w + "styleId") == "Heading2":
            style.set(w + "styleId", "Kop2")
    document.add_paragraph("Onderzoeker: Hoe ging het?")
    document.add_paragraph("Deelnemer: Goed.")
    heading = document.add_paragraph("Deel twee")
    heading.style = document.styles["Heading 2"]
    document.add_paragraph("Onderzoeker: En nu?")
    path = tmp_path / "P13.docx"
    document.save(path)
    with zipfile.ZipFile(path) as archive:
        assert b'w:val="Kop2"' in archive.read("word/document.xml")
    doc = check(read_document(path))
    assert speakers(doc) == [
        ("Onderzoeker", "interviewer"),
        ("Deelnemer", "participant"),
        (None, "other"),
        ("Onderzoeker", "interviewer"),
    ]


def test_odt_headings_are_other_turns(tmp_path):
    document = OpenDocumentText()
    document.text.addElement(P(text="Onderzoeker: Hoe gaat het?"))
    document.text.addElement(P(text="Deelnemer: Goed."))
    document.text.addElement(H(outlinelevel=2, text="Deel twee"))
    document.text.addElement(P(text="Onderzoeker: En nu?"))
    document.text.addElement(P(text="Deelnemer: Beter."))
    path = tmp_path / "P14.odt"
    document.save(str(path))
    doc = check(read_document(path))
    assert speakers(doc) == [
        ("Onderzoeker", "interviewer"),
        ("Deelnemer", "participant"),
        (None, "other"),
        ("Onderzoeker", "interviewer"),
        ("Deelnemer", "participant"),
    ]
    assert [s.text for s in doc.segments if s.role == "other"] == ["Deel twee"]


def test_docx_without_styles_part_uses_style_ids(tmp_path):
    document = docx.Document()
    document.add_paragraph("Interviewer: How did it start?")
    document.add_paragraph("P15: Slowly.")
    document.add_heading("Session: two", level=1)
    document.add_paragraph("Interviewer: And now?")
    document.add_heading("Session: three", level=1)  # headings never make a label count
    document.add_paragraph("P15: Better.")
    full = tmp_path / "full.docx"
    document.save(full)
    path = tmp_path / "P15.docx"
    with zipfile.ZipFile(full) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            if item.filename != "word/styles.xml":
                target.writestr(item, source.read(item))
    doc = check(read_document(path))
    assert speakers(doc) == [
        ("Interviewer", "interviewer"),
        ("P15", "participant"),
        (None, "other"),
        ("Interviewer", "interviewer"),
        (None, "other"),
        ("P15", "participant"),
    ]
