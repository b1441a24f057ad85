"""Build the findings report of a project (HTML + a CSV per table)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from chimeqda.report import build_report, write_report
from chimeqda.services.frames import codings_frame, participants_frame, segments_frame
from chimeqda.services.project import Workspace, project_codebook
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


def project_report(
    ws: Workspace, out_dir: Path | str, *, include_suggested: bool = False, window: int = 1,
    title: str | None = None, extra_sections: tuple[tuple[str, str], ...] = (),
) -> Path:
    """Write ``report.html`` and ``tables/*.csv`` for the project into ``out_dir``; returns the HTML path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with ws.session() as session:
        project = session.get(t.Project, ws.project_id)
        _, book = project_codebook(session, ws.project_id)
        project_name = project.name
    report = build_report(
        codings_frame(ws, include_suggested=include_suggested),
        book,
        participants_frame(ws),
        segments=segments_frame(ws),
        title=title or f"{book.name}: findings",
        project_name=project_name,
        include_suggested=include_suggested,
        window=window,
        provenance=machine_provenance(ws) or None,
        extra_sections=extra_sections,
    )
    return write_report(report, out_dir)
