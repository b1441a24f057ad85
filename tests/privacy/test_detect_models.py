"""Identifier detection with the language models (presidio + spaCy for English, deduce for Dutch).

Loads the real models (tens of seconds, once per module). Synthetic text written for these tests.
"""

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("presidio_analyzer", reason="the privacy extra is not installed")
pytest.importorskip("deduce", reason="the privacy extra is not installed")

from chimeqda.privacy.detect import IdentifierDetector  # noqa: E402

pytestmark = pytest.mark.slow

EN = """I: Who helped you most in the first year?
R: Honestly, Fiona Blackwood. We worked together at Greenhill Bakery before all this.
God and the Big Book helped too, and NA every Tuesday, but Fiona answered the phone at 3 am.
I: Did you move after that?
R: Yes, to Ashford, in Kent. I was twenty-six."""

NL = """I: Wie heeft u het meest geholpen?
R: Mijn sponsor, Koen Vermeulen. Ik ken hem van de groep in Mechelen.
Ik woon nu in de Brugstraat 14 in Lier. Koen belt mij elke week, God zij dank.
I: En werk?
R: Ik werk sinds 3 februari 2022 in het Sint-Annaziekenhuis."""


@pytest.fixture(scope="module")
def detector():
    return IdentifierDetector(names=["Anouk"])


def found(detector, text, lang):
    return {d.text: d.label for d in detector.detect(text, lang)}


def test_english_names_places_without_any_cue(detector):
    got = found(detector, EN, "en")
    assert got["Fiona Blackwood"] == "PERSON" and got["Fiona"] == "PERSON"
    assert "Greenhill Bakery" in got
    assert "Ashford" in got
    assert got["twenty-six"] == "AGE"
    for word in ("God", "Big Book", "NA", "Tuesday", "Kent", "I", "R"):
        assert word not in got, word


def test_dutch_with_deduce(detector):
    got = found(detector, NL, "nl")
    assert got["Koen Vermeulen"] == "PERSON" and got["Koen"] == "PERSON"
    assert "Mechelen" in got and "Lier" in got
    assert "Brugstraat 14" in got
    assert got["3 februari 2022"] == "DATE"
    assert "Sint-Annaziekenhuis" in got
    assert "God" not in got


def test_mixed_language_and_known_names(detector):
    text = ("R: And then anouk said, weet je, ik was 19 toen ik begon. "
            "We met at the Lindenhof meeting on 2 May 2019 in Tilburg.")
    got = found(detector, text, "en")
    assert got["anouk"] == "PERSON"        # the project's name list, lower case
    assert got["19"] == "AGE"              # a Dutch age inside English text
    assert got["2 May 2019"] == "DATE"
    assert "Tilburg" in got and "Lindenhof" in got


def test_very_long_text_is_handled(detector):
    block = EN + "\n"
    text = block * 150  # about 9,000 words
    spans = detector.detect(text, "en")
    assert sum(d.text == "Fiona Blackwood" for d in spans) == 150
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))


def test_models_load_without_network(tmp_path):
    """Loading and running both models attempts no connection (tldextract, spaCy, deduce)."""
    script = textwrap.dedent("""
        import socket
        def refuse(*args, **kwargs):
            raise RuntimeError(f"network access attempted: {args}")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from chimeqda.privacy.detect import IdentifierDetector
        d = IdentifierDetector()
        assert d.detect("Call Fiona on 0471 23 45 67, www.example.org", "en")
        assert d.detect("Bel Koen Vermeulen in Mechelen.", "nl")
        print("offline ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "offline ok" in result.stdout


def test_a_first_name_that_is_also_a_word_is_proposed_where_it_opens_a_sentence(detector):
    """Once "Bloem Dijkhuis" is a full name in this text, "Bloem" opening a sentence — capitalised, or typed in
    lower case by the transcriber — is proposed too; "bloem" inside a sentence stays the word (a flower)."""
    text = ("I: Wie is uw sponsor?\nR: Bloem Dijkhuis, al jaren. Ze gaf me een bloem voor mijn verjaardag. "
            "Bloem belt elke dag. Dat helpt. bloem kwam vorige week langs.")
    spans = [(d.start, d.text, d.score) for d in detector.detect(text, "nl") if d.label == "PERSON"]
    starts = [start for start, _, _ in spans]
    assert text.index("Bloem belt") in starts and text.index("bloem kwam") in starts
    assert text.index("bloem voor") not in starts
    assert all(score < 0.7 for start, _, score in spans if start in (text.index("Bloem belt"), text.index("bloem kwam")))


def test_an_unknown_proper_noun_opening_a_sentence_is_proposed(detector):
    """"Ozzie asked me …": a name at the start of a sentence that no dictionary knows; "Yeah" and "Honestly" not."""
    text = "My name is Kim. I am an addict. Ozzie asked me to speak tonight. Yeah. Honestly, it helped."
    names = {d.text for d in detector.detect(text, "en") if d.label == "PERSON"}
    assert "Ozzie" in names and not names & {"Yeah", "Honestly", "I"}
