"""Every route refuses anonymous requests, users without the role, and writes without a CSRF token.

The table below classifies each route; a new route fails the first test until
it is classified here.
"""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from chimeqda.store import tables as t

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/login/link")}
MINIMUM = {
    ("GET", "/"): "login",
    ("POST", "/logout"): "login",
    ("GET", "/projects/{project_id}"): "viewer",
    ("GET", "/projects/{project_id}/members"): "owner",
    ("POST", "/projects/{project_id}/members"): "owner",
    ("POST", "/projects/{project_id}/blind"): "owner",
    ("GET", "/projects/{project_id}/documents/{document_id}"): "viewer",
    ("GET", "/api/documents/{document_id}"): "viewer",
    ("GET", "/api/documents/{document_id}/events"): "viewer",
    ("GET", "/api/documents/{document_id}/media"): "viewer",
    ("POST", "/api/documents/{document_id}/corrections"): "coder",
    ("POST", "/api/documents/{document_id}/turns/{index}"): "coder",
    ("POST", "/api/documents/{document_id}/codings"): "coder",
    ("POST", "/api/codings/{event_id}/remove"): "coder",
    ("POST", "/api/codings/{event_id}/change"): "coder",
    ("POST", "/api/suggestions/{event_id}/decide"): "coder",
    ("POST", "/api/projects/{project_id}/suggestions/decide"): "coder",
    ("POST", "/api/documents/{document_id}/no-code"): "coder",
    ("GET", "/api/documents/{document_id}/review-queue"): "viewer",
    ("GET", "/projects/{project_id}/review"): "viewer",
    ("POST", "/projects/{project_id}/review/sample"): "coder",
    ("POST", "/api/projects/{project_id}/memos"): "coder",
    ("GET", "/projects/{project_id}/codebook"): "viewer",
    ("POST", "/projects/{project_id}/codebook/codes"): "owner",
    ("POST", "/projects/{project_id}/codebook/codes/{code_id}"): "owner",
    ("POST", "/projects/{project_id}/codebook/codes/{code_id}/memos"): "coder",
    ("GET", "/projects/{project_id}/analysis"): "viewer",
    ("GET", "/projects/{project_id}/analysis/figures/{name}.png"): "viewer",
    ("GET", "/projects/{project_id}/report.zip"): "viewer",
    ("GET", "/api/documents/{document_id}/identifiers"): "viewer",
    ("POST", "/api/documents/{document_id}/identifiers"): "coder",
    ("POST", "/api/documents/{document_id}/identifiers/{proposal_id}/decide"): "coder",
    ("POST", "/api/documents/{document_id}/pseudonymise"): "coder",
}
# who lacks the role: someone one rank below, and someone with no role in the project
LACKING = {"viewer": ["nora"], "coder": ["vera", "nora"], "owner": ["cora", "vera", "nora"]}
HAVING = {"login": "nora", "viewer": "vera", "coder": "cora", "owner": "olga"}


def _walk(routes):
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI keeps included routers wrapped
            yield from _walk(route.original_router.routes)


def _routes(app):
    return sorted((method, route.path) for route in _walk(app.routes) for method in route.methods)


@pytest.fixture
def urls(project, doc_id):
    with project.session() as session:
        event = session.scalar(select(t.CodingEvent.id).where(t.CodingEvent.action == "suggested"))
        code = session.scalar(select(t.Code.id))
    values = {"project_id": project.project_id, "document_id": doc_id, "index": 1, "event_id": event, "code_id": code,
              "name": "participants", "proposal_id": 1}
    return lambda path: path.format(**values)


def test_every_route_is_classified(app):
    assert set(_routes(app)) == PUBLIC | set(MINIMUM)


def test_every_route_refuses_anonymous_requests(app, login, urls):
    anonymous = login(None)
    for method, path in MINIMUM:
        response = anonymous.request(method, urls(path))
        if method == "GET" and not path.startswith("/api/"):
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
        else:
            assert response.status_code == 401, (method, path, response.status_code)


def test_every_route_refuses_users_without_the_role(app, login, urls):
    clients = {}
    for (method, path), minimum in MINIMUM.items():
        for name in LACKING.get(minimum, []):
            client = clients.setdefault(name, login(name))
            response = client.write(method, urls(path), json={}) if method == "POST" else client.get(urls(path))
            assert response.status_code == 403, (method, path, name, response.status_code)


def test_writes_without_the_csrf_token_are_refused(app, login, urls):
    for (method, path), minimum in MINIMUM.items():
        if method != "POST":
            continue
        client = login(HAVING[minimum])
        refused = client.post(urls(path), json={"start": 0, "end": 5, "codes": ["hope"]})
        assert refused.status_code == 403, (path, refused.status_code)
        wrong = client.post(urls(path), data={"csrf_token": "forged"})
        assert wrong.status_code == 403, (path, wrong.status_code)


def test_users_with_the_role_get_through(app, login, urls):
    slow = {"/projects/{project_id}/analysis", "/projects/{project_id}/analysis/figures/{name}.png",
            "/projects/{project_id}/report.zip"}
    slow.add("/api/documents/{document_id}/media")  # this document has no recording: see test_media.py
    for (method, path), minimum in MINIMUM.items():
        if method != "GET" or path in slow:
            continue
        response = login(HAVING[minimum]).get(urls(path))
        assert response.status_code == 200, (path, response.status_code)


def test_pages_send_a_strict_content_security_policy(login):
    response = login("cora").get("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
