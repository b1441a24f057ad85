"""Spoken-language words are not names: fillers, discourse markers, annotations, header fields.

Synthetic transcripts written for these tests (no real participant). With the language models
(the privacy extra); the same words after "[laughs]" or at the start of an answer are the classic
false alarms of a name detector on interview transcripts.
"""

import pytest

pytest.importorskip("presidio_analyzer", reason="the privacy extra is not installed")
pytest.importorskip("deduce", reason="the privacy extra is not installed")

from chimeqda.privacy.detect import IdentifierDetector  # noqa: E402

pytestmark = pytest.mark.slow

EN = """Interview P21 (synthetic, written for chimeqda's tests)
Date: 2 March 2025 - Location: back room, community centre - Duration: 40 min

I: Thanks for coming. Tea? Coffee?
R: Uhm, no thanks. [laughs] Honestly, I'm fine.
I: Lucky you. So, how did it start?
R: Like, I don't know. [pause] Maybe at school? That's the thing. [laughs] Seriously, nobody noticed.
I: And the meetings?
R: Obviously. [laughs] Don't tell my mother. Well, my friend Rowan took me, in Fernbridge.
R: Yeah. [sighs] Rowan still calls me. Fair enough, right?
"""

NL = """Interview P22 (synthetisch, geschreven voor de tests van chimeqda)
Datum: 3 maart 2025 – Plaats: zaaltje – Duur: 42 min. Conventies: I = interviewer

I: Wilt ge iets drinken?
R: Euh, nee, merci. [lacht] Allee, ja. Amai. Maar goed.
I: Hoe is het begonnen?
R: Awel, ik weet het niet. (lacht) Misschien op school? Dat is het. Ik ken elke straat in Oostveld.
R: Mijn sponsor Wannes belt mij. [lacht] Niet om te klagen, maar om te praten. Wannes is goud.
"""

NOT_NAMES_EN = {"Tea", "Coffee", "Uhm", "Honestly", "Lucky", "Like", "Maybe", "That", "Seriously", "Obviously",
                "Don't", "Well", "Yeah", "Fair", "Date", "Location", "Duration", "Thanks", "Interview"}
NOT_NAMES_NL = {"Wilt", "Euh", "Allee", "Amai", "Maar", "Awel", "Misschien", "Dat", "Ik", "Niet", "Datum",
                "Plaats", "Duur", "Conventies", "Interview"}


@pytest.fixture(scope="module")
def detector():
    return IdentifierDetector()


def test_english_fillers_and_header_fields_are_not_proposed(detector):
    found = {d.text: d for d in detector.detect(EN, "en")}
    assert not NOT_NAMES_EN & set(found), sorted(NOT_NAMES_EN & set(found))
    assert found["Rowan"].label == "PERSON"  # the real name still is
    assert "Fernbridge" in found


def test_dutch_fillers_and_header_fields_are_not_proposed(detector):
    found = {d.text: d for d in detector.detect(NL, "nl")}
    assert not NOT_NAMES_NL & set(found), sorted(NOT_NAMES_NL & set(found))
    assert found["Wannes"].label == "PERSON"
    assert "Oostveld" in found


def test_a_word_after_an_annotation_opens_a_sentence():
    from chimeqda.privacy.names import sentence_initial

    text = "I said so. [laughs] That was it. And then Sam (my sponsor) Koen came."
    assert sentence_initial(text, text.index("That"))
    assert not sentence_initial(text, text.index("Sam"))
    assert not sentence_initial(text, text.index("Koen"))  # the annotation ends no sentence here


def test_speaker_codes_and_one_off_fields_are_not_names():
    from chimeqda.privacy.names import speaker_spans

    text = "Conventies: I = interviewer\nSPEAKER_00: Goed.\nMieke: Ja.\nSPEAKER_00: En?\nMieke: Nee.\n"
    assert {text[a:b] for a, b, *_ in speaker_spans(text)} == {"Mieke"}
