"""Editing the project's codebook: add a code, change a code's wording and examples.

Each edit is one transaction. Keys are stable (codings refer to them), so a
code's key is never changed; its name, definition, rules, colour and examples are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services.project import Workspace
from chimeqda.store import tables as t
from chimeqda.store.queries import first_codebook_id

CODE_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,199}$")
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def add_code(ws: Workspace, key: str, name: str, *, parent: str = "", definition: str = "") -> int:
    """Add a code to the project's codebook (after its last code); returns the code's row id."""
    key = key.strip().lower()
    if not CODE_KEY.match(key):
        raise InvalidInput("a code id has lower-case letters, digits and . _ - (e.g. hope.goals)", source="key")
    with ws.session() as session:
        book_id = first_codebook_id(session, ws.project_id)
        keys = set(session.scalars(select(t.Code.key).where(t.Code.codebook_id == book_id)))
        if key in keys:
            raise InvalidInput(f"the codebook already has a code {key!r}", source="key")
        if parent and parent not in keys:
            raise InvalidInput(f"no parent code {parent!r}", source="parent")
        position = session.scalar(select(func.max(t.Code.position)).where(t.Code.codebook_id == book_id)) or 0
        code = t.Code(codebook_id=book_id, key=key, parent_key=parent or None, position=position + 1,
                      name=name.strip() or key, definition=definition.strip(), inclusion="", exclusion="", data={})
        session.add(code)
        session.flush()
        return code.id


def update_code(
    ws: Workspace, code_id: int, *, name: str, definition: str = "", inclusion: str = "", exclusion: str = "",
    color: str = "", examples: Sequence[Sequence[str]] = (), counter_examples: Sequence[Sequence[str]] = (),
) -> None:
    """Change a code's wording, colour and examples (``[text, language]`` pairs); its key stays."""
    if not name.strip():
        raise InvalidInput("a code needs a name", source="name")
    if color and not COLOUR.match(color):
        raise InvalidInput("colour must look like #1f77b4", source="color")
    with ws.session() as session:
        code = code_in_project(session, ws.project_id, code_id)
        code.name, code.definition = name.strip(), definition.strip()
        code.inclusion, code.exclusion = inclusion.strip(), exclusion.strip()
        code.color = color or code.color
        code.data = {
            **(code.data or {}), "examples": [list(pair) for pair in examples],
            "counter_examples": [list(pair) for pair in counter_examples],
        }


def code_in_project(session: Session, project_id: int, code_id: int) -> t.Code:
    """The code row ``code_id`` if it belongs to the project's codebooks, else :class:`UnknownObject`."""
    code = session.get(t.Code, code_id)
    book = session.get(t.Codebook, code.codebook_id) if code else None
    if code is None or book is None or book.project_id != project_id:
        raise UnknownObject(f"no code {code_id} in this project")
    return code
