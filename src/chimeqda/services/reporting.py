"""The one findings report of a project.

:func:`findings_report` reads the project once (codebook, codings,
participants, segments: :func:`~chimeqda.services.frames.project_frames`),
adds the rigour sections (agreement, framework matrix, saturation, attribute
comparison) and returns one :class:`~chimeqda.report.Report`. The CLI's
``report``, the web's report download and the XLSX/DOCX exports all render
that object, so the same project gives the same report everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import func, select

from chimeqda.report import Report, build_report, write_report
from chimeqda.services.frames import ProjectFrames, document_attributes_frame, project_frames
from chimeqda.services.project import Workspace, project_codebook
from chimeqda.services.sql_tables import is_large
from chimeqda.store import tables as t


def machine_provenance(ws: Workspace) -> str:
    """A methods-section sentence naming every machine coder that made suggestions."""
    with ws.session() as session:
        used = select(t.CodingEvent.coder_id).where(t.CodingEvent.project_id == ws.project_id)
        rows = session.execute(
            select(t.Coder.name, t.Coder.version, t.Coder.params)
            .where(t.Coder.id.in_(used), t.Coder.kind == "machine")
            .order_by(t.Coder.id)
        ).all()
    if not rows:
        return ""
    parts = []
    for name, version, params in rows:
        shown = ", ".join(f"{k}={v}" for k, v in sorted((params or {}).items()) if not isinstance(v, (dict, list)))
        parts.append(f"{name} {version}" + (f" ({shown})" if shown else ""))
    return "Machine suggestions were made by chimeqda coder(s): " + "; ".join(parts) + "."


def calibration_section(ws: Workspace) -> tuple[str, str] | None:
    """Methods section: how the machine's probabilities compared with the researchers' decisions.

    Every decided machine suggestion is a (probability, accepted?) pair; per code,
    the reliability diagram of those pairs, and how many suggestions were decided
    and how many were never reviewed. Then the participant sentences by review
    state, "reviewed: no code" apart from "not reviewed" (an empty suggestion list
    is not a "no code"). None when no machine coder made suggestions or flags.
    """
    from chimeqda.report.reliability import reliability_svg
    from chimeqda.services.review import coverage_summary, decision_reliability

    found = decision_reliability(ws)
    coverage = coverage_summary(ws)
    with ws.session() as session:
        flagged_ever = session.scalar(select(func.count()).select_from(t.ReviewFlag)
                                      .where(t.ReviewFlag.project_id == ws.project_id))
    if not found.suggested and not flagged_ever:
        return None
    text = (f"<p>{found.suggested} machine suggestions: {found.decided} reviewed by a researcher "
            f"({found.accepted} accepted), {found.suggested - found.decided} not reviewed. "
            "Suggestion scores are calibrated probabilities; the diagram compares them with the "
            "researchers' decisions (a well-calibrated coder's points lie on the diagonal).</p>")
    if found.decided:
        text += reliability_svg(found.tables, title="machine suggestions: probability vs accepted share")
    text += verification_html(ws)
    text += (
        f"<p>Participant sentences ({coverage.segments}): {coverage.coded} coded by a researcher; "
        f"{coverage.no_code} <strong>reviewed: no code</strong>; {coverage.rejected} with the machine's suggestions "
        f"rejected and no code given; not reviewed: {coverage.pending} with a machine "
        f"suggestion waiting, {coverage.flagged} flagged (no suggestion, but a code fairly likely) and "
        f"{coverage.not_reviewed} with nothing suggested. A sentence without a suggestion is not a sentence "
        "without a code: only the \u201creviewed: no code\u201d ones were judged to have none.</p>"
    )
    return "Machine suggestions: calibration and review", text


def verification_html(ws: Workspace) -> str:
    """The verification sample's estimate of the machine's precision per code (``review --sample``); '' if none."""
    from html import escape

    from chimeqda.services.verification import verification_sample

    sample = verification_sample(ws)
    if sample is None:
        return ""
    decided = sum(c.decided for c in sample.codes)
    rows = []
    for c in sample.codes:
        if c.precision is None:
            cells = "<td>–</td><td>–</td>"
        else:
            low, high = c.interval or (0.0, 1.0)
            cells = f"<td>{c.precision:.2f} [{low:.2f}, {high:.2f}]</td><td>{round(c.precision * c.suggestions):,}</td>"
        rows.append(f"<tr><td>{escape(c.code)}</td><td>{c.suggestions:,}</td><td>{c.decided} of {c.sampled}</td>"
                    f"<td>{c.accepted}</td>{cells}</tr>")
    overall = (f" Over all suggestions (codes weighted by their number of suggestions): {sample.precision:.2f}."
               if sample.precision is not None else "")
    state = ("" if sample.complete else
             f" <strong>The sample is not fully decided yet ({len(sample.undecided)} waiting): the estimates "
             "below are provisional.</strong>")
    return (f"<p>Verification sample: {sample.definition.per_code} suggestions of each code of "
            f"{escape(sample.coder)}, drawn at random (seed {sample.definition.seed}); {decided} decided by a "
            f"researcher. The share accepted estimates how many of all the code's suggestions are right, with "
            f"its 95 % exact (Clopper–Pearson) interval.{state}{overall}</p>"
            "<table><thead><tr><th>code</th><th>suggestions</th><th>sample decided</th><th>accepted</th>"
            "<th>precision [95 % interval]</th><th>estimated right</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def findings_report(
    ws: Workspace, *, include_suggested: bool = False, window: int = 1, coder: str | None = None,
    rigour: bool = True, title: str | None = None, n_boot: int = 500, n_orders: int = 500,
    frames: ProjectFrames | None = None,
) -> Report:
    """The project's findings report, with the rigour sections unless ``rigour=False``.

    ``coder`` (blind coding) counts only that person's codings (plus pending
    machine suggestions with ``include_suggested``) and leaves agreement out.
    A project over the size limit (``services.sql_tables.is_large``) is
    counted by the database (``services.large_report``): same sections, quotes
    and framework cells from fixed samples, as its methods say.
    """
    if frames is None and coder is None and is_large(ws):
        return _large_findings_report(ws, include_suggested=include_suggested, window=window, rigour=rigour,
                                      title=title, n_boot=n_boot, n_orders=n_orders)
    frames = frames or project_frames(ws, include_suggested=include_suggested, coder=coder)
    sections: tuple[tuple[str, str], ...] = ()
    tables: dict[str, pd.DataFrame] = {}
    if rigour:
        from chimeqda.services.rigour import rigour_parts

        sections, tables = rigour_parts(ws, frames=frames, include_suggested=include_suggested, n_boot=n_boot,
                                        n_orders=n_orders, agreement_shown=coder is None)
    machine = calibration_section(ws)
    if machine is not None:
        sections = (*sections, machine)
    return build_report(
        frames.codings, frames.book, frames.participants, segments=frames.segments,
        documents=document_attributes_frame(ws),
        title=title or f"{frames.book.name}: findings", project_name=frames.name,
        include_suggested=include_suggested, window=window, provenance=machine_provenance(ws) or None,
        extra_sections=sections, extra_tables=tables,
    )


def _large_findings_report(ws: Workspace, *, include_suggested: bool, window: int, rigour: bool,
                           title: str | None, n_boot: int, n_orders: int) -> Report:
    """:func:`findings_report` of a large project: the same report, counted by the database."""
    from chimeqda.report.builder import report_from_tables
    from chimeqda.services.large_report import large_report_tables, large_rigour_parts

    with ws.session() as session:
        name = session.scalar(select(t.Project.name).where(t.Project.id == ws.project_id)) or ""
        _, book = project_codebook(session, ws.project_id)
    sections: tuple[tuple[str, str], ...] = ()
    tables: dict[str, pd.DataFrame] = {}
    if rigour:
        sections, tables = large_rigour_parts(ws, book, include_suggested=include_suggested, n_boot=n_boot,
                                              n_orders=n_orders)
    machine = calibration_section(ws)
    if machine is not None:
        sections = (*sections, machine)
    counted = large_report_tables(ws, book, include_suggested=include_suggested, window=window)
    return report_from_tables(counted, book, title=title or f"{book.name}: findings", project_name=name,
                              include_suggested=include_suggested, window=window,
                              provenance=machine_provenance(ws) or None, extra_sections=sections,
                              extra_tables=tables)


def project_report(
    ws: Workspace, out_dir: Path | str, *, include_suggested: bool = False, window: int = 1,
    title: str | None = None, extra_sections: tuple[tuple[str, str], ...] = (), rigour: bool = False,
) -> Path:
    """Write ``report.html`` and ``tables/*.csv`` for the project into ``out_dir``; returns the HTML path.

    ``rigour=True`` writes the full report of :func:`findings_report`;
    ``extra_sections`` are appended after its sections.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = findings_report(ws, include_suggested=include_suggested, window=window, rigour=rigour, title=title)
    if extra_sections:
        report.extra_sections = report.extra_sections + tuple(extra_sections)
    return write_report(report, out_dir)
