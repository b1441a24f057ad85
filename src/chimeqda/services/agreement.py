"""Inter-coder agreement, reconciliation and the coding history.

The coders compared, the units (segments of the documents they share) and
each coder's codings on them come from :func:`chimeqda.services.comparison.compare`
(its module docstring says who counts as having coded what).

The **consensus** coder (a person named ``consensus``) holds reconciled
decisions: an ``accepted`` event includes a code, a ``rejected`` event
(``decides_id`` empty) or a ``removed`` event excludes it; ``evidence``
names the reconciler and the original events, which stay untouched.
"""


from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from chimeqda.analysis import agreement as agr
from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services.comparison import (
    CONSENSUS,
    CoderRef,
    compare,
    level_map,
    ratings_frame,
    resolve_coder,
)
from chimeqda.services.project import (
    Workspace,
    code_ids,
    coder_row,
    human,
    project_codebook,
    refuse_superseded,
)
from chimeqda.store import tables as t
from chimeqda.store.queries import current_coding

CELL_TARGET = "framework_cell"


# ---------------------------------------------------------------- agreement


@dataclass
class AgreementResult:
    """The agreement tables of one comparison, plus a sentence on the units used."""

    coders: list[str]
    by_code: pd.DataFrame
    by_document: pd.DataFrame
    pairwise: pd.DataFrame
    characters: pd.DataFrame
    note: str
    settings: dict[str, object] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"agreement_by_code": self.by_code, "agreement_by_document": self.by_document,
                "agreement_pairwise": self.pairwise, "agreement_characters": self.characters}


def agreement(
    ws: Workspace,
    coders: Sequence[str] | None = None,
    *,
    level: str = "root",
    documents: Sequence[str] | None = None,
    rule: str = "all",
    n_boot: int = 1000,
    ci: float = 0.95,
    cluster: str = "unit",
    random_state: int | None = 0,
) -> AgreementResult:
    """Agreement between coders per code, per document and overall, with bootstrap intervals.

    Parameters
    ----------
    coders : sequence of str, optional
        Coder names (``human:``/``machine:`` prefixes disambiguate). Default:
        :func:`~chimeqda.services.comparison.default_coders`.
    level : {"root", "code"}
        Compare top-level categories (sub-codes rolled up) or codes as coded.
    documents, rule
        Which units are compared (:mod:`chimeqda.services.comparison`).
    n_boot, ci, random_state
        Bootstrap replicates, interval width, seed.
    cluster : {"unit", "document"}
        Resample segments (default) or whole documents in the bootstrap.
    """
    comparison = compare(ws, coders, level=level, documents=documents, rule=rule)
    ratings = ratings_frame(comparison)
    names = comparison.names
    book = comparison.book
    label = lambda code: book[code].name if code in book else str(code)  # noqa: E731
    if ratings.empty or not comparison.documents:
        raise InvalidInput(
            f"{' and '.join(names)} have no document in common; choose documents with --document"
        )
    common: dict[str, Any] = {"coders": names, "n_boot": n_boot, "ci": ci, "random_state": random_state}
    cluster_col = "document" if cluster == "document" else None
    by_code = agr.agreement_table(ratings, by="code", names=label, cluster=cluster_col, **common)
    by_document = agr.agreement_table(ratings, by="document", overall=False, cluster=None, **common)
    participants = comparison.segments.drop_duplicates("document").set_index("document")["participant"]
    by_document.insert(1, "participant", by_document["document"].map(participants))
    pairwise = agr.pairwise_agreement(ratings, coders=names, n_boot=0)
    spans = pd.concat(
        [comparison.spans[name].assign(coder=name) for name in names], ignore_index=True
    ).rename(columns={"document_id": "document"})
    regions = comparison.segments.rename(columns={"document_id": "_doc"})[["_doc", "start", "end"]].rename(
        columns={"_doc": "document"})
    characters = agr.character_agreement(spans, regions, coders=names, codes=comparison.codes,
                                         n_boot=min(n_boot, 500), ci=ci, random_state=random_state)
    characters.insert(1, "name", characters["code"].map(label))
    n_docs = len(comparison.documents)
    how = {"all": "that every compared coder had coded", "any": "that at least two of the compared coders had coded"}
    note = (
        f"Compared: {', '.join(_describe(ref) for ref in comparison.coders)}. Units are the "
        f"{len(comparison.segments)} participant segments of the {n_docs} document(s) "
        f"{'chosen' if documents else how[rule]}; a coder's absence of a code on such a segment counts as "
        f"'not present'. Codes are compared as {'top-level categories (sub-codes rolled up)' if level == 'root' else 'coded'}. "
        "A person's codings are the codings they made or machine suggestions they accepted (not removed); a "
        "machine coder's codings are all its suggestions, and a document its run covered without suggesting "
        "anything counts as coded with no code. Intervals: percentile bootstrap "
        f"({n_boot} replicates, {'documents' if cluster == 'document' else 'segments'} resampled)."
    )
    settings = {"level": level, "rule": rule, "documents": [int(d) for d in comparison.documents], "n_boot": n_boot}
    return AgreementResult(names, by_code, by_document, pairwise, characters, note, settings)


def _describe(ref: CoderRef) -> str:
    return f"{ref.name} ({'person' if ref.kind == 'human' else 'machine coder'})"


# ---------------------------------------------------------------- reconciliation


def _consensus_state(session: Session, project_id: int, mapping: dict[str, str]) -> dict[tuple[int, str], tuple[str, int]]:
    """(segment, code at level) -> ("include" | "exclude", latest consensus event id)."""
    refs = session.execute(
        select(t.Coder.id).where(t.Coder.kind == "human", t.Coder.name == CONSENSUS)
    ).scalars().all()
    if not refs:
        return {}
    rows = session.execute(
        select(t.CodingEvent.id, t.CodingEvent.segment_id, t.Code.key, t.CodingEvent.action)
        .join(t.Code, t.Code.id == t.CodingEvent.code_id)
        .where(t.CodingEvent.project_id == project_id, t.CodingEvent.coder_id.in_(refs),
               t.CodingEvent.segment_id.is_not(None))
        .order_by(t.CodingEvent.id)
    ).all()
    state: dict[tuple[int, str], tuple[str, int]] = {}
    for event_id, segment_id, key, action in rows:
        assert segment_id is not None  # the query keeps segment codings only
        state[(segment_id, mapping.get(key, key))] = ("include" if action == "accepted" else "exclude", event_id)
    return state


def disagreements(
    ws: Workspace,
    coders: Sequence[str] | None = None,
    *,
    level: str = "code",
    documents: Sequence[str] | None = None,
    rule: str = "all",
    open_only: bool = False,
) -> pd.DataFrame:
    """Segment by segment, the codes the compared coders disagree on (who coded what).

    Returns
    -------
    DataFrame
        One row per segment and code where the coders who rated the segment
        differ: ``document``, ``participant``, ``segment_id``,
        ``segment_index``, ``text``, ``code``, ``coded_by`` and
        ``not_coded_by`` (comma-separated coder names), ``event_ids`` (the
        original events, comma-separated) and ``consensus`` (``include``,
        ``exclude`` or empty when not reconciled yet). ``open_only`` leaves
        out reconciled rows.
    """
    comparison = compare(ws, coders, level=level, documents=documents, rule=rule)
    ratings = ratings_frame(comparison)
    columns = ["document", "participant", "segment_id", "segment_index", "text", "code", "coded_by",
               "not_coded_by", "event_ids", "consensus"]
    if ratings.empty:
        return pd.DataFrame(columns=columns)
    wide = ratings.pivot_table(index=["unit", "code"], columns="coder", values="present", aggfunc="max")
    wide = wide.reindex(columns=comparison.names)
    rated = wide.notna().sum(axis=1)
    hits = (wide == 1).sum(axis=1)
    split = wide[(rated >= 2) & (hits > 0) & (hits < rated)]
    events: dict[tuple[int, str], list[int]] = {}
    for name in comparison.names:
        for unit, code, event_id in comparison.codings[name][["unit", "code", "event_id"]].itertuples(index=False):
            events.setdefault((unit, code), []).append(int(event_id))
    with ws.session() as session:
        state = _consensus_state(session, ws.project_id, level_map(comparison.book, level))
    segs = comparison.segments.set_index("unit")
    rows = []
    for (unit, code), values in split.iterrows():
        seg = segs.loc[unit]
        rows.append({
            "document": seg["document"], "participant": seg["participant"], "segment_id": int(unit),
            "segment_index": int(seg["segment_index"]), "text": seg["text"], "code": code,
            "coded_by": ", ".join(name for name in comparison.names if values[name] == 1),
            "not_coded_by": ", ".join(name for name in comparison.names if values[name] == 0),
            "event_ids": ", ".join(str(i) for i in sorted(set(events.get((unit, code), [])))),
            "consensus": state.get((int(unit), code), ("", 0))[0],
        })
    frame = pd.DataFrame(rows, columns=columns)
    if open_only:
        frame = frame[frame["consensus"] == ""]
    return frame.sort_values(["document", "segment_index", "code"], kind="stable").reset_index(drop=True)


def reconcile(
    ws: Workspace,
    segment_id: int,
    code: str,
    decision: str,
    *,
    by: str,
    original_events: Sequence[int] = (),
    note: str = "",
) -> int | None:
    """Record a reconciled decision as a consensus coding; the originals stay as they are.

    ``decision`` is ``"include"`` (the code applies to the segment) or
    ``"exclude"``. Appends an event by the ``consensus`` coder whose
    ``evidence`` names the reconciler ``by``, the original events and the
    note: ``accepted`` to include; to exclude, ``removed`` (deciding the
    earlier consensus inclusion) or else ``rejected`` with no ``decides_id``.
    Returns the new event id, or None when the consensus already says so.
    """
    if decision not in ("include", "exclude"):
        raise InvalidInput(f"decision must be include or exclude, not {decision!r}")
    with ws.session() as session:
        segment = session.get(t.Segment, segment_id)
        doc = session.get(t.Document, segment.document_id) if segment is not None else None
        if doc is None or doc.project_id != ws.project_id:
            raise UnknownObject(f"no segment {segment_id} in this project")
        refuse_superseded(session, [doc.id])
        book_row, book = project_codebook(session, ws.project_id)
        ids = code_ids(session, book_row.id)
        if code not in ids:
            raise UnknownObject(f"no code {code!r} in the codebook")
        state = _consensus_state(session, ws.project_id, {c.id: c.id for c in book.codes})
        current, latest_id = state.get((segment_id, code), ("", 0))
        if current == decision:
            return None
        if not original_events:
            original_events = _originals(session, ws.project_id, segment, [code, *book.descendants(code)])
        evidence = f"reconciled by {by}; decision: {decision}; originals: " + (
            ", ".join(f"#{i}" for i in original_events) or "none")
        if note:
            evidence += f"; note: {note}"
        consensus = coder_row(session, human(CONSENSUS)).id
        action, decides = ("accepted", None) if decision == "include" else (
            ("removed", latest_id) if current == "include" else ("rejected", None))
        event = t.CodingEvent(
            project_id=ws.project_id, document_id=doc.id, segment_id=segment.id, start=segment.start,
            end=segment.end, code_id=ids[code], coder_id=consensus, action=action, decides_id=decides,
            evidence=evidence[:2000],
        )
        session.add(event)
        session.flush()
        return event.id


def _originals(session: Session, project_id: int, segment: t.Segment, codes: Sequence[str]) -> list[int]:
    """Ids of the live codings and suggestions (not consensus) on the segment with these codes."""
    event = aliased(t.CodingEvent)
    rows = session.execute(
        select(event.id, event.action, t.Coder.name)
        .join(t.Code, t.Code.id == event.code_id)
        .join(t.Coder, t.Coder.id == event.coder_id)
        .where(event.project_id == project_id, event.document_id == segment.document_id,
               event.start < segment.end, event.end > segment.start, t.Code.key.in_(list(codes)),
               t.Coder.name != CONSENSUS,
               current_coding(event) | (event.action == "suggested"))
        .order_by(event.id)
    ).all()
    return [event_id for event_id, _, _ in rows]


def reconcile_disagreements(
    ws: Workspace,
    coders: Sequence[str] | None = None,
    *,
    side: str,
    by: str,
    level: str = "code",
    documents: Sequence[str] | None = None,
    include_agreements: bool = True,
    note: str = "",
) -> int:
    """Settle every open disagreement as coder ``side`` coded it; returns the decisions recorded.

    With ``include_agreements`` the codings all compared coders agree on are
    recorded as consensus inclusions too, so the consensus coder ends with a
    complete coding of the compared documents.
    """
    table = disagreements(ws, coders, level=level, documents=documents, open_only=True)
    with ws.session() as session:
        side_ref = resolve_coder(session, side)
    recorded = 0
    for row in table.itertuples(index=False):
        decision = "include" if side_ref.name in row.coded_by.split(", ") else "exclude"
        ids = [int(i) for i in row.event_ids.split(", ") if i]
        if reconcile(ws, row.segment_id, row.code, decision, by=by, original_events=ids,
                     note=note or f"as coded by {side_ref.name}") is not None:
            recorded += 1
    if include_agreements:
        comparison = compare(ws, coders, level=level, documents=documents)
        comparison_names = comparison.names
        ratings = ratings_frame(comparison)
        wide = ratings.pivot_table(index=["unit", "code"], columns="coder", values="present", aggfunc="max")
        agreed = wide[(wide.reindex(columns=comparison_names) == 1).all(axis=1)]
        events: dict[tuple[int, str], list[int]] = {}
        for name in comparison_names:
            for unit, code, event_id in comparison.codings[name][["unit", "code", "event_id"]].itertuples(index=False):
                events.setdefault((unit, code), []).append(int(event_id))
        with ws.session() as session:
            state = _consensus_state(session, ws.project_id, level_map(comparison.book, level))
        for unit, code in agreed.index:
            if (int(unit), code) in state:
                continue
            if reconcile(ws, int(unit), code, "include", by=by,
                         original_events=sorted(set(events.get((unit, code), []))),
                         note="all coders agreed") is not None:
                recorded += 1
    return recorded


# ---------------------------------------------------------------- history


HISTORY_COLUMNS = ["event_id", "created_at", "coder_kind", "coder", "action", "decides_id", "document_id",
                   "segment_id", "start", "end", "code", "score", "evidence"]


def coding_history(ws: Workspace) -> pd.DataFrame:
    """The whole coding event log of the project, oldest first."""
    with ws.session() as session:
        rows = session.execute(
            select(t.CodingEvent.id, t.CodingEvent.created_at, t.Coder.kind, t.Coder.name, t.CodingEvent.action,
                   t.CodingEvent.decides_id, t.CodingEvent.document_id, t.CodingEvent.segment_id,
                   t.CodingEvent.start, t.CodingEvent.end, t.Code.key, t.CodingEvent.score, t.CodingEvent.evidence)
            .join(t.Coder, t.Coder.id == t.CodingEvent.coder_id)
            .join(t.Code, t.Code.id == t.CodingEvent.code_id)
            .where(t.CodingEvent.project_id == ws.project_id)
            .order_by(t.CodingEvent.id)
        ).all()
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def replay(history: pd.DataFrame, *, until: int | None = None) -> pd.DataFrame:
    """Rebuild the coding state by replaying events in order (up to event ``until``).

    Returns
    -------
    DataFrame
        One row per live item: ``event_id``, ``coder``, ``code``,
        ``document_id``, ``segment_id``, ``status``: ``accepted`` (a live
        coding: accepted and not removed), ``suggested`` (a pending
        suggestion), ``rejected`` (a decided-against suggestion, or a
        consensus exclusion).
    """
    state: dict[int, dict] = {}
    for row in history.sort_values("event_id").itertuples(index=False):
        if until is not None and row.event_id > until:
            break
        item = {"event_id": int(row.event_id), "coder": row.coder, "code": row.code,
                "document_id": row.document_id, "segment_id": row.segment_id}
        decides = None if pd.isna(row.decides_id) else int(row.decides_id)
        if row.action == "suggested":
            state[row.event_id] = item | {"status": "suggested"}
        elif row.action == "accepted":
            if decides is not None and decides in state and state[decides]["status"] in ("suggested", "rejected"):
                state[decides]["status"] = "accepted-by-" + str(row.coder)
            state[row.event_id] = item | {"status": "accepted"}
        elif row.action == "rejected":
            if decides is not None and decides in state:
                state[decides]["status"] = "rejected"
            else:
                state[row.event_id] = item | {"status": "rejected"}
        elif row.action == "removed" and decides is not None and decides in state:
            state[decides]["status"] = "removed"
    frame = pd.DataFrame(list(state.values()),
                         columns=["event_id", "coder", "code", "document_id", "segment_id", "status"])
    frame = frame[frame["status"].isin(("accepted", "suggested", "rejected"))]
    return frame.sort_values("event_id").reset_index(drop=True)
