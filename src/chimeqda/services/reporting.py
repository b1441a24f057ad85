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
from sqlalchemy import select

from chimeqda.report import Report, build_report, write_report
from chimeqda.services.frames import ProjectFrames, project_frames
from chimeqda.services.project import Workspace
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
    and how many were never reviewed. None when no machine coder made suggestions.
    """
    from chimeqda.coders.calibration import reliability
    from chimeqda.report.reliability import reliability_svg

    with ws.session() as session:
        suggested = session.execute(
            select(t.CodingEvent.id, t.CodingEvent.score, t.Code.key)
            .join(t.Coder, t.Coder.id == t.CodingEvent.coder_id)
            .join(t.Code, t.Code.id == t.CodingEvent.code_id)
            .where(t.CodingEvent.project_id == ws.project_id, t.CodingEvent.action == "suggested",
                   t.Coder.kind == "machine")
        ).all()
        latest: dict[int, str] = {}
        ids = [row[0] for row in suggested]
        for decides, action in session.execute(
            select(t.CodingEvent.decides_id, t.CodingEvent.action)
            .where(t.CodingEvent.decides_id.in_(ids), t.CodingEvent.action.in_(("accepted", "rejected")))
            .order_by(t.CodingEvent.id)
        ).all() if ids else []:
            latest[int(decides)] = action
    if not suggested:
        return None
    pairs: dict[str, tuple[list[float], list[int]]] = {}
    for event_id, score, code in suggested:
        if event_id in latest and score is not None:
            probs, truth = pairs.setdefault(code.split(".")[0], ([], []))
            probs.append(float(score))
            truth.append(int(latest[event_id] == "accepted"))
    decided = sum(len(v[0]) for v in pairs.values())
    text = (f"<p>{len(suggested)} machine suggestions: {decided} reviewed by a researcher "
            f"({sum(sum(v[1]) for v in pairs.values())} accepted), {len(suggested) - decided} not reviewed. "
            "Suggestion scores are calibrated probabilities; the diagram compares them with the "
            "researchers' decisions (a well-calibrated coder's points lie on the diagonal).</p>")
    if decided:
        tables = {code: reliability(probs, truth) for code, (probs, truth) in sorted(pairs.items())}
        text += reliability_svg(tables, title="machine suggestions: probability vs accepted share")
    return "Machine suggestions: calibration and review", text


def findings_report(
    ws: Workspace, *, include_suggested: bool = False, window: int = 1, coder: str | None = None,
    rigour: bool = True, title: str | None = None, n_boot: int = 500, n_orders: int = 500,
    frames: ProjectFrames | None = None,
) -> Report:
    """The project's findings report, with the rigour sections unless ``rigour=False``.

    ``coder`` (blind coding) counts only that person's codings (plus pending
    machine suggestions with ``include_suggested``) and leaves agreement out.
    """
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
        title=title or f"{frames.book.name}: findings", project_name=frames.name,
        include_suggested=include_suggested, window=window, provenance=machine_provenance(ws) or None,
        extra_sections=sections, extra_tables=tables,
    )


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
