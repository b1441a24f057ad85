"""The analysis page: frequency, participant and co-occurrence tables and charts; the report download.

Both show the project's one findings report (``services.reporting.findings_report``,
the same the CLI writes and the exports render); the page leaves out its rigour
sections, the download has them all. Under blind coding a coder's analysis
counts only their own codings. Reports are cached per project and coding
state, so reloading the page does not redraw charts.
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

from chimeqda.report import Report, cell_text, write_report
from chimeqda.services import privacy_audit
from chimeqda.services.reporting import findings_report
from chimeqda.store import tables as t
from chimeqda.store.queries import first_codebook_id
from chimeqda.web.deps import Access, ProjectViewer
from chimeqda.web.pages import templates

router = APIRouter()
_cache: dict[tuple, Report] = {}
_lock = threading.Lock()


def _report(access: Access, include_suggested: bool, rigour: bool = False) -> Report:
    with access.ws.session() as session:
        state = session.execute(
            select(func.max(t.CodingEvent.id), func.count(t.CodingEvent.id)).where(
                t.CodingEvent.project_id == access.project_id
            )
        ).one()
        memos = session.scalar(select(func.max(t.Memo.id)).where(t.Memo.project_id == access.project_id))
        codes = tuple(session.execute(
            select(t.Code.id, t.Code.key, t.Code.name, t.Code.parent_key)
            .where(t.Code.codebook_id == first_codebook_id(session, access.project_id)).order_by(t.Code.id)
        ).all())
    coder = access.user.username if access.hides_others else None
    key = (str(access.engine.url), access.project_id, include_suggested, coder, rigour, tuple(state), memos,
           hash(codes))
    with _lock:
        if key in _cache:
            return _cache[key]
    report = findings_report(access.ws, include_suggested=include_suggested, coder=coder, rigour=rigour)
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
        rows.append([cell_text(v) for v in record])
    return {"headings": [columns[c] for c in present], "rows": rows}


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
    report = _report(access, suggested, rigour=True)
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
