"""The one coder protocol every automatic coder implements.

A coder follows scikit-learn's habits: ``__init__`` stores keyword
hyperparameters unchanged, ``fit(codebook, labelled=())`` learns and returns
``self`` (learned state ends in ``_``), ``predict_proba(segments)`` returns one
``{code_id: score}`` per segment. The base class supplies the rest:
``get_params``, ``info`` (provenance), ``explain`` (evidence), ``evidence_span`` (the
words showing a code inside the segment; None by default) and ``suggest``
(thresholding into :class:`~chimeqda.model.Suggestion`).

Scores are calibrated probabilities where the coder can learn them
(:mod:`chimeqda.coders.calibration`): a coder that sets ``calibration_``
and ``thresholds_by_lang_`` gets per-language decision points, so
``thresholds(lang)``, ``predict`` and ``suggest`` use the segment's language.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from chimeqda import __version__
from chimeqda.coders.language import calibration_lang, segment_language
from chimeqda.errors import NotFittedError
from chimeqda.model import Codebook, CoderInfo, LabelledText, Segment, Suggestion, span_within


class Coder:
    """Base class of automatic coders; subclasses implement ``fit`` and ``predict_proba``."""

    coder_id: ClassVar[str] = "base"
    version: ClassVar[str] = __version__
    needs_training: ClassVar[bool] = False
    needs_key: ClassVar[bool] = False
    batch_size: ClassVar[int] = 256
    default_threshold: ClassVar[float] = 0.5
    reads_whole_passages: ClassVar[bool] = False
    """False: a multi-sentence passage is scored sentence by sentence (see ``classify``), the unit the
    coder was calibrated on; True: the coder reads the passage whole (an LLM)."""
    calibration_: Any
    """Set by ``fit`` of coders that calibrate (:func:`chimeqda.coders.calibration.calibrate`)."""

    # -- parameters ---------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters as passed to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Coder:
        for name, value in params.items():
            if name not in self._param_names():
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}")
            setattr(self, name, value)
        return self

    # -- fitting --------------------------------------------------------------
    def fit(self, codebook: Codebook, labelled: Sequence[LabelledText] = ()) -> Coder:
        raise NotImplementedError

    def predict_proba(self, segments: Sequence[Segment]) -> list[dict[str, float]]:
        raise NotImplementedError

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "codes_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"the {self.coder_id} coder must be fitted (call fit(codebook)) before it can code"
            )

    def thresholds(self, lang: str | None = None) -> dict[str, float]:
        """Score at or above which each code is suggested, for segments in ``lang`` (None: English/default)."""
        self._check_fitted()
        by_lang = getattr(self, "thresholds_by_lang_", None)
        if by_lang and lang is not None and calibration_lang(lang) in by_lang:
            return dict(by_lang[calibration_lang(lang)])
        codes: Sequence[str] = getattr(self, "codes_", ())
        return dict(getattr(self, "thresholds_", {code: self.default_threshold for code in codes}))

    def segment_thresholds(self, segments: Sequence[Segment]) -> list[dict[str, float]]:
        """``thresholds`` for each segment's language (guessed from the text when not given)."""
        cache: dict[str, dict[str, float]] = {}
        out = []
        for segment in segments:
            lang = calibration_lang(segment_language(segment))
            if lang not in cache:
                cache[lang] = self.thresholds(lang)
            out.append(cache[lang])
        return out

    # -- evidence and provenance ---------------------------------------------
    def explain(self, segment: Segment, code_id: str) -> str:
        """One line saying why ``code_id`` was suggested for ``segment``."""
        return ""

    def explanations(self, hits: Sequence[tuple[Segment, str]]) -> list[str]:
        """``explain`` for each ``(segment, code_id)`` pair; ``suggest`` asks for a batch's at once.

        A coder whose evidence needs its scores again (the default coder) overrides
        this to score the batch's segments once instead of once per suggestion.
        """
        return [self.explain(segment, code_id) for segment, code_id in hits]

    def evidence_span(self, segment: Segment, code_id: str) -> tuple[int, int] | None:
        """Offsets ``(start, end)`` in ``segment.text`` of the words showing ``code_id``; None: the whole segment."""
        return None

    def info(self) -> CoderInfo:
        """Provenance recorded with every suggestion: name, version, parameters, training size."""
        params = {k: _jsonable(v) for k, v in self.get_params().items()}
        training = int(getattr(self, "training_size_", 0))
        extra = dict(getattr(self, "provenance_", {}))
        calibration = getattr(self, "calibration_", None)
        if calibration is not None:
            extra["calibration"] = calibration.summary()
        return CoderInfo(
            kind="machine",
            name=self.coder_id,
            version=self.version,
            params={**params, **extra, "training_size": training},
            training_size=training,
        )

    def predict(self, segments: Sequence[Segment]) -> list[list[str]]:
        """The codes at or above threshold for each segment."""
        return [
            [code for code, score in scores.items() if score >= limits.get(code, self.default_threshold)]
            for scores, limits in zip(self.predict_proba(segments), self.segment_thresholds(segments))
        ]

    def suggest(
        self, segments: Sequence[Segment], limits: Sequence[Mapping[str, float]] | None = None,
        probs: Sequence[Mapping[str, float]] | None = None,
    ) -> list[Suggestion]:
        """Suggestions for the codes at or above threshold, with evidence, in batches.

        ``limits`` (one mapping per segment) replaces the coder's own
        thresholds, e.g. those reaching a requested precision; ``probs`` (one
        mapping per segment, from ``predict_proba``) saves scoring again.
        """
        self._check_fitted()
        per_segment = list(limits) if limits is not None else self.segment_thresholds(segments)
        found: list[Suggestion] = []
        for begin in range(0, len(segments), self.batch_size):
            batch = segments[begin : begin + self.batch_size]
            batch_limits = per_segment[begin : begin + self.batch_size]
            batch_probs = probs[begin : begin + self.batch_size] if probs is not None else self.predict_proba(batch)
            hits = [(segment, code, score) for segment, scores, limits_ in zip(batch, batch_probs, batch_limits)
                    for code, score in scores.items() if score >= limits_.get(code, self.default_threshold)]
            evidence = self.explanations([(segment, code) for segment, code, _ in hits])
            for (segment, code, score), why in zip(hits, evidence, strict=True):
                span = self.evidence_span(segment, code)
                start, end = (span_within(*span, segment.text) if span else None) or (None, None)
                found.append(
                    Suggestion(
                        segment_key=segment.key, code_id=code, score=float(score), evidence=why, start=start, end=end,
                    )
                )
        return found



def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


def params_hash(params: Mapping[str, Any]) -> str:
    """A stable hash of coder parameters (identifies a coder configuration)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=repr).encode()).hexdigest()


def score_segments(coder: Coder, segments: Sequence[Segment]) -> list[dict[str, float]]:
    """The coder's calibrated probabilities for every segment, scored in batches of ``coder.batch_size``.

    ``run_coder`` and a Dask worker (``coders.remote``) both score this way, so
    ``coder.suggest(segments, probs=...)`` gives the same suggestions on either engine.
    """
    return [row for begin in range(0, len(segments), coder.batch_size)
            for row in coder.predict_proba(segments[begin:begin + coder.batch_size])]
