"""``chimeqda serve`` over real HTTP: forwarded headers, the login limits, and a team server nobody can log in to.

Each test starts the real command in a subprocess and talks to it with httpx.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import pytest
from live_server import free_port

from chimeqda.services import accounts

PASSWORD = "correct horse battery"


@pytest.fixture
def owner(workspace):
    with workspace.session() as session:
        user = accounts.add_user(session, "olga", PASSWORD)
        accounts.grant(session, workspace.project_id, user.id, "owner")
    return workspace


def _command(ws, *args: str) -> list[str]:
    url = ws.engine.url.render_as_string(hide_password=False)
    return [sys.executable, "-m", "chimeqda", "serve", "-p", str(ws.directory), "--db", url, *args]


@contextmanager
def _serving(ws, *args: str, host: str = "127.0.0.1"):
    """The server's base URL and its process; stopped afterwards."""
    port = free_port()
    process = subprocess.Popen(_command(ws, "--host", host, "--port", str(port), "--no-login-link",
                                        "--insecure-cookies", *args),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                assert time.time() < deadline, "serve did not start"
                time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _login(client: httpx.Client, username: str, password: str, **headers: str) -> httpx.Response:
    page = client.get("/login", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password},
                       headers=headers)


def test_spoofed_forwarded_for_does_not_dodge_the_address_limit_and_the_owner_still_gets_in(owner):
    with _serving(owner) as (base, _), httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        statuses = [
            _login(client, f"guess{i}", "wrong password", **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(accounts.MAX_FAILURES_PER_ADDRESS + 10)
        ]
        assert statuses[: accounts.MAX_FAILURES_PER_ADDRESS] == [401] * accounts.MAX_FAILURES_PER_ADDRESS
        assert statuses[accounts.MAX_FAILURES_PER_ADDRESS:] == [429] * 10
        # a wrong password for a real account from the busy address looks the same as for an unknown name
        assert _login(client, "olga", "not her password").status_code == 429
        owner_client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
        with owner_client:
            done = _login(owner_client, "olga", PASSWORD)
            assert done.status_code == 303 and done.headers["location"] == "/"
            assert owner_client.get("/").status_code == 200


def test_forwarded_for_is_trusted_only_from_the_configured_proxy(owner):
    with (_serving(owner, "--forwarded-allow-ips", "127.0.0.1") as (base, _),
          httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client):
        for i in range(accounts.MAX_FAILURES_PER_ADDRESS):
            assert _login(client, f"guess{i}", "wrong", **{"X-Forwarded-For": "198.51.100.7"}).status_code == 401
        assert _login(client, "guess-x", "wrong", **{"X-Forwarded-For": "198.51.100.7"}).status_code == 429
        assert _login(client, "guess-y", "wrong", **{"X-Forwarded-For": "198.51.100.8"}).status_code == 401


def test_one_account_is_limited_from_one_address(owner):
    with owner.session() as session:
        for _ in range(accounts.MAX_FAILURES_PER_USER):
            assert accounts.login(session, "olga", "wrong", address="192.0.2.1").reason == "invalid"
        assert accounts.login(session, "olga", PASSWORD, address="192.0.2.1").reason == "rate_limited"
        assert accounts.login(session, "olga", PASSWORD, address="192.0.2.2").user is not None


def test_a_network_server_nobody_can_log_in_to_is_refused_with_what_to_do(workspace):
    port = free_port()
    done = subprocess.run(_command(workspace, "--host", "0.0.0.0", "--port", str(port)),
                          capture_output=True, text=True, timeout=120)
    message = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, message
    assert "team server" in message and "no account has a password" in message
    assert "chimeqda users add NAME --role owner" in message and "leave out --host" in message
    sqlite = workspace.engine.dialect.name == "sqlite"
    assert ("SQLite" in message and "PostgreSQL" in message) == sqlite


def test_a_team_server_on_sqlite_says_so(owner):
    if owner.engine.dialect.name != "sqlite":
        pytest.skip("the SQLite note")
    with _serving(owner, host="0.0.0.0") as (_, process):
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert "serving the SQLite database" in err and "PostgreSQL" in err

