"""Passages of several sentences, scored the way a transcript is: sentence by sentence.

Coders are trained and calibrated on sentences (the example bank, a
transcript's segments). A passage of several sentences — a line of a
``classify`` file, a labelled training passage — gets a code when one of its
sentences does: each sentence is scored with the passage's other sentences as
context, and the passage's score for a code is the highest of its sentences'.
Threshold calibration on labelled passages uses the same rule, so thresholds
mean the same thing at calibration and at prediction time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from chimeqda.ingest.sentences import split_sentences
from chimeqda.model import Segment


def sentences_of(text: str, lang: str | None) -> list[str]:
    """The non-blank sentences of ``text`` (the text itself when it is one sentence)."""
    spans = split_sentences(text, lang or "en")
    found = [text[a:b] for a, b in spans if text[a:b].strip()]
    return found if len(found) > 1 else [text]


def sentence_units(segments: Sequence[Segment]) -> tuple[list[Segment], list[int]]:
    """Split multi-sentence passages into sentence segments, each with the passage's other sentences as context.

    Returns the units and, for each unit, the index of the passage it came from.
    A passage of one sentence is its own unit (keeping its given context).
    """
    units: list[Segment] = []
    owner: list[int] = []
    for i, segment in enumerate(segments):
        sentences = sentences_of(segment.text, segment.lang)
        if len(sentences) == 1:
            units.append(segment)
            owner.append(i)
            continue
        for k, sentence in enumerate(sentences):
            others = tuple(sentences[:k]) + tuple(sentences[k + 1 :])
            units.append(replace(segment, text=sentence, context=tuple(segment.context) + others))
            owner.append(i)
    return units, owner


def labelled_passage_units(refs: Sequence) -> tuple[list[Segment], np.ndarray]:
    """Sentence units of the multi-sentence labelled passages among reference rows, and each unit's row.

    ``refs`` are :class:`~chimeqda.coders.similarity.Reference` rows; calibration
    scores such a passage by its best sentence (:func:`max_by_owner`).
    """
    rows = [i for i, r in enumerate(refs) if r.kind == "labelled" and len(sentences_of(r.text, r.lang)) > 1]
    units, owner = sentence_units([Segment(refs[i].text, lang=refs[i].lang, context=refs[i].context) for i in rows])
    return units, np.array([rows[o] for o in owner], dtype=int)


def max_by_owner(unit_scores: np.ndarray, owner: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """Per passage (``n`` of them), the column-wise maximum of its units' scores."""
    out = np.full((n, unit_scores.shape[1]), -np.inf)
    np.maximum.at(out, np.asarray(owner, dtype=int), unit_scores)
    return out
