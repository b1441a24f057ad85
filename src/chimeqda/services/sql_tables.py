"""Analysis tables of large projects, counted by the database instead of pandas.

``services.frames.codings_frame`` reads every coded segment into memory,
which is right for an interview study and wrong for a million codings. For
projects with more than :data:`LARGE_PROJECT` coding events, ``chimeqda
analyse`` counts in SQL: the frequencies, the same-segment co-occurrence and
the per-attribute table come out identical to the pandas functions of
``chimeqda.analysis`` (a test compares them on a small project), while only
per-code counts (and the distinct code/participant pairs) leave the database.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import String, and_, column, distinct, func, select, values

from chimeqda.analysis._prepare import check_level, level_codes
from chimeqda.analysis.cooccurrence import pair_table
from chimeqda.analysis.frequencies import frequencies_by_attribute, frequency_table
from chimeqda.model import Codebook
from chimeqda.services.frames import participants_frame
from chimeqda.services.project import Workspace
from chimeqda.store import tables as t
from chimeqda.store.queries import decided, removed

LARGE_PROJECT = 200_000
"""Coding events above which ``chimeqda analyse`` counts in SQL (``CHIMEQDA_LARGE_PROJECT`` changes it)."""


def is_large(ws: Workspace, limit: int | None = None) -> bool:
    """True when the project has more than ``limit`` coding events (default: :data:`LARGE_PROJECT`)."""
    if limit is None:
        limit = int(os.environ.get("CHIMEQDA_LARGE_PROJECT") or LARGE_PROJECT)
    with ws.session() as session:
        count = session.scalar(select(func.count()).select_from(t.CodingEvent)
                               .where(t.CodingEvent.project_id == ws.project_id))
    return int(count or 0) > limit


def _level_map(codebook: Codebook, level: str):
    """A VALUES table ``(key, level_key)``: each code and the code(s) it counts for at ``level``."""
    check_level(level)
    pairs: list[tuple[str, str]] = []
    for code in codebook.codes:
        if level == "root":
            pairs.append((code.id, codebook.root_of(code.id)))
        elif level == "code":
            pairs.append((code.id, code.id))
        else:
            current = code
            while True:
                pairs.append((code.id, current.id))
                if current.parent is None:
                    break
                current = codebook[current.parent]
    return values(column("key", String), column("level_key", String), name="level_map").data(pairs).cte("level_map")


def coded_units(ws: Workspace, codebook: Codebook, *, level: str = "root", include_suggested: bool = False):
    """A subquery of the distinct ``(segment_id, document_id, participant_id, code)`` that count.

    The rows ``codings_frame`` + ``prepare_codings`` keep: accepted codings not
    removed (and pending suggestions), on every segment of a current document
    they overlap, with codes mapped to ``level``.
    """
    event = t.CodingEvent
    wanted = and_(event.action == "accepted", ~removed(event))
    if include_suggested:
        wanted = wanted | and_(event.action == "suggested", ~decided(event))
    level_map = _level_map(codebook, level)
    return (
        select(t.Segment.id.label("segment_id"), t.Segment.document_id.label("document_id"),
               t.Document.participant_id.label("participant_id"), level_map.c.level_key.label("code"))
        .select_from(event)
        .join(t.Document, t.Document.id == event.document_id)
        .join(t.Segment, and_(t.Segment.document_id == event.document_id,
                              t.Segment.start < event.end, t.Segment.end > event.start))
        .join(t.Code, t.Code.id == event.code_id)
        .join(level_map, level_map.c.key == t.Code.key)
        .where(event.project_id == ws.project_id, t.Document.is_current.is_(True), wanted)
        .distinct()
        .subquery("units")
    )


def sql_code_frequencies(ws: Workspace, codebook: Codebook, *, level: str = "root",
                         include_suggested: bool = False) -> pd.DataFrame:
    """:func:`chimeqda.analysis.code_frequencies` counted by the database."""
    units = coded_units(ws, codebook, level=level, include_suggested=include_suggested)
    with ws.session() as session:
        rows = session.execute(select(
            units.c.code, func.count(distinct(units.c.segment_id)), func.count(distinct(units.c.document_id)),
            func.count(distinct(units.c.participant_id))).group_by(units.c.code)).all()
        total = session.scalar(select(func.count()).select_from(t.Participant)
                               .where(t.Participant.project_id == ws.project_id))
    counts = pd.DataFrame(rows, columns=["code", "segments", "documents", "participants"]).set_index("code")
    return frequency_table(counts, codebook, level=level, participants_total=int(total or 0))


def sql_cooccurrence(ws: Workspace, codebook: Codebook, *, level: str = "root",
                     include_suggested: bool = False) -> pd.DataFrame:
    """:func:`chimeqda.analysis.cooccurrence` with ``window=0`` (the same segment), counted by the database."""
    codes = level_codes(codebook, level)
    position = {code: i for i, code in enumerate(codes)}
    units = coded_units(ws, codebook, level=level, include_suggested=include_suggested)
    a, b = units.alias("a"), units.alias("b")
    with ws.session() as session:
        pairs = session.execute(
            select(a.c.code, b.c.code, func.count())
            .select_from(a).join(b, and_(a.c.segment_id == b.c.segment_id, a.c.code <= b.c.code))
            .group_by(a.c.code, b.c.code)).all()
    counts = np.zeros((len(codes), len(codes)), dtype=np.int64)
    for code_a, code_b, n in pairs:
        i, j = position[code_a], position[code_b]
        counts[i, j] = counts[j, i] = n
    return pair_table(counts, codes, codebook, window=0, level=level, include_suggested=include_suggested)


def sql_frequencies_by_attribute(ws: Workspace, codebook: Codebook, attribute: str, *, level: str = "root",
                                 include_suggested: bool = False, **options) -> pd.DataFrame:
    """:func:`chimeqda.analysis.frequencies_by_attribute` from the distinct (code, participant) pairs only."""
    units = coded_units(ws, codebook, level=level, include_suggested=include_suggested)
    with ws.session() as session:
        pairs = session.execute(
            select(units.c.code, t.Participant.label).distinct()
            .join(t.Participant, t.Participant.id == units.c.participant_id)).all()
    codings = pd.DataFrame({
        "document_id": range(len(pairs)), "segment_id": range(len(pairs)),
        "code": [code for code, _ in pairs], "participant": [label for _, label in pairs],
        "status": "accepted",
    })
    return frequencies_by_attribute(codings, codebook, participants_frame(ws), attribute, level=level,
                                    include_suggested=False, **options)


def large_project_table(ws: Workspace, codebook: Codebook, what: str, *, level: str = "root",
                        include_suggested: bool = False, window: int = 0, attribute: str | None = None,
                        code_id: str | None = None, limit: int | None = None) -> pd.DataFrame | None:
    """The ``chimeqda analyse WHAT`` table counted in SQL when the project is over ``limit``; else None (use pandas)."""
    sql_kinds = ("frequencies", "by-attribute") + (("cooccurrence", "linked") if window == 0 else ())
    if what not in sql_kinds or (what == "by-attribute" and not attribute) or not is_large(ws, limit):
        return None
    options: dict[str, Any] = {"level": level, "include_suggested": include_suggested}
    if what == "frequencies":
        return sql_code_frequencies(ws, codebook, **options)
    if what == "by-attribute":
        return sql_frequencies_by_attribute(ws, codebook, str(attribute), **options)
    from chimeqda.analysis import most_linked

    table = sql_cooccurrence(ws, codebook, **options)
    if what == "linked":
        if code_id is None:
            code_id = str(sql_code_frequencies(ws, codebook, **options)["segments"].idxmax())
        table = most_linked(table, code_id)
    return table
