"""The projects page, a project's documents with coding progress, members and blind coding."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from chimeqda.services import accounts
from chimeqda.store.db import transaction
from chimeqda.web import queries
from chimeqda.web.deps import (
    CurrentUser,
    ProjectOwner,
    ProjectOwnerWrite,
    ProjectViewer,
    get_engine,
)
from chimeqda.web.pages import templates

router = APIRouter()


@router.get("/")
def projects(request: Request, user: CurrentUser):
    with transaction(get_engine(request)) as session:
        rows = [(p.id, p.name, p.description, role) for p, role in accounts.user_projects(session, user.id)]
    return templates.TemplateResponse(request, "projects.html", {"user": user, "projects": rows})


@router.get("/projects/{project_id}")
def documents(request: Request, access: ProjectViewer):
    return templates.TemplateResponse(
        request, "documents.html",
        {"user": access.user, "access": access, "documents": queries.documents_with_progress(access)},
    )


@router.get("/projects/{project_id}/members")
def members(request: Request, access: ProjectOwner):
    with transaction(get_engine(request)) as session:
        rows = [(u.username, u.display_name, role) for u, role in accounts.members(session, access.project_id)]
    return templates.TemplateResponse(
        request, "members.html", {"user": access.user, "access": access, "members": rows, "roles": accounts.ROLES},
    )


@router.post("/projects/{project_id}/members")
def set_member(access: ProjectOwnerWrite, username: str = Form(...), role: str = Form(...)):
    """Give an existing user a role in the project, or remove them (role ``none``)."""
    with transaction(access.engine) as session:
        user = accounts.get_user(session, username.strip())
        if role == "none":
            accounts.revoke(session, access.project_id, user.id)
        else:
            accounts.grant(session, access.project_id, user.id, role)
    return RedirectResponse(f"/projects/{access.project_id}/members", status_code=303)


@router.post("/projects/{project_id}/blind")
def set_blind(access: ProjectOwnerWrite, on: str = Form("")):
    """Switch blind coding on (coders see only their own codings) or off (reconciliation)."""
    with transaction(access.engine) as session:
        accounts.set_blind_coding(session, access.project_id, on in ("1", "on", "true"))
    return RedirectResponse(f"/projects/{access.project_id}/members", status_code=303)
