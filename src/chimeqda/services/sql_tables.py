"""Analysis tables of large projects, counted by the database instead of pandas.

``services.frames.codings_frame`` reads every coded segment into memory,
which is right for an interview study and wrong for a million codings. For
projects with more than :data:`LARGE_PROJECT` coding events, ``chimeqda
analyse`` and ``chimeqda report`` count in SQL (SQLite and PostgreSQL): the
frequencies, the code × participant matrix, co-occurrence (same segment or a
window of segments) and the per-attribute tables (participant attributes, and
document attributes of corpus rows) come out identical to the pandas functions
of ``chimeqda.analysis`` (tests compare them), while only per-code counts
leave the database. Quotes are picked from a sample of each code's segments
(:data:`QUOTE_SAMPLE`, a fixed pseudo-random order), the same quotes as the
pandas path whenever a code has no more segments than that; ``analyse
segments`` reads the codings a range of documents at a time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Text,
    and_,
    cast,
    column,
    distinct,
    func,
    literal,
    select,
    text,
    values,
)
from sqlalchemy.orm import Session

from chimeqda.analysis._prepare import check_level, level_codes, participant_ids
from chimeqda.analysis.cooccurrence import pair_table
from chimeqda.analysis.frequencies import (
    attribute_table,
    bin_attribute,
    frequencies_by_attribute,
    frequency_table,
)
from chimeqda.analysis.quotes import exemplar_quotes
from chimeqda.model import Codebook
from chimeqda.services.frames import codings_frame, participants_frame
from chimeqda.services.project import Workspace
from chimeqda.store import tables as t
from chimeqda.store.queries import decided, removed

LARGE_PROJECT = 200_000
"""Coding events above which ``chimeqda analyse`` counts in SQL (``CHIMEQDA_LARGE_PROJECT`` changes it)."""


def large_limit() -> int:
    """The size limit in force: ``CHIMEQDA_LARGE_PROJECT`` if set, else :data:`LARGE_PROJECT`."""
    return int(os.environ.get("CHIMEQDA_LARGE_PROJECT") or LARGE_PROJECT)


def is_large(ws: Workspace, limit: int | None = None) -> bool:
    """True when the project has more than ``limit`` coding events (default: :func:`large_limit`)."""
    if limit is None:
        limit = large_limit()
    with ws.session() as session:
        count = session.scalar(select(func.count()).select_from(t.CodingEvent)
                               .where(t.CodingEvent.project_id == ws.project_id))
    return int(count or 0) > limit


def _level_map(ws: Workspace, codebook: Codebook, level: str):
    """A VALUES table ``(code_id, level_key)``: each code of the project and the code(s) it counts for at ``level``.

    Keyed by the codes' row ids, so the database joins it to ``coding_events`` by its
    ``code_id`` index (joined by key, SQLite read every coding event once per code).
    """
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
    with ws.session() as session:
        ids: dict[str, list[int]] = {}
        for key, code_id in session.execute(
                select(t.Code.key, t.Code.id).join(t.Codebook, t.Codebook.id == t.Code.codebook_id)
                .where(t.Codebook.project_id == ws.project_id)):
            ids.setdefault(key, []).append(int(code_id))
    rows = [(code_id, level_key) for key, level_key in pairs for code_id in ids.get(key, ())] or [(-1, "")]
    return (values(column("code_id", Integer), column("level_key", String), name="level_map").data(rows)
            .cte("level_map"))


def coded_units(ws: Workspace, codebook: Codebook, *, level: str = "root", include_suggested: bool = False,
                participant_ids: list[int] | None = None):
    """A CTE of the distinct ``(segment_id, segment_index, document_id, participant_id, code)`` that count.

    The rows ``codings_frame`` + ``prepare_codings`` keep: accepted codings not
    removed (and pending suggestions), on every segment of a current document
    they overlap, with codes mapped to ``level``. ``participant_ids``: only the
    documents of these participants (the CTE is then built from their rows only).
    """
    event = t.CodingEvent
    wanted = and_(event.action == "accepted", ~removed(event))
    if include_suggested:
        wanted = wanted | and_(event.action == "suggested", ~decided(event))
    level_map = _level_map(ws, codebook, level)
    return (
        select(t.Segment.id.label("segment_id"), t.Segment.index.label("segment_index"),
               t.Segment.document_id.label("document_id"), t.Document.participant_id.label("participant_id"),
               level_map.c.level_key.label("code"))
        .select_from(event)
        .join(t.Document, t.Document.id == event.document_id)
        .join(t.Segment, and_(t.Segment.document_id == event.document_id,
                              t.Segment.start < event.end, t.Segment.end > event.start))
        .join(level_map, level_map.c.code_id == event.code_id)
        .where(event.project_id == ws.project_id, t.Document.is_current.is_(True), wanted,
               *([t.Document.participant_id.in_(participant_ids)] if participant_ids is not None else []))
        .distinct()
        .cte("units")
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


def _window_units(units, window: int):
    """The co-occurrence units of a window: each segment with the codes of the segments within ``window`` of it."""
    if window == 0:
        return units
    near = t.Segment.__table__.alias("near")
    return (
        select(near.c.id.label("segment_id"), units.c.code)
        .select_from(units)
        .join(near, and_(near.c.document_id == units.c.document_id,
                         near.c.index >= units.c.segment_index - window,
                         near.c.index <= units.c.segment_index + window))
        .distinct()
        .cte("window_units")
    )


def sql_cooccurrence_counts(ws: Workspace, codebook: Codebook, *, window: int = 0, level: str = "root",
                            include_suggested: bool = False) -> tuple[np.ndarray, list[str]]:
    """Codes × codes units holding both codes (diagonal: units with the code), counted by the database.

    A unit is a segment (``window=0``) or the window of ``window`` segments
    either side of a segment (see :mod:`chimeqda.analysis.cooccurrence`).
    """
    if window < 0 or int(window) != window:
        raise ValueError(f"window must be a whole number >= 0, not {window!r}")
    codes = level_codes(codebook, level)
    position = {code: i for i, code in enumerate(codes)}
    units = _window_units(coded_units(ws, codebook, level=level, include_suggested=include_suggested), int(window))
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
    return counts, codes


def sql_cooccurrence(ws: Workspace, codebook: Codebook, *, window: int = 0, level: str = "root",
                     include_suggested: bool = False) -> pd.DataFrame:
    """:func:`chimeqda.analysis.cooccurrence` (units of every segment of the project) counted by the database."""
    counts, codes = sql_cooccurrence_counts(ws, codebook, window=window, level=level,
                                            include_suggested=include_suggested)
    return pair_table(counts, codes, codebook, window=window, level=level, include_suggested=include_suggested)


def square_table(counts: np.ndarray, codes: list[str], *, window: int, level: str,
                 include_suggested: bool) -> pd.DataFrame:
    """:func:`chimeqda.analysis.cooccurrence_matrix` from the counts of :func:`sql_cooccurrence_counts`."""
    result = pd.DataFrame(counts, index=pd.Index(codes, name="code_a"), columns=pd.Index(codes, name="code_b"))
    result.attrs.update(window=window, level=level, include_suggested=include_suggested)
    return result


def sql_participant_matrix(ws: Workspace, codebook: Codebook, *, level: str = "root",
                           include_suggested: bool = False) -> pd.DataFrame:
    """:func:`chimeqda.analysis.code_participant_matrix` (segments per participant and code) counted by the database."""
    units = coded_units(ws, codebook, level=level, include_suggested=include_suggested)
    with ws.session() as session:
        rows = session.execute(
            select(t.Participant.label, units.c.code, func.count(distinct(units.c.segment_id)))
            .join(t.Participant, t.Participant.id == units.c.participant_id)
            .group_by(t.Participant.label, units.c.code)).all()
    counts = pd.DataFrame(rows, columns=["participant", "code", "segments"])
    people = participant_ids(participants_frame(ws), counts)
    matrix = counts.set_index(["participant", "code"])["segments"].unstack("code") if len(counts) else pd.DataFrame()
    matrix = matrix.reindex(index=people, columns=level_codes(codebook, level)).fillna(0).astype(int)
    matrix.index.name = "participant"
    matrix.columns.name = "code"
    return matrix


QUOTE_SAMPLE = 2000
"""Coded segments per code that quotes are picked from in a large project."""


def _sample_order(segment_id, seed: int):
    """A fixed pseudo-random order of segments (the same on SQLite and PostgreSQL)."""
    big = cast(segment_id, BigInteger)
    return (big * literal(2654435761, BigInteger) + literal(seed * 40503, BigInteger)) % literal(4294967291, BigInteger)


def sql_quotes(ws: Workspace, codebook: Codebook, *, n: int = 3, level: str = "root",
               include_suggested: bool = False, sample: int = QUOTE_SAMPLE, seed: int = 0) -> pd.DataFrame:
    """:func:`chimeqda.analysis.exemplar_quotes` over at most ``sample`` coded segments per code.

    The sample is the first ``sample`` segments of each code in a fixed
    pseudo-random order (``seed``); a code with fewer segments gets the same
    quotes as the pandas path.
    """
    units = coded_units(ws, codebook, level=level, include_suggested=include_suggested)
    ranked = select(units.c.segment_id, func.row_number().over(
        partition_by=units.c.code, order_by=(_sample_order(units.c.segment_id, seed), units.c.segment_id)
    ).label("rank")).subquery("ranked")
    chosen = select(ranked.c.segment_id).where(ranked.c.rank <= sample)
    codings = codings_frame(ws, include_suggested=include_suggested, segments=chosen)
    return exemplar_quotes(codings, codebook, n=n, level=level, include_suggested=include_suggested)


# ---------------------------------------------------------------- attributes


def _attribute_json(session: Session, attribute: str):
    """The JSON text of a document's ``meta["attributes"][attribute]`` (NULL or 'null' when missing)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.json_extract_path(t.Document.meta, "attributes", attribute), Text)
    return func.json_quote(func.json_extract(t.Document.meta, "$.attributes." + json.dumps(attribute)))


def document_attribute_names(ws: Workspace) -> list[str]:
    """The attributes of the project's current documents (columns of corpus rows), sorted."""
    with ws.session() as session:
        if session.get_bind().dialect.name == "postgresql":
            query = text("SELECT DISTINCT json_object_keys(meta->'attributes') FROM documents WHERE project_id = :p "
                         "AND is_current AND json_typeof(meta->'attributes') = 'object'")
        else:
            query = text("SELECT DISTINCT a.key FROM documents, json_each(documents.meta, '$.attributes') AS a "
                         "WHERE documents.project_id = :p AND documents.is_current "
                         "AND json_type(documents.meta, '$.attributes') = 'object'")
        return sorted(str(name) for name in session.scalars(query, {"p": ws.project_id}))


def _parse(value: str | None) -> Any:
    parsed = None if value is None else json.loads(value)
    return None if isinstance(parsed, (dict, list)) and not parsed else parsed


def _needs_distribution(values: pd.Series, bins: Any) -> bool:
    """True when :func:`~chimeqda.analysis.frequencies.bin_attribute` makes quantile groups of these values.

    Quantiles (``bins`` an int, or numeric values with more than five distinct values) need every
    document's value; otherwise each value's group is the value's own.
    """
    if isinstance(bins, int) and not isinstance(bins, bool):
        return True
    if bins is not None or values.map(lambda v: isinstance(v, bool)).any():
        return False
    numeric = pd.to_numeric(values, errors="coerce")
    return bool(numeric.notna().all() and numeric.nunique() > 5)


def sql_frequencies_by_document_attribute(
    ws: Workspace, codebook: Codebook, attribute: str, *, level: str = "root", include_suggested: bool = False,
    bins: Any = None, missing_label: str = "unknown",
) -> pd.DataFrame:
    """:func:`chimeqda.analysis.frequencies.frequencies_by_document_attribute` counted by the database.

    Only the distinct values of the attribute (with their number of documents)
    and the documents per (code, value) leave the database.
    """
    units = coded_units(ws, codebook, level=level, include_suggested=include_suggested)
    with ws.session() as session:
        value = _attribute_json(session, attribute).label("value")
        distribution = session.execute(
            select(value, func.count()).where(t.Document.project_id == ws.project_id,
                                              t.Document.is_current.is_(True)).group_by(value)).all()
        present = session.execute(
            select(units.c.code, value, func.count(distinct(units.c.document_id)))
            .join(t.Document, t.Document.id == units.c.document_id).group_by(units.c.code, value)).all()
    known = [(_parse(v), int(n)) for v, n in distribution if _parse(v) is not None]
    if not known:
        raise ValueError(f"no document has the attribute {attribute!r}")
    missing = sum(int(n) for v, n in distribution if _parse(v) is None)
    distinct_values = pd.Series([v for v, _ in known], dtype=object)
    if _needs_distribution(distinct_values, bins):
        # quantile groups: every document's value, as shared references (8 bytes a document)
        groups = bin_attribute(distinct_values.repeat([n for _, n in known]).reset_index(drop=True), bins)
        first = np.cumsum([0] + [n for _, n in known[:-1]])
        groups = groups.iloc[first].reset_index(drop=True)
    else:  # each value's group depends on the value alone: bin the distinct values (memory ∝ values, not documents)
        groups = bin_attribute(distinct_values, bins)
    label = {json.dumps(v): groups.iloc[i] for i, (v, _) in enumerate(known)}
    per_group: dict[str, int] = {}
    for group, (_, n) in zip(groups, known):
        per_group[str(group)] = per_group.get(str(group), 0) + int(n)
    order = [str(g) for g in groups.cat.categories if str(g) in per_group]
    sizes = pd.Series([per_group[g] for g in order], index=pd.Index(order, dtype=object), dtype=int)
    if missing:
        sizes[missing_label] = missing
        order.append(missing_label)
    counts: dict[tuple[str, str], int] = {}
    for code, raw, n in present:
        parsed = _parse(raw)
        group = missing_label if parsed is None else str(label[json.dumps(parsed)])
        counts[(code, group)] = counts.get((code, group), 0) + int(n)
    series = pd.Series(counts, dtype=int) if counts else pd.Series(dtype=int)
    if counts:
        series.index = pd.MultiIndex.from_tuples(list(counts), names=["code", "group"])
    return attribute_table(series, sizes, codebook, level_codes(codebook, level), attribute, unit="documents")


def sql_frequencies_by_attribute(ws: Workspace, codebook: Codebook, attribute: str, *, level: str = "root",
                                 include_suggested: bool = False, **options) -> pd.DataFrame:
    """:func:`chimeqda.analysis.frequencies_by_attribute` from the distinct (code, participant) pairs only.

    An attribute no participant has but documents have (a corpus row's column)
    gives :func:`sql_frequencies_by_document_attribute`.
    """
    people = participants_frame(ws)
    if attribute not in people.columns:
        return sql_frequencies_by_document_attribute(ws, codebook, attribute, level=level,
                                                     include_suggested=include_suggested, **options)
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
    return frequencies_by_attribute(codings, codebook, people, attribute, level=level,
                                    include_suggested=False, **options)


# ---------------------------------------------------------------- codings a part at a time


def iter_codings(ws: Workspace, *, include_suggested: bool = False, documents: int = 2000) -> Iterator[pd.DataFrame]:
    """The rows of :func:`~chimeqda.services.frames.codings_frame`, ``documents`` document ids at a time, in order."""
    with ws.session() as session:
        low, high = session.execute(select(func.min(t.Document.id), func.max(t.Document.id))
                                    .where(t.Document.project_id == ws.project_id)).one()
    if low is None:
        return
    for first in range(int(low), int(high) + 1, documents):
        part = codings_frame(ws, include_suggested=include_suggested, documents=(first, first + documents))
        if len(part):
            yield part


def large_project_table(ws: Workspace, codebook: Codebook, what: str, *, level: str = "root",
                        include_suggested: bool = False, window: int = 0, attribute: str | None = None,
                        code_id: str | None = None, limit: int | None = None) -> pd.DataFrame | None:
    """The ``chimeqda analyse WHAT`` table counted in SQL when the project is over ``limit``; else None (use pandas).

    ``segments`` is not a table here: see :func:`iter_codings`.
    """
    if what == "segments" or (what == "by-attribute" and not attribute) or not is_large(ws, limit):
        return None
    options: dict[str, Any] = {"level": level, "include_suggested": include_suggested}
    if what == "frequencies":
        return sql_code_frequencies(ws, codebook, **options)
    if what == "matrix":
        return sql_participant_matrix(ws, codebook, **options)
    if what == "quotes":
        return sql_quotes(ws, codebook, **options)
    if what == "by-attribute":
        return sql_frequencies_by_attribute(ws, codebook, str(attribute), **options)
    from chimeqda.analysis import most_linked

    table = sql_cooccurrence(ws, codebook, window=window, **options)
    if what == "linked":
        if code_id is None:
            code_id = str(sql_code_frequencies(ws, codebook, **options)["segments"].idxmax())
        table = most_linked(table, code_id)
    return table
