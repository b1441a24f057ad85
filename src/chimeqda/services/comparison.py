"""Who is compared on what: the coders, the documents they share, their codings on its segments.

Who coded what is read from the append-only ``coding_events`` log:

- a **person's** codings are their ``accepted`` events that no ``removed``
  event withdraws: codings made by hand and machine suggestions the person
  accepted (the accepting event is the person's; the machine is credited only
  with suggesting);
- a **machine coder's** codings are all its ``suggested`` events, whatever
  people later decided about them.

A coder *has coded* a document when it has at least one event there (for a
person: an accepted, rejected or removed event) or, for a machine, when one
of its runs covered the document (``coder_runs``; a covered document without
suggestions counts as "no code applies") or it has a suggestion there
(projects coded before runs were recorded). Units of comparison are the
participant segments (role other than interviewer) of the current documents that every compared coder has coded
(``rule="all"``, the default), or that at least two have coded with the
others' ratings missing (``rule="any"``, alpha only); ``documents=`` names
the documents explicitly (every compared coder then counts as having read
them). A coding on a span counts for every segment it overlaps.

The statistics, reconciliation and history built on a :class:`Comparison`
are in :mod:`chimeqda.services.agreement`.
"""


from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import CompoundSelect, Select, distinct, func, literal, select, union, union_all
from sqlalchemy.orm import Session, aliased

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.model import Codebook
from chimeqda.services.project import Workspace, project_codebook
from chimeqda.store import tables as t
from chimeqda.store.queries import current_coding

CONSENSUS = "consensus"
SUMMARY_DRAFTER = "summary-draft"
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


def _coded_documents_query(project_id: int, coder: CoderRef, within: set[int] | None = None) -> Select | CompoundSelect:
    """Select of the documents the coder has coded (module docstring); ``within`` (≤ :data:`IN_LIST` ids) limits it."""
    actions = ("suggested",) if coder.kind == "machine" else ("accepted", "rejected", "removed")
    query = select(t.CodingEvent.document_id.label("document_id")).where(
        t.CodingEvent.project_id == project_id, t.CodingEvent.coder_id.in_(coder.ids),
        t.CodingEvent.action.in_(actions),
    )
    if within is not None and len(within) <= IN_LIST:
        query = query.where(t.CodingEvent.document_id.in_(sorted(within)))
    if coder.kind != "machine":
        return query.distinct()
    runs = select(t.CoderRun.document_id).where(  # covered documents, suggestions or not
        t.CoderRun.project_id == project_id, t.CoderRun.coder_id.in_(list(coder.ids)))
    if within is not None and len(within) <= IN_LIST:
        runs = runs.where(t.CoderRun.document_id.in_(sorted(within)))
    return union(query, runs)


def _coded_documents(session: Session, project_id: int, coder: CoderRef,
                     within: set[int] | None = None) -> set[int]:
    """Documents the coder has coded (module docstring): a machine's runs cover them even without suggestions.

    ``within`` (at most :data:`IN_LIST` ids) reads only those documents: a
    machine coder of a million posts compared on the few a person coded.
    """
    return set(session.scalars(_coded_documents_query(project_id, coder, within)))


def _coded_by_two(session: Session, project_id: int, refs: Sequence[CoderRef]) -> list[int]:
    """Documents at least two of the coders have coded (rule "any"), counted by the database.

    Each coder's documents are a distinct select; only the documents in two or more are read
    (a machine coder of a million posts compared with people who coded a few hundred: those).
    """
    tagged = union_all(*(select(literal(i).label("coder"), _coded_documents_query(project_id, ref)
                                .subquery().c.document_id)
                         for i, ref in enumerate(refs))).subquery("coded")
    return sorted(session.scalars(select(tagged.c.document_id).group_by(tagged.c.document_id)
                                  .having(func.count() >= 2)))


IN_LIST = 20_000
"""Document ids passed to the database as a list at most (SQLite allows 32,766 parameters); also the most
documents agreement compares: more is refused with an error saying how to choose them (bounded memory)."""


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


def level_map(book: Codebook, level: str) -> dict[str, str]:
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
        if documents:
            current = _current_documents(session, ws.project_id, t.Document.name, list(dict.fromkeys(documents)))
            unknown = [name for name in documents if name not in current]
            if unknown:
                raise UnknownObject(f"no document named {', '.join(unknown)} in the project")
            chosen = sorted(current[name] for name in documents)
            rated = {ref.name: set(chosen) for ref in refs}
        else:
            coded: dict[str, set[int]] = {}
            if rule == "all":
                within: set[int] | None = None  # only documents every coder so far has coded can count
                for ref in sorted(refs, key=lambda r: r.kind == "machine"):  # people (fewer documents) first
                    coded[ref.name] = _coded_documents(session, ws.project_id, ref, within)
                    within = coded[ref.name] if within is None else within & coded[ref.name]
                candidates = sorted(set.intersection(*coded.values()))
            else:
                candidates = _coded_by_two(session, ws.project_id, refs)
                shared = set(candidates)
                if len(shared) <= IN_LIST:  # more is refused below, and would read every coder's documents
                    coded = {ref.name: _coded_documents(session, ws.project_id, ref, shared) & shared for ref in refs}
            # only the candidates' rows are read (a million-post corpus is not), IN_LIST ids a query
            chosen = sorted(_current_documents(session, ws.project_id, t.Document.id, candidates).values())
            rated = {ref.name: coded.get(ref.name, set()) & set(chosen) for ref in refs}
        if len(chosen) > IN_LIST:
            raise InvalidInput(
                f"{' and '.join(ref.name for ref in refs)} share {len(chosen):,} coded documents; agreement compares "
                f"at most {IN_LIST:,} (it holds every segment, code and coder of them in memory). Compare on the "
                "double-coded sample: name its documents with --document, or compare a person with the machine on "
                "the documents the person coded")
        segments = _segments(session, ws.project_id, chosen)
        mapping = level_map(book, level)
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
