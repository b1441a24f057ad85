"""What every command module shares: options, error translation, opening a project, printing tables.

Command modules import from here, never from ``chimeqda.cli`` itself, so
registration runs one way: ``cli/__init__.py`` imports the modules and adds
their ``COMMANDS`` to the group.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from chimeqda.errors import ChimeqdaError

PROJECT_HELP = "Project folder (default: the current folder)."


def current_user() -> str:
    """Who is at the keyboard: ``CHIMEQDA_USER``, else the login name."""
    return os.environ.get("CHIMEQDA_USER") or getpass.getuser() or "researcher"


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn chimeqda's own errors, and files that cannot be read or written, into one line and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ChimeqdaError as exc:  # messages name files, documents, codes: terminal_safe
            raise click.ClickException(terminal_safe(str(exc))) from None
        except OSError as exc:  # a missing folder, no permission, a full disk: the researcher can fix these
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(terminal_safe(f"{where}{exc.strerror or exc}")) from None

    return wrapper


def project_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--project DIR`` and ``--db URL`` on every command that opens a project."""
    func = click.option("--db", envvar="CHIMEQDA_DATABASE_URL", help="SQLAlchemy database URL (e.g. postgresql://…).")(func)
    func = click.option(
        "--project", "-p", "project_dir", type=click.Path(file_okay=False, path_type=Path), default=".",
        show_default=True, help=PROJECT_HELP,
    )(func)
    return func


def open_project(project_dir: Path, db: str | None):
    """The project in ``project_dir`` (or at ``db``), ready for ``services`` calls."""
    from chimeqda.services import open_project

    return open_project(project_dir, db=db)


def allow_unpseudonymised_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--allow-unpseudonymised`` on commands that refuse identifiable documents (docs/privacy.md)."""
    return click.option(
        "--allow-unpseudonymised", "allow_unpseudonymised", is_flag=True,
        help="Run even on documents not yet pseudonymised (only matters in projects that require it).",
    )(func)


def guard_privacy(ws: Any, allow: bool, what: str, documents: Any = None) -> None:
    """Refuse identifiable documents in projects that require pseudonymisation (see ``services.privacy_audit``)."""
    from chimeqda.services.privacy_audit import require_pseudonymised

    require_pseudonymised(ws, documents=documents, allow=allow, what=what)


def log_export(ws: Any, kind: str, path: Any) -> None:
    """Note an export or report in the privacy audit log."""
    from chimeqda.services.privacy_audit import record_export

    record_export(ws, kind, path, user=current_user())


_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Text with control characters shown as ``\\x1b`` etc.: a value from a user's file cannot drive the terminal
    (colour, cursor, window title, clipboard escapes)."""
    return _TERMINAL_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def echo(message: object = "", **kwargs: Any) -> None:
    """``click.echo`` with control characters made visible (:func:`terminal_safe`).

    Every command prints through this: its messages carry names from the
    researcher's files (file, document, participant, code and speaker names),
    and a file named with an escape sequence must not re-title, recolour or
    write to the clipboard of the terminal of whoever imports it. Line breaks
    and tabs are kept.
    """
    click.echo(terminal_safe(str(message)), **kwargs)


def echo_table(frame, *, max_rows: int = 60) -> None:
    """Print a pandas table wide enough to read in a terminal (control characters made visible)."""
    import pandas as pd

    with pd.option_context("display.max_rows", max_rows, "display.max_columns", 30, "display.width", 160,
                           "display.max_colwidth", 60):
        click.echo(terminal_safe(frame.to_string()))


def parse_params(params: tuple[str, ...]) -> dict[str, Any]:
    """``--param NAME=VALUE`` options as a dict; values are JSON when they parse as JSON."""
    parsed: dict[str, Any] = {}
    for item in params:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        key, value = item.split("=", 1)
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = value
    return parsed


SPEAKERS_HELP = "Mono recordings: how many voices to tell apart (diarisation)."
NO_DIARISE_HELP = ("Mono recordings: do not tell voices apart; start a new turn after a pause instead "
                   "(stereo with one voice per channel always gets its turns by channel).")


def diarise_options(command):
    """``--speakers N`` and ``--no-diarise``, shared by ``transcribe`` and ``import``."""
    command = click.option("--no-diarise", "no_diarise", is_flag=True, help=NO_DIARISE_HELP)(command)
    return click.option("--speakers", "speaker_count", type=click.IntRange(1, 10), default=2, show_default=True,
                        help=SPEAKERS_HELP)(command)
