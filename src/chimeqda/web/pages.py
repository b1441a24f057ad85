"""The workspace's HTML pages: the Jinja templates and :func:`page`, which every route renders with.

Routes and the app import this module; it imports neither, so there is no circle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from chimeqda import __version__

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["version"] = __version__


def page(request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
         headers: dict[str, str] | None = None):
    """Render the template ``name`` with ``context`` as an HTML response."""
    return templates.TemplateResponse(request, name, context or {}, status_code=status_code, headers=headers)
