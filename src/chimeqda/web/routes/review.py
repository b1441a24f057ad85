"""The project's review page: how far the machine's probabilities can be trusted, and what to decide next.

Shows the reliability diagram of the machine's suggestions against the
researchers' decisions (``services.review.decision_reliability``, the same the
report draws), the sentences by review state ("reviewed: no code" apart from
"not reviewed") and the review queue across documents, ordered by the expected
value of a decision (``services.active.stored_queue``, the rule of ``chimeqda next``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from chimeqda.report.reliability import reliability_svg
from chimeqda.services import active, review
from chimeqda.web import queries
from chimeqda.web.deps import ProjectViewer
from chimeqda.web.pages import templates

router = APIRouter()
QUEUE_SHOWN = 50
"""Queue rows on the page (the database sorts and counts; only these are read)."""


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
    })
