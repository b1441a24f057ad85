"""Speaker labels, turns and roles in plain-text transcripts."""

import pytest

from chimeqda.ingest import parse_transcript_text


def turns_of(doc):
    return [(t.speaker, t.role) for t in doc.turns]


def check_offsets(doc):
    for segment in doc.segments:
        assert doc.text[segment.start : segment.end] == segment.text
        assert segment.text == segment.text.strip() and segment.start < segment.end
    assert [s.index for s in doc.segments] == list(range(len(doc.segments)))


@pytest.mark.parametrize(
    "first, second, roles",
    [
        ("I", "R", ("interviewer", "participant")),
        ("Q", "A", ("interviewer", "participant")),
        ("Interviewer", "Respondent", ("interviewer", "participant")),
        ("INT", "Participant", ("interviewer", "participant")),
        ("Int.", "P03", ("interviewer", "participant")),
        ("Interviewer 1", "P3", ("interviewer", "participant")),
        ("Onderzoeker", "Deelnemer", ("interviewer", "participant")),
        ("Interviewster", "Geïnterviewde", ("interviewer", "participant")),
        ("Moderator", "Sam", ("interviewer", "participant")),
        ("SPEAKER_00", "SPEAKER_01", ("participant", "participant")),
        ("Facilitator", "Dr. Peeters", ("interviewer", "participant")),
    ],
)
def test_label_conventions(first, second, roles):
    text = f"{first}: How are you?\n{second}: Fine, thanks.\n{first}: Good.\n{second}: Yes.\n"
    doc = parse_transcript_text(text, "t.txt")
    assert turns_of(doc) == [(first, roles[0]), (second, roles[1])] * 2
    assert [s.text for s in doc.segments] == ["How are you?", "Fine, thanks.", "Good.", "Yes."]
    assert doc.segments[1].speaker == second and doc.segments[1].role == roles[1]
    check_offsets(doc)


@pytest.mark.parametrize(
    "line, time",
    [
        ("[00:01:02] Sam: Hello there.", 62.0),
        ("00:01:02 Sam: Hello there.", 62.0),
        ("(01:02) Sam: Hello there.", 62.0),
        ("Sam (00:01:02): Hello there.", 62.0),
        ("Sam: [00:01:02] Hello there.", 62.0),
        ("**Sam:** Hello there.", None),
        ("**Sam**: Hello there.", None),
        ("Sam\tHello there.", None),
    ],
)
def test_timestamps_and_markup_around_labels(line, time):
    doc = parse_transcript_text(f"{line}\nKim: Hi.\n{line}\n", "t.md", source_format="md")
    assert doc.turns[0].speaker == "Sam" and doc.turns[0].time == time
    assert doc.segments[0].text == "Hello there."
    check_offsets(doc)


def test_time_of_day_after_label_stays_in_the_text():
    doc = parse_transcript_text("I: When?\nR: 10:30 was the time.\n", "t.txt")
    assert doc.segments[1].text == "10:30 was the time." and doc.turns[1].time is None


def test_sentence_with_colon_is_not_a_label():
    text = (
        "I: What did you learn?\n"
        "R: A lot.\n"
        "What I learned was this: you need people.\n"
        "Note: this line appears once.\n"
        "I: Thanks.\n"
    )
    doc = parse_transcript_text(text, "t.txt")
    assert turns_of(doc) == [("I", "interviewer"), ("R", "participant"), ("I", "interviewer")]
    assert [s.text for s in doc.segments if s.turn == 1] == [
        "A lot.",
        "What I learned was this: you need people.",
        "Note: this line appears once.",
    ]


def test_name_label_needs_two_occurrences():
    once = parse_transcript_text("Sam: hello there.\nMore text.\n", "t.txt")
    assert turns_of(once) == [(None, "participant")]
    twice = parse_transcript_text("Sam: hello.\nKim: hi.\nSam: bye.\nKim: bye.\n", "t.txt")
    assert turns_of(twice) == [("Sam", "participant"), ("Kim", "participant")] * 2


def test_multiline_turns_and_preamble():
    text = (
        "# Interview P03\n"
        "Date: 12 May 2024\n"
        "\n"
        "I: First question?\n"
        "R: First line.\n"
        "Second line of the same answer\n"
        "\n"
        "and a new paragraph.\n"
        "I:\n"
        "R: Last.\n"
    )
    doc = parse_transcript_text(text, "t.txt")
    assert turns_of(doc) == [
        (None, "other"),
        ("I", "interviewer"),
        ("R", "participant"),
        ("I", "interviewer"),
        ("R", "participant"),
    ]
    assert doc.text[doc.turns[0].start : doc.turns[0].end] == "# Interview P03\nDate: 12 May 2024"
    answer = [s.text for s in doc.segments if s.turn == 2]
    assert answer == ["First line.", "Second line of the same answer", "and a new paragraph."]
    assert not [s for s in doc.segments if s.turn == 3]  # an empty turn has no segments
    assert doc.text[doc.turns[2].start : doc.turns[2].end].endswith("new paragraph.")
    check_offsets(doc)


def test_markdown_headings_are_other_turns():
    text = "# Interview\n\nI: Hello?\nR: Hi.\n\n## Part two\n\nI: Next?\nR: Yes.\n"
    doc = parse_transcript_text(text, "t.md", source_format="md")
    assert turns_of(doc)[3] == (None, "other")
    assert doc.segments[0].text == "Interview"
    assert [s.text for s in doc.segments if s.role == "other"] == ["Interview", "Part two"]
    plain = parse_transcript_text(text, "t.txt")
    assert turns_of(plain)[0] == (None, "other") and len(plain.turns) == 5


def test_no_labels_gives_participant_paragraphs():
    doc = parse_transcript_text("First paragraph. Two.\nStill first.\n\nSecond one.\n", "t.txt")
    assert turns_of(doc) == [(None, "participant"), (None, "participant")]
    assert [s.turn for s in doc.segments] == [0, 0, 0, 1]


def test_interviewer_labels_argument():
    text = "Sam: Why?\nKim: Because.\nSam: Ok?\nKim: Yes.\n"
    doc = parse_transcript_text(text, "t.txt", interviewer_labels=["sam"])
    assert turns_of(doc)[:2] == [("Sam", "interviewer"), ("Kim", "participant")]
    whisper = "SPEAKER_00: Why?\nSPEAKER_01: Because.\n"
    doc = parse_transcript_text(whisper, "t.txt", interviewer_labels=("SPEAKER_00",))
    assert turns_of(doc) == [("SPEAKER_00", "interviewer"), ("SPEAKER_01", "participant")]


def test_language_argument_and_detection():
    english = "I: How did you feel about that?\nR: I think it was really hard for me.\n"
    dutch = "I: Hoe voelde je je daarbij?\nR: Ik denk dat het echt heel moeilijk was voor mij.\n"
    assert parse_transcript_text(english, "e").language == "en"
    doc = parse_transcript_text(dutch, "d")
    assert doc.language == "nl" and {s.lang for s in doc.segments} == {"nl"}
    assert parse_transcript_text(dutch, "d", language="en").language == "en"


def test_normalisation_and_stability():
    text = "\ufeffI: Cafe\u0301?\r\nR: Yes\x00 and\x07 no.\rI: Ok.\r\n"
    doc = parse_transcript_text(text, "t.txt")
    assert doc.text == "I: Café?\nR: Yes  and  no.\nI: Ok.\n"
    assert doc.sha256 and doc.sha256 == parse_transcript_text(text, "t.txt").sha256
    assert parse_transcript_text(text, "t.txt", sha256="abc").sha256 == "abc"


def test_empty_text():
    doc = parse_transcript_text("  \n\n ", "t.txt")
    assert doc.turns == () and doc.segments == ()


def test_speaker_named_once_gets_own_turn():
    text = (
        "Interviewer: How did the week go?\n"
        "P03: It was busy.\n"
        "Interviewer: Did anyone help you?\n"
        "Partner: I did the shopping most days.\n"
        "P03: Yes, that helped.\n"
        "Nurse: [laughs] We also came by twice.\n"
        "Interviewer: Thank you.\n"
    )
    doc = parse_transcript_text(text, "t.txt")
    assert turns_of(doc) == [
        ("Interviewer", "interviewer"),
        ("P03", "participant"),
        ("Interviewer", "interviewer"),
        ("Partner", "participant"),
        ("P03", "participant"),
        ("Nurse", "participant"),
        ("Interviewer", "interviewer"),
    ]
    partner = [s for s in doc.segments if s.speaker == "Partner"]
    assert [s.text for s in partner] == ["I did the shopping most days."]
    assert partner[0].role == "participant"
    check_offsets(doc)


def test_once_only_label_with_known_role_labels():
    text = "I: How are you?\nR: Fine.\nNurse: Time for your tablets.\nR: Ok.\n"
    doc = parse_transcript_text(text, "t")
    assert turns_of(doc) == [
        ("I", "interviewer"),
        ("R", "participant"),
        ("Nurse", "participant"),
        ("R", "participant"),
    ]


def test_once_only_prose_and_metadata_lines_are_not_speakers():
    text = (
        "Date: 12 May 2024\n"  # before the first label: a header line
        "Interviewer: How did it start?\n"
        "P03: Slowly.\n"
        "Note: the recorder stopped for a minute.\n"
        "Time: 10:32\n"
        "Duration: 45 minutes\n"
        "Monday: went to the clinic with my sister.\n"  # lower-case, unlike the turns
        "So: That was it.\n"
        "Interviewer: And then?\n"
        "P03: Then it got better.\n"
    )
    doc = parse_transcript_text(text, "t.txt")
    assert turns_of(doc) == [
        (None, "other"),
        ("Interviewer", "interviewer"),
        ("P03", "participant"),
        ("Interviewer", "interviewer"),
        ("P03", "participant"),
    ]
    assert doc.text[doc.turns[0].start : doc.turns[0].end] == "Date: 12 May 2024"
    answer = doc.text[doc.turns[2].start : doc.turns[2].end]
    assert answer.startswith("P03: Slowly.\nNote:") and answer.endswith("So: That was it.")


def test_once_only_label_must_look_like_the_other_labels():
    timed = (
        "[00:00:01] Interviewer: How are you?\n"
        "[00:00:04] P03: Fine.\n"
        "Sister: Not really.\n"  # no timestamp, unlike every turn: prose
        "[00:00:09] Interviewer: Why not?\n"
        "[00:00:12] Partner: She was tired.\n"  # same form: a speaker
        "[00:00:15] P03: That is true.\n"
    )
    doc = parse_transcript_text(timed, "t.txt")
    assert [t.speaker for t in doc.turns] == ["Interviewer", "P03", "Interviewer", "Partner", "P03"]
    assert doc.turns[3].time == 12.0
    bold = "**I:** Hello?\n**R:** Hi.\nKim: Hello.\n**Partner:** Hi there.\n"
    doc = parse_transcript_text(bold, "t.md", source_format="md")
    assert [t.speaker for t in doc.turns] == ["I", "R", "Partner"]
    assert doc.text[doc.turns[1].start : doc.turns[1].end] == "**R:** Hi.\nKim: Hello."
