"""The browser workspace: a FastAPI app serving a project to one researcher or a team.

``create_app`` builds the app (see ``app.py``); ``chimeqda serve`` runs it.
"""

from chimeqda.web.app import create_app

__all__ = ["create_app"]
