"""A small synthetic CHIME-D-like codebook (sentences written for these tests)."""

from __future__ import annotations

import pytest

from chimeqda.model import Code, Codebook, Example, LabelledText

_CODES = {
    "connectedness": (
        "Supportive connection with other people.",
        ["My sponsor calls me every week.", "The group understands me.", "My sister visits me on Sundays."],
        ["Mijn sponsor belt me elke week.", "In de groep voel ik me begrepen."],
        ["At my first meeting I was lost."],
        {"en": ["sponsor*", "meeting*", "my sister"], "nl": ["sponsor*", "de groep", "begrepen"]},
    ),
    "hope": (
        "Hope and optimism about the future.",
        ["I believe things will get better.", "One day I want to open a bakery.", "I can see a future now."],
        ["Ik geloof dat het beter wordt.", "Ik heb weer toekomstplannen."],
        [],
        {"en": ["future", "get better", "one day"], "nl": ["toekomst*", "beter wordt"]},
    ),
    "identity": (
        "The sense of who one is.",
        ["I am a mother again.", "I finally accept who I am.", "I am not my addiction."],
        ["Ik ben weer een moeder.", "Ik aanvaard wie ik ben."],
        [],
        {"en": ["who i am", "i am a*"], "nl": ["wie ik ben", "ik ben een*"]},
    ),
    "meaning": (
        "Meaning in life: spirituality, purpose, roles.",
        ["I pray every morning to my higher power.", "Helping newcomers gives my life purpose.", "My work means a lot to me."],
        ["Ik bid elke ochtend.", "Nieuwkomers helpen geeft mijn leven zin."],
        [],
        {"en": ["higher power", "pray*", "purpose"], "nl": ["bid", "zin", "hogere macht"]},
    ),
    "empowerment": (
        "Agency over one's own life and recovery.",
        ["I decided to stop on my own.", "I take responsibility for my choices.", "I chose to go to detox."],
        ["Ik besliste zelf om te stoppen.", "Ik neem verantwoordelijkheid."],
        [],
        {"en": ["i decided", "i chose", "responsib*"], "nl": ["besliste", "verantwoordelijk*"]},
    ),
    "difficulties": (
        "Struggles and negative experiences.",
        ["I relapsed last winter.", "I lost my job because of the drinking.", "I felt so alone and hopeless."],
        ["Ik hervalde vorige winter.", "Ik voelde me zo alleen."],
        ["My sister visits me."],
        {"en": ["relaps*", "lost my", "alone", "craving*"], "nl": ["herval*", "alleen", "verslaafd"]},
    ),
}

_BANK = [
    ("My sponsor and my home group keep me going.", "en", ["connectedness"]),
    ("My friends came to see me in the clinic.", "en", ["connectedness"]),
    ("I trust the people at the meeting.", "en", ["connectedness"]),
    ("I think my future looks bright.", "en", ["hope"]),
    ("I want to go back to school next year.", "en", ["hope"]),
    ("I am proud of the person I have become.", "en", ["identity"]),
    ("I no longer feel ashamed of who I am.", "en", ["identity"]),
    ("God gave me a second chance.", "en", ["meaning"]),
    ("Doing service makes my life meaningful.", "en", ["meaning"]),
    ("I made the choice to get clean myself.", "en", ["empowerment"]),
    ("I took control of my own recovery.", "en", ["empowerment"]),
    ("I was using every day and stealing to pay for it.", "en", ["difficulties"]),
    ("The cravings were terrible at night.", "en", ["difficulties"]),
    ("I relapsed but my sponsor helped me back.", "en", ["difficulties", "connectedness"]),
    ("We lived in a small town near the coast.", "en", []),
    ("I was born in 1980.", "en", []),
    ("The weather was nice that day.", "en", []),
    ("Then we drove to the city.", "en", []),
    ("Mijn vrienden steunen me enorm.", "nl", ["connectedness"]),
    ("Ik kijk uit naar de toekomst.", "nl", ["hope"]),
    ("Ik ben trots op wie ik ben.", "nl", ["identity"]),
    ("Mijn geloof geeft me kracht.", "nl", ["meaning"]),
    ("Ik heb zelf gekozen om te stoppen.", "nl", ["empowerment"]),
    ("Ik gebruikte elke dag en was alles kwijt.", "nl", ["difficulties"]),
    ("We woonden toen in Gent.", "nl", []),
    ("Het was een gewone dinsdag.", "nl", []),
]


def synthetic_codebook() -> Codebook:
    codes = []
    for code_id, (definition, en, nl, counter, keywords) in _CODES.items():
        codes.append(
            Code(
                id=code_id,
                name=code_id.capitalize(),
                definition=definition,
                inclusion="",
                exclusion="",
                examples=tuple(Example(t, "en") for t in en) + tuple(Example(t, "nl") for t in nl),
                counter_examples=tuple(Example(t, "en") for t in counter),
                keywords={k: tuple(v) for k, v in keywords.items()},
                translations={"nl": {"name": code_id.capitalize()}},
            )
        )
    codes.insert(
        1,
        Code(
            id="connectedness.peer_support",
            name="Peer support",
            definition="Support from peers in recovery.",
            inclusion="",
            exclusion="",
            parent="connectedness",
            examples=(Example("The fellowship carried me.", "en"),),
            keywords={"en": ("fellowship",), "nl": ("lotgeno*",)},
        ),
    )
    bank = tuple(
        LabelledText(text=t, labels=frozenset(labels), lang=lang, source=f"bank:{i}")
        for i, (t, lang, labels) in enumerate(_BANK)
    )
    return Codebook(
        id="synthetic", name="Synthetic CHIME-D", version="test-1", codes=tuple(codes), languages=("en", "nl"), bank=bank
    )


@pytest.fixture(scope="session")
def codebook() -> Codebook:
    return synthetic_codebook()


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch):
    """Keep tests from writing embedding caches outside tmp."""
    monkeypatch.setenv("CHIMEQDA_CACHE_DIR", "")
