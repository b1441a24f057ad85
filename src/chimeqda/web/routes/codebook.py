"""The codebook: definitions, inclusion and exclusion rules, examples; owners edit, coders add memos."""

from __future__ import annotations

import re

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services.project import project_codebook
from chimeqda.store import tables as t
from chimeqda.web import queries
from chimeqda.web.app import templates
from chimeqda.web.deps import ProjectCoderWrite, ProjectOwnerWrite, ProjectViewer

router = APIRouter()
_LANG_LINE = re.compile(r"^\[([A-Za-z-]{2,10})\]\s*(.+)$")
_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,199}$")


def _example_lines(pairs) -> str:
    return "\n".join(text if lang == "en" else f"[{lang}] {text}" for text, lang in pairs or [])


def _parse_examples(value: str) -> list[list[str]]:
    found = []
    for line in (value or "").splitlines():
        line = line.strip()
        if not line:
            continue
        match = _LANG_LINE.match(line)
        found.append([match.group(2), match.group(1).lower()] if match else [line, "en"])
    return found


@router.get("/projects/{project_id}/codebook")
def codebook(request: Request, access: ProjectViewer):
    with access.ws.session() as session:
        book_row, _ = project_codebook(session, access.project_id)
        rows = session.scalars(select(t.Code).where(t.Code.codebook_id == book_row.id).order_by(t.Code.position)).all()
        depth: dict[str, int] = {}
        codes = []
        for code in rows:
            depth[code.key] = depth.get(code.parent_key, -1) + 1 if code.parent_key else 0
            codes.append({
                "id": code.id, "key": code.key, "name": code.name, "parent": code.parent_key or "",
                "depth": depth[code.key], "definition": code.definition, "inclusion": code.inclusion,
                "exclusion": code.exclusion, "color": code.color or "",
                "examples": _example_lines(code.data.get("examples")),
                "counter_examples": _example_lines(code.data.get("counter_examples")),
            })
        book = {"name": book_row.name, "version": book_row.version, "description": book_row.description}
    return templates.TemplateResponse(
        request, "codebook.html",
        {"user": access.user, "access": access, "book": book, "codes": codes, "memos": queries.code_memos(access)},
    )


def _code_in_project(session, project_id: int, code_id: int) -> t.Code:
    code = session.get(t.Code, code_id)
    book = session.get(t.Codebook, code.codebook_id) if code else None
    if book is None or book.project_id != project_id:
        raise UnknownObject(f"no code {code_id} in this project")
    return code


@router.post("/projects/{project_id}/codebook/codes/{code_id}")
def edit_code(
    access: ProjectOwnerWrite, code_id: int, name: str = Form(...), definition: str = Form(""),
    inclusion: str = Form(""), exclusion: str = Form(""), examples: str = Form(""),
    counter_examples: str = Form(""), color: str = Form(""),
):
    if not name.strip():
        raise InvalidInput("a code needs a name", source="name")
    if color and not re.match(r"^#[0-9a-fA-F]{6}$", color):
        raise InvalidInput("colour must look like #1f77b4", source="color")
    with access.ws.session() as session:
        code = _code_in_project(session, access.project_id, code_id)
        code.name, code.definition = name.strip(), definition.strip()
        code.inclusion, code.exclusion = inclusion.strip(), exclusion.strip()
        code.color = color or code.color
        code.data = {
            **(code.data or {}), "examples": _parse_examples(examples),
            "counter_examples": _parse_examples(counter_examples),
        }
    return RedirectResponse(f"/projects/{access.project_id}/codebook#code-{code_id}", status_code=303)


@router.post("/projects/{project_id}/codebook/codes")
def add_code(access: ProjectOwnerWrite, key: str = Form(...), name: str = Form(...), parent: str = Form(""),
             definition: str = Form("")):
    key = key.strip().lower()
    if not _KEY.match(key):
        raise InvalidInput("a code id has lower-case letters, digits and . _ - (e.g. hope.goals)", source="key")
    with access.ws.session() as session:
        book_row, _ = project_codebook(session, access.project_id)
        keys = set(session.scalars(select(t.Code.key).where(t.Code.codebook_id == book_row.id)))
        if key in keys:
            raise InvalidInput(f"the codebook already has a code {key!r}", source="key")
        if parent and parent not in keys:
            raise InvalidInput(f"no parent code {parent!r}", source="parent")
        position = session.scalar(select(func.max(t.Code.position)).where(t.Code.codebook_id == book_row.id)) or 0
        code = t.Code(codebook_id=book_row.id, key=key, parent_key=parent or None, position=position + 1,
                      name=name.strip() or key, definition=definition.strip(), inclusion="", exclusion="", data={})
        session.add(code)
        session.flush()
        code_id = code.id
    return RedirectResponse(f"/projects/{access.project_id}/codebook#code-{code_id}", status_code=303)


@router.post("/projects/{project_id}/codebook/codes/{code_id}/memos")
def code_memo(access: ProjectCoderWrite, code_id: int, text: str = Form(...)):
    queries.add_memo(access, "code", code_id, text)
    return RedirectResponse(f"/projects/{access.project_id}/codebook#code-{code_id}", status_code=303)
