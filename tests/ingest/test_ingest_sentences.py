"""Sentence splitting and language detection."""

import pytest

from chimeqda.ingest import detect_language, split_sentences


def sentences(text, lang="en"):
    return [text[a:b] for a, b in split_sentences(text, lang)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
        (
            "I saw Dr. Smith and Mrs. Jones. Then I left.",
            ["I saw Dr. Smith and Mrs. Jones.", "Then I left."],
        ),
        (
            "Things, e.g. walking, i.e. moving, etc. are good.",
            ["Things, e.g. walking, i.e. moving, etc. are good."],
        ),
        (
            "We met at 10 a.m. on St. Mary street. It rained.",
            ["We met at 10 a.m. on St. Mary street.", "It rained."],
        ),
        ("It was 3.5 hours. At 10.30 we left.", ["It was 3.5 hours.", "At 10.30 we left."]),
        ("I was thinking... maybe not. Yes.", ["I was thinking... maybe not.", "Yes."]),
        ("I was thinking... Then I stopped.", ["I was thinking...", "Then I stopped."]),
        (
            "It was funny. [laughs] And then we went.",
            ["It was funny. [laughs]", "And then we went."],
        ),
        ("Really? [pause] yes, really.", ["Really? [pause] yes, really."]),
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("Apples, pears, etc. Then we ate.", ["Apples, pears, etc.", "Then we ate."]),
        (
            "Mr. J. Smith came. In 2019. 2020 was worse.",
            ["Mr. J. Smith came.", "In 2019.", "2020 was worse."],
        ),
        (
            "First line\nsecond line. Third\n\n  fourth  ",
            ["First line", "second line.", "Third", "fourth"],
        ),
        ("Wait… What?", ["Wait…", "What?"]),
        ("", []),
        ("   \n  ", []),
    ],
)
def test_english(text, expected):
    assert sentences(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "Ik sprak dhr. Janssens en mevr. Peeters. Dat hielp.",
            ["Ik sprak dhr. Janssens en mevr. Peeters.", "Dat hielp."],
        ),
        (
            "Dingen zoals bijv. sport, bv. lopen, d.w.z. bewegen. Ja.",
            ["Dingen zoals bijv. sport, bv. lopen, d.w.z. bewegen.", "Ja."],
        ),
        (
            "Er waren o.a. vrienden, ca. tien, m.a.w. veel. Echt.",
            ["Er waren o.a. vrienden, ca. tien, m.a.w. veel.", "Echt."],
        ),
        ("Een fiets z.g.a.n. Mooi toch?", ["Een fiets z.g.a.n. Mooi toch?"]),
        (
            "Om 10.30 uur. Daarna koffie enz. Dan naar huis.",
            ["Om 10.30 uur.", "Daarna koffie enz.", "Dan naar huis."],
        ),
        ("Het was nl. Sinterklaas. Leuk!", ["Het was nl. Sinterklaas.", "Leuk!"]),
        (
            "Ik weet het niet... misschien wel. 't Is goed.",
            ["Ik weet het niet... misschien wel.", "'t Is goed."],
        ),
    ],
)
def test_dutch(text, expected):
    assert sentences(text, "nl") == expected


def test_offsets_are_trimmed():
    text = "  One.   Two.  \n"
    assert split_sentences(text, "en") == [(2, 6), (9, 13)]


def test_detect_language():
    assert detect_language("I think that it was really hard, and you know what they said.") == "en"
    assert (
        detect_language("Ik denk dat het echt heel moeilijk was, maar je weet wat ze zeiden.")
        == "nl"
    )
    assert detect_language("") == "en"
    assert detect_language("12345 !!!") == "en"
