"""Active learning: which segment should a person decide next, and how well does the coder agree so far.

:func:`stored_queue` orders what ``chimeqda code`` stored (pending suggestions
and open review flags, ``services.review``) by the expected value of a
decision — the expected number of the machine's labels it would correct, with
calibrated probabilities: 1 − p for a code the machine suggests, p for one it
leaves out, summed over codes — from the probabilities stored with them,
without refitting, in the database, one page at a time. The web's review mode
and ``chimeqda next`` (:func:`stored_next`) both serve it, so they agree on the
order. :func:`queue_state` says whether the stored state can be served (a run
is stored and covers every current document) or is stale or absent.

:func:`next_for_review` is the refit: it fits the coder on the codebook plus
the project's human decisions and scores every undecided participant segment,
in pages of whole documents, keeping only ids and values (bounded memory);
for diversity, a segment whose text is a near-duplicate of one already served
in the same batch is skipped. ``chimeqda next`` uses it only when the stored
state is stale or absent, with ``--param`` or ``--refit``.

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

from sqlalchemy import Integer, cast, exists, func, literal_column, null, select, union_all

from chimeqda.coders import DEFAULT_CODER, get_coder
from chimeqda.coders.base import Coder, score_segments
from chimeqda.coders.cache import fit_cached
from chimeqda.coders.calibration import expected_decision_value
from chimeqda.model import Codebook, LabelledText, Segment
from chimeqda.services.coding import document_partitions, project_decisions, project_segments
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
    flagged: bool = False
    """No suggestion stored here, but an open review flag (``stored_next``)."""


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


RANK_PAGE = 5000
"""Segments scored per page when :func:`next_for_review` refits (whole documents per page)."""


def next_for_review(
    ws: Workspace, *, coder: str = DEFAULT_CODER, n: int = 1, exclude_decided: bool = True,
    params: dict | None = None, page_segments: int = RANK_PAGE,
) -> list[ReviewItem]:
    """The ``n`` undecided segments where a human decision is worth most (expected corrections), best first.

    Refits ``coder`` and scores every segment: minutes on a large project, so ``chimeqda next``
    serves :func:`stored_next` instead while what ``chimeqda code`` stored is current
    (:func:`queue_state`). Memory stays bounded: the segments are read and scored in pages of
    whole documents (``page_segments``), and only each segment's id and value are kept; the
    texts are read again, in value order, only as far as the near-duplicate skipping needs,
    and the ``n`` served segments are scored again for their probabilities.
    """
    import numpy as np

    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
        labelled = project_decisions(session, ws.project_id)
        pages = document_partitions(session, ws.project_id, None, page_segments)
    decided = _decided_segment_ids(labelled) if exclude_decided else set()
    if n <= 0 or not pages:
        return []
    keys: list[int] = []
    worth: list[float] = []
    with ws.kept_vectors():
        fitted = _fit(coder, book, labelled, params)
        for first, last, _ in pages:
            with ws.session() as session:
                segments = [s for s in project_segments(session, ws.project_id, document_ids=(first, last))
                            if s.key not in decided]
            if not segments:
                continue
            for segment, scores, limits in zip(segments, score_segments(fitted, segments),
                                               fitted.segment_thresholds(segments)):
                keys.append(int(str(segment.key)))
                worth.append(expected_decision_value(scores, limits))
        ids = np.asarray(keys, dtype=np.int64)
        values = np.asarray(worth, dtype=np.float64)
        del keys, worth
        order = np.lexsort((ids, -values))
        served: list[tuple[int, float]] = []
        seen: list[frozenset[str]] = []
        for begin in range(0, len(order), 500):
            chunk = [int(ids[i]) for i in order[begin:begin + 500]]
            with ws.session() as session:
                texts = dict(session.execute(select(t.Segment.id, t.Segment.text).where(t.Segment.id.in_(chunk))).all())
            for i, sid in zip(order[begin:begin + 500], chunk):
                tokens = _tokens(texts.get(sid, ""))
                if _near_duplicate(tokens, seen):
                    continue
                seen.append(tokens)
                served.append((sid, float(values[i])))
                if len(served) >= n:
                    break
            if len(served) >= n:
                break
        return _scored_items(ws, fitted, served)


def _scored_items(ws: Workspace, fitted: Coder, served: list[tuple[int, float]]) -> list[ReviewItem]:
    """ReviewItems for the served (segment id, value) pairs: their documents read and scored again."""
    wanted = {sid for sid, _ in served}
    with ws.session() as session:
        where = {sid: (doc_id, name, label) for sid, doc_id, name, label in session.execute(
            select(t.Segment.id, t.Document.id, t.Document.name, t.Participant.label)
            .join(t.Document, t.Document.id == t.Segment.document_id)
            .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
            .where(t.Segment.id.in_(sorted(wanted)))).all()}
        segments = {s.key: s for doc_id in sorted({w[0] for w in where.values()})
                    for s in project_segments(session, ws.project_id, document_ids=(doc_id, doc_id))
                    if s.key in wanted}
    chosen = [segments[sid] for sid, _ in served if sid in segments]
    probs = dict(zip([s.key for s in chosen], score_segments(fitted, chosen)))
    limits_of = dict(zip([s.key for s in chosen], fitted.segment_thresholds(chosen)))
    items = []
    for sid, value in served:
        if sid not in segments:
            continue
        scores, limits = probs[sid], limits_of[sid]
        code, score, uncertainty = _uncertainty(scores, limits, fitted.default_threshold)
        _, document, participant = where[sid]
        items.append(ReviewItem(sid, document, participant, segments[sid].text,
                                {k: float(v) for k, v in scores.items()}, code, score, uncertainty, value))
    return items


@dataclass(frozen=True)
class QueueState:
    """Whether ``chimeqda next`` can serve the stored queue, or must refit (``reason`` says why)."""

    fresh: bool
    reason: str = ""
    coder: str = ""
    """The machine coder whose stored run is served."""
    last_run: Any = None
    """When that coder's latest run was stored."""
    decisions_since: int = 0
    """Decisions (accepted, rejected, reviewed: no code) made after that run: the stored probabilities
    did not learn from them."""

    def summary(self) -> str:
        if not self.fresh:
            return f"refitting the coder and scoring every segment: {self.reason}"
        when = f"{self.last_run:%Y-%m-%d %H:%M}" if self.last_run is not None else "?"
        since = (f"; {self.decisions_since} decision(s) made since, not yet learnt from "
                 "(`chimeqda code` or `chimeqda next --refit` retrains on them)" if self.decisions_since else "")
        return f"from the stored queue: the {self.coder} coder's probabilities stored by `chimeqda code` ({when}){since}"


def queue_state(ws: Workspace, *, coder: str | None = None) -> QueueState:
    """Can :func:`stored_next` serve what ``chimeqda code`` stored, or is it stale or absent?

    Stale or absent (``fresh`` False): no machine run is stored (of ``coder``, when named),
    or a current document with participant sentences was not covered by one (imported since, or
    never machine-coded: its segments would be missing from the queue; a revised document keeps
    its runs, which ``services.revisions`` carries over). Counted by the database.
    """
    with ws.session() as session:
        machine = select(t.Coder.id).where(t.Coder.kind == "machine")
        if coder is not None:
            machine = machine.where(t.Coder.name == coder)
        last = session.execute(
            select(t.Coder.name, t.CoderRun.created_at).join(t.Coder, t.Coder.id == t.CoderRun.coder_id)
            .where(t.CoderRun.project_id == ws.project_id, t.CoderRun.coder_id.in_(machine))
            .order_by(t.CoderRun.id.desc()).limit(1)).first()
        if last is None:
            which = f"the {coder} coder" if coder else "a machine coder"
            return QueueState(False, f"no run of {which} is stored for this project "
                                     "(`chimeqda code` stores one; then `chimeqda next` reads it in a second)")
        participant = exists().where(t.Segment.document_id == t.Document.id, t.Segment.role != "interviewer")
        covered = exists().where(t.CoderRun.document_id == t.Document.id, t.CoderRun.coder_id.in_(machine))
        missing = int(session.scalar(
            select(func.count()).select_from(t.Document)
            .where(t.Document.project_id == ws.project_id, t.Document.is_current.is_(True), participant,
                   ~covered)) or 0)
        if missing:
            return QueueState(False, f"{missing} document(s) were imported after the last "
                                     "`chimeqda code` (run it again to store their suggestions)", last.name)
        since = _decisions_since(session, ws.project_id, last.created_at)
    return QueueState(True, "", last.name, last.created_at, since)


def _decisions_since(session, project_id: int, moment) -> int:
    human_ids = select(t.Coder.id).where(t.Coder.kind == "human")
    events = session.scalar(select(func.count()).select_from(t.CodingEvent).where(
        t.CodingEvent.project_id == project_id, t.CodingEvent.coder_id.in_(human_ids),
        t.CodingEvent.action.in_(("accepted", "rejected")), t.CodingEvent.created_at > moment)) or 0
    reviews = session.scalar(select(func.count()).select_from(t.SegmentReview).where(
        t.SegmentReview.project_id == project_id, t.SegmentReview.created_at > moment)) or 0
    return int(events) + int(reviews)


def stored_next(ws: Workspace, *, n: int = 1, by: str | None = None) -> list[ReviewItem]:
    """The first ``n`` of :func:`stored_queue` as ReviewItems (text, document, the least sure code).

    No refit and one page of memory: what the web's review mode serves, in the same order.
    ``scores``: the stored probabilities (the suggested codes', or the flag's); ``code``/``score``:
    the least sure suggested code, or the flag's most likely code.
    """
    queue = stored_queue(ws, by=by, limit=n)
    if not queue:
        return []
    events = [e for item in queue for e in item.suggestions]
    with ws.session() as session:
        info = {row[0]: row[1:] for row in session.execute(
            select(t.Segment.id, t.Segment.text, t.Document.name, t.Participant.label)
            .join(t.Document, t.Document.id == t.Segment.document_id)
            .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
            .where(t.Segment.id.in_([item.segment_id for item in queue]))).all()}
        suggested = {row[0]: (row[1], 0.5 if row[2] is None else float(row[2])) for row in session.execute(
            select(t.CodingEvent.id, t.Code.key, t.CodingEvent.score).join(t.Code, t.Code.id == t.CodingEvent.code_id)
            .where(t.CodingEvent.id.in_(events))).all()} if events else {}
        flag_scores = dict(session.execute(
            select(t.ReviewFlag.segment_id, t.ReviewFlag.scores).where(
                t.ReviewFlag.project_id == ws.project_id,
                t.ReviewFlag.segment_id.in_([i.segment_id for i in queue if i.flag_code]))
            .order_by(t.ReviewFlag.score, t.ReviewFlag.id)).all())  # the last wins: stored_queue's flag
    items = []
    for item in queue:
        text, document, participant = info[item.segment_id]
        if item.suggestions:
            scores: dict[str, float] = {}
            for event_id in item.suggestions:
                key, p = suggested[event_id]
                scores[key] = max(scores.get(key, 0.0), p)
            code, score = suggested[item.suggestions[0]]
        else:
            scores = {k: float(v) for k, v in (flag_scores.get(item.segment_id) or {}).items()}
            code, score = item.flag_code or "", float(item.flag_score or 0.0)
        uncertainty = 1.0 - min(abs(score - 0.5) / 0.5, 1.0)
        items.append(ReviewItem(item.segment_id, document, participant, text, scores, code, score, uncertainty,
                                item.expected_value, flagged=item.flag_code is not None))
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


QUEUE_PAGE = 50
"""Queue items per page of the web review page."""


def _flag_value(session) -> Any:
    """SQL: the sum of a review flag's per-code probabilities (``review_flags.scores``, a JSON object)."""
    if session.get_bind().dialect.name == "postgresql":
        return literal_column("(SELECT coalesce(sum(CAST(value AS double precision)), 0) "
                              "FROM json_each_text(review_flags.scores))")
    return literal_column("(SELECT total(value) FROM json_each(review_flags.scores))")


def _queue_select(session, project_id: int, *, document_id: int | None, me: int | None) -> Any:
    """One row per queued segment (segment_id, document_id, value, flag_id), computed by the database.

    Pending suggestions: per segment and code the highest stored probability p (0.5 when none),
    the segment's value Σ (1 − p). Open flags (one per segment: its highest-scored flag): Σ p over
    the flag's codes. A segment with a pending suggestion has no open flag (``open_flag_filter``), so
    the two parts are disjoint.
    """
    from chimeqda.services.review import open_flag_filter
    from chimeqda.store.queries import pending_suggestion

    p = func.coalesce(t.CodingEvent.score, 0.5)
    per_code = (
        select(t.CodingEvent.segment_id, t.CodingEvent.document_id, func.max(p).label("p"))
        .join(t.Document, t.Document.id == t.CodingEvent.document_id)
        .where(t.CodingEvent.project_id == project_id, t.Document.is_current.is_(True),
               t.CodingEvent.segment_id.is_not(None), pending_suggestion(by=me))
        .group_by(t.CodingEvent.segment_id, t.CodingEvent.document_id, t.CodingEvent.code_id)
    )
    if document_id is not None:
        per_code = per_code.where(t.CodingEvent.document_id == document_id)
    codes = per_code.subquery()
    pending = select(codes.c.segment_id, codes.c.document_id, func.sum(1.0 - codes.c.p).label("value"),
                     cast(null(), Integer).label("flag_id")).group_by(codes.c.segment_id, codes.c.document_id)
    ranked = (
        select(t.ReviewFlag.id, t.ReviewFlag.segment_id, t.ReviewFlag.document_id,
               _flag_value(session).label("value"),
               func.row_number().over(partition_by=t.ReviewFlag.segment_id,
                                      order_by=(t.ReviewFlag.score.desc(), t.ReviewFlag.id.desc())).label("rank"))
        .join(t.Segment, t.Segment.id == t.ReviewFlag.segment_id)
        .join(t.Document, t.Document.id == t.ReviewFlag.document_id)
        .where(*open_flag_filter(project_id))
    )
    if document_id is not None:
        ranked = ranked.where(t.ReviewFlag.document_id == document_id)
    best = ranked.subquery()
    flags = select(best.c.segment_id, best.c.document_id, best.c.value, best.c.id.label("flag_id")).where(
        best.c.rank == 1)
    return union_all(pending, flags).subquery()


def _me(session, by: str | None) -> int | None:
    if by is None:
        return None
    from chimeqda.services.project import coder_row, human

    return coder_row(session, human(by)).id


def queue_length(ws: Workspace, *, document_id: int | None = None, by: str | None = None) -> int:
    """How many segments :func:`stored_queue` holds (counted by the database)."""
    with ws.session() as session:
        queued = _queue_select(session, ws.project_id, document_id=document_id, me=_me(session, by))
        return int(session.scalar(select(func.count()).select_from(queued)) or 0)


def stored_queue(
    ws: Workspace, *, document_id: int | None = None, by: str | None = None, limit: int | None = None,
    offset: int = 0,
) -> list[QueueItem]:
    """Segments with pending suggestions or open flags, by expected value of a decision (best first).

    The rule of :func:`next_for_review` (``expected_decision_value``) over the stored calibrated
    probabilities: 1 − p for each code suggested there, p for each flagged code not suggested.
    ``by``: pending means not yet decided by this person (the web decides per person).

    The database computes each segment's value and sorts; only the page asked for (``limit``
    items from ``offset``; None: all) is read, so a project with a million pending suggestions
    costs one page of memory. Ties: by document, then position.
    """
    from chimeqda.store.queries import pending_suggestion

    if limit is not None and limit <= 0:
        return []
    with ws.session() as session:
        me = _me(session, by)
        queued = _queue_select(session, ws.project_id, document_id=document_id, me=me)
        query = (
            select(queued.c.segment_id, queued.c.document_id, queued.c.value, queued.c.flag_id,
                   t.Segment.start, t.Segment.end)
            .join(t.Segment, t.Segment.id == queued.c.segment_id)
            .order_by(queued.c.value.desc(), queued.c.document_id, t.Segment.start, queued.c.segment_id)
            .offset(max(0, int(offset)))
        )
        if limit is not None:
            query = query.limit(int(limit))
        page = session.execute(query).all()
        ids = [row.segment_id for row in page]
        suggestions: dict[int, list[tuple[float, int]]] = {}
        flags: dict[int, tuple[str, float]] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            for event_id, segment_id, score in session.execute(
                select(t.CodingEvent.id, t.CodingEvent.segment_id, t.CodingEvent.score)
                .join(t.Document, t.Document.id == t.CodingEvent.document_id)
                .where(t.CodingEvent.project_id == ws.project_id, t.Document.is_current.is_(True),
                       t.CodingEvent.segment_id.in_(part), pending_suggestion(by=me))
            ):
                suggestions.setdefault(segment_id, []).append((0.5 if score is None else float(score), event_id))
        flag_ids = [row.flag_id for row in page if row.flag_id is not None]
        for chunk in range(0, len(flag_ids), 500):
            for flag_id, code, score in session.execute(
                select(t.ReviewFlag.id, t.Code.key, t.ReviewFlag.score).join(t.Code, t.Code.id == t.ReviewFlag.code_id)
                .where(t.ReviewFlag.id.in_(flag_ids[chunk:chunk + 500]))
            ):
                flags[flag_id] = (code, float(score))
    items = []
    for row in page:
        flag = flags.get(row.flag_id) if row.flag_id is not None else None
        items.append(QueueItem(
            row.segment_id, row.document_id, row.start, row.end, float(row.value or 0.0),
            tuple(event_id for _, event_id in sorted(suggestions.get(row.segment_id, []))),
            flag[0] if flag else None, flag[1] if flag else None))
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


__all__ = ["QUEUE_PAGE", "AgreementEstimate", "MIN_DECISIONS", "QueueItem", "QueueState", "ReviewItem",
           "estimated_agreement", "next_for_review", "queue_length", "queue_state", "stored_next", "stored_queue"]
