"""The analysis page: frequency, participant and co-occurrence tables and charts; the report download.

The numbers come from the core pipeline (``build_report``). Under blind
coding a coder's analysis counts only their own codings. Reports are cached
per project and coding state, so reloading the page does not redraw charts.
"""

from __future__ import annotations

import io
import tempfile
import threading
import zipfile
from pathlib import Path

import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from chimeqda.report import build_report, write_report
from chimeqda.services import privacy_audit
from chimeqda.services.frames import codings_frame, participants_frame, segments_frame
from chimeqda.services.project import project_codebook
from chimeqda.services.reporting import machine_provenance
from chimeqda.store import tables as t
from chimeqda.web.app import templates
from chimeqda.web.deps import Access, ProjectViewer

router = APIRouter()
_cache: dict[tuple, object] = {}
_lock = threading.Lock()


def _report(access: Access, include_suggested: bool):
    with access.ws.session() as session:
        state = session.execute(
            select(func.max(t.CodingEvent.id), func.count(t.CodingEvent.id)).where(
                t.CodingEvent.project_id == access.project_id
            )
        ).one()
        _, book = project_codebook(session, access.project_id)
        codes = tuple((c.id, c.name) for c in book.codes)
    coder = access.user.username if access.hides_others else None
    key = (str(access.engine.url), access.project_id, include_suggested, coder, tuple(state), hash(codes))
    with _lock:
        if key in _cache:
            return _cache[key]
    codings = codings_frame(access.ws, include_suggested=include_suggested, coder=coder)
    if coder and include_suggested:
        machine = codings_frame(access.ws, include_suggested=True)
        codings = pd.concat([codings, machine[machine["status"] == "suggested"]], ignore_index=True)
    report = build_report(
        codings, book, participants_frame(access.ws), segments=segments_frame(access.ws),
        title=f"{book.name}: findings", project_name=access.project_name, include_suggested=include_suggested,
        provenance=machine_provenance(access.ws) or None,
    )
    with _lock:
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = report
    return report


def _table(frame: pd.DataFrame, columns: dict[str, str], index: str | None = None) -> dict:
    frame = frame.reset_index() if index else frame
    if index:
        frame = frame.rename(columns={frame.columns[0]: index})
    present = [c for c in columns if c in frame.columns]
    rows = []
    for record in frame[present].itertuples(index=False):
        rows.append([_cell(v) for v in record])
    return {"headings": [columns[c] for c in present], "rows": rows}


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.2f}" if not value.is_integer() else str(int(value))
    return str(value)


@router.get("/projects/{project_id}/analysis")
def analysis(request: Request, access: ProjectViewer, suggested: bool = False):
    report = _report(access, suggested)
    names = dict(zip(report.frequencies.index, report.frequencies["name"]))
    frequencies = _table(
        report.frequencies,
        {"name": "Category", "mentioned_by": "Mentioned by", "segments": "Segments", "documents": "Documents"},
    )
    matrix = report.participant_matrix.rename(columns=names)
    participants = _table(matrix, {"participant": "Participant", **{c: c for c in matrix.columns}}, index="participant")
    pairs = report.cooccurrence.sort_values(["c_coefficient", "n_ab"], ascending=False, kind="stable").head(30)
    cooccurrence = _table(
        pairs, {"name_a": "Category A", "name_b": "Category B", "n_ab": "Units with both",
                "c_coefficient": "c-coefficient"},
    )
    return templates.TemplateResponse(
        request, "analysis.html",
        {"user": access.user, "access": access, "summary": report.summary, "frequencies": frequencies,
         "participants": participants, "cooccurrence": cooccurrence, "figures": sorted(report.figures),
         "suggested": suggested},
    )


@router.get("/projects/{project_id}/analysis/figures/{name}.png")
def figure(access: ProjectViewer, name: str, suggested: bool = False):
    png = _report(access, suggested).figures.get(name)
    if png is None:
        raise HTTPException(404, f"no figure {name!r}")
    return Response(png, media_type="image/png")


@router.get("/projects/{project_id}/report.zip")
def report_download(access: ProjectViewer, suggested: bool = False):
    """``report.html`` and a CSV per table, zipped (refused on identifiable text where privacy is on; logged)."""
    privacy_audit.require_pseudonymised(access.ws, what="the report download")
    report = _report(access, suggested)
    with tempfile.TemporaryDirectory() as tmp:
        write_report(report, tmp)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(tmp).as_posix())
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in access.project_name)[:60] or "project"
    privacy_audit.record_export(access.ws, "report (web)", f"{safe}-report.zip", user=access.user.username)
    return Response(
        buffer.getvalue(), media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{safe}-report.zip"'},
    )
