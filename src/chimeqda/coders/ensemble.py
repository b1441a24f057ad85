"""The default coder: supervised, similarity and lexicon coders combined.

Each part's score is first put on a common footing (its own calibrated
threshold maps to 0.5; the lexicon gives ``1 - 0.5**hits``). The ensemble
takes a weighted mean and calibrates one more threshold per code and encoder
on the parts' out-of-fold scores over the training rows (the bank and any
labelled passages) in the language that encoder codes, again folded into the
score so 0.5 is the decision point. That score is then calibrated per code and
language on held-out rows (:mod:`chimeqda.coders.calibration`) — the same rows,
with each bank sentence scored without its whole theme (``bank_themes``):
``predict_proba`` gives probabilities, ``thresholds(lang)`` the calibrated
decision points. All parts share one embedding per segment (the encoders cache by text).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chimeqda.coders.base import Coder
from chimeqda.coders.calibration import calibrate
from chimeqda.coders.lexicon import (
    LexiconCoder,
    hits_to_score,
    keyword_counts,
    segment_language,
    target_codes,
)
from chimeqda.coders.passages import max_by_owner, sentence_units
from chimeqda.coders.similarity import SimilarityCoder, best_thresholds, rescale
from chimeqda.coders.supervised import SupervisedCoder
from chimeqda.model import Codebook, LabelledText, Segment


class EnsembleCoder(Coder):
    """Weighted mean of the supervised, similarity and lexicon coders, thresholds calibrated.

    Parameters
    ----------
    encoder, nl_encoder:
        Encoders for English (and other) segments and for Dutch ones, shared by the parts.
    supervised_weight, similarity_weight, lexicon_weight:
        Weights of the parts' (calibrated) scores.
    C, labelled_weight, context_weight:
        Passed to the supervised coder (``labelled_weight`` and ``context_weight`` also to similarity).
    k:
        Neighbours of the similarity coder.
    cv_folds, random_state:
        Cross-validation used for calibration.
    level:
        ``"top"`` or ``"all"`` codes.
    """

    coder_id = "ensemble"

    def __init__(
        self,
        encoder: str = "minilm",
        nl_encoder: str | None = "e5",
        supervised_weight: float = 0.8,
        similarity_weight: float = 0.1,
        lexicon_weight: float = 0.1,
        C: float = 1.0,
        labelled_weight: float = 3.0,
        context_weight: float = 0.3,
        k: int = 25,
        cv_folds: int = 5,
        random_state: int = 0,
        level: str = "top",
    ):
        self.encoder = encoder
        self.nl_encoder = nl_encoder
        self.supervised_weight = supervised_weight
        self.similarity_weight = similarity_weight
        self.lexicon_weight = lexicon_weight
        self.C = C
        self.labelled_weight = labelled_weight
        self.context_weight = context_weight
        self.k = k
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.level = level

    def _weights(self) -> np.ndarray:
        w = np.array([self.supervised_weight, self.similarity_weight, self.lexicon_weight], dtype=float)
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError("part weights must be non-negative and not all zero")
        return w / w.sum()

    def fit(self, codebook: Codebook, labelled: Sequence[LabelledText] = ()) -> EnsembleCoder:
        w = self._weights()
        self.codes_ = target_codes(codebook, self.level)
        common: dict[str, Any] = dict(encoder=self.encoder, nl_encoder=self.nl_encoder, level=self.level)
        self.supervised_ = SupervisedCoder(
            C=self.C,
            labelled_weight=self.labelled_weight,
            context_weight=self.context_weight,
            cv_folds=self.cv_folds,
            random_state=self.random_state,
            **common,
        ).fit(codebook, labelled)
        self.similarity_ = SimilarityCoder(
            k=self.k, labelled_weight=self.labelled_weight, context_weight=self.context_weight, **common
        ).fit(codebook, labelled)
        self.lexicon_ = LexiconCoder(level=self.level).fit(codebook)
        if self.lexicon_.lexicon_.codes == self.supervised_.lexicon_.codes:
            self.lexicon_.lexicon_ = self.supervised_.lexicon_  # one lexicon, each segment matched once
        self.routing_ = self.supervised_.routing_
        refs = self.supervised_.refs_
        self.raw_thresholds_: dict[str, np.ndarray] = {}
        held_out = []
        for name in self.routing_.names:
            idx = np.flatnonzero(self.supervised_.masks_[name])
            sub = [refs[i] for i in idx]
            sup = rescale(np.nan_to_num(self.supervised_.oof_[name], nan=0.0), self.supervised_.raw_thresholds_[name])
            sim = rescale(self.similarity_.oof_[name], self.similarity_.raw_thresholds_[name])
            lex = self._calibration_lexicon(sub)
            combined = w[0] * sup + w[1] * sim + w[2] * lex
            # Calibration learns from held-out scores where each bank sentence's theme was held out too.
            held = (w[0] * rescale(np.nan_to_num(self.supervised_.calibration_oof_[name], nan=0.0),
                                   self.supervised_.raw_thresholds_[name])
                    + w[1] * rescale(self.similarity_.calibration_oof_[name], self.similarity_.raw_thresholds_[name])
                    + w[2] * lex)
            y, known = self.supervised_.y_[idx], self.similarity_.known_[idx]
            kinds = np.array([r.kind for r in sub])
            in_language = self.routing_.coded_language_rows(name, sub)
            has_oof = ~np.isnan(self.supervised_.oof_[name]).any(axis=1)
            limits = np.full(len(self.codes_), 0.5)
            for j, code in enumerate(self.codes_):
                labelled_rows = (kinds == "labelled") & known[:, j] & has_oof
                use = (
                    labelled_rows
                    if y[labelled_rows, j].sum() >= 8
                    else np.isin(kinds, ["bank", "labelled"]) & known[:, j] & has_oof
                )
                if y[use & in_language, j].sum() >= 8:
                    use = use & in_language
                if use.sum() >= 5:
                    chosen = best_thresholds(combined[use][:, [j]], y[use][:, [j]], np.ones((use.sum(), 1), bool), [code])
                    limits[j] = chosen[code]
            self.raw_thresholds_[name] = limits
            rows = np.flatnonzero(in_language & has_oof)
            held_out.append((rescale(held[rows], limits), y[rows], known[rows], [sub[i] for i in rows]))
        calibrate(self, held_out)
        self.training_size_ = self.supervised_.training_size_
        self.provenance_ = {
            "codebook": f"{codebook.id}@{codebook.version}",
            "encoders": self.routing_.names,
            "bank_size": len(codebook.bank),
            "parts": {
                "supervised": self.supervised_.provenance_["raw_thresholds"],
                "similarity": self.similarity_.provenance_["raw_thresholds"],
                "lexicon_patterns": self.lexicon_.provenance_["patterns"],
            },
            "raw_thresholds": {
                name: {c: round(float(t), 3) for c, t in zip(self.codes_, limits)}
                for name, limits in self.raw_thresholds_.items()
            },
        }
        return self

    def _calibration_lexicon(self, refs: Sequence) -> np.ndarray:
        """Lexicon scores of training rows; a multi-sentence labelled passage gets its best sentence's."""
        segments = [Segment(r.text, lang=r.lang) for r in refs]
        plain = [i for i, r in enumerate(refs) if r.kind != "labelled"]
        passages = [i for i, r in enumerate(refs) if r.kind == "labelled"]
        units, owner = sentence_units([segments[i] for i in passages])
        rows = plain + [passages[o] for o in owner]
        counts = keyword_counts(self.lexicon_.lexicon_, [segments[i] for i in plain] + units)
        scores = np.array([[hits_to_score(c.get(code, 0)) for code in self.codes_] for c in counts]).reshape(
            len(rows), len(self.codes_)
        )
        return max_by_owner(scores, rows, len(refs))

    def part_scores(self, segments: Sequence[Segment]) -> dict[str, np.ndarray]:
        """Each part's calibrated scores (rows follow ``segments``)."""
        self._check_fitted()
        lex = self.lexicon_.hit_scores(segments)
        return {
            "supervised": self.supervised_.scores(segments),
            "similarity": self.similarity_.scores(segments),
            "lexicon": lex,
        }

    def scores(self, segments: Sequence[Segment]) -> np.ndarray:
        """Uncalibrated ensemble scores (0.5 at the κ-best threshold); rows follow ``segments``."""
        return self._combine(self.part_scores(segments), segments)

    def _combine(self, parts: dict[str, np.ndarray], segments: Sequence[Segment]) -> np.ndarray:
        w = self._weights()
        combined = w[0] * parts["supervised"] + w[1] * parts["similarity"] + w[2] * parts["lexicon"]
        out = np.zeros_like(combined)
        for name, rows in self.routing_.groups(segments).items():
            out[rows] = rescale(combined[rows], self.raw_thresholds_[name])
        return out

    def probabilities(self, segments: Sequence[Segment]) -> np.ndarray:
        """Calibrated probabilities (rows follow ``segments``, columns ``codes_``)."""
        self._check_fitted()
        return self.calibration_.apply(self.scores(segments), [segment_language(s) for s in segments])

    def predict_proba(self, segments: Sequence[Segment]) -> list[dict[str, float]]:
        return [{c: float(s) for c, s in zip(self.codes_, row)} for row in self.probabilities(segments)]

    def explain(self, segment: Segment, code_id: str) -> str:
        return self.explanations([(segment, code_id)])[0]

    def explanations(self, hits: Sequence[tuple[Segment, str]]) -> list[str]:
        """Evidence of each ``(segment, code_id)``: the parts' scores and the nearest training passage.

        The hits' segments are scored once together (not once per suggestion: scoring again
        per suggestion cost more than coding the segments did).
        """
        self._check_fitted()
        if not hits:
            return []
        row_of: dict[int, int] = {}
        segments: list[Segment] = []
        for segment, _ in hits:
            if id(segment) not in row_of:
                row_of[id(segment)] = len(segments)
                segments.append(segment)
        parts = self.part_scores(segments)
        score = self._combine(parts, segments)
        probability = self.calibration_.apply(score, [segment_language(s) for s in segments])
        nearest = self.supervised_.nearest_many([(segments[row_of[id(s)]], c) for s, c in hits])
        from chimeqda.coders.similarity import _short

        out = []
        for (segment, code_id), (ref, sim) in zip(hits, nearest):
            i, j = row_of[id(segment)], self.codes_.index(code_id)
            pieces = [f"probability {probability[i, j]:.2f} (ensemble score {score[i, j]:.2f}: supervised "
                      f"{parts['supervised'][i, j]:.2f}, similarity {parts['similarity'][i, j]:.2f}, "
                      f"lexicon {parts['lexicon'][i, j]:.2f})"]
            terms = self.lexicon_.lexicon_.matches(segment.text, segment_language(segment), True).get(code_id, [])
            if terms:
                pieces.append("matched " + ", ".join(repr(t) for t in terms))
            if ref is not None:
                pieces.append(f'most like {ref.kind} "{_short(ref.text)}" (cos {sim:.2f})')
            out.append("; ".join(pieces))
        return out
