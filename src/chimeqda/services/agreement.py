"""Inter-coder agreement, reconciliation and the coding history.

Who coded what is read from the append-only ``coding_events`` log:

- a **person's** codings are their ``accepted`` events that no ``removed``
  event withdraws: codings made by hand and machine suggestions the person
  accepted (the accepting event is the person's; the machine is credited only
  with suggesting);
- a **machine coder's** codings are all its ``suggested`` events, whatever
  people later decided about them;
- the **consensus** coder (a person named ``consensus``) holds reconciled
  decisions: an ``accepted`` event includes a code, a ``rejected`` event
  (``decides_id`` empty) or a ``removed`` event excludes it; ``evidence``
  names the reconciler and the original events, which stay untouched.

A coder *has coded* a document when it has at least one event there (for a
person: an accepted, rejected or removed event) or, for a machine, when one
of its runs covered the document (``coder_runs``; a covered document without
suggestions counts as "no code applies") or it has a suggestion there
(projects coded before runs were recorded). Units of agreement are the
participant segments (role other than interviewer) of the current documents that every compared coder has coded
(``rule="all"``, the default), or that at least two have coded with the
others' ratings missing (``rule="any"``, alpha only); ``documents=`` names
the documents explicitly (every compared coder then counts as having read
them). A coding on a span counts for every segment it overlaps.
"""


from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import distinct, func, select, union
from sqlalchemy.orm import Session, aliased

from chimeqda.analysis import agreement as agr
from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.model import Codebook
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

CONSENSUS = "consensus"
SUMMARY_DRAFTER = "summary-draft"
CELL_TARGET = "framework_cell"
SPECIAL = (CONSENSUS, SUMMARY_DRAFTER)


# ---------------------------------------------------------------- coders


@dataclass(frozen=True)
class CoderRef:
    """A coder as compared: its kind, name and every coders row of that name."""

    kind: str
    name: str
    ids: tuple[int, ...]

    @property
    def label(self) -> str:
        return self.name


def resolve_coder(session: Session, spec: str) -> CoderRef:
    """``"ann"``, ``"human:ann"`` or ``"machine:ensemble"`` → the coder's rows (all versions)."""
    kind, _, name = spec.partition(":") if spec.split(":", 1)[0] in ("human", "machine") else ("", "", spec)
    query = select(t.Coder.id, t.Coder.kind).where(t.Coder.name == name)
    if kind:
        query = query.where(t.Coder.kind == kind)
    rows = session.execute(query).all()
    if not rows:
        raise UnknownObject(f"no coder named {name!r}; see `chimeqda agreement --list`")
    kinds = {k for _, k in rows}
    if len(kinds) > 1:
        raise InvalidInput(f"both a person and a machine coder are named {name!r}; write human:{name} or machine:{name}")
    return CoderRef(kind=kinds.pop(), name=name, ids=tuple(sorted(i for i, _ in rows)))


def coders_frame(ws: Workspace) -> pd.DataFrame:
    """Every coder with events or machine runs in the project: kind, name, codings and documents coded.

    A machine coder's documents include those its runs covered without
    suggesting anything (see :func:`_coded_documents`).
    """
    event = t.CodingEvent
    current = t.Document.is_current.is_(True)
    with ws.session() as session:
        counts = session.execute(
            select(t.Coder.kind, t.Coder.name, func.count(), func.count().filter(event.action == "suggested"),
                   func.count().filter(event.action == "accepted"))
            .join(event, event.coder_id == t.Coder.id)
            .join(t.Document, t.Document.id == event.document_id)
            .where(event.project_id == ws.project_id, current)
            .group_by(t.Coder.kind, t.Coder.name)
        ).all()
        touched = union(
            select(t.Coder.kind.label("kind"), t.Coder.name.label("name"), event.document_id.label("document_id"))
            .join(event, event.coder_id == t.Coder.id).join(t.Document, t.Document.id == event.document_id)
            .where(event.project_id == ws.project_id, current),
            select(t.Coder.kind, t.Coder.name, t.CoderRun.document_id)
            .join(t.CoderRun, t.CoderRun.coder_id == t.Coder.id).join(t.Document, t.Document.id == t.CoderRun.document_id)
            .where(t.CoderRun.project_id == ws.project_id, current),
        ).subquery()
        documents = session.execute(
            select(touched.c.kind, touched.c.name, func.count(distinct(touched.c.document_id)))
            .group_by(touched.c.kind, touched.c.name)
        ).all()
    if not documents:
        return pd.DataFrame(columns=["kind", "name", "events", "suggested", "accepted", "documents"])
    found = {(kind, name): (n, suggested, accepted) for kind, name, n, suggested, accepted in counts}
    result = pd.DataFrame(
        [(kind, name, *found.get((kind, name), (0, 0, 0)), n) for kind, name, n in documents],
        columns=["kind", "name", "events", "suggested", "accepted", "documents"],
    ).sort_values(["kind", "name"]).reset_index(drop=True)
    return result.astype({c: int for c in ("events", "suggested", "accepted", "documents")})


def default_coders(ws: Workspace) -> list[str]:
    """The headline comparison: the person with most codings vs the machine with most suggestions.

    Falls back to the two people with most codings when there is no machine
    coder. ``consensus`` and ``summary-draft`` are never picked.
    """
    frame = coders_frame(ws)
    frame = frame[~frame["name"].isin(SPECIAL)]
    people = frame[(frame["kind"] == "human") & (frame["accepted"] > 0)].sort_values("accepted", ascending=False)
    machines = frame[(frame["kind"] == "machine") & (frame["suggested"] > 0)].sort_values("suggested", ascending=False)
    if len(people) and len(machines):
        return [f"human:{people['name'].iloc[0]}", f"machine:{machines['name'].iloc[0]}"]
    if len(people) >= 2:
        return [f"human:{name}" for name in people["name"].iloc[:2]]
    raise InvalidInput("agreement needs two coders with codings (a person and a machine coder, or two people)")


def _coder_events(session: Session, project_id: int, coder: CoderRef,
                  documents: Sequence[int] | None = None) -> pd.DataFrame:
    """The coder's codings as spans: event_id, document_id, start, end, code (of ``documents`` only, if given)."""
    event = aliased(t.CodingEvent)
    if coder.kind == "machine":
        wanted = event.action == "suggested"
    else:
        wanted = current_coding(event)
    rows = session.execute(
        select(event.id, event.document_id, event.start, event.end, t.Code.key)
        .join(t.Code, t.Code.id == event.code_id)
        .join(t.Document, t.Document.id == event.document_id)
        .where(event.project_id == project_id, event.coder_id.in_(coder.ids), wanted,
               t.Document.is_current.is_(True),
               *([event.document_id.in_(list(documents))] if documents is not None else []))
        .order_by(event.id)
    ).all()
    return pd.DataFrame(rows, columns=["event_id", "document_id", "start", "end", "code"])


def _coded_documents(session: Session, project_id: int, coder: CoderRef,
                     within: set[int] | None = None) -> set[int]:
    """Documents the coder has coded (module docstring): a machine's runs cover them even without suggestions.

    ``within`` (at most :data:`IN_LIST` ids) reads only those documents: a
    machine coder of a million posts compared on the few a person coded.
    """
    actions = ("suggested",) if coder.kind == "machine" else ("accepted", "rejected", "removed")
    query = select(t.CodingEvent.document_id).where(
        t.CodingEvent.project_id == project_id, t.CodingEvent.coder_id.in_(coder.ids),
        t.CodingEvent.action.in_(actions),
    ).distinct()
    if within is not None and len(within) <= IN_LIST:
        query = query.where(t.CodingEvent.document_id.in_(sorted(within)))
    documents = set(session.scalars(query))
    if coder.kind == "machine":
        documents |= _covered_documents(session, project_id, coder.ids, within)
    return documents


IN_LIST = 20_000
"""Document ids passed to the database as a list at most (SQLite allows 32,766 parameters); also the most
documents agreement compares: more is refused with an error saying how to choose them (bounded memory)."""


def _covered_documents(session: Session, project_id: int, coder_ids: Iterable[int],
                       within: set[int] | None = None) -> set[int]:
    """Documents any run of these (machine) coders covered, suggestions or not."""
    query = select(t.CoderRun.document_id).where(
        t.CoderRun.project_id == project_id, t.CoderRun.coder_id.in_(list(coder_ids)),
    ).distinct()
    if within is not None and len(within) <= IN_LIST:
        query = query.where(t.CoderRun.document_id.in_(sorted(within)))
    return set(session.scalars(query))


def _current_documents(session: Session, project_id: int, key, wanted: list) -> dict:
    """``key`` (a document's name or id) -> id of the current documents among ``wanted``, read IN_LIST at a time."""
    found: dict = {}
    for begin in range(0, len(wanted), IN_LIST):
        found.update(session.execute(
            select(key, t.Document.id).where(t.Document.project_id == project_id, t.Document.is_current.is_(True),
                                             key.in_(wanted[begin:begin + IN_LIST]))).all())
    return found


def _segments(session: Session, project_id: int, document_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Participant segments (role other than interviewer) of current documents."""
    query = (
        select(t.Segment.id, t.Segment.document_id, t.Document.name, t.Participant.label, t.Segment.index,
               t.Segment.start, t.Segment.end, t.Segment.text)
        .join(t.Document, t.Document.id == t.Segment.document_id)
        .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
        .where(t.Document.project_id == project_id, t.Document.is_current.is_(True),
               t.Segment.role != "interviewer")
        .order_by(t.Segment.document_id, t.Segment.index)
    )
    if document_ids is not None:
        query = query.where(t.Segment.document_id.in_(list(document_ids)))
    return pd.DataFrame(session.execute(query).all(), columns=[
        "unit", "document_id", "document", "participant", "segment_index", "start", "end", "text"])


def _to_segments(events: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """Each span coding mapped to every segment it overlaps: unit, code, event_id."""
    if events.empty or segments.empty:
        return pd.DataFrame(columns=["unit", "code", "event_id", "document_id"])
    merged = events.merge(segments[["unit", "document_id", "start", "end"]], on="document_id",
                          suffixes=("", "_seg"))
    merged = merged[(merged["start"] < merged["end_seg"]) & (merged["end"] > merged["start_seg"])]
    return merged[["unit", "code", "event_id", "document_id"]]


def _level_map(book: Codebook, level: str) -> dict[str, str]:
    if level not in ("root", "code"):
        raise ValueError(f"level must be 'root' or 'code', not {level!r}")
    return {code.id: (book.root_of(code.id) if level == "root" else code.id) for code in book.codes}


def _level_codes(book: Codebook, level: str) -> list[str]:
    return [code.id for code in (book.top_level if level == "root" else book.codes)]


@dataclass
class Comparison:
    """Everything needed to compare coders: who, where, what each coded."""

    coders: list[CoderRef]
    documents: list[int]
    rated: dict[str, set[int]]  # coder name -> documents the coder counts as having read
    segments: pd.DataFrame
    codings: dict[str, pd.DataFrame]  # coder name -> unit, code (at level), event_id, document_id
    spans: dict[str, pd.DataFrame]  # coder name -> document_id, start, end, code (at level), event_id
    codes: list[str]
    book: Codebook
    rule: str
    level: str

    @property
    def names(self) -> list[str]:
        return [coder.name for coder in self.coders]


def compare(
    ws: Workspace,
    coders: Sequence[str] | None = None,
    *,
    level: str = "root",
    documents: Sequence[str] | None = None,
    rule: str = "all",
) -> Comparison:
    """Collect the compared coders' codings on the units they share (see module docstring)."""
    if rule not in ("all", "any"):
        raise ValueError("rule must be 'all' or 'any'")
    specs = list(coders) if coders else default_coders(ws)
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
        refs = [resolve_coder(session, spec) for spec in specs]
        if len({ref.name for ref in refs}) != len(refs):
            raise InvalidInput("compare different coders (the same name was given twice)")
        if len(refs) < 2:
            raise InvalidInput("agreement needs at least two coders")
        coded: dict[str, set[int]] = {}
        within: set[int] | None = None  # rule "all": only documents every coder so far has coded can count
        for ref in sorted(refs, key=lambda r: r.kind == "machine"):  # people (fewer documents) first
            coded[ref.name] = _coded_documents(session, ws.project_id, ref, within if rule == "all" else None)
            if rule == "all":
                within = coded[ref.name] if within is None else within & coded[ref.name]
        coded = {ref.name: coded[ref.name] for ref in refs}
        if documents:
            current = _current_documents(session, ws.project_id, t.Document.name, list(dict.fromkeys(documents)))
            unknown = [name for name in documents if name not in current]
            if unknown:
                raise UnknownObject(f"no document named {', '.join(unknown)} in the project")
            chosen = sorted(current[name] for name in documents)
            rated = {ref.name: set(chosen) for ref in refs}
        else:
            if rule == "all":
                candidates = sorted(set.intersection(*coded.values()))
            else:
                counts = pd.Series([d for docs in coded.values() for d in docs]).value_counts()
                candidates = sorted(int(d) for d, n in counts.items() if n >= 2)
            # only the candidates' rows are read (a million-post corpus is not), IN_LIST ids a query
            chosen = sorted(_current_documents(session, ws.project_id, t.Document.id, candidates).values())
            rated = {name: docs & set(chosen) for name, docs in coded.items()}
        if len(chosen) > IN_LIST:
            raise InvalidInput(
                f"{' and '.join(ref.name for ref in refs)} share {len(chosen):,} coded documents; agreement compares "
                f"at most {IN_LIST:,} (it holds every segment, code and coder of them in memory). Compare on the "
                "double-coded sample: name its documents with --document, or compare a person with the machine on "
                "the documents the person coded")
        segments = _segments(session, ws.project_id, chosen)
        mapping = _level_map(book, level)
        codings, spans = {}, {}
        for ref in refs:
            events = _coder_events(session, ws.project_id, ref, chosen)
            events = events[events["document_id"].isin(chosen)].assign(code=lambda f: f["code"].map(mapping))
            spans[ref.name] = events
            codings[ref.name] = _to_segments(events, segments)
    return Comparison(refs, chosen, rated, segments, codings, spans, _level_codes(book, level), book, rule, level)


def ratings_frame(comparison: Comparison) -> pd.DataFrame:
    """Long ratings for :mod:`chimeqda.analysis.agreement`: unit × code × coder → present (1/0/NaN)."""
    segs = comparison.segments[["unit", "document_id", "document", "participant"]]
    grid = segs.merge(pd.DataFrame({"code": comparison.codes}), how="cross")
    frames = []
    for name in comparison.names:
        coded = comparison.codings[name][["unit", "code"]].drop_duplicates().assign(_hit=1)
        frame = grid.merge(coded, on=["unit", "code"], how="left")
        present = frame["_hit"].fillna(0).astype(float)
        present[~frame["document_id"].isin(comparison.rated[name])] = np.nan
        frames.append(frame.drop(columns="_hit").assign(coder=name, present=present))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["unit", "document_id", "document", "participant", "code", "coder", "present"])


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
        :func:`default_coders`.
    level : {"root", "code"}
        Compare top-level categories (sub-codes rolled up) or codes as coded.
    documents, rule
        Which units are compared (module docstring).
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
        state = _consensus_state(session, ws.project_id, _level_map(comparison.book, level))
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
            state = _consensus_state(session, ws.project_id, _level_map(comparison.book, level))
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
