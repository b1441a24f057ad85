"""Fixtures of the web tests: a project with transcripts and machine suggestions,
people in every role, and HTTP clients logged in as them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chimeqda.services import accounts
from chimeqda.services.coding import run_coder
from chimeqda.services.importing import import_files
from chimeqda.web import create_app
from chimeqda.web.security import SESSION_COOKIE

DATA = Path(__file__).parent.parent / "data"
ROLES = {"olga": "owner", "cora": "coder", "carl": "coder", "vera": "viewer", "nora": None}


@pytest.fixture
def project(workspace, transcripts):
    """Two transcripts with participant attributes and the lexicon coder's suggestions."""
    import_files(workspace, [transcripts], participants_csv=DATA / "participants.csv")
    run_coder(workspace, "lexicon")
    return workspace


@pytest.fixture
def people(project):
    """olga (owner), cora and carl (coders), vera (viewer), nora (no role); no passwords."""
    ids = {}
    with project.session() as session:
        for name, role in ROLES.items():
            user = accounts.add_user(session, name)
            if role:
                accounts.grant(session, project.project_id, user.id, role)
            ids[name] = user.id
    return ids


@pytest.fixture
def app(project, people):
    return create_app(project.engine)


class Client(TestClient):
    csrf: str = ""

    def write(self, method: str, url: str, **kwargs):
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.request(method, url, headers=headers, **kwargs)


@pytest.fixture
def login(app, project, people):
    """``login("cora")`` → a client with cora's session cookie; ``.csrf`` holds her CSRF token."""

    def make(name: str | None) -> Client:
        client = Client(app, base_url="https://testserver", follow_redirects=False)
        if name:
            with project.session() as session:
                token, csrf = accounts.start_session(session, people[name])
            client.cookies.set(SESSION_COOKIE, token)
            client.csrf = csrf
        return client

    return make


@pytest.fixture
def doc_id(project):
    from sqlalchemy import select

    from chimeqda.store import tables as t

    with project.session() as session:
        return session.scalar(select(t.Document.id).where(t.Document.name == "P01-interview.txt"))
