"""Every exception chimeqda raises.

Each subclasses :class:`ChimeqdaError` and the built-in it resembles, so callers
can catch either. Messages are written for researchers: they say what is wrong,
where (``source`` and ``location``) and, where possible, what to do about it.
"""

from __future__ import annotations


class ChimeqdaError(Exception):
    """Base class of every error chimeqda raises on purpose."""


class InvalidInput(ChimeqdaError, ValueError):
    """A file or value a user supplied cannot be used.

    ``source`` names the file (or argument) and ``location`` the place in it
    (a line, a row and field, a byte offset) when one is known.
    """

    def __init__(self, message: str, source: str | None = None, location: str | None = None):
        self.reason = message
        self.source = source
        self.location = location
        where = ", ".join(part for part in (source, location) if part)
        super().__init__(f"{where}: {message}" if where else message)


class CodebookError(InvalidInput):
    """A codebook file is malformed or misses a required field."""


class ImportRejected(InvalidInput):
    """A document could not be imported; nothing was written."""


class UnknownCoder(ChimeqdaError, KeyError):
    """No coder is registered under the requested name."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want prose
        return str(self.args[0]) if self.args else "unknown coder"


class UnknownObject(ChimeqdaError, KeyError):
    """A project, document, code, coding or participant does not exist."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class NotFittedError(ChimeqdaError, ValueError):
    """A coder was asked to predict before ``fit`` was called."""


class ProjectError(ChimeqdaError, RuntimeError):
    """The project folder or database is missing, locked or of another version."""


class ModelUnavailable(ChimeqdaError, RuntimeError):
    """A configured model cannot be loaded offline."""


class WrongPassphrase(ChimeqdaError, PermissionError):
    """The key file cannot be opened with this passphrase (or is damaged); nothing was changed."""


class PrivacyRequired(ChimeqdaError, RuntimeError):
    """The project requires pseudonymised documents and some are not yet."""


class LLMUnavailable(ModelUnavailable):
    """The language-model server cannot be reached or stopped answering."""


class LLMRequestRejected(ChimeqdaError, RuntimeError):
    """The server refused a request (e.g. the prompt exceeds the model's context)."""


class LLMBudgetExceeded(ChimeqdaError, RuntimeError):
    """The run reached its ``max_requests`` or ``max_total_tokens`` budget."""


class Conflict(ChimeqdaError, RuntimeError):
    """The change collides with the project's current state: a newer document version, or another
    process (a second import) writing the same thing at the same time. Nothing of it was written."""
