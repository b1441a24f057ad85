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


# ---------------------------------------------------------------------------
# The standing guard of issue 17: every reader, through a real import.
#
# Any bytes given to a reader either import, with all of the file's text in the
# stored document, or are refused with an InvalidInput that names the file;
# never another exception, never silent loss. The examples are arbitrary bytes,
# valid files built by strategies (random text inside a valid structure) and
# such files with random mutations. Examples per test follow the hypothesis
# profile (tests/conftest.py): few in CI, HYPOTHESIS_PROFILE=deep for
# benchmarks/fuzz_readers.py.
#
# "The file's text", per format (compared whitespace-collapsed, since every
# reader collapses or re-joins runs of spaces and line ends):
# - .txt/.md: the bytes decoded as the reader detects (BOM, UTF-8, else the
#   legacy guess) and normalised (NFC, \n line ends, controls as spaces); the
#   stored text must be exactly that.
# - .vtt/.srt: every line of the decoded, normalised file except structure —
#   lines with "-->", the line before a block's first timing line (a cue
#   identifier) and a digits-only line before a later one (a cue number), the
#   WEBVTT header block up to its first timing line, NOTE/STYLE/REGION blocks
#   (WebVTT) and a digits-only first line of a block without timings (a cue
#   number) — with WebVTT/SubRip markup tags removed and HTML entities decoded.
#   A leading speaker label may be rewritten ("[00:01] **Sam:** hi" is stored
#   as "Sam: hi"), so the label and the rest must each be present.
# - Whisper .json: the "text" of every segment.
# - .docx/.odt: the text of every paragraph built into the file.
# - participants CSV: every non-empty cell (stripped), under its column
#   (lower-cased), as text or as the number it is written as; the participant
#   column as the participant's label; the file, name and aliases columns are
#   read on purpose into links and the key file only.
# ---------------------------------------------------------------------------

import csv  # noqa: E402
import html  # noqa: E402
import io  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

import pytest  # noqa: E402
from hypothesis import event  # noqa: E402
from sqlalchemy import select  # noqa: E402

from chimeqda.errors import InvalidInput  # noqa: E402
from chimeqda.ingest.normalise import decode_bytes  # noqa: E402
from chimeqda.ingest.speakers import LABEL_RE  # noqa: E402
from chimeqda.services import import_files, init_project  # noqa: E402
from chimeqda.store import tables as t  # noqa: E402

_numbers = itertools.count()
MARKUP = re.compile(
    r"</?(?:[bciuvs]|lang|ruby|rt|font)(?:\.[^\s<>]*)?(?:[ \t][^<>\n]*)?>"
    r"|<\d+(?::\d+)+(?:[.,]\d+)?>|\{\\[^{}\n]*\}"
)
COMMENT = re.compile(r"NOTE(?:[ \t]|$)|STYLE[ \t]*$|REGION[ \t]*$")
DIGITS = re.compile(r"[ \t]*\d+[ \t]*")
# Text a line of a file can hold (no line breaks); XML_TEXT: what .docx/.odt can hold.
LINE_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=60)
XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff",
                                 whitelist_characters="\t\n"), max_size=80)
CUE_FRAGMENTS = st.sampled_from(["<v Ann>", "<v.loud Bob Smith>", "</v>", "<i>", "</i>", "<b>", "<c.red>", "</c>",
                                 "&amp;", "&lt;", "&gt;", "&nbsp;", "<laughs>", " x < 5 > 2 ", "{\\an8}",
                                 "Sam: ", "I: ", "[00:01:02] R: ", "**Ann:** ", "NOTE ", "WEBVTT", "1", " ",
                                 "-->", "->", "00:00:05.000", "&#13;", "\t"])
CUE_LINE = st.lists(st.one_of(LINE_TEXT, CUE_FRAGMENTS), min_size=1, max_size=6).map("".join)
STRUCTURE = st.sampled_from(list("-> :.,\n\t0123456789<>&/v") + ["\n\n", "-->", "\r\n", "NOTE", "\ufeff"])


def collapse(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    return init_project(folder / "project", name="fuzz"), folder


def imported(project, data: bytes, suffix: str) -> str | None:
    """The stored text of ``data`` imported as a file, or None when refused (naming the file)."""
    ws, folder = project
    name = f"fuzz{next(_numbers)}{suffix}"
    path = folder / name
    path.write_bytes(data)
    try:
        (outcome,) = import_files(ws, [path])
    except InvalidInput as error:
        assert error.source == name and name in str(error), error
        event("refused")
        return None
    finally:
        path.unlink()
    event("imported")
    with ws.session() as session:
        return session.scalar(select(t.Document.text).where(t.Document.id == outcome.document_id))


def decoded(data: bytes) -> str:
    return normalise_text(decode_bytes(data, "x")[0])


@st.composite
def mutated(draw, base, alphabet=STRUCTURE):
    """``base`` (text) with a few characters inserted, deleted or replaced."""
    text = draw(base)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(alphabet)
        if how == "insert":
            text = text[:at] + piece + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 4)):]
        else:
            text = text[:at] + piece + text[at + 1:]
    return text


@st.composite
def mutated_bytes(draw, base):
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["flip", "delete", "insert"]))
        if how == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif how == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


ENCODED = st.tuples(st.one_of(unicode_text, transcript_like), st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"])
                    ).map(lambda pair: pair[0].encode(pair[1], errors="ignore"))


# -- .txt / .md ---------------------------------------------------------------

@given(st.one_of(st.binary(max_size=600), ENCODED, mutated_bytes(ENCODED)), st.sampled_from([".txt", ".md"]))
def test_plain_text_import_keeps_every_character(project, data, suffix):
    stored = imported(project, data, suffix)
    if stored is not None:
        assert stored == decoded(data)


# -- .vtt / .srt -------------------------------------------------------------

def cue_text_lines(text: str, vtt: bool) -> list[str]:
    """The text lines of a subtitle file (see the definition above)."""
    blocks: list[list[str]] = []
    previous_blank = True
    for line in text.split("\n"):
        if not line.strip(" \t"):
            previous_blank = True
            continue
        if previous_blank:
            blocks.append([])
        blocks[-1].append(line)
        previous_blank = False
    lines = []
    for index, block in enumerate(blocks):
        if vtt and COMMENT.match(block[0].strip()):
            continue
        timings = [n for n, line in enumerate(block) if "-->" in line]
        structure = set(timings)
        if timings:
            structure.add(timings[0] - 1)
            structure |= {n - 1 for n in timings[1:] if DIGITS.fullmatch(block[n - 1])}
        if index == 0 and block[0].strip().startswith("WEBVTT"):
            structure |= set(range(timings[0] if timings else len(block)))
        if not timings and len(block) > 1 and DIGITS.fullmatch(block[0]):
            structure.add(0)
        lines += [line for n, line in enumerate(block) if n not in structure]
    return lines


def assert_cue_text_kept(data: bytes, stored: str, vtt: bool) -> None:
    whole = collapse(stored)
    for line in cue_text_lines(decoded(data), vtt):
        spoken = collapse(html.unescape(MARKUP.sub("", line)))
        if not spoken or spoken in whole:
            continue
        label = LABEL_RE.match(spoken)
        assert label is not None, f"lost {spoken!r}"
        assert label.group("label").strip() in whole, f"lost the label of {spoken!r}"
        assert collapse(spoken[label.end():]) in whole, f"lost {spoken!r}"


def stamp(seconds: float, comma: bool) -> str:
    millis = int(round(seconds * 1000))
    text = f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000:03d}"
    return text.replace(".", ",") if comma else text


@st.composite
def cue_files(draw, vtt: bool, lines=CUE_LINE, ordered=False) -> bytes:
    out = ["WEBVTT", ""] if vtt else []
    time = 0.0
    for number in range(1, draw(st.integers(1, 6)) + 1):
        # in order; else now and then a cue before the one above or ending before it starts
        start = time + draw(st.floats(0 if ordered else -30, 30, allow_nan=False))
        start = max(start, 0.0)
        end = start + draw(st.floats(0 if ordered or draw(st.integers(0, 9)) else -30, 30, allow_nan=False))
        end = max(end, 0.0)
        time = start
        if not vtt or draw(st.booleans()):
            out.append(str(number))
        out.append(f"{stamp(start, not vtt)} --> {stamp(end, not vtt)}")
        out += draw(st.lists(lines, min_size=1, max_size=3))
        out.append("")
    return "\n".join(out).encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])))


# A cue line that is text (something left once the markup is gone) and no timing line.
SAFE_CUE_LINE = CUE_LINE.filter(lambda line: "-->" not in line and collapse(html.unescape(MARKUP.sub("", line))))


@pytest.mark.parametrize("suffix", [".vtt", ".srt"])
@given(data=st.data())
def test_subtitle_import_keeps_every_cue_text(project, suffix, data):
    vtt = suffix == ".vtt"
    files = cue_files(vtt)
    raw = data.draw(st.one_of(files, st.binary(max_size=400),
                              mutated(files.map(lambda b: b.decode("utf-8-sig") if b[:2] not in (b"\xff\xfe", b"\xfe\xff")
                                                else b.decode("utf-16"))).map(str.encode)))
    stored = imported(project, raw, suffix)
    if stored is not None:
        assert_cue_text_kept(raw, stored, vtt)


@pytest.mark.parametrize("suffix", [".vtt", ".srt"])
@given(data=st.data())
def test_valid_subtitles_always_import(project, suffix, data):
    """Cues in order with valid times and any text without "-->": never refused."""
    raw = data.draw(cue_files(suffix == ".vtt", SAFE_CUE_LINE, ordered=True))
    stored = imported(project, raw, suffix)
    assert stored is not None
    assert_cue_text_kept(raw, stored, suffix == ".vtt")


# -- Whisper .json -----------------------------------------------------------

TIME = st.one_of(st.none(), st.floats(-10, 10_000, allow_nan=False), st.integers(-5, 10_000), st.just("1.0"))
SEGMENT = st.fixed_dictionaries(
    {"text": st.one_of(unicode_text, transcript_like)},
    optional={"start": TIME, "end": TIME, "speaker": st.one_of(st.none(), LINE_TEXT, st.integers()),
              "words": st.lists(st.fixed_dictionaries({"word": LINE_TEXT, "start": TIME, "end": TIME}), max_size=3)})
WHISPER = st.tuples(st.lists(SEGMENT, max_size=6), st.booleans(), st.booleans()).map(
    lambda v: json.dumps({"segments": v[0], "language": "en"} if v[1] else v[0], ensure_ascii=v[2]))


@given(st.one_of(WHISPER.map(str.encode), st.binary(max_size=300), mutated(WHISPER).map(str.encode)))
def test_whisper_json_import_keeps_every_segment_text(project, raw):
    stored = imported(project, raw, ".json")
    if stored is None:
        return
    data = json.loads(decode_bytes(raw, "x")[0])
    segments = data["segments"] if isinstance(data, dict) else data
    whole = collapse(stored)
    for segment in segments:
        assert collapse(normalise_text(segment["text"])) in whole


# -- .docx / .odt -------------------------------------------------------------

def office_file(paragraphs: list[tuple[str, bool]], suffix: str) -> bytes:
    out = io.BytesIO()
    if suffix == ".docx":
        import docx

        document = docx.Document()
        for text, heading in paragraphs:
            document.add_heading(text, level=1) if heading else document.add_paragraph(text)
        document.save(out)
    else:
        from odf.opendocument import OpenDocumentText
        from odf.text import H, P

        document = OpenDocumentText()
        for text, heading in paragraphs:
            document.text.addElement(H(outlinelevel=1, text=text) if heading else P(text=text))
        document.write(out)
    return out.getvalue()


@pytest.mark.parametrize("suffix", [".docx", ".odt"])
@given(paragraphs=st.lists(st.tuples(st.one_of(XML_TEXT, transcript_like.map(
    lambda s: "".join(c for c in s if c in "\t\n" or not (ord(c) < 32 or 0x7f <= ord(c) < 0xa0
                                                             or 0xd800 <= ord(c) < 0xe000 or c in "\ufffe\uffff")))),
    st.booleans()), min_size=1, max_size=6), mutation=st.one_of(st.none(), st.data()))
def test_office_import_keeps_every_paragraph(project, suffix, paragraphs, mutation):
    raw = office_file(paragraphs, suffix)
    if mutation is not None:
        raw = mutation.draw(mutated_bytes(st.just(raw)))
    stored = imported(project, raw, suffix)
    if stored is None:
        assert mutation is not None or not "".join(text for text, _ in paragraphs).strip()
        return
    whole = collapse(stored)
    for text, _ in paragraphs:
        assert collapse(normalise_text(text)) in whole


@pytest.mark.parametrize("suffix", [".docx", ".odt"])
@given(raw=st.binary(max_size=400))
def test_office_import_of_any_bytes_is_refused_by_name(project, suffix, raw):
    assert imported(project, raw, suffix) is None


# -- participants CSV ---------------------------------------------------------

CELL = st.one_of(LINE_TEXT, st.sampled_from(["42", "3,5", "-0.25", "007", "nan", "1_000", "1e400", "", " ", "=1+1",
                                             "P01", "a;b", 'say "hi"', "x,y", "\t"]))
COLUMN = st.one_of(st.sampled_from(["age", "Age", "gender", "file", "name", "aliases", "town", ""]), LINE_TEXT)


@st.composite
def participant_files(draw) -> bytes:
    columns = ["participant", *draw(st.lists(COLUMN, max_size=4))]
    draw(st.randoms()).shuffle(columns)
    rows = [[draw(st.one_of(st.just(f"P{number:02d}"), CELL)) if column == "participant" else draw(CELL)
             for column in columns] for number in range(draw(st.integers(0, 5)))]
    out = io.StringIO()
    csv.writer(out, delimiter=draw(st.sampled_from([",", ";", "\t"])), lineterminator=draw(st.sampled_from(["\n", "\r\n"]))
               ).writerows([columns, *rows])
    return out.getvalue().encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])), errors="ignore")


def csv_rows(raw: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and rows as the reader splits them (delimiter: the header's most frequent of , ; tab)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    first = text.split("\n", 1)[0]
    delimiter = max([",", ";", "\t"], key=first.count) if any(d in first for d in ",;\t") else ","
    header, *rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)] or [[]]
    return header, [row for row in rows if row]


@given(st.one_of(participant_files(), st.binary(max_size=300), mutated_bytes(participant_files())))
def test_participants_csv_import_keeps_every_cell(project, raw):
    ws, folder = project
    path = folder / f"people{next(_numbers)}.csv"
    path.write_bytes(raw)
    try:
        import_files(ws, [], participants_csv=path)
    except InvalidInput as error:
        assert error.source == path.name and path.name in str(error), error
        event("refused")
        return
    event("imported")
    header, rows = csv_rows(raw)
    keys = [column.strip().lower() for column in header]
    with ws.session() as session:
        stored = {p.label: p.attributes for p in session.scalars(select(t.Participant))}
    for row in rows:
        values = dict(zip(keys, (cell.strip() for cell in row)))
        assert values["participant"] in stored
        attributes = stored[values["participant"]]
        for key, value in values.items():
            if value and key not in ("participant", "file", "name", "aliases"):
                kept = attributes[key]
                assert kept == value or (not isinstance(kept, str) and kept == float(value.replace(",", ".")))
