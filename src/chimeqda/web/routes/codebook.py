"""The codebook: definitions, inclusion and exclusion rules, examples; owners edit, coders add memos."""

from __future__ import annotations

import re

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from chimeqda.services import codebook as codebook_service
from chimeqda.services import memos
from chimeqda.services.project import project_codebook
from chimeqda.store import tables as t
from chimeqda.web import queries
from chimeqda.web.deps import ProjectCoderWrite, ProjectOwnerWrite, ProjectViewer
from chimeqda.web.pages import templates

router = APIRouter()
_LANG_LINE = re.compile(r"^\[([A-Za-z-]{2,10})\]\s*(.+)$")


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


@router.post("/projects/{project_id}/codebook/codes/{code_id}")
def edit_code(
    access: ProjectOwnerWrite, code_id: int, name: str = Form(...), definition: str = Form(""),
    inclusion: str = Form(""), exclusion: str = Form(""), examples: str = Form(""),
    counter_examples: str = Form(""), color: str = Form(""),
):
    codebook_service.update_code(
        access.ws, code_id, name=name, definition=definition, inclusion=inclusion, exclusion=exclusion,
        color=color, examples=_parse_examples(examples), counter_examples=_parse_examples(counter_examples),
    )
    return RedirectResponse(f"/projects/{access.project_id}/codebook#code-{code_id}", status_code=303)


@router.post("/projects/{project_id}/codebook/codes")
def add_code(access: ProjectOwnerWrite, key: str = Form(...), name: str = Form(...), parent: str = Form(""),
             definition: str = Form("")):
    code_id = codebook_service.add_code(access.ws, key, name, parent=parent, definition=definition)
    return RedirectResponse(f"/projects/{access.project_id}/codebook#code-{code_id}", status_code=303)


@router.post("/projects/{project_id}/codebook/codes/{code_id}/memos")
def code_memo(access: ProjectCoderWrite, code_id: int, text: str = Form(...)):
    memos.add_memo(access.ws, "code", code_id, text, by=access.user.username, blind=access.hides_others)
    return RedirectResponse(f"/projects/{access.project_id}/codebook#code-{code_id}", status_code=303)
