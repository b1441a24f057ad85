"""Logging in and out: password form, one-time login link."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from chimeqda.services import accounts
from chimeqda.store.db import transaction
from chimeqda.web.deps import CurrentUser, check_csrf, get_engine
from chimeqda.web.pages import templates
from chimeqda.web.security import (
    DEVICE_COOKIE,
    DEVICE_DAYS,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    new_token,
    require_login_csrf,
    set_cookie,
)

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only local paths: a login must not bounce the user to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _login_page(request: Request, *, next_: str, error: str = "", status: int = 200, username: str = ""):
    token = new_token()
    response = templates.TemplateResponse(
        request, "login.html",
        {"user": None, "csrf": token, "next": _safe_next(next_), "error": error, "username": username},
        status_code=status,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


def _logged_in(request: Request, user_id: int, target: str, *, trust: bool = False) -> RedirectResponse:
    """Start a session; ``trust`` (a password login) also remembers this browser as a trusted device."""
    with transaction(get_engine(request)) as session:
        token, _ = accounts.start_session(session, user_id)
        device = accounts.trust_device(session, user_id, request.cookies.get(DEVICE_COOKIE, "")) if trust else ""
    response = RedirectResponse(_safe_next(target), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=accounts.SESSION_DAYS * 86400)
    if device:
        response.set_cookie(DEVICE_COOKIE, device, max_age=DEVICE_DAYS * 86400, path="/login", httponly=True,
                            samesite="strict", secure=request.app.state.settings.secure_cookies)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/"):
    return _login_page(request, next_=next)


@router.post("/login", dependencies=[Depends(require_login_csrf)])
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/")):
    address = request.client.host if request.client else ""
    with transaction(get_engine(request)) as session:
        result = accounts.login(session, username, password, address=address,
                                device=request.cookies.get(DEVICE_COOKIE, ""))
        user_id = result.user.id if result.user else None
    if result.reason == "rate_limited":
        return _login_page(
            request, next_=next, status=429, username=username,
            error="Too many failed logins. Wait 15 minutes, or ask an owner to reset your password.",
        )
    if user_id is None:
        return _login_page(request, next_=next, status=401, username=username,
                           error="Wrong user name or password.")
    return _logged_in(request, user_id, next, trust=True)


@router.get("/login/link")
def login_link(request: Request, token: str = ""):
    """The one-time link ``chimeqda serve`` prints; it works once."""
    username = request.app.state.login_links.redeem(token)
    if username is None:
        raise HTTPException(403, "this login link was used already or is not valid; restart `chimeqda serve` for a new one")
    with transaction(get_engine(request)) as session:
        user_id = accounts.get_user(session, username).id
    return _logged_in(request, user_id, "/")


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request, user: CurrentUser):
    with transaction(get_engine(request)) as session:
        accounts.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
