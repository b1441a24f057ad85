"""Pattern recognisers for identifiers that have a shape: contact data, dates and exact ages.

English and Dutch/Flemish patterns run together on every text (they do not collide, and
interviews switch language). Each recogniser yields ``(start, end, label, source, score)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Span = tuple[int, int, str, str, float]

# ------------------------------------------------------------------ contact data

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"')\]]+[^\s<>\"')\].,;:!?]"
    r"|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|org|net|be|nl|eu|io|info|co\.uk|uk|de|fr)"
    r"(?:/[^\s<>\"')\]]*[^\s<>\"')\].,;:!?])?\b",
    re.IGNORECASE,
)
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?")
# Phone numbers: international (+32 …, 0032 …), Dutch/Belgian (04xx xx xx xx, 06-12345678, 09 123 45 67),
# North-American ((555) 123-4567, 555-123-4567, 555.123.4567) and UK (07700 900123).
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"(?:\+|00)\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}"
    r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}"
    r"|\d{3}[.-]\d{3}[.-]\d{4}"
    r"|0\d{1,4}(?:[\s/.-]?\d{2,4}){2,4}"
    r")(?![\w])"
)
# National register numbers (85.07.30-033.61), licence plates (1-ABC-123, AB-123-C, 12-AB-34),
# and numbers introduced as case/patient/file/member/ID numbers.
_ID = re.compile(
    r"\b\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2}\b"
    r"|\b\d-[A-Z]{3}-\d{3}\b"
    r"|\b[A-Z]{1,3}-\d{2,3}-[A-Z]{1,3}\b|\b\d{1,3}-[A-Z]{2,3}-\d{1,3}\b"
    r"|\b[A-Z]{2}\d{2}\s?[A-Z]{3}\b"
)
_ID_CUE = re.compile(
    r"\b(?:case|patient|file|client|member|id|identity|registration|licen[cs]e(?: plate)?|plate|"
    r"dossier|pati[eë]nt|cli[eë]nt|rijksregister|lid|nummerplaat|kenteken|bsn)"
    r"(?:[ -]?(?:number|nummer|nr\.?|no\.?|#))?\s*(?:is|was|:|was|=)?\s*"
    r"(?P<id>[A-Z0-9][A-Z0-9./-]{3,}\d)\b",
    re.IGNORECASE,
)


def contact_spans(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), "CONTACT", "pattern:email", 0.99
    for m in _URL.finditer(text):
        yield m.start(), m.end(), "CONTACT", "pattern:url", 0.9
    for m in _HANDLE.finditer(text):
        if len(m.group()) > 2:
            yield m.start(), m.end(), "CONTACT", "pattern:handle", 0.85
    for m in _PHONE.finditer(text):
        digits = sum(c.isdigit() for c in m.group())
        if 8 <= digits <= 15 and not _looks_like_date(m.group()):
            yield m.start(), m.end(), "CONTACT", "pattern:phone", 0.9
    for m in _ID.finditer(text):
        yield m.start(), m.end(), "CONTACT", "pattern:id", 0.85
    for m in _ID_CUE.finditer(text):
        if sum(c.isdigit() for c in m.group("id")) >= 3:
            yield m.start("id"), m.end("id"), "CONTACT", "pattern:id number", 0.85


def _looks_like_date(s: str) -> bool:
    return bool(re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}", s.strip()))


# ------------------------------------------------------------------ dates

_MONTHS_EN = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)
_MONTHS_NL = (
    r"(?:januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december"
    r"|jan|feb|mrt|apr|jun|jul|aug|sep|sept|okt|nov|dec)\.?"
)
_MONTH = rf"(?:{_MONTHS_EN}|{_MONTHS_NL})"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])"
_DAY_ORD = rf"{_DAY}(?:st|nd|rd|th|ste|de|e|ste)?"
_DAY_WORDS = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth"
    r"|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-\w+|thirtieth"
    r"|thirty-first|eerste|tweede|derde|vierde|vijfde)"
)
_YEAR = r"(?:19|20)\d{2}|'\d{2}"
_DATE = re.compile(
    r"(?<![\w/.-])(?:"
    # 3/3/2015, 14-02-2018, 14.02.2018, 2018-02-14
    r"\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d/.-]\d)"
    r"|(?:19|20)\d{2}-\d{2}-\d{2}"
    # 9 January 2021, 12 januari 2016, 17th of May, 4th of July 2019
    rf"|(?:{_DAY_ORD}|{_DAY_WORDS})(?:\s+of)?\s+{_MONTH}(?:,?\s+(?:{_YEAR}))?"
    # January 9th, 2021 / May 17th / March the 3rd
    rf"|{_MONTHS_EN}\s+(?:the\s+)?(?:{_DAY_ORD}|{_DAY_WORDS})(?!\s*(?:years?|months?|days?|jaar|maanden))"
    rf"(?:,?\s+(?:of\s+)?(?:{_YEAR}))?(?![\d])"
    # August 1987, Jan of 2024, januari 2016
    rf"|{_MONTH}(?:\s+of)?,?\s+(?:19|20)\d{{2}}"
    rf"|{_MONTH}\s*/\s*{_MONTH}\s+(?:{_YEAR})"
    r")(?![\w])",
    re.IGNORECASE,
)
_SPELLED_NL = (
    r"(?:(?:een|twee|drie|vier|vijf|zes|zeven|acht|negen)(?:en|ën)(?:twintig|dertig)|een|twee|drie|vier|vijf|zes"
    r"|zeven|acht|negen|tien|elf|twaalf|dertien|veertien|vijftien|zestien|zeventien|achttien|negentien|twintig"
    r"|dertig|eerste|eenendertig)"
)
_DATE_SPELLED_NL = re.compile(
    rf"\b{_SPELLED_NL}\s+{_MONTHS_NL}(?:\s+(?:tweeduizend|negentienhonderd)(?:\s*(?:en\s+)?[a-zë]+)?)?\b",
    re.IGNORECASE,
)
_MAY_AS_VERB = re.compile(r"^may\s", re.IGNORECASE)


def date_spans(text: str) -> Iterator[Span]:
    for m in _DATE.finditer(text):
        s = m.group()
        if _MAY_AS_VERB.match(s) and not s[0].isupper():
            continue  # "may 3" is rarely a date when "may" is lower case; "may 2 of them" never
        if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{2}", s):
            continue  # 1.5.10: version numbers, scores
        yield m.start(), m.end(), "DATE", "pattern:date", 0.9
    for m in _DATE_SPELLED_NL.finditer(text):
        yield m.start(), m.end(), "DATE", "pattern:date", 0.85


# ------------------------------------------------------------------ exact ages

_NUM_EN = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
    r"(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?\b"
)
_NUM_NL = (
    r"(?:(?:een|twee|drie|vier|vijf|zes|zeven|acht|negen)(?:en|ën)(?:twintig|dertig|veertig|vijftig|zestig"
    r"|zeventig|tachtig|negentig)|een|twee|drie|vier|vijf|zes|zeven|acht|negen|tien|elf|twaalf|dertien"
    r"|veertien|vijftien|zestien|zeventien|achttien|negentien|twintig|dertig|veertig|vijftig|zestig"
    r"|zeventig|tachtig|negentig)\b"
)
_ORD_NL = (
    r"(?:(?:een|twee|drie|vier|vijf|zes|zeven|acht|negen)(?:en|ën)(?:twintig|dertig|veertig|vijftig)ste"
    r"|tiende|elfde|twaalfde|dertiende|veertiende|vijftiende|zestiende|zeventiende|achttiende|negentiende"
    r"|twintigste|dertigste|veertigste|vijftigste|zestigste)"
)
_ORD_EN = (
    r"(?:\d{1,2}(?:st|nd|rd|th)|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth"
    r"|seventeenth|eighteenth|nineteenth|twentieth|twenty-first|thirtieth|fortieth|fiftieth|sixtieth)"
)
_AGE_NUM = rf"(?:\d{{1,2}}|{_NUM_EN})"
_AGE_NUM_NL = rf"(?:\d{{1,2}}|{_NUM_NL})"
_SUBJ_EN = r"(?:I|[Hh]e|[Ss]he|[Tt]hey|[Ww]e|[Yy]ou|(?:[Mm]y|[Hh]is|[Hh]er|[Oo]ur|[Tt]heir)\s+\w+|[A-Z][a-z]+)"
_AGES = [
    # English: "I was 14", "when I was twelve", "she's 7", "my son is 7", "I'm 34"
    re.compile(
        rf"\b(?:{_SUBJ_EN})(?:\s+(?:was|is|were|turned|turns|am|became|had just turned))(?:\s+(?:only|just|about|like|maybe))?"
        rf"\s+(?P<n>{_AGE_NUM})(?!\s*(?:years?|months?|weeks?|days?|times|minutes|hours|%|percent|pounds|kilos|"
        r"o'clock|pm|am|dollars|euros?|people|guys|of|or|and\s+\w+\s+years|\w+\s+(?:clean|sober)))(?![\w.,:]\d)",
    ),
    re.compile(
        rf"\b(?:I'm|I am|he's|she's|she is|he is|I was|you're)(?:\s+(?:only|just|now))?\s+(?P<n>{_AGE_NUM})\b"
        r"(?!\s*(?:years?\s+(?:clean|sober|in|later|ago|older|younger|apart|of|now|and|since|before|after)|months?|weeks?|days?|times|minutes|hours|%|o'clock|"
        r"pm|am|of|or|in\b|people|guys))",
        re.IGNORECASE,
    ),
    # "14 years old", "14-year-old", "aged 14", "at age 14", "at the age of 14", "age 14"
    re.compile(rf"\b(?P<n>{_AGE_NUM})(?:\s+years?\s+old|[- ]years?[- ]old|\s+yo)\b", re.IGNORECASE),
    re.compile(rf"\b(?:aged|at age|age of|at the age of|the age of|age)\s+(?P<n>{_AGE_NUM})\b", re.IGNORECASE),
    # "at 14 I started", "by 15 I was", "since I was 12"
    re.compile(rf"\b(?:[Aa]t|[Bb]y)\s+(?P<n>\d{{1,2}}|{_NUM_EN}),?\s+(?:I|he|she|we|my)\b"),
    re.compile(rf"\b(?:[Aa]t|[Bb]y|[Uu]ntil|[Tt]ill)\s+(?:the\s+age\s+of\s+)?(?P<n>\d{{1,2}}|{_NUM_EN})(?=\s*[.,;!?](?!\d))"),
    # "my 40th birthday", "her sixteenth birthday"
    re.compile(rf"\b(?:my|his|her|their|your)\s+(?P<n>{_ORD_EN})\s+birthday", re.IGNORECASE),
    # Dutch: "toen ik 15 was", "ik was 23", "was ik vijftien", "hij is 7", "15 jaar oud", "15-jarige"
    re.compile(
        rf"\b(?:toen|als|wanneer|dat)\s+(?:ik|hij|zij|ze|we|wij|hem|haar|(?:mijn|zijn|haar|m'n|z'n)\s+\w+"
        rf"(?:,\s*[A-Z][\w-]+,)?)\s+(?:nog\s+maar\s+|pas\s+|nog\s+)?"
        rf"(?P<n>{_AGE_NUM_NL})(?:\s+jaar)?\s+(?:was|werd|is|ben|wordt|waren|oud)\b",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b(?:ik was|ik ben|ik werd|hij was|hij is|zij was|zij is|ze was|ze is|was ik|ben ik|werd ik|was hij|"
        rf"was ze|was zij|is hij|is ze)(?:\s+(?:nog\s+maar|pas|toen|al|maar|ongeveer|nu))?\s+(?P<n>{_AGE_NUM_NL})"
        r"(?!\s*(?:maanden|maand|weken|week|dagen|dag|keer|uur|minuten|euro|%|procent|kilo|jaar\s+(?:clean|"
        r"nuchter|in|geleden|lang|later|getrouwd))|[\w.,]\d)\b",
        re.IGNORECASE,
    ),
    re.compile(rf"\b(?P<n>{_AGE_NUM_NL})\s+jaar\s+oud\b|\b(?P<m>\d{{1,2}})-jarige?\b", re.IGNORECASE),
    re.compile(rf"\b(?:leeftijd van|op\s+\d{{1,2}}-jarige leeftijd)\s+(?P<n>{_AGE_NUM_NL})\b", re.IGNORECASE),
    # "op mijn vijftiende", "op mijn 15de", "op zijn 12e", "mijn veertigste verjaardag"
    re.compile(
        rf"\b(?:op|vanaf|tot|sinds|rond|na)\s+(?:mijn|mijne|zijn|haar|hun|m'n|z'n|d'r)\s+"
        rf"(?P<n>{_ORD_NL}|\d{{1,2}}(?:ste|de|e|ste))\b",
        re.IGNORECASE,
    ),
    re.compile(rf"\b(?:mijn|zijn|haar)\s+(?P<n>{_ORD_NL}|\d{{1,2}}(?:ste|de|e))\s+verjaardag", re.IGNORECASE),
]


def age_spans(text: str) -> Iterator[Span]:
    for pattern in _AGES:
        for m in pattern.finditer(text):
            group = "n" if m.group("n") is not None else "m"
            value = m.group(group)
            if value.isdigit() and not 1 <= int(value) <= 110:
                continue
            yield m.start(group), m.end(group), "AGE", "pattern:age", 0.8


def pattern_spans(text: str) -> list[Span]:
    """Every contact, date and age found by pattern, in both languages."""
    return [*contact_spans(text), *date_spans(text), *age_spans(text)]
