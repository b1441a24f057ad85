"""Accounts of the web workspace: users, project roles, login sessions, rate limits.

Functions take an open SQLAlchemy session (``transaction(engine)``) so the
web app and the CLI can combine them in one transaction. Passwords are kept
as argon2 hashes; a login session is kept as the SHA-256 digest of its
cookie token; failed logins are rows, so the limit holds across server
processes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.store import tables as t
from chimeqda.store.accounts import ROLES, LoginFailure, Membership, TrustedDevice, User, WebSession

RANK = {"viewer": 1, "coder": 2, "owner": 3}
SESSION_DAYS = 14
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5  # for one account from one address
MAX_FAILURES_PER_ACCOUNT = 20  # for one account from all addresses together
MAX_FAILURES_PER_ADDRESS = 30  # for all accounts from one address
BUSY_ADDRESS_TRIES = 2  # from a busy address: tries an account still gets (its correct password logs in)
MAX_FAILURES_PER_DEVICE = 5  # for a browser that logged in to the account before (its own count only)
DEVICES_KEPT = 10  # trusted browsers remembered per account (the oldest is forgotten first)
MIN_PASSWORD = 8
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_hasher = PasswordHasher()
# verified against when the user does not exist, so timing does not tell
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def _now() -> datetime:
    return datetime.now(UTC)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- users


def check_username(username: str) -> str:
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise InvalidInput(
            "a user name has 1–100 letters, digits or . _ @ - and starts with a letter or digit",
            source="username",
        )
    return username


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters", source="password")
    return password


def add_user(session: Session, username: str, password: str | None = None, *, display_name: str = "") -> User:
    """Create an account; ``password=None`` makes one that logs in only by a one-time link."""
    username = check_username(username)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise InvalidInput(f"there is already a user {username!r}", source="username")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=_hasher.hash(check_password(password)) if password is not None else "",
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> None:
    """A new password ends the account's sessions and forgets its trusted browsers."""
    user = get_user(session, username)
    user.password_hash = _hasher.hash(check_password(password))
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.execute(delete(TrustedDevice).where(TrustedDevice.user_id == user.id))


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UnknownObject(f"no user {username!r}; add one with `chimeqda users add {username}`")
    return user


def list_users(session: Session) -> list[tuple[User, list[tuple[str, str]]]]:
    """Every user with their (project name, role) pairs."""
    users = session.scalars(select(User).order_by(User.username)).all()
    roles: dict[int, list[tuple[str, str]]] = {}
    for user_id, name, role in session.execute(
        select(Membership.user_id, t.Project.name, Membership.role)
        .join(t.Project, t.Project.id == Membership.project_id)
        .order_by(t.Project.name)
    ):
        roles.setdefault(user_id, []).append((name, role))
    return [(user, roles.get(user.id, [])) for user in users]


# ---------------------------------------------------------------- roles


def grant(session: Session, project_id: int, user_id: int, role: str) -> Membership:
    """Give a user a role in a project (replacing any role they had)."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}", source="role")
    row = session.scalar(select(Membership).where(Membership.project_id == project_id, Membership.user_id == user_id))
    if row is None:
        row = Membership(project_id=project_id, user_id=user_id, role=role)
        session.add(row)
    else:
        if row.role == "owner" and role != "owner" and _owners(session, project_id) <= 1:
            raise InvalidInput("a project keeps at least one owner; make someone else owner first", source="role")
        row.role = role
    session.flush()
    return row


def revoke(session: Session, project_id: int, user_id: int) -> None:
    row = session.scalar(select(Membership).where(Membership.project_id == project_id, Membership.user_id == user_id))
    if row is None:
        return
    if row.role == "owner" and _owners(session, project_id) <= 1:
        raise InvalidInput("a project keeps at least one owner; make someone else owner first", source="role")
    session.delete(row)
    session.flush()


def _owners(session: Session, project_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Membership).where(
            Membership.project_id == project_id, Membership.role == "owner"
        )
    ) or 0


def role_of(session: Session, project_id: int, user_id: int) -> str | None:
    return session.scalar(
        select(Membership.role).where(Membership.project_id == project_id, Membership.user_id == user_id)
    )


def members(session: Session, project_id: int) -> list[tuple[User, str]]:
    return list(
        session.execute(
            select(User, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.project_id == project_id)
            .order_by(User.username)
        )
    )


def user_projects(session: Session, user_id: int) -> list[tuple[t.Project, str]]:
    return list(
        session.execute(
            select(t.Project, Membership.role)
            .join(Membership, Membership.project_id == t.Project.id)
            .where(Membership.user_id == user_id)
            .order_by(t.Project.name)
        )
    )


def project_by_name(session: Session, name: str) -> t.Project:
    row = session.scalar(select(t.Project).where(t.Project.name == name))
    if row is None:
        raise UnknownObject(f"no project named {name!r} in this database")
    return row


# ---------------------------------------------------------------- blind coding


def blind_coding(session: Session, project_id: int) -> bool:
    project = session.get(t.Project, project_id)
    if project is None:
        raise UnknownObject(f"no project {project_id}")
    return bool((project.settings or {}).get("blind_coding"))


def set_blind_coding(session: Session, project_id: int, on: bool) -> None:
    """While on, coders see only their own codings and the machine's suggestions."""
    project = session.get(t.Project, project_id)
    if project is None:
        raise UnknownObject(f"no project {project_id}")
    project.settings = {**(project.settings or {}), "blind_coding": bool(on)}  # new dict: JSON change detected
    session.flush()


# ---------------------------------------------------------------- login


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    reason: str = ""  # "" (logged in) | "invalid" | "rate_limited"


def _recent_failures(session: Session, key: str) -> int:
    return session.scalar(
        select(func.count()).select_from(LoginFailure).where(
            LoginFailure.key == key, LoginFailure.created_at > _now() - FAILURE_WINDOW
        )
    ) or 0


def login(session: Session, username: str, password: str, *, address: str = "", device: str = "") -> LoginResult:
    """Check a user name and password; counts failures and refuses when there were too many.

    Failures count per account and address (5), per account (20) and per
    address (30) within 15 minutes. The address limit only slows guessing
    across accounts; it cannot lock anyone out: from a busy address an account
    with fewer than :data:`BUSY_ADDRESS_TRIES` failures from there still has
    its password checked, and the correct one logs in (a wrong one is refused
    with 429 like an unknown name, so the answer does not tell which names
    exist). ``device``, the device cookie of a browser that logged in to this
    account before (:func:`trust_device`), replaces all three limits by the
    device's own (5): whoever else guesses the password, from the same laptop
    or address, cannot lock its owner out of that browser. The caller commits
    the session in every case, so failures are recorded.
    """
    name = username.strip().lower()[:90]
    user_key, pair_key, address_key = f"user:{name}", f"pair:{name} {address[:90]}", f"ip:{address[:150]}"
    trusted = _trusted_device(session, username, device)
    device_key = f"device:{trusted.digest}" if trusted is not None else ""
    busy = False
    if trusted is not None:
        if _recent_failures(session, device_key) >= MAX_FAILURES_PER_DEVICE:
            return LoginResult(None, "rate_limited")
    else:
        pair_failures = _recent_failures(session, pair_key)
        if _recent_failures(session, user_key) >= MAX_FAILURES_PER_ACCOUNT or pair_failures >= MAX_FAILURES_PER_USER:
            return LoginResult(None, "rate_limited")
        busy = bool(address) and _recent_failures(session, address_key) >= MAX_FAILURES_PER_ADDRESS
        if busy and pair_failures >= BUSY_ADDRESS_TRIES:
            return LoginResult(None, "rate_limited")
    user = session.scalar(select(User).where(User.username == username.strip()))
    stored = user.password_hash if user is not None and user.is_active and user.password_hash else _DUMMY_HASH
    try:
        ok = _hasher.verify(stored, password or "") and stored is not _DUMMY_HASH
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        keys = [device_key] if trusted is not None else [user_key, pair_key] + ([address_key] if address else [])
        session.add_all([LoginFailure(key=key) for key in keys])
        session.execute(delete(LoginFailure).where(LoginFailure.created_at < _now() - 4 * FAILURE_WINDOW))
        session.flush()
        return LoginResult(None, "rate_limited" if busy else "invalid")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return LoginResult(user)


def _trusted_device(session: Session, username: str, device: str) -> TrustedDevice | None:
    """The trusted device of ``device`` (a cookie token) if it belongs to the account named ``username``."""
    if not device:
        return None
    return session.scalar(
        select(TrustedDevice).join(User, User.id == TrustedDevice.user_id)
        .where(TrustedDevice.digest == digest(device), User.username == username.strip())
    )


def trust_device(session: Session, user_id: int, previous: str = "") -> str:
    """Remember the browser that just logged in; returns its new device cookie token.

    The token is replaced at every login (``previous``, the old one, is forgotten), and an account
    keeps its :data:`DEVICES_KEPT` newest devices.
    """
    if previous:
        session.execute(delete(TrustedDevice).where(TrustedDevice.digest == digest(previous),
                                                    TrustedDevice.user_id == user_id))
    token = secrets.token_urlsafe(32)
    session.add(TrustedDevice(user_id=user_id, digest=digest(token)))
    session.flush()
    kept = select(TrustedDevice.id).where(TrustedDevice.user_id == user_id).order_by(
        TrustedDevice.id.desc()).limit(DEVICES_KEPT)
    session.execute(delete(TrustedDevice).where(TrustedDevice.user_id == user_id, TrustedDevice.id.not_in(kept)))
    return token


def start_session(session: Session, user_id: int, *, days: int = SESSION_DAYS) -> tuple[str, str]:
    """Create a login session; returns (cookie token, CSRF token). Only the token's digest is stored."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSession(id=digest(token), user_id=user_id, csrf_token=csrf, expires_at=_now() + timedelta(days=days))
    )
    session.execute(delete(WebSession).where(WebSession.expires_at < _now()))
    session.flush()
    return token, csrf


def session_user(session: Session, token: str) -> tuple[User, WebSession] | None:
    """The user of a live login session, or None."""
    if not token:
        return None
    row = session.execute(
        select(User, WebSession)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.id == digest(token), WebSession.expires_at > _now(), User.is_active.is_(True))
    ).first()
    return (row[0], row[1]) if row else None


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == digest(token)))
