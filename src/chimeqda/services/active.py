"""Active learning: which segment should a person decide next, and how well does the coder agree so far.

``next_for_review`` fits the coder on the codebook plus the project's human
decisions (so every call retrains on the decisions made since the last one)
and serves the undecided participant segments where a decision is worth most:
the expected number of the machine's labels it would correct (with calibrated
probabilities: 1 − p for a code the machine suggests, p for one it leaves
out, summed over codes). For diversity, a segment whose text
is a near-duplicate of one already served in the same batch is skipped.

:func:`stored_queue` orders what is already stored (pending suggestions and
open review flags, ``services.review``) by the same expected value, from the
calibrated probabilities stored with them, without refitting: the web's
review mode uses it (a refit per request would take minutes with the default
coder).

``estimated_agreement`` measures Cohen's κ per code between the coder's
thresholded predictions and the human decisions, by cross-validation grouped
by document over the decided segments (a decided segment counts as fully
coded: a code not accepted there counts as absent).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from chimeqda.coders import DEFAULT_CODER, get_coder
from chimeqda.coders.base import Coder
from chimeqda.coders.cache import fit_cached
from chimeqda.coders.calibration import expected_decision_value
from chimeqda.model import Codebook, LabelledText, Segment
from chimeqda.services.coding import project_decisions, project_segments
from chimeqda.services.project import Workspace, project_codebook
from chimeqda.store import tables as t

MIN_DECISIONS = 20
"""Decided segments needed before ``estimated_agreement`` estimates anything."""


@dataclass(frozen=True)
class ReviewItem:
    segment_id: int
    document: str
    participant: str | None
    text: str
    scores: dict[str, float]
    code: str
    """The code whose score is closest to its threshold."""
    score: float
    uncertainty: float
    """1 when a code's score sits exactly at its threshold, 0 when every score is as far from it as it can be."""
    expected_value: float = 0.0
    """Expected number of the machine's labels (one per code) a decision on this segment corrects."""


@dataclass(frozen=True)
class AgreementEstimate:
    """κ per code (``per_code``: a DataFrame indexed by code) or None with the ``reason``."""

    coder: str
    decided: int
    per_code: Any = None
    macro_kappa: float | None = None
    reason: str = ""
    folds: int = 0
    details: dict = field(default_factory=dict)

    def summary(self) -> str:
        if self.per_code is None:
            return f"estimated agreement ({self.coder}): not available: {self.reason}"
        return (f"estimated agreement ({self.coder}): macro κ = {self.macro_kappa:.2f} over {self.decided} decided "
                f"segments ({self.folds}-fold cross-validation grouped by document)")


def _fit(coder_name: str, book: Codebook, labelled: Sequence[LabelledText], params: dict | None = None) -> Coder:
    coder = get_coder(coder_name, **(params or {}))
    return fit_cached(coder, book, []) if not labelled else coder.fit(book, list(labelled))


def _uncertainty(scores: dict[str, float], limits: dict[str, float], default: float) -> tuple[str, float, float]:
    """(most uncertain code, its score, uncertainty in [0, 1])."""
    best = ("", 0.0, -1.0)
    for code, score in scores.items():
        limit = limits.get(code, default)
        span = max(limit, 1.0 - limit) or 1.0
        value = 1.0 - min(abs(float(score) - limit) / span, 1.0)
        if value > best[2]:
            best = (code, float(score), value)
    return best


_WORD = re.compile(r"\w+", re.UNICODE)


def _tokens(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text))


def _near_duplicate(tokens: frozenset[str], served: list[frozenset[str]], limit: float = 0.8) -> bool:
    for other in served:
        union = tokens | other
        if not union or len(tokens & other) / len(union) >= limit:
            return True
    return False


def _decided_segment_ids(labelled: Sequence[LabelledText]) -> set[int]:
    return {int(item.source.split(":", 1)[1]) for item in labelled if item.source.startswith("segment:")}


def next_for_review(
    ws: Workspace, *, coder: str = DEFAULT_CODER, n: int = 1, exclude_decided: bool = True,
    params: dict | None = None,
) -> list[ReviewItem]:
    """The ``n`` undecided segments where a human decision is worth most (expected corrections), best first."""
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
        labelled = project_decisions(session, ws.project_id)
        segments = project_segments(session, ws.project_id)
        where = {
            sid: (name, label)
            for sid, name, label in session.execute(
                select(t.Segment.id, t.Document.name, t.Participant.label)
                .join(t.Document, t.Document.id == t.Segment.document_id)
                .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
                .where(t.Document.project_id == ws.project_id, t.Document.is_current.is_(True))
            ).all()
        }
    if exclude_decided:
        decided = _decided_segment_ids(labelled)
        segments = [s for s in segments if s.key not in decided]
    if not segments or n <= 0:
        return []
    with ws.kept_vectors():
        fitted = _fit(coder, book, labelled, params)
        segment_scores = fitted.predict_proba(segments)
    ranked = []
    for segment, scores, limits in zip(segments, segment_scores, fitted.segment_thresholds(segments)):
        code, score, value = _uncertainty(scores, limits, fitted.default_threshold)
        worth = expected_decision_value(scores, limits)
        ranked.append((worth, segment, scores, code, score, value))
    ranked.sort(key=lambda row: (-row[0], row[1].key))
    items: list[ReviewItem] = []
    served: list[frozenset[str]] = []
    for worth, segment, scores, code, score, value in ranked:
        tokens = _tokens(segment.text)
        if _near_duplicate(tokens, served):
            continue
        served.append(tokens)
        document, participant = where.get(segment.key, ("", None))
        items.append(ReviewItem(int(str(segment.key)), document, participant, segment.text,
                                {k: float(v) for k, v in scores.items()}, code, score, value, worth))
        if len(items) >= n:
            break
    return items


@dataclass(frozen=True)
class QueueItem:
    """A segment waiting for a decision, from what is stored: its pending suggestions and/or its open flag."""

    segment_id: int
    document_id: int
    start: int
    end: int
    expected_value: float
    suggestions: tuple[int, ...] = ()
    """Pending suggestion event ids on the segment, least sure first."""
    flag_code: str | None = None
    """Open review flag: no suggestion, but this code is fairly likely (``flag_score``)."""
    flag_score: float | None = None


def stored_queue(ws: Workspace, *, document_id: int | None = None, by: str | None = None) -> list[QueueItem]:
    """Segments with pending suggestions or open flags, by expected value of a decision (best first).

    The rule of :func:`next_for_review` (``expected_decision_value``) over the stored calibrated
    probabilities: 1 − p for each code suggested there, p for each flagged code not suggested.
    ``by``: pending means not yet decided by this person (the web decides per person).
    """
    from chimeqda.services.review import open_flags
    from chimeqda.store.queries import pending_suggestion

    with ws.session() as session:
        me = None
        if by is not None:
            from chimeqda.services.project import coder_row, human
            me = coder_row(session, human(by)).id
        query = (
            select(t.CodingEvent.id, t.CodingEvent.segment_id, t.CodingEvent.document_id, t.CodingEvent.score,
                   t.Code.key, t.Segment.start, t.Segment.end)
            .join(t.Code, t.Code.id == t.CodingEvent.code_id)
            .join(t.Segment, t.Segment.id == t.CodingEvent.segment_id)
            .join(t.Document, t.Document.id == t.CodingEvent.document_id)
            .where(t.CodingEvent.project_id == ws.project_id, t.Document.is_current.is_(True),
                   pending_suggestion(by=me))
        )
        if document_id is not None:
            query = query.where(t.CodingEvent.document_id == document_id)
        pending = session.execute(query).all()
    segments: dict[int, dict[str, Any]] = {}
    for event_id, segment_id, doc_id, score, code, start, end in pending:
        entry = segments.setdefault(segment_id, {"doc": doc_id, "start": start, "end": end, "probs": {},
                                                 "limits": {}, "ids": []})
        p = 0.5 if score is None else float(score)
        if code not in entry["probs"] or p > entry["probs"][code]:
            entry["probs"][code], entry["limits"][code] = p, p  # suggested: counts 1 - p
        entry["ids"].append((p, event_id))
    flags = {}
    for flag in open_flags(ws, document_id=document_id):
        flags[flag.segment_id] = flag
        entry = segments.setdefault(flag.segment_id, {"doc": flag.document_id, "start": flag.start, "end": flag.end,
                                                      "probs": {}, "limits": {}, "ids": []})
        for code, p in flag.scores.items():
            if code not in entry["probs"]:
                entry["probs"][code], entry["limits"][code] = p, 2.0  # not suggested: counts p
    items = []
    for segment_id, entry in segments.items():
        open_flag = flags.get(segment_id)
        items.append(QueueItem(
            segment_id, entry["doc"], entry["start"], entry["end"],
            expected_decision_value(entry["probs"], entry["limits"]),
            tuple(event_id for _, event_id in sorted(entry["ids"])),
            open_flag.code if open_flag else None, open_flag.score if open_flag else None))
    items.sort(key=lambda item: (-item.expected_value, item.document_id, item.start))
    return items


def estimated_agreement(
    ws: Workspace, *, coder: str = DEFAULT_CODER, n_splits: int = 5, params: dict | None = None,
    min_decisions: int = MIN_DECISIONS,
) -> AgreementEstimate:
    """Cohen's κ per code between ``coder`` and the human decisions, cross-validated by document."""
    import pandas as pd

    from chimeqda.evaluation import code_metrics, grouped_folds

    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
        labelled = project_decisions(session, ws.project_id)
        ids = sorted(_decided_segment_ids(labelled))
        rows = session.execute(
            select(t.Segment.id, t.Segment.document_id, t.Segment.start, t.Segment.end, t.Segment.index,
                   t.Segment.turn, t.Segment.speaker, t.Segment.role, t.Document.language)
            .join(t.Document, t.Document.id == t.Segment.document_id)
            .where(t.Segment.id.in_(ids))
        ).all() if ids else []
    info = {r[0]: r for r in rows}
    labelled = [item for item in labelled if int(item.source.split(":", 1)[1]) in info]
    decided = len(labelled)
    if decided < min_decisions:
        return AgreementEstimate(coder, decided, reason=f"only {decided} decided segments; need at least {min_decisions}")
    groups = [str(info[int(item.source.split(":", 1)[1])][1]) for item in labelled]
    folds_n = min(n_splits, len(set(groups)))
    if folds_n < 2:
        return AgreementEstimate(coder, decided, reason="the decided segments come from one document; "
                                                        "cross-validation by document needs at least two")
    segments = []
    for item in labelled:
        sid, _, start, end, index, turn, speaker, role, lang = info[int(item.source.split(":", 1)[1])]
        segments.append(Segment(text=item.text, start=start, end=end, index=index, turn=turn, speaker=speaker,
                                role=role, lang=lang, key=sid))
    truth = [sorted(item.labels) for item in labelled]
    predicted: list[list[str]] = [[] for _ in labelled]
    codes: list[str] = []
    with ws.kept_vectors():
        for train, test in grouped_folds(groups, n_splits=folds_n):
            fitted = _fit(coder, book, [labelled[i] for i in train], params)
            codes = list(fitted.codes_) if hasattr(fitted, "codes_") else codes
            for i, labels in zip(test, fitted.predict([segments[i] for i in test])):
                predicted[i] = labels
    codes = codes or sorted(c.id for c in book.top_level)
    frame = pd.DataFrame({code: code_metrics(truth, predicted, code) for code in codes}).T
    frame.index.name = "code"
    frame = frame[["kappa", "precision", "recall", "f1", "support", "predicted"]]
    frame[["support", "predicted"]] = frame[["support", "predicted"]].astype(int)
    return AgreementEstimate(coder, decided, per_code=frame, macro_kappa=float(frame["kappa"].mean()), folds=folds_n)


__all__ = ["AgreementEstimate", "MIN_DECISIONS", "QueueItem", "ReviewItem", "estimated_agreement",
           "next_for_review", "stored_queue"]
