"""``chimeqda serve`` and ``chimeqda users``: the browser workspace from the terminal."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import click

from chimeqda.cli.common import current_user, echo, friendly_errors, project_options
from chimeqda.errors import InvalidInput

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _engine(project_dir: Path, db: str | None):
    from chimeqda.services.project import DB_FILE
    from chimeqda.store.db import open_database, project_url

    if db is None and not (project_dir / DB_FILE).exists():
        from chimeqda.errors import ProjectError

        raise ProjectError(f"{project_dir} is not a chimeqda project folder; create one with `chimeqda init`")
    return open_database(project_url(project_dir, db))


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _project_id(session, project_dir: Path, name: str | None) -> int:
    """The project named ``name``, or the folder's project, or the database's only project."""
    from sqlalchemy import select

    from chimeqda.services import accounts
    from chimeqda.services.project import CONFIG_FILE
    from chimeqda.store import tables as t

    if name:
        return accounts.project_by_name(session, name).id
    config = project_dir / CONFIG_FILE
    if config.exists():
        import re

        match = re.search(r'^project\s*=\s*"(.*)"\s*$', config.read_text("utf-8"), re.M)
        if match:
            return accounts.project_by_name(session, match.group(1).replace('\\"', '"').replace("\\\\", "\\")).id
    rows = session.scalars(select(t.Project.id)).all()
    if len(rows) != 1:
        raise InvalidInput("this database holds several projects; name one with --in PROJECT", source="--in")
    return rows[0]


@click.command()
@project_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback makes a team server.")
@click.option("--port", default=8700, show_default=True, type=int)
@click.option("--user", "username", default=None,
              help="Account the one-time login link logs in (default: you, made owner of an ownerless project).")
@click.option("--login-link/--no-login-link", default=None,
              help="Print a one-time login link (default: only on 127.0.0.1).")
@click.option("--insecure-cookies", is_flag=True,
              help="Send the session cookie over plain HTTP to other machines (trusted networks only).")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="Serve HTTPS with this certificate.")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="Private key of the certificate.")
@click.option("--open/--no-open", "open_browser", default=False, help="Open the login link in a browser.")
@click.option("--forwarded-allow-ips", default=None, metavar="ADDRESSES",
              help="Behind a reverse proxy: the proxy's addresses (comma-separated, e.g. 127.0.0.1), whose "
                   "X-Forwarded-For/-Proto headers are trusted. Default: no proxy, these headers are ignored.")
@friendly_errors
def serve(project_dir, db, host, port, username, login_link, insecure_cookies, ssl_certfile, ssl_keyfile,
          open_browser, forwarded_allow_ips):
    """Serve the coding workspace in the browser.

    On a laptop it listens on 127.0.0.1 only and prints a one-time login link,
    so nobody else on the machine gets in. As a team server, point it at
    PostgreSQL and listen on the network (behind HTTPS), with accounts made by
    ``chimeqda users add``.

    \b
    Example: chimeqda serve -p my-study
    Example: chimeqda serve --db postgresql://qda@dbhost/study --host 0.0.0.0 --ssl-certfile c.pem --ssl-keyfile k.pem
    """
    import uvicorn

    from chimeqda.services import accounts
    from chimeqda.store.db import transaction
    from chimeqda.web import create_app

    engine = _engine(project_dir, db)
    local = _is_loopback(host)
    if not local:
        _check_team_server(engine, project_dir, host, login_link)
    app = create_app(engine, secure_cookies=not insecure_cookies, project_dir=project_dir)
    if login_link is None:
        login_link = local
    if login_link:
        from sqlalchemy import select

        from chimeqda.store import tables as t

        name = username or current_user()
        with transaction(engine) as session:
            try:
                user = accounts.get_user(session, name)
            except Exception:  # noqa: BLE001 - first run on a laptop: make the local account
                user = accounts.add_user(session, accounts.check_username(name.replace(" ", "_")))
            for project_id in session.scalars(select(t.Project.id)):
                if not any(role == "owner" for _, role in _project_roles(session, project_id)):
                    accounts.grant(session, project_id, user.id, "owner")
            login_name = user.username
        token = app.state.login_links.issue(login_name)
        scheme = "https" if ssl_certfile else "http"
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        url = f"{scheme}://{shown_host}:{port}/login/link?token={token}"
        echo(f"chimeqda is serving {engine.url.render_as_string(hide_password=True)}")
        echo(f"Open this link to log in as {login_name} (it works once):\n\n    {url}\n")
        if open_browser:
            import webbrowser

            webbrowser.open(url)
    if not local and not ssl_certfile and not insecure_cookies:
        echo("Note: session cookies are Secure; put the server behind HTTPS (or pass --ssl-certfile).", err=True)
    config = server_config(app, host=host, port=port, forwarded_allow_ips=forwarded_allow_ips,
                           ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    uvicorn.Server(config).run()


def server_config(app, *, host: str, port: int, forwarded_allow_ips: str | None = None,
                  ssl_certfile: str | None = None, ssl_keyfile: str | None = None):
    """How ``serve`` runs uvicorn: forwarded headers are trusted only from the proxies named.

    Without ``forwarded_allow_ips`` a request's address is the address that
    connected, whatever its ``X-Forwarded-For`` says (a spoofed header would
    otherwise dodge the per-address login limit).
    """
    import uvicorn

    proxies = [a.strip() for a in (forwarded_allow_ips or "").split(",") if a.strip()]
    return uvicorn.Config(app, host=host, port=port, log_level="warning", proxy_headers=bool(proxies),
                          forwarded_allow_ips=proxies or None, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)


def _check_team_server(engine, project_dir: Path, host: str, login_link: bool | None) -> None:
    """Listening on the network: refuse when nobody could log in; say so when the database is SQLite."""
    from sqlalchemy import func, select

    from chimeqda.store.accounts import User
    from chimeqda.store.db import transaction

    sqlite = engine.dialect.name == "sqlite"
    where = engine.url.database if sqlite else engine.url.render_as_string(hide_password=True)
    with transaction(engine) as session:
        passwords = session.scalar(select(func.count()).select_from(User).where(
            User.password_hash != "", User.is_active.is_(True))) or 0
    folder = f" -p {project_dir}" if sqlite else f" --db {where}"
    if not passwords and not login_link:
        raise InvalidInput(
            f"--host {host} makes a team server on the network, but no account has a password yet, so nobody "
            f"could log in. Create the accounts first: `chimeqda users add NAME --role owner{folder}` (and "
            f"`--role coder` for the others)"
            + (". This project is in SQLite, which suits one person; for a team, keep the project in "
               "PostgreSQL (docs/web.md, 'As a team server')" if sqlite else "")
            + ". To work alone, leave out --host: chimeqda then serves 127.0.0.1 with a one-time login link",
            source="--host",
        )
    if sqlite:
        echo(
            f"Note: serving the SQLite database {where} to the network as a team server. SQLite suits one "
            "person or a few taking turns; for a team coding at once, keep the project in PostgreSQL "
            "(docs/web.md, 'As a team server').", err=True)


def _project_roles(session, project_id: int):
    from chimeqda.services import accounts

    return [(user.username, role) for user, role in accounts.members(session, project_id)]


@click.group()
def users():
    """Accounts and project roles of the web workspace.

    \b
        chimeqda users add alice --role owner
        chimeqda users grant bob coder
        chimeqda users list
    """


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("add")
@project_options
@click.argument("username")
@click.option("--role", type=click.Choice(["owner", "coder", "viewer"]), default=None,
              help="Role in the project (the folder's, or --in PROJECT).")
@click.option("--in", "project_name", default=None, help="Project name, when the database holds several.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
@click.option("--display-name", default="", help="Name shown to other coders.")
@friendly_errors
def users_add(project_dir, db, username, role, project_name, password_stdin, display_name):
    """Create an account (asks for a password), optionally with a role in the project.

    Example: chimeqda users add alice --role owner -p my-study
    """
    from chimeqda.services import accounts
    from chimeqda.store.db import transaction

    engine = _engine(project_dir, db)
    accounts.check_username(username)
    password = accounts.check_password(_password(password_stdin))
    with transaction(engine) as session:
        user = accounts.add_user(session, username, password, display_name=display_name)
        if role:
            accounts.grant(session, _project_id(session, project_dir, project_name), user.id, role)
    echo(f"added {username}" + (f" as {role}" if role else ""))


@users.command("grant")
@project_options
@click.argument("username")
@click.argument("role", type=click.Choice(["owner", "coder", "viewer", "none"]))
@click.option("--in", "project_name", default=None, help="Project name, when the database holds several.")
@friendly_errors
def users_grant(project_dir, db, username, role, project_name):
    """Give a user a role in the project (``none`` removes them).

    Example: chimeqda users grant bob coder -p my-study
    """
    from chimeqda.services import accounts
    from chimeqda.store.db import transaction

    with transaction(_engine(project_dir, db)) as session:
        user = accounts.get_user(session, username)
        project_id = _project_id(session, project_dir, project_name)
        if role == "none":
            accounts.revoke(session, project_id, user.id)
        else:
            accounts.grant(session, project_id, user.id, role)
    echo(f"{username}: {role}")


@users.command("password")
@project_options
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
@friendly_errors
def users_password(project_dir, db, username, password_stdin):
    """Set a new password (logs the user out everywhere).

    Example: chimeqda users password alice -p my-study
    """
    from chimeqda.services import accounts
    from chimeqda.store.db import transaction

    password = accounts.check_password(_password(password_stdin))
    with transaction(_engine(project_dir, db)) as session:
        accounts.set_password(session, username, password)
    echo(f"new password set for {username}")


@users.command("list")
@project_options
@friendly_errors
def users_list(project_dir, db):
    """List accounts and their project roles.

    Example: chimeqda users list -p my-study
    """
    from chimeqda.services import accounts
    from chimeqda.store.db import transaction

    with transaction(_engine(project_dir, db)) as session:
        rows = accounts.list_users(session)
        for user, roles in rows:
            shown = ", ".join(f"{project}: {role}" for project, role in roles) or "no project"
            login = "password" if user.password_hash else "login link only"
            echo(f"{user.username}\t{login}\t{shown}")


COMMANDS = (serve, users)
