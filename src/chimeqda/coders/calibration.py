"""Calibrated probabilities: a coder's score turned into "how often is this code right".

A coder's own score (for the learning coders: 0.5 at the κ-best threshold)
ranks segments but is not a probability. :class:`Calibration` maps it to one,
per code and per language, with Platt scaling (a logistic curve over the
score's log-odds) fitted on **held-out** scores: the out-of-fold scores of
the rows the coder was fitted on (cross-validation grouped by story).

Data are few per code and language, so the fit is hierarchical, with
shrinkage:

1. *bank stage* — on the codebook's example bank (held-out scores, each bank
   sentence scored without its whole theme: ``similarity.bank_themes``): one curve
   per language over all codes, then one per code drawn towards it (a
   Gaussian prior on the two parameters, worth ``strength`` rows);
2. *decisions stage* — on labelled passages and the project's own accepted
   and rejected decisions (real data, when there are any): the same again on
   top of the bank stage's log-odds, each language's pooled curve drawn
   towards the curve pooled over both languages, each code's towards its
   language's. With no real data the stage is the identity.

Every map is increasing, so the coder's decision points (``thresholds``) stay
where they were: the calibrated value of the old decision point becomes the
threshold, and the default labels do not change.

Also here: expected calibration error, reliability tables, the thresholds of
a requested precision (``chimeqda code --precision``) and the check of that
precision on the real rows' held-out probabilities (Clopper–Pearson).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chimeqda.coders.language import calibration_lang

LANGS = ("en", "nl")
EPS = 0.005
"""Scores are clipped to [EPS, 1 - EPS] before taking log-odds (a score of exactly 0 or 1 is not certainty)."""
STRENGTH = 20.0
"""Prior strength of each shrinkage step, in rows: a code with fewer known rows stays near its language's curve."""
IDENTITY = (1.0, 0.0)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def platt(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, prior: tuple[float, float] = IDENTITY,
    strength: float = STRENGTH,
) -> tuple[float, float]:
    """Penalised logistic fit ``p = sigmoid(a x + b)`` with a Gaussian prior at ``prior`` (``strength`` rows).

    Newton's method on weighted log-loss + ``strength/2 · |(a, b) - prior|²``;
    the slope is kept positive (the map must stay increasing).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=float)
    theta = np.array(prior, dtype=float)
    anchor = theta.copy()
    lam = float(strength)
    X = np.stack([x, np.ones_like(x)], axis=1)

    def loss(t: np.ndarray) -> float:
        z = X @ t
        return float(np.sum(w * (np.logaddexp(0, z) - y * z)) + 0.5 * lam * np.sum((t - anchor) ** 2))

    current = loss(theta)
    for _ in range(100):
        p = _sigmoid(X @ theta)
        grad = X.T @ (w * (p - y)) + lam * (theta - anchor)
        hess = (X * (w * p * (1 - p))[:, None]).T @ X + (lam + 1e-6) * np.eye(2)
        step = np.linalg.solve(hess, grad)
        size = 1.0
        while size > 1e-4:  # backtracking: Newton's full step can overshoot on separable data
            trial = theta - size * step
            value = loss(trial)
            if value <= current:
                break
            size /= 2
        else:
            break
        theta, current = trial, value
        if np.abs(size * step).max() < 1e-7:
            break
    a = max(float(theta[0]), 0.05)
    return a, float(theta[1])


@dataclass
class Stage:
    """One level of the hierarchy: a pooled curve per language and one per (language, code)."""

    pooled: dict[str, tuple[float, float]] = field(default_factory=dict)
    per_code: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    positives: dict[str, int] = field(default_factory=dict)

    def apply(self, z: np.ndarray, lang: str, codes: Sequence[str]) -> np.ndarray:
        out = np.empty_like(z)
        for j, code in enumerate(codes):
            a, b = self.per_code.get((lang, code), self.pooled.get(lang, IDENTITY))
            out[:, j] = a * z[:, j] + b
        return out


def _fit_stage(
    z: np.ndarray, y: np.ndarray, use: np.ndarray, langs: np.ndarray, codes: Sequence[str], strength: float,
) -> Stage:
    """Pooled curve over both languages, drawn-in curve per language, drawn-in curve per code (log-odds in ``z``)."""
    stage = Stage()
    both = use.any(axis=1)
    all_x, all_y = z[use], y[use]
    top = platt(all_x, all_y, prior=IDENTITY, strength=strength) if both.any() else IDENTITY
    for lang in LANGS:
        mask = use & (langs == lang)[:, None]
        stage.rows[lang] = int(mask.any(axis=1).sum())
        stage.positives[lang] = int(y[mask].sum())
        pooled = platt(z[mask], y[mask], prior=top, strength=strength) if mask.any() else top
        stage.pooled[lang] = pooled
        for j, code in enumerate(codes):
            col = mask[:, j]
            stage.per_code[(lang, code)] = (
                platt(z[col, j], y[col, j], prior=pooled, strength=strength) if col.any() else pooled
            )
    return stage


@dataclass
class Calibration:
    """Per code and language, a map from a coder's score to a calibrated probability.

    ``fit`` takes held-out scores of training rows with their labels, which
    statuses are known, each row's language and whether it is real data
    (labelled passages, decisions) or the codebook's bank.
    """

    codes: tuple[str, ...]
    bank: Stage = field(default_factory=Stage)
    decisions: Stage = field(default_factory=Stage)
    method: str = "platt-hierarchical"
    strength: float = STRENGTH
    evidence: dict[str, tuple[list[float], list[int]]] = field(default_factory=dict)
    """Per language, the real rows' (labelled passages, decisions) calibrated held-out probabilities and
    truth, one per known (row, code) pair: what ``check_precision`` verifies a requested precision on."""

    @classmethod
    def fit(
        cls, scores: np.ndarray, y: np.ndarray, known: np.ndarray, langs: Sequence[str], real: Sequence[bool],
        codes: Sequence[str], strength: float = STRENGTH,
    ) -> Calibration:
        scores = np.asarray(scores, dtype=float)
        y = np.asarray(y, dtype=float)
        known = np.asarray(known, dtype=bool) & ~np.isnan(scores)
        scores = np.nan_to_num(scores, nan=0.5)
        lang_arr = np.array([calibration_lang(lang) for lang in langs])
        real_arr = np.asarray(real, dtype=bool)
        z = logit(scores)
        out = cls(tuple(codes), strength=float(strength))
        out.bank = _fit_stage(z, y, known & ~real_arr[:, None], lang_arr, codes, strength)
        if (known & real_arr[:, None]).any():
            z_bank = np.empty_like(z)
            for lang in LANGS:
                rows = lang_arr == lang
                z_bank[rows] = out.bank.apply(z[rows], lang, codes)
            out.decisions = _fit_stage(z_bank, y, known & real_arr[:, None], lang_arr, codes, strength)
            for lang in LANGS:
                rows = real_arr & (lang_arr == lang)
                if rows.any():
                    p = _sigmoid(out.decisions.apply(z_bank[rows], lang, codes))
                    use = known[rows]
                    out.evidence[lang] = ([round(float(v), 6) for v in p[use]], [int(v) for v in y[rows][use]])
        return out

    def apply(self, scores: np.ndarray, langs: Sequence[str | None]) -> np.ndarray:
        """Calibrated probabilities of ``scores`` (rows: segments in ``langs``, columns: ``codes``)."""
        scores = np.asarray(scores, dtype=float)
        out = np.zeros_like(scores)
        if not len(scores):
            return out
        lang_arr = np.array([calibration_lang(lang) for lang in langs])
        for lang in LANGS:
            rows = lang_arr == lang
            if rows.any():
                z = self.bank.apply(logit(scores[rows]), lang, self.codes)
                z = self.decisions.apply(z, lang, self.codes)
                out[rows] = _sigmoid(z)
        return out

    def decision_thresholds(self, point: float | Mapping[str, float] = 0.5) -> dict[str, dict[str, float]]:
        """Per language and code, the calibrated value of the coder's own decision point."""
        out: dict[str, dict[str, float]] = {}
        for lang in LANGS:
            row = np.array([[point[c] if isinstance(point, Mapping) else point for c in self.codes]], dtype=float)
            # Rounded down a hair so a score exactly at the old point still counts.
            out[lang] = {c: float(v) - 1e-9 for c, v in zip(self.codes, self.apply(row, [lang])[0])}
        return out

    def summary(self) -> dict:
        """Provenance: the method, how many rows and positives each stage and language saw."""
        return {
            "method": f"{self.method} (Platt per code and language, shrunk towards the language's curve; "
                      f"prior strength {self.strength:g} rows)",
            "bank_rows": dict(self.bank.rows),
            "bank_positives": dict(self.bank.positives),
            "decision_rows": dict(self.decisions.rows),
            "decision_positives": dict(self.decisions.positives),
        }


# --------------------------------------------------------------------------- measuring


def reliability(probs: Iterable[float], truth: Iterable[int], bins: int = 10) -> list[dict[str, float]]:
    """Equal-width bins over [0, 1]: count, mean predicted probability and observed share per non-empty bin."""
    p = np.asarray(list(probs), dtype=float)
    t = np.asarray(list(truth), dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for k in range(bins):
        inside = index == k
        if inside.any():
            rows.append({"low": k / bins, "high": (k + 1) / bins, "count": int(inside.sum()),
                         "predicted": float(p[inside].mean()), "observed": float(t[inside].mean())})
    return rows


def expected_calibration_error(probs: Iterable[float], truth: Iterable[int], bins: int = 10) -> float:
    """Σ over bins of (share of pairs in the bin) × |mean predicted − observed|."""
    table = reliability(probs, truth, bins)
    total = sum(r["count"] for r in table)
    return float(sum(r["count"] * abs(r["predicted"] - r["observed"]) for r in table) / total) if total else 0.0


def expected_decision_value(probs: Mapping[str, float], limits: Mapping[str, float]) -> float:
    """Expected number of the machine's labels a person's decision would correct.

    For a code suggested (p ≥ its threshold) the machine is wrong with
    probability 1 - p; for one not suggested, with probability p.
    """
    return float(sum((1.0 - p) if p >= limits.get(code, 0.5) else p for code, p in probs.items()))


CALIBRATING_KINDS = frozenset({"bank", "labelled"})
"""Reference rows whose held-out scores calibrate: the bank (stage 1) and labelled passages / decisions (stage 2)."""


def calibrate(coder, parts: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, Sequence]]) -> Calibration:
    """Fit ``coder.calibration_`` on held-out scores and set its per-language decision thresholds.

    ``parts`` are ``(scores, y, known, refs)`` blocks (one per encoder, say),
    the scores on the coder's own scale (decision point 0.5) of training
    references; only bank and labelled rows calibrate.
    """
    blocks = list(parts)
    codes = tuple(coder.codes_)
    if blocks:
        scores = np.vstack([b[0] for b in blocks])
        y = np.vstack([b[1] for b in blocks])
        kinds = [r.kind for b in blocks for r in b[3]]
        usable = np.array([k in CALIBRATING_KINDS for k in kinds], dtype=bool)
        known = np.vstack([b[2] for b in blocks]) & usable[:, None]
        langs = [r.lang for b in blocks for r in b[3]]
        real = [k == "labelled" for k in kinds]
    else:
        scores = np.zeros((0, len(codes)))
        y = known = scores.astype(bool)
        langs, real = [], []
    coder.calibration_ = Calibration.fit(scores, y, known, langs, real, codes)
    coder.thresholds_by_lang_ = coder.calibration_.decision_thresholds(
        getattr(coder, "decision_point_", 0.5))
    coder.thresholds_ = dict(coder.thresholds_by_lang_["en"])
    return coder.calibration_


def selective_thresholds(codes: Sequence[str], target: float) -> dict[str, dict[str, float]]:
    """Per language and code, the calibrated probability a suggestion must itself reach: ``target``.

    Not the lowest threshold whose suggestions' *mean* probability reaches the target (the most
    suggestions if the probabilities were exact): that rule spends the margin of the surest
    suggestions on less sure ones, so it is only as good as the calibration in the upper tail —
    which is where a calibration fitted on the codebook's synthetic bank says least about real
    narratives (docs/benchmarks.md: 0.78 observed at a requested 0.9). Asking each suggestion to
    reach the target keeps that margin (the suggestions' mean probability is above it);
    :func:`check_precision` says whether the project's own decisions confirm it.
    """
    return {lang: {code: float(target) for code in codes} for lang in LANGS}


CONFIDENCE = 0.95
"""Confidence of the lower bound on precision that :func:`check_precision` reports."""


def precision_lower_bound(correct: int, total: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper–Pearson lower bound on a precision of ``correct`` out of ``total``."""
    if total <= 0 or correct <= 0:
        return 0.0
    from scipy.stats import beta

    return float(beta.ppf(1.0 - confidence, correct, total - correct + 1))


def decisions_needed(target: float, confidence: float = CONFIDENCE) -> int:
    """Decided suggestions at or above ``target``, all accepted, whose lower bound reaches ``target``."""
    return int(np.ceil(np.log(1.0 - confidence) / np.log(target)))


@dataclass(frozen=True)
class PrecisionCheck:
    """Whether real decisions confirm that suggestions at ``target`` reach it (``check_precision``)."""

    target: float
    decided: int
    """Known (passage, code) pairs of real data with a held-out probability ≥ target."""
    correct: int
    lower: float
    """95 % Clopper–Pearson lower bound on their precision."""
    basis: str
    """"decisions": real rows were calibrated on; "bank": the codebook's bank only; "none": not calibrated."""

    @property
    def verified(self) -> bool:
        return self.basis == "decisions" and self.lower >= self.target

    def message(self) -> str:
        need = decisions_needed(self.target)
        if self.basis == "none":
            return (f"This coder's scores are not calibrated probabilities: --precision {self.target:g} is a "
                    "threshold on its scores, not a promised precision.")
        if self.basis == "bank":
            return (f"Not verified on your data: the probabilities are calibrated on the codebook's example bank "
                    f"(synthetic sentences) only, so precision {self.target:g} is not promised on real transcripts "
                    f"(measured on real narratives: docs/benchmarks.md). About {need} decided suggestions at that "
                    f"level, all accepted, would show it with 95% confidence; decide suggestions (chimeqda review) "
                    "and run again: the coder recalibrates on your decisions.")
        found = (f"{self.correct} of {self.decided} decided (passage, code) pairs at probability ≥ {self.target:g} "
                 f"were right (95% lower bound {self.lower:.2f})")
        if self.verified:
            return f"Verified on your decisions: {found}."
        return (f"Not yet verified on your decisions: {found}; precision {self.target:g} needs a lower bound of "
                f"at least {self.target:g} (about {need} such decisions without an error).")


def check_precision(coder: Any, target: float) -> PrecisionCheck:
    """Does ``coder``'s calibration evidence (its real rows' held-out probabilities) confirm ``target``?"""
    calibration = getattr(coder, "calibration_", None)
    if calibration is None:
        return PrecisionCheck(target, 0, 0, 0.0, "none")
    evidence = getattr(calibration, "evidence", {}) or {}
    if not evidence:
        return PrecisionCheck(target, 0, 0, 0.0, "bank")
    p = np.array([v for probs, _ in evidence.values() for v in probs], dtype=float)
    y = np.array([v for _, truth in evidence.values() for v in truth], dtype=int)
    chosen = p >= target
    total, correct = int(chosen.sum()), int(y[chosen].sum())
    return PrecisionCheck(target, total, correct, precision_lower_bound(correct, total), "decisions")


def check_target(precision: float) -> None:
    """Refuse a requested precision outside [0.5, 1) (``--precision``)."""
    from chimeqda.errors import InvalidInput

    if not 0.5 <= precision < 1:
        raise InvalidInput(f"precision must be at least 0.5 and below 1 (got {precision})", source="--precision")


def selective_limits(
    coder: Any, segments: Sequence[Any], precision: float, *, probs: Sequence[Mapping[str, float]] | None = None,
) -> tuple[list[dict[str, float]], int]:
    """Per segment, thresholds reaching ``precision``; and how many segments stay unsettled at it.

    Pure computation: ``run_coder`` and a Dask worker (``coders.remote``) both call it, so
    ``--precision`` selects the same suggestions on either engine.
    """
    from chimeqda.coders.base import score_segments
    from chimeqda.coders.language import segment_language

    check_target(precision)
    probs = list(probs) if probs is not None else score_segments(coder, segments)
    chosen = selective_thresholds(list(coder.thresholds()), precision)
    limits = [chosen[calibration_lang(segment_language(s))] for s in segments]
    left = sum(unsettled(row, lim, precision) for row, lim in zip(probs, limits))
    return limits, left


def unsettled(probs: Mapping[str, float], limits: Mapping[str, float], target: float) -> bool:
    """True when some code of a segment is neither suggested nor unlikely enough to leave out at ``target``.

    A code is settled when it is suggested (p ≥ its limit) or when p ≤ 1 - target
    (as sure it is absent as a suggestion must be that it is present).
    """
    return any(limits.get(code, 1.0) > p > 1.0 - target for code, p in probs.items())
