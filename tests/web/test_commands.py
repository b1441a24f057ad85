"""``chimeqda users``: accounts and roles from the terminal."""

from __future__ import annotations

from click.testing import CliRunner

from chimeqda.cli import main
from chimeqda.services import accounts


def test_users_add_grant_list(workspace, db_url, tmp_path):
    runner = CliRunner()
    where = ["-p", str(tmp_path / "project"), "--db", db_url]
    added = runner.invoke(main, ["users", "add", "alice", "--role", "owner", "--password-stdin", *where],
                          input="a long password\n")
    assert added.exit_code == 0, added.output
    assert runner.invoke(main, ["users", "add", "bob", "--password-stdin", *where], input="another password\n").exit_code == 0
    assert runner.invoke(main, ["users", "grant", "bob", "coder", *where]).exit_code == 0
    short = runner.invoke(main, ["users", "add", "carol", "--password-stdin", *where], input="short\n")
    assert short.exit_code == 1 and "at least" in short.output
    listed = runner.invoke(main, ["users", "list", *where]).output
    assert "alice\tpassword\tTest study: owner" in listed and "bob\tpassword\tTest study: coder" in listed
    with workspace.session() as session:
        assert accounts.login(session, "alice", "a long password").user is not None


def test_serve_prints_a_one_time_login_link(workspace, db_url, tmp_path):
    import os
    import re
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx
    from live_server import free_port

    port = free_port()
    env = {**os.environ, "CHIMEQDA_USER": "maria", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "chimeqda"), "serve", "-p", str(tmp_path / "project"), "--db", db_url,
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        link = None
        deadline = time.time() + 60
        while link is None and time.time() < deadline:
            line = process.stdout.readline()
            match = re.search(r"(http://127\.0\.0\.1:\d+/login/link\?token=\S+)", line)
            link = match.group(1) if match else None
        assert link, "no login link printed"
        for _ in range(100):
            try:
                first = httpx.get(link, follow_redirects=False)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert first.status_code == 303 and "chimeqda_session=" in first.headers["set-cookie"]
        assert httpx.get(link, follow_redirects=False).status_code == 403  # once only
    finally:
        process.terminate()
        process.wait(timeout=20)
    with workspace.session() as session:
        assert accounts.role_of(session, workspace.project_id, accounts.get_user(session, "maria").id) == "owner"
