"""Identifier detection without the language models: name lists, cues, speaker labels, patterns."""

import json

import pytest

from chimeqda.errors import InvalidInput
from chimeqda.privacy.detect import Detection, IdentifierDetector, detect_jsonl

EN = """I: How did you find your way into the rooms?
R: My sponsor mike took me to the Tuesday Night Hope group on Harbour Road. Mike's a good guy.
Jennie: I was 14 when I first used. My son is 7 now and I have nine years clean, thank God.
R: Call me on 0471 23 45 67 or write to jen.doe@example.org, or @jennie_recovers. See www.example-recovery.org.
I: When did you get clean?
R: On January 9th, 2021, three days after Christmas. I go to NA on Mondays and read the Big Book.
I have hope. Dr. Okafor said I should keep going to the Riverside Clinic."""

NL = """I: Hoe bent ge bij NA terechtgekomen?
R: Via mijne broer. Toen ik 15 was, begon ik. Op mijn vijftiende zat ik al in de Kerkstraat 12 in Gent.
Mieke: Ik heb Wim leren kennen op 12 januari 2016, in de Sint-Jozefkliniek. Bel 0476 38 21 90.
R: Ik ben nu drie jaar clean, God zij dank, en ik ga elke dinsdag naar de meeting."""


def texts(found):
    return [d.text for d in found]


@pytest.fixture(scope="module")
def plain():
    return IdentifierDetector(use_models=False)


def test_detection_is_frozen_and_matches_text(plain):
    found = plain.detect(EN, "en")
    assert found and all(isinstance(d, Detection) for d in found)
    for d in found:
        assert EN[d.start:d.end] == d.text
        assert d.label in {"PERSON", "PLACE", "ORG", "DATE", "CONTACT", "AGE"}
    with pytest.raises(AttributeError):
        found[0].start = 0  # frozen
    assert all(a.end <= b.start for a, b in zip(found, found[1:])), "sorted and not overlapping"


def test_english_contacts_dates_ages_and_cues(plain):
    found = {d.text: d.label for d in plain.detect(EN, "en")}
    assert found["0471 23 45 67"] == "CONTACT"
    assert found["jen.doe@example.org"] == "CONTACT"
    assert found["@jennie_recovers"] == "CONTACT"
    assert found["www.example-recovery.org"] == "CONTACT"
    assert found["January 9th, 2021"] == "DATE"
    assert found["14"] == "AGE" and found["7"] == "AGE"
    assert found["mike"] == "PERSON"           # lower case, after "my sponsor"
    assert found["Mike"] == "PERSON"           # possessive 's outside the span
    assert found["Jennie"] == "PERSON"         # speaker label
    assert found["Okafor"] == "PERSON"         # title outside the span
    assert found["Harbour Road"] == "PLACE"
    assert "Riverside Clinic" in found
    for word in ("God", "NA", "Big Book", "Christmas", "Mondays", "hope", "nine years", "three days", "I", "R"):
        assert word not in found, word


def test_dutch_patterns(plain):
    found = {d.text: d.label for d in plain.detect(NL, "nl")}
    assert found["15"] == "AGE" and found["vijftiende"] == "AGE"
    assert found["12 januari 2016"] == "DATE"
    assert found["0476 38 21 90"] == "CONTACT"
    assert found["Kerkstraat 12"] == "PLACE"
    assert found["Gent"] == "PLACE"
    assert found["Mieke"] == "PERSON"
    assert "Sint-Jozefkliniek" in found
    for word in ("NA", "God", "drie jaar", "dinsdag", "I", "R"):
        assert word not in found, word


def test_durations_and_vague_times_are_not_dates_or_ages(plain):
    text = ("I had five years clean in March. We met on a Tuesday, in 2015, last week, at 3 o'clock. "
            "Kids of 12 shouldn't drink. He is five years older. In my late 20's I moved.")
    assert plain.detect(text, "en") == []


@pytest.mark.parametrize("text, expected", [
    ("I met him on 3/3/2015.", "3/3/2015"),
    ("Het was 14-02-2018, denk ik.", "14-02-2018"),
    ("That was August 1987 already.", "August 1987"),
    ("Since Jan of 2024 I am clean.", "Jan of 2024"),
    ("It was the 4th of July 2019.", "4th of July 2019"),
    ("On Saturday 5 March we went.", "5 March"),
])
def test_date_shapes(plain, text, expected):
    assert texts(plain.detect(text, None)) == [expected]


def test_known_names_lower_case_and_misspelt_and_everywhere():
    detector = IdentifierDetector(names=["Marieke Verhoeven", "Big Mike"], use_models=False)
    text = ("marieke came late. Then Mareike said hi to big mike. verhoeven laughed. "
            "Mike's car. Marike again.")
    found = texts(detector.detect(text, "en"))
    assert found == ["marieke", "Mareike", "big mike", "verhoeven", "Mike", "Marike"]


def test_names_that_are_words_need_a_capital():
    detector = IdentifierDetector(names=["Hope", "Will"], use_models=False)
    text = "I have hope. I will go. We went to see Hope on Sunday, and Will came along."
    assert texts(detector.detect(text, "en")) == ["Hope", "Will"]


def test_detect_jsonl(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Call Sam Ashdown on 020 7946 0958.", "lang": "en"}) + "\n"
                      + json.dumps({"id": "b", "text": "Ik ben nu drie jaar clean.", "lang": "nl"}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert detect_jsonl(source, out, names=["Sam Ashdown"]) == 2
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["a", "b"]
    spans = {(s["start"], s["end"], s["label"]) for s in lines[0]["spans"]}
    assert (5, 16, "PERSON") in spans and (20, 33, "CONTACT") in spans
    assert lines[1]["spans"] == []


def test_detect_jsonl_bad_line_names_the_line(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InvalidInput) as e:
        detect_jsonl(source, tmp_path / "out.jsonl")
    assert "line 2" in str(e.value) and "in.jsonl" in str(e.value)
    assert not (tmp_path / "out.jsonl").exists()


def test_spans_stay_on_their_words_after_characters_that_casefold_longer():
    # "ß" casefolds to "ss" (and "İ" to two characters): every offset found in the casefolded text was one
    # character further on per such character, so "jan de groot" came out as "n de groot" and the next
    # occurrence of a name found elsewhere as the wrong words
    from chimeqda.privacy.detect import _propagate

    detector = IdentifierDetector(names=["Jan de Groot", "Koen"], use_models=False)
    text = "Ik woonde vroeger in de Großestraße. Mijn sponsor Koen belde elke dag, zei jan de groot. En Koen kwam."
    listed = [d for d in detector.detect(text, "nl") if d.source.startswith("name list")]
    assert texts(listed) == ["Koen", "jan de groot", "Koen"]
    assert all(text[d.start:d.end] == d.text for d in listed)

    text = "Ze woonde in de Großestraße bij Wardje Pieters. İedereen kende WARDJE PIETERS daar."
    start = text.index("Wardje Pieters")
    found = _propagate(text, [(start, start + 14, "PERSON", "context cue", 0.9)])
    assert [text[a:b] for a, b, *_ in found] == ["Wardje Pieters", "WARDJE PIETERS", "Wardje", "Pieters"]


def test_a_match_inside_one_characters_casefolding_is_no_match():
    from chimeqda.privacy.names import Folded

    folded = Folded("İstanbul Straße ß s")
    assert list(folded.finditer("s")) == [(1, 2), (9, 10), (18, 19)]  # not the two halves of a lone "ß"
    assert list(folded.finditer("strasse")) == [(9, 15)]


@pytest.mark.parametrize("text, place, person", [
    ("I live in Ghent. Then Peter came round.", "Ghent", "Peter"),
    ("We moved to Zwolle. Then Peter stayed.", "Zwolle", "Peter"),
    ("Where did you grow up in\nPeter: in Antwerp, mostly.", "Antwerp", None),
])
def test_the_in_town_cue_stops_at_the_end_of_a_sentence_and_of_a_line(plain, text, place, person):
    found = plain.detect(text, "en")
    assert [d.text for d in found if d.label == "PLACE"] == [place]
    assert [d.text for d in found if d.label == "PERSON"] == ([person] if person else [])


def test_the_in_town_cue_keeps_abbreviated_saints_and_inner_full_stops(plain):
    found = plain.detect("I met him in St. Peter's, near St.Truiden.", "en")
    assert [d.text for d in found if d.label == "PLACE"] == ["St. Peter", "St.Truiden"]


def test_a_place_cue_at_the_end_of_a_line_does_not_reach_the_next_speaker():
    from chimeqda.privacy.detect import _shape_spans

    text = "Interviewer: And the town you grew up in\nPeter: Antwerp, mostly."
    assert [text[a:b] for a, b, label, *_ in _shape_spans(text) if label == "PLACE"] == []
