"""The findings report of a large project, counted by the database (see ``services.sql_tables``).

:func:`chimeqda.services.reporting.findings_report` uses this path for a
project over :data:`~chimeqda.services.sql_tables.LARGE_PROJECT` coding
events: the same sections and, where both apply, the same numbers as the
pandas path, without reading every coding into memory.

- Frequencies, co-occurrence (with the report's window), the participant
  matrix and the by-attribute tables (participant and document attributes)
  are counted in SQL and equal the pandas tables.
- Quotes come from a fixed pseudo-random sample of each code's segments
  (:data:`~chimeqda.services.sql_tables.QUOTE_SAMPLE`); the framework matrix
  gives the full counts with quotes and drafts from a sample of
  :data:`CELL_SAMPLE` segments per cell, for the first :data:`MAX_PARTICIPANTS`
  participants; saturation is computed for up to :data:`MAX_INTERVIEWS` coded
  documents. The report's methods say so whenever a limit applied.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import distinct, func, select

from chimeqda.analysis import framework as fw
from chimeqda.analysis.frequencies import bin_attribute
from chimeqda.model import Codebook
from chimeqda.report.builder import MAX_GROUPS, ReportTables, keep_attribute_table
from chimeqda.services import sql_tables as sql
from chimeqda.services.frames import ProjectFrames, codings_frame, participants_frame
from chimeqda.services.project import Workspace
from chimeqda.store import tables as t

MAX_PARTICIPANTS = 200
"""Participants shown in the framework matrix of a large project (all are counted elsewhere)."""
CELL_SAMPLE = 50
"""Segments per framework cell that its quotes and machine draft are taken from."""
MAX_INTERVIEWS = 2000
"""Coded documents above which saturation (a per-interview measure) is not computed."""


def _pending_counts(ws: Workspace, include_suggested: bool) -> tuple[int, int]:
    """(pending suggestions, codings without a participant) as the pandas report counts them.

    The pandas report counts rows of the codings frame: one per segment, code
    (as coded) and status.
    """
    from chimeqda.store.queries import current_coding, pending_suggestion

    event = t.CodingEvent
    wanted = current_coding(event) | pending_suggestion(event) if include_suggested else current_coding(event)
    rows = (
        select(t.Segment.id.label("segment_id"), event.code_id, event.action,
               t.Document.participant_id.label("participant_id"))
        .select_from(event)
        .join(t.Document, t.Document.id == event.document_id)
        .join(t.Segment, (t.Segment.document_id == event.document_id) & (t.Segment.start < event.end)
              & (t.Segment.end > event.start))
        .where(event.project_id == ws.project_id, t.Document.is_current.is_(True), wanted)
        .distinct().subquery()
    )
    with ws.session() as session:
        suggested = session.scalar(select(func.count()).select_from(rows).where(rows.c.action == "suggested"))
        orphans = session.scalar(select(func.count()).select_from(rows).where(rows.c.participant_id.is_(None)))
    return int(suggested or 0), int(orphans or 0)


def large_report_tables(ws: Workspace, book: Codebook, *, include_suggested: bool = False, window: int = 1,
                        n_quotes: int = 3) -> ReportTables:
    """The report's counted tables (:class:`~chimeqda.report.builder.ReportTables`) from the database."""
    options: dict[str, Any] = {"include_suggested": include_suggested}
    frequencies = sql.sql_code_frequencies(ws, book, **options)
    counts, codes = sql.sql_cooccurrence_counts(ws, book, window=window, level="root", **options)
    by_attribute: dict[str, pd.DataFrame] = {}
    skipped: list[str] = []
    participants = participants_frame(ws)
    attributes = [c for c in participants.columns if c != "participant"]
    attributes += [a for a in sql.document_attribute_names(ws) if a not in attributes]
    for attribute in attributes:
        try:
            table = sql.sql_frequencies_by_attribute(ws, book, attribute, **options)
        except ValueError:
            skipped.append(attribute)
            continue
        keep_attribute_table(by_attribute, skipped, attribute, table)
    suggested, orphans = _pending_counts(ws, include_suggested)
    notes = [f"This project has more than {sql.large_limit():,} coding events, so "
             "its tables were counted by the database. Exemplar quotes were chosen from a fixed pseudo-random "
             f"sample of at most {sql.QUOTE_SAMPLE:,} coded segments per category (the same sample every time)."]
    return ReportTables(
        frequencies=frequencies,
        code_frequencies=sql.sql_code_frequencies(ws, book, level="all", **options),
        participant_matrix=sql.sql_participant_matrix(ws, book, **options),
        cooccurrence=sql.pair_table(counts, codes, book, window=window, level="root", **options),
        cooccurrence_matrix=sql.square_table(counts, codes, window=window, level="root", **options),
        quotes=sql.sql_quotes(ws, book, n=n_quotes, **options),
        by_attribute=by_attribute, skipped_attributes=skipped, suggestions_in_input=suggested,
        codings_without_participant=orphans, notes=notes,
    )


# ---------------------------------------------------------------- rigour sections


def large_framework(ws: Workspace, book: Codebook, participants: pd.DataFrame, *,
                    include_suggested: bool = False, n_quotes: int = 2) -> tuple[pd.DataFrame, str]:
    """The framework cells of the first :data:`MAX_PARTICIPANTS` participants: full counts, sampled quotes.

    Returns the cells and a note on what was limited ("" when nothing was).
    """
    from chimeqda.services.framework import cell_summaries

    themes = [code.id for code in book.top_level]
    shown = participants.head(MAX_PARTICIPANTS)
    with ws.session() as session:
        ids = dict(session.execute(select(t.Participant.label, t.Participant.id)
                                   .where(t.Participant.project_id == ws.project_id)).all())
    wanted = [ids[p] for p in shown["participant"] if p in ids]
    # only the shown participants' documents are read (a corpus of posts without participants: none)
    units = sql.coded_units(ws, book, level="all", include_suggested=include_suggested, participant_ids=wanted)
    in_cells = units.c.code.in_(themes)
    counts: dict[tuple[str, str], int] = {}
    if wanted:
        with ws.session() as session:
            counts = {(label, code): int(n) for label, code, n in session.execute(
                select(t.Participant.label, units.c.code, func.count(distinct(units.c.segment_id)))
                .join(t.Participant, t.Participant.id == units.c.participant_id)
                .where(in_cells).group_by(t.Participant.label, units.c.code)).all()}
    largest = max(counts.values(), default=0)
    ranked = select(units.c.segment_id, func.row_number().over(
        partition_by=(units.c.participant_id, units.c.code),
        order_by=(sql._sample_order(units.c.segment_id, 0), units.c.segment_id)).label("rank")
    ).where(in_cells).subquery("ranked")
    sample = codings_frame(ws, include_suggested=include_suggested, participant_ids=wanted,
                           segments=select(ranked.c.segment_id).where(ranked.c.rank <= CELL_SAMPLE))
    cells = fw.framework_matrix(sample, book, shown, codes=themes, include_suggested=include_suggested,
                                summaries=cell_summaries(ws), n_quotes=n_quotes)
    cells["segments"] = [counts.get((p, c), 0) for p, c in zip(cells["participant"], cells["code"])]
    notes = []
    if len(participants) > MAX_PARTICIPANTS:
        notes.append(f"the first {MAX_PARTICIPANTS} of {len(participants)} participants are shown")
    if largest > CELL_SAMPLE:
        notes.append(f"quotes and drafts of cells with more than {CELL_SAMPLE} segments come from a fixed sample "
                     f"of {CELL_SAMPLE} of them (counts are complete)")
    return cells, ("Large project: " + "; ".join(notes) + ".") if notes else ""


def _saturation_frames(ws: Workspace, book: Codebook, include_suggested: bool) -> ProjectFrames | None:
    """The (document, code) presence that saturation needs, or None over :data:`MAX_INTERVIEWS` coded documents."""
    units = sql.coded_units(ws, book, level="code", include_suggested=include_suggested)
    with ws.session() as session:
        first = select(units.c.document_id).distinct().limit(MAX_INTERVIEWS + 1).subquery()  # stops there
        documents = session.scalar(select(func.count()).select_from(first))
        if int(documents or 0) > MAX_INTERVIEWS:
            return None
        pairs = session.execute(select(units.c.document_id, units.c.code).distinct()).all()
    codings = pd.DataFrame({"document_id": [d for d, _ in pairs], "segment_id": range(len(pairs)),
                            "code": [c for _, c in pairs], "status": "accepted"})
    return ProjectFrames("", book, codings, participants_frame(ws), pd.DataFrame(), include_suggested)


def large_attribute_comparison(ws: Workspace, book: Codebook, participants: pd.DataFrame, *,
                               include_suggested: bool = False, max_groups: int = MAX_GROUPS) -> dict[str, pd.DataFrame]:
    """:func:`chimeqda.services.framework.attribute_comparison` counted by the database."""
    attributes = [c for c in participants.columns if c not in ("participant", "file")]
    if not attributes:  # nothing to compare (a corpus without participant attributes): nothing read
        return {}
    units = sql.coded_units(ws, book, level="root", include_suggested=include_suggested)
    with ws.session() as session:
        per_person = session.execute(
            select(units.c.code, t.Participant.label, func.count(distinct(units.c.segment_id)))
            .join(t.Participant, t.Participant.id == units.c.participant_id)
            .group_by(units.c.code, t.Participant.label)).all()
    result = {}
    for attribute in attributes:
        try:
            table = sql.sql_frequencies_by_attribute(ws, book, attribute, include_suggested=include_suggested)
        except ValueError:
            continue
        groups = table["group"].cat.categories
        if groups.size > max_groups or groups.size < 2:
            continue
        binned = bin_attribute(participants.set_index("participant")[attribute])
        binned = binned.cat.add_categories(["unknown"]).fillna("unknown") if binned.isna().any() else binned
        segments: dict[tuple[str, str], int] = {}
        for code, person, n in per_person:
            key = (code, str(binned.get(person, "unknown")))
            segments[key] = segments.get(key, 0) + int(n)
        table = table.assign(segments=[segments.get((c, str(g)), 0) for c, g in zip(table["code"], table["group"])])
        table["group"] = pd.Categorical(table["group"].astype(str), categories=[str(g) for g in groups], ordered=True)
        result[attribute] = table
    return result


def large_rigour_parts(
    ws: Workspace, book: Codebook, *, include_suggested: bool = False, level: str = "root", n_boot: int = 500,
    n_orders: int = 500, agreement_shown: bool = True,
) -> tuple[tuple[tuple[str, str], ...], dict[str, pd.DataFrame]]:
    """The rigour sections of :func:`chimeqda.services.framework.rigour_parts` for a large project."""
    from chimeqda.report import rigour as render
    from chimeqda.services.framework import (
        _with_drafts,
        agreement_section,
        framework_tables,
        saturation,
    )

    agreed, tables = agreement_section(ws, None, level=level, n_boot=n_boot, shown=agreement_shown)
    sections: list[tuple[str, str]] = [agreed]
    participants = participants_frame(ws)
    cells, note = large_framework(ws, book, participants, include_suggested=include_suggested)
    cells = _with_drafts(ws, cells)
    shown = participants.head(MAX_PARTICIPANTS)
    attrs = [a for a in shown.columns if a not in ("participant", "file")][:4]
    section = render.framework_section_html(render.framework_html(cells, shown, attributes=attrs, standalone=False),
                                            cells)
    sections.append(("Framework matrix", (render.message_html(note) if note else "") + section))
    tables["framework_counts"] = framework_tables(cells, shown, attributes=attrs)["counts"]
    frames = _saturation_frames(ws, book, include_suggested)
    if frames is None:
        sections.append(("Saturation", render.message_html(
            f"Saturation (new codes per successive interview) was not computed: this project has more than "
            f"{MAX_INTERVIEWS:,} coded documents, and a curve over that many texts says nothing about interviews. "
            "Import the interviews that form a study into a project of their own to see their saturation.")))
    else:
        sat_result = saturation(ws, include_suggested=include_suggested, n_orders=n_orders, frames=frames)
        sections.append(("Saturation", render.saturation_html(sat_result)))
        tables["saturation_curve"] = sat_result.curve
    comparison = large_attribute_comparison(ws, book, participants, include_suggested=include_suggested)
    sections.append(("Comparisons by participant attribute", render.attributes_html(comparison)))
    for attribute, table in comparison.items():
        tables[f"compare_{attribute}"] = table
    return tuple(sections), tables
