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
