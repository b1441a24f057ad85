"""Cookies, CSRF tokens, one-time login links and security headers.

- The login session lives in an HttpOnly, SameSite=Lax cookie, ``Secure``
  unless the app is told otherwise (browsers accept Secure cookies from
  http://127.0.0.1 and localhost).
- Every write needs the session's CSRF token: a ``csrf_token`` form field, or an
  ``X-CSRF-Token`` header from the page's JavaScript. The login form, used
  before there is a session, has a double-submit cookie instead.
- ``chimeqda serve`` on a laptop prints a one-time login link (as Jupyter
  does); its token is kept in memory as a digest and works once.
"""

from __future__ import annotations

import hmac
import secrets
import threading

from fastapi import HTTPException, Request
from starlette.datastructures import MutableHeaders
from starlette.responses import Response

from chimeqda.services.accounts import digest

SESSION_COOKIE = "chimeqda_session"
LOGIN_CSRF_COOKIE = "chimeqda_login_csrf"
DEVICE_COOKIE = "chimeqda_device"
"""A browser that logged in before (``accounts.trust_device``); sent only to the login form."""
DEVICE_DAYS = 365
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token a request carries, in its header or form body."""
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def require_login_csrf(request: Request) -> None:
    """Double-submit check for the login form (no session yet)."""
    if not same(await submitted_csrf(request), request.cookies.get(LOGIN_CSRF_COOKIE)):
        raise HTTPException(403, "the form expired; reload the page and try again")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
        secure=request.app.state.settings.secure_cookies,
    )


class LoginLinks:
    """One-time login links: token digest → user name, in this process's memory."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def issue(self, username: str) -> str:
        token = new_token()
        with self._lock:
            self._tokens[digest(token)] = username
        return token

    def redeem(self, token: str) -> str | None:
        with self._lock:
            return self._tokens.pop(digest(token or ""), None)


class SecurityHeaders:
    """ASGI middleware adding a strict Content-Security-Policy and friends to every response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
