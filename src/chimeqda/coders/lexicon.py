"""A transparent rule coder: bilingual keyword patterns from the codebook.

Patterns come from each code's ``keywords`` (per language) and roll up to the
coder's target codes (top-level by default). Pattern syntax, as in
``docs/codebook-format.md``: ``*`` matches any word ending (``meeting*``), a
pattern of several words is a phrase (``higher power``); matching ignores case
and accents-as-typed. The evidence is the list of matched terms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from chimeqda.coders.base import Coder
from chimeqda.coders.language import guess_language as guess_language
from chimeqda.coders.language import segment_language as segment_language
from chimeqda.model import Codebook, LabelledText, Segment


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A case-insensitive regex for one keyword pattern (``*`` = any word ending)."""
    words = [w for w in pattern.strip().split() if w]
    if not words:
        raise ValueError("empty keyword pattern")
    parts = []
    for word in words:
        pieces = [re.escape(piece) for piece in word.split("*")]
        parts.append(r"\w*".join(pieces))
    body = r"[\s\-]+".join(parts)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE | re.UNICODE)


_WORD = re.compile(r"\w+")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def target_codes(codebook: Codebook, level: str = "top") -> tuple[str, ...]:
    """The code ids a coder scores: top-level codes (``level="top"``) or all codes."""
    if level == "top":
        return tuple(code.id for code in codebook.top_level)
    if level == "all":
        return tuple(code.id for code in codebook.codes)
    raise ValueError(f"level must be 'top' or 'all', not {level!r}")


def roll_up(codebook: Codebook, code_id: str, codes: Sequence[str]) -> str | None:
    """``code_id`` or its nearest ancestor among ``codes`` (None when outside the codebook)."""
    if code_id not in codebook:
        return None
    current = codebook[code_id]
    while current.id not in codes:
        if current.parent is None:
            return None
        current = codebook[current.parent]
    return current.id


def rolled_labels(codebook: Codebook, item: LabelledText, codes: Sequence[str]) -> tuple[set[str], set[str]]:
    """(positive, known-negative) target codes of a labelled passage.

    Labels given as sub-codes count for their ancestor among ``codes``. For a
    complete passage every other code is negative; otherwise only ``rejected``
    codes (rolled up) that are not also positive.
    """
    positive = {r for r in (roll_up(codebook, c, codes) for c in item.labels) if r}
    if item.complete:
        negative = set(codes) - positive
    else:
        # A rejected sub-code says nothing about its parent: only exact targets count.
        negative = {c for c in item.rejected if c in codes} - positive
    return positive, negative


class Lexicon:
    """Compiled keyword patterns of a codebook, per target code and language."""

    def __init__(self, codebook: Codebook, codes: Sequence[str]):
        self.codes = tuple(codes)
        self.patterns: dict[str, dict[str, list[tuple[str, re.Pattern[str]]]]] = {c: {} for c in codes}
        for code in codebook.codes:
            target = roll_up(codebook, code.id, codes)
            if target is None:
                continue
            for lang, words in code.keywords.items():
                bucket = self.patterns[target].setdefault(lang, [])
                for word in words:
                    if word.strip() and word not in {w for w, _ in bucket}:
                        bucket.append((word, compile_pattern(_norm(word))))
        self.languages = sorted({lang for per in self.patterns.values() for lang in per})
        # Index every pattern by the first three letters of its first word, so a
        # text only runs the patterns whose first word could start one of its words.
        self.order = {
            (code, lang): {word: i for i, (word, _) in enumerate(bucket)}
            for code, per in self.patterns.items()
            for lang, bucket in per.items()
        }
        self.by_prefix: dict[tuple[str, str, str], list[tuple[str, re.Pattern[str]]]] = {}
        self.unindexed: dict[tuple[str, str], list[tuple[str, re.Pattern[str]]]] = {}
        for code_id, per in self.patterns.items():
            for lang, bucket in per.items():
                for word, pattern in bucket:
                    first = _WORD.match(_norm(word).strip().split()[0].split("*")[0].lower())
                    head = first.group(0) if first else ""
                    if len(head) >= 3:
                        self.by_prefix.setdefault((code_id, lang, head[:3]), []).append((word, pattern))
                    else:
                        self.unindexed.setdefault((code_id, lang), []).append((word, pattern))

    def _candidates(self, code: str, lang: str, prefixes: set[str]) -> list[tuple[str, re.Pattern[str]]]:
        """The patterns that could match, in codebook order (so evidence is deterministic)."""
        found = list(self.unindexed.get((code, lang), ()))
        for prefix in prefixes:
            found += self.by_prefix.get((code, lang, prefix), ())
        order = self.order[(code, lang)]
        return sorted(found, key=lambda item: order[item[0]])

    @property
    def size(self) -> int:
        return sum(len(v) for per in self.patterns.values() for v in per.values())

    def _langs_for(self, lang: str | None, cross: bool) -> Iterable[str]:
        if lang is None or lang not in self.languages:
            return self.languages
        if cross:
            return [lang] + [x for x in self.languages if x != lang]
        return [lang]

    MEMO_SIZE = 20_000

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_memo", None)  # a cache, not state: fitted coders are pickled without it
        return state

    def matches(self, text: str, lang: str | None, cross: bool = False) -> dict[str, list[str]]:
        """Matched surface terms per code (codes without a match are absent); do not modify the result.

        Results are remembered per (text, language, cross), so coders that share
        this lexicon match each segment once.
        """
        memo = self.__dict__.setdefault("_memo", {})
        key = (text, lang, cross)
        found = memo.get(key)
        if found is None:
            found = self._match(text, lang, cross)
            if len(memo) >= self.MEMO_SIZE:
                memo.clear()
            memo[key] = found
        return found

    def _match(self, text: str, lang: str | None, cross: bool) -> dict[str, list[str]]:
        text = _norm(text)
        prefixes = {word[:3] for word in _WORD.findall(text.lower())}
        found: dict[str, list[str]] = {}
        for code in self.codes:
            terms: list[str] = []
            for language in self._langs_for(lang, cross):
                for _word, pattern in self._candidates(code, language, prefixes):
                    for m in pattern.finditer(text):
                        term = m.group(0).lower()
                        if term not in terms:
                            terms.append(term)
            if terms:
                found[code] = terms
        return found

    def hit_matrix(self, segments: Sequence[Segment], cross: bool = False) -> list[dict[str, list[str]]]:
        return [self.matches(s.text, segment_language(s), cross) for s in segments]


def hits_to_score(hits: int) -> float:
    """0 hits → 0, 1 → 0.5, 2 → 0.75, …: more distinct terms, more confidence."""
    return 1.0 - 0.5**hits


class _Row(NamedTuple):
    """A calibration row: a bank sentence or a labelled passage."""

    text: str
    lang: str
    kind: str
    context: tuple[str, ...] = ()


class LexiconCoder(Coder):
    """Keyword/rule coder over the codebook's bilingual patterns.

    Its probabilities are calibrated on the codebook's example bank and any
    labelled passages (how often a code applies given how many of its terms
    matched, per code and language; the rules learn nothing, so every row is
    held out). ``min_hits`` matched terms is the decision point.

    Parameters
    ----------
    min_hits:
        Distinct matched terms needed to suggest a code (score ``1 - 0.5**hits``).
    cross_language:
        Also apply the other languages' patterns (Dutch speakers often use
        English recovery words such as "sponsor" or "clean").
    level:
        ``"top"`` scores the top-level codes, ``"all"`` every code.
    """

    coder_id = "lexicon"

    def __init__(self, min_hits: int = 1, cross_language: bool = True, level: str = "top"):
        self.min_hits = min_hits
        self.cross_language = cross_language
        self.level = level

    def fit(self, codebook: Codebook, labelled: Sequence[LabelledText] = ()) -> LexiconCoder:
        if int(self.min_hits) < 1:
            raise ValueError("min_hits must be at least 1")
        from chimeqda.coders.calibration import calibrate
        from chimeqda.coders.passages import labelled_passage_units, max_by_owner

        self.codes_ = target_codes(codebook, self.level)
        self.lexicon_ = Lexicon(codebook, self.codes_)
        self.decision_point_ = hits_to_score(int(self.min_hits))
        refs = [_Row(item.text, item.lang or "en", "bank", item.context) for item in codebook.bank]
        refs += [_Row(item.text, item.lang or "en", "labelled", item.context) for item in labelled]
        y = np.zeros((len(refs), len(self.codes_)), dtype=np.int8)
        known = np.zeros(y.shape, dtype=bool)
        for i, item in enumerate([*codebook.bank, *labelled]):
            positive, negative = rolled_labels(codebook, item, self.codes_)
            for j, code in enumerate(self.codes_):
                y[i, j] = code in positive
                known[i, j] = code in positive or code in negative
        scores = self.hit_scores([Segment(r.text, lang=r.lang) for r in refs])
        units, owner = labelled_passage_units(refs)  # a labelled passage by its best sentence, as when coding
        if units:
            best = max_by_owner(self.hit_scores(units), owner, len(refs))
            scores[np.unique(owner)] = best[np.unique(owner)]
        calibrate(self, [(scores, y, known, refs)])
        self.training_size_ = sum(1 for r in refs if r.kind == "labelled")
        self.provenance_ = {
            "codebook": f"{codebook.id}@{codebook.version}",
            "patterns": self.lexicon_.size,
            "languages": self.lexicon_.languages,
        }
        return self

    def matches(self, segments: Sequence[Segment]) -> list[dict[str, list[str]]]:
        self._check_fitted()
        return self.lexicon_.hit_matrix(segments, bool(self.cross_language))

    def hit_scores(self, segments: Sequence[Segment]) -> np.ndarray:
        """Uncalibrated ``1 - 0.5**hits`` per segment and code (the ensemble's lexicon part)."""
        self._check_fitted()
        return np.array(
            [[hits_to_score(len(hits.get(code, ()))) for code in self.codes_] for hits in self.matches(segments)]
        ).reshape(len(segments), len(self.codes_))

    def predict_proba(self, segments: Sequence[Segment]) -> list[dict[str, float]]:
        self._check_fitted()
        probs = self.calibration_.apply(self.hit_scores(segments), [segment_language(s) for s in segments])
        return [{c: float(p) for c, p in zip(self.codes_, row)} for row in probs]

    def explain(self, segment: Segment, code_id: str) -> str:
        terms = self.matches([segment])[0].get(code_id, [])
        probability = self.predict_proba([segment])[0][code_id]
        if not terms:
            return f"lexicon: no {code_id} terms matched (probability {probability:.2f})"
        return f"lexicon: matched {', '.join(repr(t) for t in terms)} (probability {probability:.2f})"


def keyword_counts(lexicon: Lexicon, segments: Sequence[Segment], cross: bool = True) -> list[Mapping[str, int]]:
    """Number of distinct matched terms per code, per segment (features for learning coders)."""
    return [{c: len(t) for c, t in hits.items()} for hits in lexicon.hit_matrix(segments, cross)]
