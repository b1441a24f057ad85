"""What ``chimeqda llm serve`` and ``llm check`` read from a project: codebook, research question, segments."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from chimeqda.model import Codebook, Segment
from chimeqda.services.coding import project_segments
from chimeqda.services.project import Workspace, project_codebook
from chimeqda.store import tables as t


@dataclass(frozen=True)
class PromptMaterial:
    """The project's codebook and research question (the prompt), and the segments a coding run would send."""

    codebook: Codebook
    research_question: str
    segments: list[Segment]


def prompt_material(ws: Workspace) -> PromptMaterial:
    """The project's codebook, research question and participant segments (with context), read only."""
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
        question = session.scalar(select(t.Project.research_question).where(t.Project.id == ws.project_id))
        segments = project_segments(session, ws.project_id)
    return PromptMaterial(book, " ".join(str(question or book.research_question or "").split()), segments)
