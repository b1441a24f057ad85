"""Supervised coder: class-weighted logistic regression over sentence embeddings.

It learns from the codebook's own knowledge (examples as positives,
counter-examples as negatives of their code, the labelled example bank) plus
any labelled passages — evaluation-style passages (``complete=True``) and
project decisions (``complete=False``: accepted labels are positives, rejected
codes negatives, everything else unknown). One binary model per code is trained
on the rows whose status for that code is known, so partial decisions never
count as negatives by accident.

Features: the segment embedding (optionally mixed with its same-turn
neighbours) and the lexicon's hit counts. Per-code thresholds come from
out-of-fold predictions of a grouped cross-validation over the training rows
(labelled passages grouped by story when given) and are folded into the score,
so every code's decision point is 0.5; ``predict_proba`` calibrates that score
per code and language on the same out-of-fold rows (:mod:`chimeqda.coders.calibration`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chimeqda.coders.base import Coder
from chimeqda.coders.calibration import calibrate
from chimeqda.coders.encoders import get_encoder
from chimeqda.coders.lexicon import Lexicon, keyword_counts, segment_language, target_codes
from chimeqda.coders.passages import labelled_passage_units, max_by_owner
from chimeqda.coders.similarity import (
    LEARNED_KINDS,
    Reference,
    Routing,
    _short,
    best_thresholds,
    build_references,
    embed_segments,
    embed_texts,
    label_matrices,
    rescale,
)
from chimeqda.model import Codebook, LabelledText, Segment


def group_folds(groups: Sequence[str], n_splits: int, seed: int) -> list[np.ndarray]:
    """Fold number per row (as index arrays) with whole groups kept together, shuffled by ``seed``."""
    names = sorted(set(groups))
    rng = np.random.default_rng(seed)
    rng.shuffle(names)
    fold_of = {name: i % n_splits for i, name in enumerate(names)}
    assign = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(assign == f) for f in range(n_splits)]


class SupervisedCoder(Coder):
    """Logistic regression per code over embeddings + lexicon hits, CV-chosen thresholds.

    Parameters
    ----------
    encoder, nl_encoder:
        Encoders for English (and other) segments and for Dutch ones.
    C:
        Inverse regularisation strength of the logistic regressions.
    labelled_weight:
        Sample weight of labelled passages and decisions relative to bank sentences.
    example_weight:
        Sample weight of the codebook's examples, counter-examples and definitions.
    lexicon_features:
        Add the lexicon's per-code hit counts as features.
    context_weight:
        Weight of the neighbours' mean embedding mixed into a segment's vector.
    cv_folds:
        Folds of the grouped cross-validation that picks thresholds (0 = 0.5).
    random_state:
        Seed for fold assignment.
    level:
        ``"top"`` or ``"all"`` codes.
    """

    coder_id = "supervised"
    needs_training = False  # the codebook's examples and bank suffice; decisions improve it

    def __init__(
        self,
        encoder: str = "minilm",
        nl_encoder: str | None = "e5",
        C: float = 1.0,
        labelled_weight: float = 3.0,
        example_weight: float = 1.0,
        lexicon_features: bool = True,
        context_weight: float = 0.0,
        cv_folds: int = 5,
        random_state: int = 0,
        level: str = "top",
    ):
        self.encoder = encoder
        self.nl_encoder = nl_encoder
        self.C = C
        self.labelled_weight = labelled_weight
        self.example_weight = example_weight
        self.lexicon_features = lexicon_features
        self.context_weight = context_weight
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.level = level

    # ------------------------------------------------------------------ features
    def _lexicon_block(self, texts: Sequence[str], langs: Sequence[str]) -> np.ndarray:
        if not self.lexicon_features:
            return np.zeros((len(texts), 0))
        counts = keyword_counts(self.lexicon_, [Segment(t, lang=l) for t, l in zip(texts, langs)])
        return np.array([[min(c.get(code, 0), 3) / 3.0 for code in self.codes_] for c in counts]).reshape(
            len(texts), len(self.codes_)
        )

    def _ref_features(self, name: str, refs: Sequence[Reference]) -> np.ndarray:
        fixed = [r for r in refs if r.kind not in LEARNED_KINDS]
        vectors = embed_texts(name, [r.text for r in fixed], persist=True)
        extra = list(refs[len(fixed) :])
        if extra:
            more = embed_segments(
                [Segment(r.text, lang=r.lang, context=r.context) for r in extra], name, float(self.context_weight)
            )
            vectors = np.vstack([vectors, more])
        return np.hstack([vectors, self._lexicon_block([r.text for r in refs], [r.lang for r in refs])])

    def _segment_features(self, name: str, segments: Sequence[Segment]) -> np.ndarray:
        vectors = embed_segments(segments, name, float(self.context_weight))
        langs = [segment_language(s) for s in segments]
        return np.hstack([vectors, self._lexicon_block([s.text for s in segments], langs)])

    # ------------------------------------------------------------------ fitting
    def _fit_models(self, X: np.ndarray, y: np.ndarray, known: np.ndarray, w: np.ndarray) -> list:
        from sklearn.linear_model import LogisticRegression

        models = []
        for j in range(y.shape[1]):
            rows = known[:, j]
            truth = y[rows, j]
            if rows.sum() == 0 or truth.min() == truth.max():
                models.append(float(truth.mean()) if rows.any() else 0.0)
                continue
            model = LogisticRegression(C=float(self.C), class_weight="balanced", max_iter=2000)
            model.fit(X[rows], truth, sample_weight=w[rows])
            models.append(model)
        return models

    @staticmethod
    def _apply(models: list, X: np.ndarray) -> np.ndarray:
        out = np.zeros((X.shape[0], len(models)))
        for j, model in enumerate(models):
            out[:, j] = model if isinstance(model, float) else model.predict_proba(X)[:, 1]
        return out

    def fit(self, codebook: Codebook, labelled: Sequence[LabelledText] = ()) -> SupervisedCoder:
        if float(self.C) <= 0:
            raise ValueError("C must be positive")
        self.codes_ = target_codes(codebook, self.level)
        self.routing_ = Routing(self.encoder, self.nl_encoder)
        self.lexicon_ = Lexicon(codebook, self.codes_)
        refs = build_references(codebook, self.codes_, labelled, labelled_weight=float(self.labelled_weight))
        self.refs_ = refs
        y, known = label_matrices(refs, self.codes_)
        self.y_ = y
        w = np.array(
            [r.weight * (float(self.example_weight) if r.kind in ("example", "counter", "definition") else 1.0) for r in refs]
        )
        self.models_: dict[str, list] = {}
        self.masks_: dict[str, np.ndarray] = {}
        self.vectors_: dict[str, np.ndarray] = {}
        self.raw_thresholds_: dict[str, np.ndarray] = {}
        self.oof_: dict[str, np.ndarray] = {}
        self.calibration_oof_: dict[str, np.ndarray] = {}
        held_out = []
        for name in self.routing_.names:
            mask = self.routing_.ref_mask(name, refs)
            idx = np.flatnonzero(mask)
            X = self._ref_features(name, refs)[idx]
            self.vectors_[name] = X[:, : get_encoder(name).dim] if X.size else X
            self.masks_[name] = mask
            self.models_[name] = self._fit_models(X, y[idx], known[idx], w[idx])
            units = self._passage_units(name, [refs[i] for i in idx])
            in_language = self.routing_.coded_language_rows(name, [refs[i] for i in idx])
            oof, limits = self._cv_thresholds(X, y[idx], known[idx], w[idx], [refs[i] for i in idx], units, in_language)
            self.oof_[name] = oof
            self.raw_thresholds_[name] = limits
            sub = [refs[i] for i in idx]
            self.calibration_oof_[name] = held = self._calibration_scores(X, y[idx], known[idx], w[idx], sub, units, oof)
            rows = np.flatnonzero(in_language & ~np.isnan(held).any(axis=1))
            held_out.append((rescale(held[rows], limits), y[idx][rows], known[idx][rows], [refs[idx[i]] for i in rows]))
        calibrate(self, held_out)
        labelled_rows = [r for r in refs if r.kind == "labelled"]
        self.training_size_ = len(labelled_rows)
        self.provenance_ = {
            "codebook": f"{codebook.id}@{codebook.version}",
            "encoders": self.routing_.names,
            "bank_size": len(codebook.bank),
            "training_rows": len(refs),
            "raw_thresholds": {
                name: {c: round(float(t), 3) for c, t in zip(self.codes_, limits)}
                for name, limits in self.raw_thresholds_.items()
            },
        }
        return self

    def _passage_units(self, name: str, refs: Sequence[Reference]) -> tuple[np.ndarray, np.ndarray]:
        """Sentence features of the multi-sentence labelled passages in ``refs`` and, per sentence, its passage's row."""
        units, owner_rows = labelled_passage_units(refs)
        if not units:
            return np.zeros((0, 0)), owner_rows
        return self._segment_features(name, units), owner_rows

    def _cv_thresholds(
        self,
        X: np.ndarray,
        y: np.ndarray,
        known: np.ndarray,
        w: np.ndarray,
        refs: Sequence[Reference],
        units: tuple[np.ndarray, np.ndarray] = (np.zeros((0, 0)), np.zeros(0, dtype=int)),
        in_language: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold scores (grouped by story/bank chunk) and the κ-best raw threshold per code.

        A multi-sentence labelled passage's out-of-fold score is its best
        sentence's (``units``: sentence features and their passage rows), as at
        prediction time (:mod:`chimeqda.coders.passages`). Thresholds are tuned
        on the rows ``in_language`` (the language this model codes) when they
        hold at least 8 positives of the code.
        """
        folds = int(self.cv_folds)
        if folds < 2 or len(refs) < 2 * folds:
            return np.full(y.shape, np.nan), np.full(len(self.codes_), 0.5)
        oof = self._out_of_fold(X, y, known, w, [r.group for r in refs], units)
        kinds = np.array([r.kind for r in refs])
        limits = np.full(len(self.codes_), 0.5)
        for j, code in enumerate(self.codes_):
            # Tune on real passages when there are enough of them, else on the bank too.
            labelled = (kinds == "labelled") & known[:, j]
            use = labelled if y[labelled, j].sum() >= 8 else ((kinds == "bank") | (kinds == "labelled")) & known[:, j]
            if in_language is not None and y[use & in_language, j].sum() >= 8:
                use = use & in_language
            chosen = best_thresholds(oof[use][:, [j]], y[use][:, [j]], np.ones((use.sum(), 1), bool), [code])
            limits[j] = chosen[code]
        return oof, limits

    def _out_of_fold(
        self, X: np.ndarray, y: np.ndarray, known: np.ndarray, w: np.ndarray, groups: Sequence[str],
        units: tuple[np.ndarray, np.ndarray],
    ) -> np.ndarray:
        """Scores of every row by models fitted without its fold (whole ``groups`` per fold)."""
        unit_X, unit_owner = units
        oof = np.full(y.shape, np.nan)
        for test in group_folds(groups, int(self.cv_folds), int(self.random_state)):
            train = np.setdiff1d(np.arange(len(groups)), test)
            models = self._fit_models(X[train], y[train], known[train], w[train])
            oof[test] = self._apply(models, X[test])
            in_test = np.isin(unit_owner, test)
            if in_test.any():
                best = max_by_owner(self._apply(models, unit_X[in_test]), unit_owner[in_test], len(groups))
                rows = np.unique(unit_owner[in_test])
                oof[rows] = best[rows]
        return oof

    def _calibration_scores(
        self, X: np.ndarray, y: np.ndarray, known: np.ndarray, w: np.ndarray, refs: Sequence[Reference],
        units: tuple[np.ndarray, np.ndarray], oof: np.ndarray,
    ) -> np.ndarray:
        """Held-out scores for calibration: as ``oof``, but each bank sentence held out with its whole theme.

        Only the bank rows are taken from this second cross-validation (labelled rows are already held
        out by story); see :func:`chimeqda.coders.similarity.bank_themes` for why.
        """
        bank = np.array([r.kind == "bank" for r in refs], dtype=bool)
        if np.isnan(oof).all() or not bank.any():
            return oof
        themed = self._out_of_fold(X, y, known, w, [r.calibration_group for r in refs], units)
        out = oof.copy()
        out[bank] = themed[bank]
        return out

    # ------------------------------------------------------------------ predicting
    def raw_scores(self, segments: Sequence[Segment]) -> np.ndarray:
        """Uncalibrated per-code probabilities (rows follow ``segments``)."""
        self._check_fitted()
        out = np.zeros((len(segments), len(self.codes_)))
        for name, rows in self.routing_.groups(segments).items():
            X = self._segment_features(name, [segments[i] for i in rows])
            out[rows] = self._apply(self.models_[name], X)
        return out

    def scores(self, segments: Sequence[Segment]) -> np.ndarray:
        """Scores with each code's threshold mapped to 0.5."""
        self._check_fitted()
        raw = self.raw_scores(segments)
        out = np.zeros_like(raw)
        for name, rows in self.routing_.groups(segments).items():
            out[rows] = rescale(raw[rows], self.raw_thresholds_[name])
        return out

    def predict_proba(self, segments: Sequence[Segment]) -> list[dict[str, float]]:
        self._check_fitted()
        probs = self.calibration_.apply(self.scores(segments), [segment_language(s) for s in segments])
        return [{c: float(p) for c, p in zip(self.codes_, row)} for row in probs]

    def nearest(self, segment: Segment, code_id: str) -> tuple[Reference | None, float]:
        """The most similar training passage positive for ``code_id`` (accepted ones first)."""
        return self.nearest_many([(segment, code_id)])[0]

    def nearest_many(self, hits: Sequence[tuple[Segment, str]]) -> list[tuple[Reference | None, float]]:
        """:meth:`nearest` of each ``(segment, code_id)``, the segments of one encoder compared at once."""
        self._check_fitted()
        out: list[tuple[Reference | None, float]] = [(None, 0.0)] * len(hits)
        by_encoder: dict[str, list[int]] = {}
        for h, (segment, _) in enumerate(hits):
            by_encoder.setdefault(self.routing_.for_lang(segment_language(segment)), []).append(h)
        for name, members in by_encoder.items():
            idx = np.flatnonzero(self.masks_[name])
            vectors = embed_segments([hits[h][0] for h in members], name)
            all_sims = vectors @ self.vectors_[name].T
            for row, h in enumerate(members):
                positive = self.y_[idx, self.codes_.index(hits[h][1])] == 1
                if not positive.any():
                    continue
                sims = np.where(positive, all_sims[row], -np.inf)
                best = int(np.argmax(sims))
                out[h] = (self.refs_[idx[best]], float(sims[best]))
        return out

    def explain(self, segment: Segment, code_id: str) -> str:
        score = self.predict_proba([segment])[0][code_id]
        ref, sim = self.nearest(segment, code_id)
        terms = self.lexicon_.matches(segment.text, segment_language(segment), True).get(code_id, [])
        parts = [f"supervised probability {score:.2f}"]
        if terms:
            parts.append("terms " + ", ".join(repr(t) for t in terms))
        if ref is not None:
            parts.append(f'most like {ref.kind} "{_short(ref.text)}" (cos {sim:.2f})')
        return "; ".join(parts)
