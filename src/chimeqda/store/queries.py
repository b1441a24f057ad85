"""The current state of a project, derived from its append-only coding events.

``coding_events`` is never updated: a decision is a new event whose
``decides_id`` points at the event it decides. Every reader of that state
uses these predicates, so the rule is written once:

- an event is **removed** when a ``removed`` event decides it;
- an event is **decided** when any event decides it (optionally: by one coder);
- a **current coding** is an ``accepted`` event that is not removed;
- a **pending suggestion** is a ``suggested`` event that is not decided.

>>> from sqlalchemy import select
>>> select(t.CodingEvent.id).where(current_coding())          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from chimeqda.errors import UnknownObject
from chimeqda.store import tables as t

Event = Any
"""``t.CodingEvent`` or an ``aliased(t.CodingEvent)``."""


def removed(event: Event = t.CodingEvent) -> ColumnElement[bool]:
    """True where a ``removed`` event decides ``event`` (the coding was withdrawn)."""
    removal = aliased(t.CodingEvent)
    return exists().where(and_(removal.decides_id == event.id, removal.action == "removed"))


def decided(event: Event = t.CodingEvent, *, by: int | None = None) -> ColumnElement[bool]:
    """True where any event decides ``event``; with ``by`` (a coders row id) only that coder's decisions."""
    decision = aliased(t.CodingEvent)
    condition = decision.decides_id == event.id
    if by is not None:
        condition = and_(condition, decision.coder_id == by)
    return exists().where(condition)


def current_coding(event: Event = t.CodingEvent) -> ColumnElement[bool]:
    """An ``accepted`` event that is not removed: a coding in force."""
    return and_(event.action == "accepted", ~removed(event))


def pending_suggestion(event: Event = t.CodingEvent, *, by: int | None = None) -> ColumnElement[bool]:
    """A ``suggested`` event nobody (or, with ``by``, that coder) has decided."""
    return and_(event.action == "suggested", ~decided(event, by=by))


def current_codings(project_id: int) -> Any:
    """Selectable of the project's current codings (all ``coding_events`` columns)."""
    return select(t.CodingEvent).where(t.CodingEvent.project_id == project_id, current_coding())


def pending_suggestions(project_id: int) -> Any:
    """Selectable of the project's undecided suggestions (all ``coding_events`` columns)."""
    return select(t.CodingEvent).where(t.CodingEvent.project_id == project_id, pending_suggestion())


def latest_decision(session: Session, event_id: int, *, by: int | None = None) -> t.CodingEvent | None:
    """The newest event deciding ``event_id`` (by one coder with ``by``), or None."""
    query = select(t.CodingEvent).where(t.CodingEvent.decides_id == event_id)
    if by is not None:
        query = query.where(t.CodingEvent.coder_id == by)
    return session.scalars(query.order_by(t.CodingEvent.id.desc()).limit(1)).first()


def first_codebook_id(session: Session, project_id: int) -> int:
    """The project's codebook: the first one it was given (the one every view and coder uses)."""
    found = session.scalar(select(func.min(t.Codebook.id)).where(t.Codebook.project_id == project_id))
    if found is None:
        raise UnknownObject("the project has no codebook")
    return found
