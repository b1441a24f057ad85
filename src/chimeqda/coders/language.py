"""Which language a segment is in: given, or guessed from common function words."""

from __future__ import annotations

import re

from chimeqda.model import Segment

# Short, frequent function words: enough to tell English from Dutch when a
# segment does not say which language it is in.
_EN = frozenset(
    "the and i was my to of it that is in with me have had not what this but they for you "
    "be when he she so were would could been about there their just because".split()
)
_NL = frozenset(
    "de het een en ik was mijn niet van dat is in met me heb had wat dit maar ze voor je "
    "zijn toen hij zij dus waren zou kon geweest over daar hun gewoon omdat ook nog wel".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


def guess_language(text: str, default: str = "en") -> str:
    """``"nl"`` or ``"en"`` by counting common function words (ties give ``default``)."""
    words = [w.lower() for w in _WORD.findall(text)]
    en = sum(w in _EN for w in words)
    nl = sum(w in _NL for w in words)
    if nl > en:
        return "nl"
    if en > nl:
        return "en"
    return default


def segment_language(segment: Segment, default: str = "en") -> str:
    """The segment's language, guessed from its text when not given."""
    return segment.lang or guess_language(segment.text, default)



def calibration_lang(lang: str | None) -> str:
    """The calibration language of a segment: Dutch, or English for everything else."""
    return "nl" if lang == "nl" else "en"
