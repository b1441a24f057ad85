"""Dependencies shared by the routes: who is asking, and may they?

``CurrentUser`` is the logged-in user (401 otherwise). ``ProjectViewer`` and
``ProjectOwner`` check the role in the project named by the ``project_id``
path parameter; ``Document*`` and ``Coding*`` find the project through the
document or coding event in the path. The ``*Write`` variants also check the
CSRF token. A user without the role gets 403. Each check is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine, select

from chimeqda.services import accounts
from chimeqda.services.project import Workspace
from chimeqda.store import tables as t
from chimeqda.store.db import transaction
from chimeqda.web.security import SESSION_COOKIE, same, submitted_csrf


@dataclass(frozen=True)
class Viewer:
    """The logged-in user of a request and their session's CSRF token."""

    id: int
    username: str
    display_name: str
    csrf: str


@dataclass(frozen=True)
class Access:
    """A user's access to one project."""

    user: Viewer
    project_id: int
    project_name: str
    role: str
    blind: bool
    engine: Engine
    directory: Path | None = None  # the project folder (recordings), when the server knows it

    @property
    def ws(self) -> Workspace:
        return Workspace(engine=self.engine, project_id=self.project_id, directory=self.directory)

    @property
    def can_code(self) -> bool:
        return accounts.RANK[self.role] >= accounts.RANK["coder"]

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"

    @property
    def hides_others(self) -> bool:
        """Blind coding applies to coders; owners (who reconcile) and viewers see everything."""
        return self.blind and self.role == "coder"


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def _viewer(request: Request, session) -> Viewer:
    cached = getattr(request.state, "viewer", None)
    if cached is not None:
        return cached
    found = accounts.session_user(session, request.cookies.get(SESSION_COOKIE, ""))
    if found is None:
        raise HTTPException(401, "please log in")
    user, web_session = found
    viewer = Viewer(user.id, user.username, user.display_name or user.username, web_session.csrf_token)
    request.state.viewer = viewer
    return viewer


def current_user(request: Request) -> Viewer:
    with transaction(get_engine(request)) as session:
        return _viewer(request, session)


async def submitted_token(request: Request) -> str | None:
    """The CSRF token of a write (header or form field); checked against the session later."""
    return await submitted_csrf(request)


async def check_csrf(request: Request, viewer: Viewer = Depends(current_user)) -> None:
    if not same(await submitted_csrf(request), viewer.csrf):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")


def _access(request: Request, minimum: str, project_id: int | None = None, via=None,
            token: str | None = None, write: bool = False) -> Access:
    """Who asks (401), whether the write carries their CSRF token (403), and their role in the
    project (403) — found directly, or ``via`` a (table, id) that belongs to it — in one transaction."""
    query = (
        select(t.Project.id, t.Project.name, t.Project.settings, accounts.Membership.role)
        .join(accounts.Membership, accounts.Membership.project_id == t.Project.id)
    )
    if via is None:
        query = query.where(t.Project.id == project_id)
    else:
        table, key = via
        query = query.join(table, table.project_id == t.Project.id).where(table.id == key)
    with transaction(get_engine(request)) as session:
        viewer = _viewer(request, session)
        if write and not same(token, viewer.csrf):
            raise HTTPException(403, "missing or wrong CSRF token; reload the page")
        row = session.execute(query.where(accounts.Membership.user_id == viewer.id)).first()
        if row is None and via is not None:
            table, key = via
            if session.scalar(select(table.id).where(table.id == key)) is None:
                raise HTTPException(404, "not found")
    if row is None or accounts.RANK[row.role] < accounts.RANK[minimum]:
        raise HTTPException(403, f"you need the {minimum} role in this project")
    return Access(
        user=viewer, project_id=row.id, project_name=row.name, role=row.role,
        blind=bool((row.settings or {}).get("blind_coding")), engine=get_engine(request),
        directory=getattr(request.app.state, "project_dir", None),
    )


# Dependencies are plain functions (FastAPI runs them in its thread pool, so
# database calls never block the event loop); only reading the CSRF token is
# async, because it may have to read a form body.


def _by_project(minimum: str, write: bool = False):
    def dependency(request: Request, project_id: int) -> Access:
        return _access(request, minimum, project_id=project_id)

    def write_dependency(request: Request, project_id: int, token: str | None = Depends(submitted_token)) -> Access:
        return _access(request, minimum, project_id=project_id, token=token, write=True)

    return write_dependency if write else dependency


def _by_document(minimum: str, write: bool = False):
    def dependency(request: Request, document_id: int) -> Access:
        return _access(request, minimum, via=(t.Document, document_id))

    def write_dependency(request: Request, document_id: int, token: str | None = Depends(submitted_token)) -> Access:
        return _access(request, minimum, via=(t.Document, document_id), token=token, write=True)

    return write_dependency if write else dependency


def _by_event(minimum: str):
    def write_dependency(request: Request, event_id: int, token: str | None = Depends(submitted_token)) -> Access:
        return _access(request, minimum, via=(t.CodingEvent, event_id), token=token, write=True)

    return write_dependency


CurrentUser = Annotated[Viewer, Depends(current_user)]

ProjectViewer = Annotated[Access, Depends(_by_project("viewer"))]
ProjectOwner = Annotated[Access, Depends(_by_project("owner"))]
ProjectCoderWrite = Annotated[Access, Depends(_by_project("coder", write=True))]
ProjectOwnerWrite = Annotated[Access, Depends(_by_project("owner", write=True))]
DocumentViewer = Annotated[Access, Depends(_by_document("viewer"))]
DocumentCoderWrite = Annotated[Access, Depends(_by_document("coder", write=True))]
CodingCoderWrite = Annotated[Access, Depends(_by_event("coder"))]

__all__ = ["Access", "CurrentUser", "Viewer"]
