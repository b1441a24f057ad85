"""Sentence-embedding coder: nearest codebook examples and bank sentences.

Every reference sentence — the codebook's definitions, examples and
counter-examples, its example bank, and any labelled passages given to
``fit`` — is embedded once (cached per encoder and text set). A segment's
score for a code is a similarity-weighted vote of its ``k`` nearest references
whose status for that code is known; thresholds per code are chosen by
leave-one-out over the references. The evidence is the most similar example
of the code, with its cosine similarity.

This module also holds the pieces the supervised and ensemble coders share:
references, language routing between encoders and cached embeddings.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chimeqda.coders.base import Coder
from chimeqda.coders.calibration import calibrate
from chimeqda.coders.encoders import get_encoder
from chimeqda.coders.lexicon import rolled_labels, segment_language, target_codes
from chimeqda.coders.passages import labelled_passage_units, max_by_owner, sentences_of
from chimeqda.coders.shipped import (
    MANIFEST,
    MODEL_PACKAGES,
    SHIPPED_DIR,
    load_shipped,
    model_version,
    shipped_path,
    text_digest,
)
from chimeqda.model import Codebook, LabelledText, Segment

MULTILINGUAL = frozenset({"e5"})
"""Encoders that place Dutch and English in one space (others get same-language references)."""


# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class Reference:
    """A sentence with known status for some codes (training/reference material)."""

    text: str
    lang: str
    positive: frozenset[str]
    negative: frozenset[str]
    kind: str  # definition | example | counter | bank | labelled
    weight: float = 1.0
    group: str = ""
    context: tuple[str, ...] = ()
    theme: str = ""
    """Held out together when calibrating (:func:`bank_themes`); empty: the ``group``."""

    @property
    def calibration_group(self) -> str:
        return self.theme or self.group


def build_references(
    codebook: Codebook,
    codes: Sequence[str],
    labelled: Sequence[LabelledText] = (),
    *,
    definitions: bool = True,
    labelled_weight: float = 1.0,
) -> list[Reference]:
    """The codebook's knowledge plus ``labelled`` passages as :class:`Reference` rows.

    Examples are positive for their (rolled-up) code and unknown elsewhere;
    counter-examples negative for their code only; bank sentences and complete
    labelled passages are known for every code. Each sentence of a
    multi-sentence labelled passage is added too (kind ``sentence``), negative
    for the codes the passage lacks, so a coder that scores sentences learns
    from sentences; such rows never calibrate thresholds.
    """
    from chimeqda.coders.lexicon import roll_up

    refs: list[Reference] = []
    for code in codebook.codes:
        target = roll_up(codebook, code.id, codes)
        if target is None:
            continue
        if definitions:
            for lang in codebook.languages:
                text = " ".join(
                    part for part in (code.text_in("name", lang), code.text_in("definition", lang)) if part
                )
                refs.append(Reference(text, lang, frozenset({target}), frozenset(), "definition", 1.0, f"def:{code.id}"))
        for ex in code.examples:
            refs.append(Reference(ex.text, ex.lang, frozenset({target}), frozenset(), "example", 1.0, f"ex:{code.id}"))
        for ex in code.counter_examples:
            refs.append(Reference(ex.text, ex.lang, frozenset(), frozenset({target}), "counter", 1.0, f"cx:{code.id}"))
    for number, (item, theme) in enumerate(zip(codebook.bank, bank_themes(codebook.bank))):
        pos, neg = rolled_labels(codebook, item, codes)
        refs.append(
            Reference(item.text, item.lang, frozenset(pos), frozenset(neg), "bank", 1.0, f"bank:{number // 10}",
                      item.context, theme)
        )
    for number, item in enumerate(labelled):
        pos, neg = rolled_labels(codebook, item, codes)
        if not pos and not neg:
            continue
        group = item.source or f"labelled:{number}"
        lang = item.lang or "en"
        refs.append(
            Reference(item.text, lang, frozenset(pos), frozenset(neg), "labelled", float(labelled_weight), group, item.context)
        )
        sentences = sentences_of(item.text, lang) if neg else [item.text]
        for k, sentence in enumerate(sentences if len(sentences) > 1 else ()):
            # A code absent from a passage is absent from each of its sentences; which sentence
            # carries a present code is unknown, so those stay unknown here.
            others = tuple(sentences[:k]) + tuple(sentences[k + 1 :])
            refs.append(
                Reference(sentence, lang, frozenset(), frozenset(neg), "sentence", float(labelled_weight), group,
                          tuple(item.context) + others)
            )
    return refs


def bank_themes(bank: Sequence[LabelledText]) -> list[str]:
    """Per bank sentence, its theme: the run of consecutive lines with one language and one label set.

    An example bank is written theme by theme (a run of sentences about drinking alone, then one
    about a sponsor…), so a sentence's neighbours are near-paraphrases of it. Cross-validation
    holds out chunks of 10 lines (``group``) to choose thresholds; calibration holds out whole
    themes, so the held-out scores it learns from are those of text on a theme the coder has not
    seen — as a real narrative is — not of a paraphrase of its training sentences.
    """
    out, run, previous = [], -1, None
    for item in bank:
        key = (item.lang, tuple(sorted(item.labels)))
        if key != previous:
            run, previous = run + 1, key
        out.append(f"theme:{run}")
    return out


def _same_theme(refs: Sequence[Reference]) -> np.ndarray:
    """``[i, j]`` is true when rows i and j are bank sentences of one theme or labelled rows of one story."""
    keys = [r.calibration_group if (r.kind == "bank" or r.kind in LEARNED_KINDS) else "" for r in refs]
    _, theme = np.unique(keys, return_inverse=True)
    theme = np.where(np.array([bool(k) for k in keys], dtype=bool), theme, -1)
    return (theme[:, None] == theme[None, :]) & (theme >= 0)[:, None]


LEARNED_KINDS = frozenset({"labelled", "sentence"})
"""Reference kinds that come from labelled passages or decisions (the rest is the codebook's own)."""


def _same_story(refs: Sequence[Reference]) -> np.ndarray:
    """``[i, j]`` is true when rows i and j both come from labelled material of the same story (``group``)."""
    _, story = np.unique([r.group if r.kind in LEARNED_KINDS else "" for r in refs], return_inverse=True)
    story = np.where(np.array([r.kind in LEARNED_KINDS for r in refs], dtype=bool), story, -1)
    return (story[:, None] == story[None, :]) & (story >= 0)[:, None]


def label_matrices(refs: Sequence[Reference], codes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(y, known): 0/1 labels and a mask of known statuses, shape (len(refs), len(codes))."""
    y = np.zeros((len(refs), len(codes)), dtype=np.int8)
    known = np.zeros((len(refs), len(codes)), dtype=bool)
    for i, ref in enumerate(refs):
        for j, code in enumerate(codes):
            if code in ref.positive:
                y[i, j] = 1
                known[i, j] = True
            elif code in ref.negative:
                known[i, j] = True
    return y, known


# --------------------------------------------------------------------------- embeddings

_MEMO: dict[tuple[str, str], np.ndarray] = {}
_MEMO_LOCK = threading.Lock()


def _cache_dir() -> Path | None:
    from chimeqda.coders.cache import cache_root

    root = cache_root()
    return None if root is None else root / "embeddings"


def embed_texts(encoder_name: str, texts: Sequence[str], *, persist: bool = False) -> np.ndarray:
    """Embeddings of ``texts``; with ``persist`` the whole set is also cached on disk.

    Use ``persist`` for fixed reference sets (codebook + bank): they are then
    encoded once per machine, not once per process — or not at all when the
    package ships them (:mod:`chimeqda.coders.shipped`). The key is the encoder
    name and a hash of every text, so any change to the bank re-encodes.
    """
    texts = list(texts)
    digest = text_digest(texts)
    key = (encoder_name, digest)
    with _MEMO_LOCK:
        if key in _MEMO:
            return _MEMO[key]
    vectors = None
    folder = _cache_dir() if persist else None
    safe = hashlib.sha256(encoder_name.encode()).hexdigest()[:12]
    path = folder / f"{safe}-{digest}.npy" if folder else None
    if path is not None and path.exists():
        try:
            loaded = np.load(path)
            if loaded.shape[0] == len(texts):
                vectors = loaded.astype(np.float32)
        except (OSError, ValueError):
            vectors = None
    if vectors is None and persist and texts:
        vectors = load_shipped(encoder_name, digest, len(texts))  # the built-in codebook's, precomputed
        if vectors is not None:
            path = None
    if vectors is None:
        vectors = get_encoder(encoder_name).encode(texts) if texts else np.zeros((0, 1), np.float32)
        if path is not None and texts:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, vectors)
                os.replace(tmp, path)
            except OSError:
                pass
    with _MEMO_LOCK:
        _MEMO[key] = vectors
    return vectors


def with_context(vectors: np.ndarray, contexts: Sequence[Sequence[str]], encoder_name: str, weight: float) -> np.ndarray:
    """Mix in the mean embedding of each segment's neighbours: ``v + weight * mean(ctx)``, renormalised."""
    if weight <= 0 or not any(contexts):
        return vectors
    flat = [t for ctx in contexts for t in ctx]
    ctx_vectors = get_encoder(encoder_name).encode(flat)
    out = vectors.copy()
    at = 0
    for i, ctx in enumerate(contexts):
        if ctx:
            out[i] = vectors[i] + weight * ctx_vectors[at : at + len(ctx)].mean(axis=0)
            at += len(ctx)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


class Routing:
    """Which encoder embeds which language: ``encoder`` by default, ``nl_encoder`` for Dutch."""

    def __init__(self, encoder: str, nl_encoder: str | None = None):
        self.encoder = encoder
        self.nl_encoder = nl_encoder or encoder

    def for_lang(self, lang: str) -> str:
        return self.nl_encoder if lang == "nl" else self.encoder

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([self.encoder, self.nl_encoder]))

    def ref_mask(self, encoder_name: str, refs: Sequence[Reference]) -> np.ndarray:
        """References usable in ``encoder_name``'s space (same-language ones unless multilingual)."""
        if encoder_name in MULTILINGUAL or self.encoder == self.nl_encoder:
            return np.ones(len(refs), dtype=bool)
        langs = {"nl"} if encoder_name == self.nl_encoder else None
        if langs is None:
            return np.array([r.lang != "nl" for r in refs], dtype=bool)
        return np.array([r.lang == "nl" for r in refs], dtype=bool)

    def coded_language_rows(self, encoder_name: str, refs: Sequence[Reference]) -> np.ndarray:
        """References in the language(s) ``encoder_name`` codes (Dutch for the Dutch encoder, the rest otherwise).

        Thresholds are tuned on these rows: a multilingual encoder trained on
        both languages scores them on different scales. When one encoder
        codes every language, every row.
        """
        if self.encoder == self.nl_encoder:
            return np.ones(len(refs), dtype=bool)
        dutch = np.array([r.lang == "nl" for r in refs], dtype=bool)
        return dutch if encoder_name == self.nl_encoder else ~dutch

    def groups(self, segments: Sequence[Segment]) -> dict[str, list[int]]:
        """Segment indices per encoder name."""
        out: dict[str, list[int]] = {}
        for i, segment in enumerate(segments):
            out.setdefault(self.for_lang(segment_language(segment)), []).append(i)
        return out


def embed_segments(
    segments: Sequence[Segment], encoder_name: str, context_weight: float = 0.0
) -> np.ndarray:
    """Embeddings of segments' texts in one encoder (with optional context mixing)."""
    vectors = get_encoder(encoder_name).encode([s.text for s in segments])
    return with_context(vectors, [s.context for s in segments], encoder_name, context_weight)


# --------------------------------------------------------------------------- kNN


def rescale(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Monotone piecewise-linear map of scores so each column's threshold becomes 0.5."""
    t = np.clip(thresholds, 1e-3, 1 - 1e-3)
    low = 0.5 * scores / t
    high = 0.5 + 0.5 * (scores - t) / (1 - t)
    return np.clip(np.where(scores < t, low, high), 0.0, 1.0)


def knn_scores(
    sims: np.ndarray, y: np.ndarray, known: np.ndarray, weights: np.ndarray, k: int, temperature: float
) -> np.ndarray:
    """Similarity-weighted vote of the ``k`` nearest known references, per code.

    ``sims`` is (n_queries, n_refs); returns (n_queries, n_codes) in [0, 1].
    """
    n, m = sims.shape
    out = np.zeros((n, y.shape[1]), dtype=np.float64)
    if m == 0:
        return out
    order = np.argsort(-sims, axis=1, kind="stable")
    for j in range(y.shape[1]):
        usable = known[:, j]
        if not usable.any():
            continue
        cols = order[:, :]  # filter per row to the first k usable references
        mask = usable[cols]
        rank = np.cumsum(mask, axis=1)
        take = mask & (rank <= k)
        top_sims = np.where(take, np.take_along_axis(sims, cols, axis=1), -np.inf)
        w = np.exp((top_sims - 1.0) / temperature) * np.where(take, weights[cols], 0.0)
        total = w.sum(axis=1)
        hit = (w * y[cols, j]).sum(axis=1)
        out[:, j] = np.divide(hit, total, out=np.zeros(n), where=total > 0)
    return out


def best_thresholds(
    scores: np.ndarray, y: np.ndarray, known: np.ndarray, codes: Sequence[str], floor: float = 0.05
) -> dict[str, float]:
    """Per code, the threshold that maximises Cohen's κ on the known rows (F1 breaks ties)."""
    from sklearn.metrics import cohen_kappa_score, f1_score

    out: dict[str, float] = {}
    grid = np.round(np.arange(floor, 0.951, 0.025), 3)
    for j, code in enumerate(codes):
        rows = known[:, j]
        truth = y[rows, j]
        if rows.sum() < 5 or truth.sum() == 0 or truth.sum() == len(truth):
            out[code] = 0.5
            continue
        best = (-2.0, -1.0, 0.5)
        for t in grid:
            pred = (scores[rows, j] >= t).astype(int)
            if pred.sum() == 0:
                continue
            kappa = cohen_kappa_score(truth, pred) if pred.min() != pred.max() else 0.0
            f1 = f1_score(truth, pred, zero_division=0)
            if (kappa, f1) > best[:2]:
                best = (kappa, f1, float(t))
        out[code] = best[2]
    return out


class SimilarityCoder(Coder):
    """Embedding nearest-neighbour coder over codebook examples, bank and labelled passages.

    Parameters
    ----------
    encoder:
        ``minilm``, ``e5`` or a sentence-transformers model name/path.
    nl_encoder:
        Encoder for Dutch segments (default ``e5``, multilingual); ``None`` uses ``encoder``.
    k:
        Nearest known references that vote per code.
    temperature:
        Softness of the similarity weighting (smaller trusts the very nearest more).
    context_weight:
        Weight of the mean embedding of neighbouring sentences (0 = text only).
    labelled_weight:
        Vote weight of labelled passages given to ``fit`` relative to the bank.
    level:
        ``"top"`` (top-level codes) or ``"all"``.
    """

    coder_id = "similarity"

    def __init__(
        self,
        encoder: str = "minilm",
        nl_encoder: str | None = "e5",
        k: int = 25,
        temperature: float = 0.05,
        context_weight: float = 0.0,
        labelled_weight: float = 2.0,
        level: str = "top",
    ):
        self.encoder = encoder
        self.nl_encoder = nl_encoder
        self.k = k
        self.temperature = temperature
        self.context_weight = context_weight
        self.labelled_weight = labelled_weight
        self.level = level

    def fit(self, codebook: Codebook, labelled: Sequence[LabelledText] = ()) -> SimilarityCoder:
        if int(self.k) < 1 or float(self.temperature) <= 0:
            raise ValueError("k must be >= 1 and temperature > 0")
        self.codes_ = target_codes(codebook, self.level)
        self.routing_ = Routing(self.encoder, self.nl_encoder)
        refs = build_references(codebook, self.codes_, labelled, labelled_weight=float(self.labelled_weight))
        self.refs_ = refs
        self.y_, self.known_ = label_matrices(refs, self.codes_)
        self.weights_ = np.array([r.weight for r in refs], dtype=np.float64)
        self.ref_vectors_: dict[str, np.ndarray] = {}
        self.ref_masks_: dict[str, np.ndarray] = {}
        fixed = [r for r in refs if r.kind not in LEARNED_KINDS]
        for name in self.routing_.names:
            mask = self.routing_.ref_mask(name, refs)
            base = embed_texts(name, [r.text for r in fixed], persist=True)
            extra = [r.text for r in refs[len(fixed) :]]
            vectors = np.vstack([base, get_encoder(name).encode(extra)]) if extra else base
            self.ref_vectors_[name] = vectors
            self.ref_masks_[name] = mask
        self.raw_thresholds_: dict[str, np.ndarray] = {}
        self.oof_: dict[str, np.ndarray] = {}
        self.calibration_oof_: dict[str, np.ndarray] = {}
        held_out = []
        for name in self.routing_.names:
            self.oof_[name], self.raw_thresholds_[name] = self._loo_thresholds(name)
            idx = np.flatnonzero(self.ref_masks_[name])
            rows = np.flatnonzero(self.routing_.coded_language_rows(name, [refs[i] for i in idx]))
            held_out.append((rescale(self.calibration_oof_[name][rows], self.raw_thresholds_[name]), self.y_[idx][rows],
                             self.known_[idx][rows], [refs[idx[i]] for i in rows]))
        calibrate(self, held_out)
        self.training_size_ = sum(1 for r in refs if r.kind == "labelled")
        self.provenance_ = {
            "codebook": f"{codebook.id}@{codebook.version}",
            "encoders": self.routing_.names,
            "references": len(refs),
            "bank_size": len(codebook.bank),
            "raw_thresholds": {
                name: {c: round(float(t), 3) for c, t in zip(self.codes_, limits)}
                for name, limits in self.raw_thresholds_.items()
            },
        }
        return self

    def _loo_thresholds(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Leave-one-out scores of the references and the κ-best raw threshold per code.

        A labelled passage is scored without any row of its own story (the
        other passages and the sentence rows it shares a ``group`` with), so
        calibration never sees a passage's own text or neighbours. Also sets
        ``calibration_oof_[name]``: the same, with each bank sentence scored
        without its whole theme (:func:`bank_themes`).
        """
        idx = np.flatnonzero(self.ref_masks_[name])
        vectors = self.ref_vectors_[name][idx]
        sims = vectors @ vectors.T
        np.fill_diagonal(sims, -1.0)  # leave one out
        sims[_same_story([self.refs_[i] for i in idx])] = -1.0
        y, known = self.y_[idx], self.known_[idx]
        scores = knn_scores(sims, y, known, self.weights_[idx], int(self.k), float(self.temperature))
        self._passage_loo(name, idx, vectors, scores)
        # Calibration's held-out scores: a bank sentence without any sentence of its theme.
        bank = np.flatnonzero(np.array([self.refs_[i].kind == "bank" for i in idx], dtype=bool))
        calibration = scores.copy()
        if len(bank):
            theme_sims = sims[bank]
            theme_sims[_same_theme([self.refs_[i] for i in idx])[bank]] = -1.0
            calibration[bank] = knn_scores(theme_sims, y, known, self.weights_[idx], int(self.k),
                                           float(self.temperature))
        self.calibration_oof_[name] = calibration
        kinds = np.array([self.refs_[i].kind for i in idx])
        in_language = self.routing_.coded_language_rows(name, [self.refs_[i] for i in idx])
        limits = np.full(len(self.codes_), 0.5)
        for j, code in enumerate(self.codes_):
            labelled = (kinds == "labelled") & known[:, j]
            use = labelled if y[labelled, j].sum() >= 8 else np.isin(kinds, ["bank", "labelled"]) & known[:, j]
            if y[use & in_language, j].sum() >= 8:
                use = use & in_language
            chosen = best_thresholds(scores[use][:, [j]], y[use][:, [j]], np.ones((use.sum(), 1), bool), [code])
            limits[j] = chosen[code]
        return scores, limits

    def _passage_loo(self, name: str, idx: np.ndarray, vectors: np.ndarray, scores: np.ndarray) -> None:
        """Replace multi-sentence labelled passages' leave-one-out scores by their best sentence's (in place)."""
        refs = [self.refs_[i] for i in idx]
        units, owner_rows = labelled_passage_units(refs)
        if not units:
            return
        sims = embed_segments(units, name, float(self.context_weight)) @ vectors.T
        sims[_same_story(refs)[owner_rows] | (np.arange(len(refs)) == owner_rows[:, None])] = -1.0
        unit_scores = knn_scores(
            sims, self.y_[idx], self.known_[idx], self.weights_[idx], int(self.k), float(self.temperature)
        )
        rows = np.unique(owner_rows)
        scores[rows] = max_by_owner(unit_scores, owner_rows, len(refs))[rows]

    def _scores(self, segments: Sequence[Segment]) -> tuple[np.ndarray, dict[str, tuple[list[int], np.ndarray]]]:
        out = np.zeros((len(segments), len(self.codes_)))
        sims_by: dict[str, tuple[list[int], np.ndarray]] = {}
        for name, rows in self.routing_.groups(segments).items():
            vectors = embed_segments([segments[i] for i in rows], name, float(self.context_weight))
            mask = self.ref_masks_[name]
            sims = vectors @ self.ref_vectors_[name][mask].T
            sims_by[name] = (rows, sims)
            raw = knn_scores(
                sims, self.y_[mask], self.known_[mask], self.weights_[mask], int(self.k), float(self.temperature)
            )
            out[rows] = rescale(raw, self.raw_thresholds_[name])
        return out, sims_by

    def scores(self, segments: Sequence[Segment]) -> np.ndarray:
        """Scores as an array (rows follow ``segments``, columns ``codes_``), threshold at 0.5."""
        self._check_fitted()
        return self._scores(segments)[0]

    def predict_proba(self, segments: Sequence[Segment]) -> list[dict[str, float]]:
        self._check_fitted()
        scores, _ = self._scores(segments)
        probs = self.calibration_.apply(scores, [segment_language(s) for s in segments])
        return [{c: float(p) for c, p in zip(self.codes_, row)} for row in probs]

    def nearest(self, segment: Segment, code_id: str) -> tuple[Reference | None, float]:
        """The most similar reference that is positive for ``code_id``, with its similarity."""
        self._check_fitted()
        j = self.codes_.index(code_id)
        name = self.routing_.for_lang(segment_language(segment))
        mask = self.ref_masks_[name] & (self.y_[:, j] == 1)
        if not mask.any():
            return None, 0.0
        vector = embed_segments([segment], name)[0]
        idx = np.flatnonzero(mask)
        sims = self.ref_vectors_[name][idx] @ vector
        best = int(np.argmax(sims))
        return self.refs_[idx[best]], float(sims[best])

    def explain(self, segment: Segment, code_id: str) -> str:
        score = self.predict_proba([segment])[0][code_id]
        ref, sim = self.nearest(segment, code_id)
        if ref is None:
            return f"similarity: probability {score:.2f}"
        return f'similarity: most like {ref.kind} "{_short(ref.text)}" (cos {sim:.2f}); probability {score:.2f}'


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- shipped reference vectors


def reference_texts(codebook) -> list[str]:
    """The codebook's own reference texts, in the order the coders embed them."""
    refs = build_references(codebook, target_codes(codebook, "top"))
    return [r.text for r in refs if r.kind not in LEARNED_KINDS]


def write_shipped(codebook_names: Sequence[str] = ("chime-d",)) -> list[Path]:
    """Embed the built-in codebooks' reference texts with every shipped encoder; rewrite the folder."""
    from chimeqda.codebook.loader import builtin_codebook

    SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict] = {}
    written = []
    for name in codebook_names:
        book = builtin_codebook(name)
        texts = reference_texts(book)
        for encoder_name, package in MODEL_PACKAGES.items():
            path = shipped_path(encoder_name, text_digest(texts))
            np.save(path, get_encoder(encoder_name).encode(texts).astype(np.float16))
            manifest[path.name] = {
                "encoder": encoder_name,
                "package": package,
                "version": model_version(encoder_name),
                "codebook": f"{book.id}@{book.version}",
                "texts": len(texts),
            }
            written.append(path)
    for stale in SHIPPED_DIR.glob("*.npy"):
        if stale.name not in manifest:
            stale.unlink()
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return written

