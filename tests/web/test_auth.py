"""Logging in: argon2 passwords, cookie flags, login CSRF, rate limiting, one-time links, logout."""

from __future__ import annotations

import re

import pytest

from chimeqda.services import accounts
from chimeqda.web.security import DEVICE_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE

PASSWORD = "correct horse battery"


@pytest.fixture
def pat(project, people):
    with project.session() as session:
        user = accounts.add_user(session, "pat", PASSWORD)
        accounts.grant(session, project.project_id, user.id, "coder")
        assert user.password_hash.startswith("$argon2")


def _form(client, next_="/"):
    page = client.get(f"/login?next={next_}")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _login(client, password, next_="/"):
    token = _form(client, next_)
    return client.post("/login", data={"csrf_token": token, "username": "pat", "password": password, "next": next_})


def test_login_sets_a_secure_httponly_samesite_session_cookie(login, pat):
    client = login(None)
    response = _login(client, PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    assert client.get("/").status_code == 200


def test_login_needs_the_form_token(login, pat):
    client = login(None)
    client.cookies.set(LOGIN_CSRF_COOKIE, "abc")
    response = client.post("/login", data={"csrf_token": "xyz", "username": "pat", "password": PASSWORD})
    assert response.status_code == 403


def test_failed_logins_are_rate_limited(login, pat):
    client = login(None)
    assert _login(client, "wrong password").status_code == 401
    for _ in range(accounts.MAX_FAILURES_PER_USER - 1):
        _login(client, "wrong password")
    limited = _login(client, PASSWORD)
    assert limited.status_code == 429 and "Too many" in limited.text


def test_login_does_not_redirect_to_other_sites(login, pat):
    response = _login(login(None), PASSWORD, next_="//evil.example/")
    assert response.headers["location"] == "/"


def test_the_one_time_link_works_once(app, login, people):
    token = app.state.login_links.issue("olga")
    client = login(None)
    first = client.get(f"/login/link?token={token}")
    assert first.status_code == 303 and any(c.startswith(SESSION_COOKIE) for c in first.headers.get_list("set-cookie"))
    assert client.get("/").status_code == 200
    assert login(None).get(f"/login/link?token={token}").status_code == 403


def test_logout_ends_the_session(login):
    client = login("cora")
    assert client.write("POST", "/logout").status_code == 303
    assert client.get("/").status_code == 303


# ---------------------------------------------------------------- trusted browsers (device cookies)


def _guess(client, times: int, username: str = "pat") -> None:
    for _ in range(times):
        token = _form(client)
        client.post("/login", data={"csrf_token": token, "username": username, "password": "a wrong guess"})


def _fresh_session(client):
    """The same browser after its session ended: only the device cookie is left."""
    client.cookies.delete(SESSION_COOKIE)
    return client


def test_a_password_login_trusts_the_browser_with_a_narrow_cookie(login, pat):
    client = login(None)
    response = _login(client, PASSWORD)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(DEVICE_COOKIE))
    assert "HttpOnly" in cookie and "Secure" in cookie and "Path=/login" in cookie and "SameSite=strict" in cookie


def test_others_guessing_cannot_lock_the_owner_out_of_a_browser_she_used(login, pat):
    owner = login(None)
    assert _login(owner, PASSWORD).status_code == 303
    _guess(login(None), accounts.MAX_FAILURES_PER_ACCOUNT + 5)  # someone else at the same laptop / address
    assert _login(login(None), PASSWORD).status_code == 429  # an unknown browser is held back ...
    assert _login(_fresh_session(owner), PASSWORD).status_code == 303  # ... the owner's is not


def test_a_trusted_browser_has_its_own_limit(login, pat):
    owner = login(None)
    _login(owner, PASSWORD)
    _guess(_fresh_session(owner), accounts.MAX_FAILURES_PER_DEVICE)
    assert _login(owner, PASSWORD).status_code == 429


def test_the_device_cookie_of_one_account_does_not_help_another(login, pat, project):
    with project.session() as session:
        accounts.add_user(session, "quinn", PASSWORD)
    browser = login(None)
    _login(browser, PASSWORD)  # trusted for pat
    _guess(login(None), accounts.MAX_FAILURES_PER_USER, username="quinn")
    token = _form(_fresh_session(browser))
    response = browser.post("/login", data={"csrf_token": token, "username": "quinn", "password": PASSWORD})
    assert response.status_code == 429


def test_a_new_password_forgets_the_trusted_browsers(login, pat, project):
    owner = login(None)
    _login(owner, PASSWORD)
    with project.session() as session:
        accounts.set_password(session, "pat", PASSWORD + " again")
    _guess(login(None), accounts.MAX_FAILURES_PER_USER)
    token = _form(_fresh_session(owner))
    response = owner.post("/login", data={"csrf_token": token, "username": "pat", "password": PASSWORD + " again"})
    assert response.status_code == 429
