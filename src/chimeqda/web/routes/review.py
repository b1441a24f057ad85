"""The project's review page: how far the machine's probabilities can be trusted, and what to decide next.

Shows the reliability diagram of the machine's suggestions against the
researchers' decisions (``services.review.decision_reliability``, the same the
report draws), the sentences by review state ("reviewed: no code" apart from
"not reviewed") and the review queue across documents, ordered by the expected
value of a decision (``services.active.stored_queue``, the rule of ``chimeqda next``),
and the verification sample (``services.verification``): a random sample of the
machine's suggestions whose decisions estimate its precision per code; a coder
draws it here as with ``chimeqda review --sample``.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from chimeqda.report.reliability import reliability_svg
from chimeqda.services import active, review, verification
from chimeqda.services.coding import pending_suggestions
from chimeqda.store import tables as t
from chimeqda.web import queries
from chimeqda.web.deps import ProjectCoderWrite, ProjectViewer
from chimeqda.web.pages import templates

router = APIRouter()
QUEUE_SHOWN = 50
"""Queue rows on the page (the database sorts and counts; only these are read)."""
SAMPLE_SHOWN = 20
"""Undecided suggestions of the verification sample listed on the page."""


@router.get("/projects/{project_id}/review")
def review_page(request: Request, access: ProjectViewer):
    me = queries.coder_id_of(access) if access.hides_others else None
    found = review.decision_reliability(access.ws, coder_id=me)
    diagram = reliability_svg(found.tables, title="probability vs accepted share") if found.decided else ""
    items = active.stored_queue(access.ws, by=access.user.username, limit=QUEUE_SHOWN)
    return templates.TemplateResponse(request, "review.html", {
        "user": access.user, "access": access, "reliability": found, "diagram": diagram,
        "coverage": review.coverage_summary(access.ws), "queue": queries.queue_rows(access, items),
        "queue_total": active.queue_length(access.ws, by=access.user.username),
        **_verification(access),
    })


@router.post("/projects/{project_id}/review/sample")
def draw_sample(access: ProjectCoderWrite, per_code: int = Form(50), seed: int = Form(1)):
    """Draw (or redraw) the project's verification sample: ``per_code`` random suggestions of each code."""
    verification.define_sample(access.ws, per_code, seed=seed)
    return RedirectResponse(f"/projects/{access.project_id}/review#verification", status_code=303)


def _verification(access) -> dict:
    """The sample's estimate and its first undecided suggestions, each with its document's id for the link."""
    sample = verification.verification_sample(access.ws)
    if sample is None:
        return {"sample": None, "sample_items": []}
    items = pending_suggestions(access.ws, ids=sample.undecided[:SAMPLE_SHOWN])
    with access.ws.session() as session:
        doc_ids = dict(session.execute(
            select(t.Document.name, t.Document.id).where(t.Document.project_id == access.project_id,
                                                         t.Document.is_current.is_(True),
                                                         t.Document.name.in_({item.document for item in items}))
        ).all())
    order = {event_id: at for at, event_id in enumerate(sample.undecided)}
    rows = [{"code": item.code, "document": item.document, "document_id": doc_ids.get(item.document),
             "text": item.segment_text or item.text} for item in sorted(items, key=lambda i: order[i.event_id])]
    return {"sample": sample, "sample_items": rows}
