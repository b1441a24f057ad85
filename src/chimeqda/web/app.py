"""The FastAPI app factory of the browser workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from chimeqda import __version__
from chimeqda.errors import Conflict, InvalidInput, PrivacyRequired, UnknownCoder, UnknownObject
from chimeqda.store.db import open_database
from chimeqda.web.pages import page
from chimeqda.web.security import LoginLinks, SecurityHeaders

HERE = Path(__file__).parent


UNCOMPRESSED = (
    "text/event-stream", "application/zip", "image/png", "image/jpeg", "image/webp", "audio/mpeg", "audio/mp4",
    "audio/ogg", "audio/wav", "audio/x-wav", "audio/webm", "audio/flac", "audio/aac", "video/mp4", "video/webm",
)
"""Responses sent as they are: already compressed, or streamed."""


@dataclass(frozen=True)
class Settings:
    secure_cookies: bool = True
    poll_seconds: float = 2.0


def create_app(database: str | Engine, *, secure_cookies: bool = True, poll_seconds: float = 2.0,
               project_dir: Path | str | None = None) -> FastAPI:
    """Build the app for a database (URL or engine); the schema must be current.

    ``project_dir`` is the project folder whose ``media/`` holds the recordings the
    document view plays (without it, documents are shown without their recording).

    ``app.state.login_links.issue(username)`` makes a one-time login link token.
    """
    engine = database if isinstance(database, Engine) else open_database(database)
    app = FastAPI(title="chimeqda", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.state.settings = Settings(secure_cookies=secure_cookies, poll_seconds=poll_seconds)
    app.state.login_links = LoginLinks()
    app.state.project_dir = Path(project_dir) if project_dir is not None else None
    app.add_middleware(SecurityHeaders)
    # Text compresses about 4:1 (the document view: 517 KiB -> ~130 KiB); media, images and zips do not.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6, exclude_content_types=UNCOMPRESSED)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from chimeqda.web.routes import (
        analysis,
        auth,
        codebook,
        documents,
        privacy,
        projects,
        review,
        transcript,
    )

    for module in (auth, projects, documents, transcript, codebook, analysis, privacy, review):
        app.include_router(module.router)

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput):
        return _error(request, 422, str(exc))

    @app.exception_handler(PrivacyRequired)
    @app.exception_handler(Conflict)
    async def _private(request: Request, exc: PrivacyRequired | Conflict):
        return _error(request, 409, str(exc))

    @app.exception_handler(UnknownObject)
    @app.exception_handler(UnknownCoder)
    async def _unknown(request: Request, exc: Exception):
        return _error(request, 404, str(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        if exc.status_code == 401 and request.method == "GET" and not _is_api(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return _error(request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _error(request: Request, status: int, message: str, headers=None):
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    return page(request, "error.html", {"status": status, "message": message, "user": None}, status_code=status,
                headers=headers)
