"""Property tests: any text parses, and every offset slices back to its text."""

from hypothesis import given, settings
from hypothesis import strategies as st

from chimeqda.ingest import parse_transcript_text, split_sentences
from chimeqda.ingest.normalise import normalise_text

unicode_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=300,
)
fragments = st.sampled_from(
    [
        "I: ",
        "R: ",
        "**Interviewer:** ",
        "[00:01:02] Sam: ",
        "Sam: ",
        "P03:",
        "\n",
        "\r\n",
        "\r",
        "\ufeff",
        "e\u0301",
        "👩‍👩‍👧",
        ". ",
        "... ",
        "? ",
        "Dr. ",
        "bijv. ",
        "3.5 ",
        "[laughs] ",
        "# Kop\n",
        "\t",
        "\x00",
        "\u2028",
        " ",
        "Hello",
        "wereld",
        "A",
        "é",
        "'",
        '"',
        "(",
        "]",
    ]
)
transcript_like = st.lists(st.one_of(fragments, unicode_text), max_size=40).map("".join)


def check_document(doc):
    previous_end = 0
    for number, segment in enumerate(doc.segments):
        assert segment.index == number
        assert doc.text[segment.start : segment.end] == segment.text
        assert segment.start < segment.end
        assert segment.text == segment.text.strip()
        assert segment.start >= previous_end
        previous_end = segment.end
        assert 0 <= segment.turn < len(doc.turns)
        turn = doc.turns[segment.turn]
        assert turn.start <= segment.start and segment.end <= turn.end
        assert segment.speaker == turn.speaker and segment.role == turn.role
    for first, second in zip(doc.turns, doc.turns[1:]):
        assert first.end <= second.start
    assert "\r" not in doc.text and "\x00" not in doc.text and not doc.text.startswith("\ufeff")


@settings(max_examples=300, deadline=None)
@given(st.one_of(unicode_text, transcript_like), st.sampled_from(["txt", "md"]))
def test_parse_never_crashes_and_offsets_hold(text, source_format):
    doc = parse_transcript_text(text, "t", source_format=source_format)
    check_document(doc)
    again = parse_transcript_text(text, "t", source_format=source_format)
    assert again.text == doc.text and again.sha256 == doc.sha256


@settings(max_examples=300, deadline=None)
@given(st.one_of(unicode_text, transcript_like), st.sampled_from(["en", "nl"]))
def test_split_sentences_offsets(text, lang):
    spans = split_sentences(text, lang)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip()
        previous_end = end
    covered = "".join(text[a:b] for a, b in spans)
    assert "".join(covered.split()) == "".join(text.split())


@settings(max_examples=200, deadline=None)
@given(st.one_of(unicode_text, transcript_like))
def test_normalise_is_idempotent(text):
    once = normalise_text(text)
    assert normalise_text(once) == once
