"""The framework matrix (with cell summaries), saturation, attribute comparisons and the report's rigour sections.

Cell summaries are memos on a (participant, theme) cell, appended; the latest
one is shown. A machine draft is marked as such and never replaces a person's
summary. Saturation counts new codes per interview in interview order and
over random orders. Rendering to HTML lives in :mod:`chimeqda.report.rigour`,
XLSX writing in :mod:`chimeqda.interop.spreadsheets`.
"""


from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from chimeqda.analysis import framework as fw
from chimeqda.analysis import saturation as sat
from chimeqda.analysis.frequencies import frequencies_by_attribute
from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.model import CoderInfo
from chimeqda.services.agreement import CELL_TARGET, agreement
from chimeqda.services.comparison import SUMMARY_DRAFTER
from chimeqda.services.frames import (
    ProjectFrames,
    project_frames,
)
from chimeqda.services.project import Workspace, coder_row, human, project_codebook
from chimeqda.store import tables as t

# ---------------------------------------------------------------- framework matrix


def _cell_title(participant: str, code: str) -> str:
    return f"participant={participant};code={code}"


_TITLE = re.compile(r"^participant=(?P<participant>[^;]*);code=(?P<code>.*)$")


def cell_summaries(ws: Workspace) -> dict[tuple[str, str], tuple[str, str, bool]]:
    """The latest summary memo of each framework cell: (participant, code) -> (text, author, machine)."""
    with ws.session() as session:
        rows = session.execute(
            select(t.Memo.title, t.Memo.text, t.Coder.name, t.Coder.kind)
            .outerjoin(t.Coder, t.Coder.id == t.Memo.author_id)
            .where(t.Memo.project_id == ws.project_id, t.Memo.target_type == CELL_TARGET)
            .order_by(t.Memo.id)
        ).all()
    found: dict[tuple[str, str], tuple[str, str, bool]] = {}
    for title, text, author, kind in rows:
        match = _TITLE.match(title or "")
        if match:
            found[(match["participant"], match["code"])] = (text, author or "", kind == "machine")
    return found


def framework(
    ws: Workspace,
    *,
    codes: Sequence[str] | None = None,
    include_suggested: bool = False,
    n_quotes: int = 3,
    frames: ProjectFrames | None = None,
) -> pd.DataFrame:
    """The framework matrix of the project (see :func:`chimeqda.analysis.framework.framework_matrix`).

    ``frames``: the project already read (:func:`~chimeqda.services.frames.project_frames`).
    """
    frames = frames or project_frames(ws, include_suggested=include_suggested)
    return fw.framework_matrix(
        frames.codings, frames.book, frames.participants, codes=codes,
        include_suggested=include_suggested, summaries=cell_summaries(ws), n_quotes=n_quotes,
    )


def _participant_ids(session: Session, project_id: int) -> dict[str, int]:
    return dict(session.execute(
        select(t.Participant.label, t.Participant.id).where(t.Participant.project_id == project_id)
    ).all())


def write_summary(ws: Workspace, participant: str, code: str, text: str, *, by: str) -> int:
    """A person writes (or edits) a cell summary: appends a memo by that person; returns its id."""
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
        people = _participant_ids(session, ws.project_id)
        if participant not in people:
            raise UnknownObject(f"no participant {participant!r} in this project")
        if code not in book:
            raise UnknownObject(f"no code {code!r} in the codebook")
        if not text.strip():
            raise InvalidInput("the summary is empty")
        return _add_memo(session, ws.project_id, people[participant], participant, code, text.strip(),
                         coder_row(session, human(by)).id)


def _add_memo(session: Session, project_id: int, target: int, participant: str, code: str, text: str,
              author: int) -> int:
    memo = t.Memo(project_id=project_id, target_type=CELL_TARGET, target_id=target,
                  title=_cell_title(participant, code), text=text, author_id=author)
    session.add(memo)
    session.flush()
    return memo.id


def draft_summaries(
    ws: Workspace,
    *,
    codes: Sequence[str] | None = None,
    include_suggested: bool = False,
    sentences: int = 2,
    redraft: bool = False,
) -> int:
    """Machine-draft summaries for cells with codings and no summary yet; returns how many.

    Drafts are extractive (the cell's most representative segments) and are
    authored by the machine coder ``summary-draft``, so they show as
    machine-drafted until a person writes a summary. ``redraft`` replaces
    earlier machine drafts (by appending); a person's summary is never
    replaced.
    """
    cells = framework(ws, codes=codes, include_suggested=include_suggested, n_quotes=0)
    texts = _segment_texts(ws, {i for ids in cells["segment_ids"] for i in ids})
    made = 0
    with ws.session() as session:
        people = _participant_ids(session, ws.project_id)
        author = coder_row(session, CoderInfo(kind="machine", name=SUMMARY_DRAFTER, version="1",
                                              params={"method": "tfidf-centroid", "sentences": sentences})).id
        for cell in cells.itertuples(index=False):
            if not cell.segment_ids or cell.participant not in people:
                continue
            if cell.summary and (not cell.machine_drafted or not redraft):
                continue
            draft = fw.draft_summary([texts[i] for i in cell.segment_ids], sentences=sentences)
            if draft and draft != cell.summary:
                _add_memo(session, ws.project_id, people[cell.participant], cell.participant, cell.code, draft, author)
                made += 1
    return made


def _with_drafts(ws: Workspace, cells: pd.DataFrame) -> pd.DataFrame:
    """Cells without a summary get an unsaved machine draft (marked as such)."""
    empty = [bool(ids) and not summary for ids, summary in zip(cells["segment_ids"], cells["summary"])]
    if not any(empty):
        return cells
    texts = _segment_texts(ws, {i for ids, e in zip(cells["segment_ids"], empty) if e for i in ids})
    cells = cells.copy()
    for row, missing in zip(cells.index, empty):
        if missing:
            cells.at[row, "summary"] = fw.draft_summary([texts[i] for i in cells.at[row, "segment_ids"]])
            cells.at[row, "summary_author"] = f"{SUMMARY_DRAFTER} (not saved)"
            cells.at[row, "machine_drafted"] = True
    return cells


def _segment_texts(ws: Workspace, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    with ws.session() as session:
        return dict(session.execute(select(t.Segment.id, t.Segment.text).where(t.Segment.id.in_(list(ids)))).all())


def framework_tables(
    cells: pd.DataFrame, participants: pd.DataFrame, *, sort_by: Sequence[str] = (),
    attributes: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The matrix as sheets: counts, summaries (machine drafts marked), quotes, participants."""
    attrs = [a for a in (attributes if attributes is not None else participants.columns) if a != "participant"]
    shown = cells.assign(summary=[
        ("[machine draft] " + s if m else s) for s, m in zip(cells["summary"], cells["machine_drafted"])
    ])
    counts = fw.framework_wide(shown, "segments", participants, sort_by=sort_by, attributes=attrs)
    summaries = fw.framework_wide(shown, "summary", participants, sort_by=sort_by, attributes=attrs)
    quotes = pd.DataFrame(
        [(c.participant, c.code, c.name, i + 1, q) for c in cells.itertuples(index=False) for i, q in enumerate(c.quotes)],
        columns=["participant", "code", "theme", "rank", "quote"],
    )
    long = cells.drop(columns=["quotes", "segment_ids"]).assign(
        segment_ids=[", ".join(map(str, ids)) for ids in cells["segment_ids"]])
    return {"counts": counts.reset_index(), "summaries": summaries.reset_index(), "quotes": quotes,
            "cells": long, "participants": participants}


# ---------------------------------------------------------------- saturation


_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def interview_order(ws: Workspace, documents: Iterable[int] | None = None) -> pd.DataFrame:
    """Current documents in interview order: a date in the metadata or file name, else import order.

    Returns ``document_id``, ``document``, ``participant``, ``date`` (may be empty).
    """
    with ws.session() as session:
        rows = session.execute(
            select(t.Document.id, t.Document.name, t.Participant.label, t.Document.meta)
            .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
            .where(t.Document.project_id == ws.project_id, t.Document.is_current.is_(True))
            .order_by(t.Document.id)
        ).all()
    records = []
    for doc_id, name, label, meta in rows:
        meta = meta or {}
        date = str(meta.get("date") or meta.get("interview_date") or "")
        if not date:
            match = _DATE.search(name)
            date = match.group(1) if match else ""
        records.append({"document_id": doc_id, "document": name, "participant": label, "date": date})
    frame = pd.DataFrame(records, columns=["document_id", "document", "participant", "date"])
    if documents is not None:
        frame = frame[frame["document_id"].isin(set(documents))]
    frame = frame.assign(_missing=frame["date"] == "").sort_values(["_missing", "date", "document_id"], kind="stable")
    return frame.drop(columns="_missing").reset_index(drop=True)


@dataclass
class SaturationResult:
    curve: pd.DataFrame
    point: dict[str, object]
    bootstrap: pd.DataFrame
    orders: pd.DataFrame
    note: str

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"saturation_curve": self.curve, "saturation_bootstrap": self.bootstrap}


def saturation(
    ws: Workspace,
    *,
    level: str = "code",
    include_suggested: bool = False,
    coder: str | None = None,
    documents: Sequence[str] | None = None,
    base: int = 4,
    run: int = 2,
    threshold: float = 0.05,
    n_orders: int = 1000,
    random_state: int | None = 0,
    frames: ProjectFrames | None = None,
) -> SaturationResult:
    """New codes per successive interview, in interview order and over random orders.

    The interviews are the current documents with at least one coding that
    counts (or the ``documents`` named), in the order of :func:`interview_order`.
    ``coder`` restricts the codings to one coder's; ``frames``: the project already read.
    """
    if frames is None:
        frames = project_frames(ws, include_suggested=include_suggested, coder=coder)
    book, codings = frames.book, frames.codings
    order = interview_order(ws)
    if documents:
        unknown = set(documents) - set(order["document"])
        if unknown:
            raise UnknownObject(f"no document named {', '.join(sorted(unknown))} in the project")
        order = order[order["document"].isin(documents)]
    else:
        counted = codings[codings["status"].isin(("accepted", "suggested") if include_suggested else ("accepted",))]
        order = order[order["document_id"].isin(set(counted["document_id"]))]
    presence = sat.code_presence(codings, book, list(order["document_id"]), level=level,
                                 include_suggested=include_suggested)
    labels = [p if isinstance(p, str) and p else d for p, d in zip(order["participant"], order["document"])]
    curve = sat.saturation_curve(presence, labels)
    curve.insert(2, "document", list(order["document"]))
    curve.insert(4, "date", list(order["date"]))
    point = sat.saturation_point(curve["new_codes"], base=base, run=run, threshold=threshold)
    boot, orders = sat.saturation_bootstrap(presence, n_orders=n_orders, base=base, run=run, threshold=threshold,
                                           random_state=random_state)
    reached = orders["position"].notna()
    counted = "accepted and suggested codings" if include_suggested else "accepted codings"
    what = "codes and sub-codes as coded" if level == "code" else ("top-level categories" if level == "root" else "codes with their ancestors")
    note = (
        f"Saturation of {what} over {len(order)} interviews ({counted}{', coder ' + coder if coder else ''}), "
        f"in interview order (date in the file name, else import order). Rule of Guest, Namey & Chen (2020): "
        f"base of {base} interviews, runs of {run}, new-information threshold {threshold:.0%}: "
        + (f"saturation reached at interview {point['position']} ({point['label']}; {point['run_new']} new of "
           f"{point['base_codes']} base codes)." if point["reached"] else "saturation not reached.")
        + (f" Over {n_orders} random orders saturation was reached in {reached.mean():.0%}"
           + (f", median at interview {orders.loc[reached, 'position'].median():g}." if reached.any() else ".")
           if n_orders else "")
    )
    return SaturationResult(curve, point, boot, orders, note)


# ---------------------------------------------------------------- attribute comparison


def attribute_comparison(
    ws: Workspace, *, include_suggested: bool = False, attributes: Sequence[str] | None = None,
    max_groups: int = 8, frames: ProjectFrames | None = None,
) -> dict[str, pd.DataFrame]:
    """Per participant attribute, codes × groups: participants mentioning (n, N, share) and segments."""
    frames = frames or project_frames(ws, include_suggested=include_suggested)
    book, codings, people = frames.book, frames.codings, frames.participants
    names = attributes if attributes is not None else [c for c in people.columns if c not in ("participant", "file")]
    result = {}
    prepared = codings[codings["status"].isin(("accepted", "suggested") if include_suggested else ("accepted",))]
    for attribute in names:
        try:
            table = frequencies_by_attribute(codings, book, people, attribute, include_suggested=include_suggested)
        except ValueError:
            continue
        if table["group"].cat.categories.size > max_groups or table["group"].cat.categories.size < 2:
            continue
        groups = table["group"].cat.categories
        from chimeqda.analysis.frequencies import bin_attribute

        binned = bin_attribute(people.set_index("participant")[attribute])
        binned = binned.cat.add_categories(["unknown"]).fillna("unknown") if binned.isna().any() else binned
        seg = prepared.assign(code=prepared["code"].map(lambda c: book.root_of(c) if c in book else c),
                              group=prepared["participant"].map(binned).astype(object))
        seg_counts = seg.drop_duplicates(["segment_id", "code"]).groupby(["code", "group"]).size()
        table = table.assign(segments=[int(seg_counts.get((c, str(g)), 0)) for c, g in zip(table["code"], table["group"])])
        table["group"] = pd.Categorical(table["group"].astype(str), categories=[str(g) for g in groups], ordered=True)
        result[attribute] = table
    return result


# ---------------------------------------------------------------- report sections


def rigour_sections(ws: Workspace, **options: Any) -> tuple[tuple[str, str], ...]:
    """The report's rigour sections as ``(title, html)`` pairs (see :func:`rigour_parts`)."""
    return rigour_parts(ws, **options)[0]


def agreement_section(
    ws: Workspace, coders: Sequence[str] | None = None, *, level: str = "root", n_boot: int = 500,
    shown: bool = True,
) -> tuple[tuple[str, str], dict[str, pd.DataFrame]]:
    """The report's "Inter-coder agreement" section and its table (none when not computed).

    ``shown=False`` (blind coding) says why agreement is left out; a comparison
    that cannot be made (one coder, no shared document, too many) says why instead.
    Shared by the small-project report and the large one (``services.large_report``).
    """
    from chimeqda.report import rigour as render

    title = "Inter-coder agreement"
    if not shown:
        return (title, render.message_html(
            "Agreement is not shown while blind coding is on: it would reveal the other coders' codings.")), {}
    try:
        result = agreement(ws, coders, level=level, n_boot=n_boot)
    except (InvalidInput, UnknownObject) as exc:
        return (title, render.message_html(f"Agreement was not computed: {exc}")), {}
    return (title, render.agreement_html(result)), {"agreement_by_code": result.by_code}


def rigour_parts(
    ws: Workspace,
    *,
    frames: ProjectFrames | None = None,
    coders: Sequence[str] | None = None,
    include_suggested: bool = False,
    level: str = "root",
    n_boot: int = 500,
    n_orders: int = 500,
    sort_by: Sequence[str] = (),
    draft_missing: bool = True,
    agreement_shown: bool = True,
) -> tuple[tuple[tuple[str, str], ...], dict[str, pd.DataFrame]]:
    """Report sections (agreement, framework matrix, saturation, attribute comparison) and their tables.

    A section whose data is missing (e.g. only one coder) explains why instead.
    ``draft_missing`` shows a machine draft (marked, not saved) in framework
    cells that have codings but no summary yet; nothing is written.
    ``agreement_shown=False`` (blind coding) leaves other coders' codings out.
    """
    from chimeqda.report import rigour as render

    frames = frames or project_frames(ws, include_suggested=include_suggested)
    section, tables = agreement_section(ws, coders, level=level, n_boot=n_boot, shown=agreement_shown)
    sections: list[tuple[str, str]] = [section]
    participants = frames.participants
    cells = framework(ws, include_suggested=include_suggested, n_quotes=2, frames=frames)
    if draft_missing:
        cells = _with_drafts(ws, cells)
    attrs = [a for a in participants.columns if a not in ("participant", "file")][:4]
    sections.append(("Framework matrix", render.framework_section_html(
        render.framework_html(cells, participants, sort_by=sort_by, attributes=attrs, standalone=False), cells)))
    tables["framework_counts"] = framework_tables(cells, participants, sort_by=sort_by, attributes=attrs)["counts"]
    sat_result = saturation(ws, include_suggested=include_suggested, n_orders=n_orders, frames=frames)
    sections.append(("Saturation", render.saturation_html(sat_result)))
    tables["saturation_curve"] = sat_result.curve
    comparison = attribute_comparison(ws, include_suggested=include_suggested, frames=frames)
    sections.append(("Comparisons by participant attribute", render.attributes_html(comparison)))
    for attribute, table in comparison.items():
        tables[f"compare_{attribute}"] = table
    return tuple(sections), tables
