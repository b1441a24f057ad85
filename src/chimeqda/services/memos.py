"""Memos: a researcher's notes on a document, a code or a coding (appended, one transaction each)."""

from __future__ import annotations

from sqlalchemy import select

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services.coding import check_may_touch
from chimeqda.services.project import Workspace, coder_row, human
from chimeqda.store import tables as t

MEMO_TARGETS = ("document", "code", "coding")
MAX_MEMO = 20_000


def add_memo(ws: Workspace, target_type: str, target_id: int, text: str, *, by: str, blind: bool = False) -> int:
    """Append ``by``'s memo to a document, code or coding of the project; returns its id.

    ``blind``: under blind coding a memo may go only on one's own codings and machine suggestions.
    """
    text = (text or "").strip()
    if target_type not in MEMO_TARGETS:
        raise InvalidInput(f"a memo belongs to one of {', '.join(MEMO_TARGETS)}", source="target_type")
    if not text:
        raise InvalidInput("the memo is empty", source="text")
    if len(text) > MAX_MEMO:
        raise InvalidInput(f"a memo has at most {MAX_MEMO:,} characters", source="text")
    with ws.session() as session:
        author = coder_row(session, human(by)).id
        if target_type == "document":
            found = session.scalar(select(t.Document.project_id).where(t.Document.id == target_id))
        elif target_type == "coding":
            event = session.get(t.CodingEvent, target_id)
            found = event.project_id if event is not None else None
            if event is not None and found == ws.project_id:
                check_may_touch(session, event, author, blind)
        else:
            found = session.scalar(
                select(t.Codebook.project_id).join(t.Code, t.Code.codebook_id == t.Codebook.id)
                .where(t.Code.id == target_id)
            )
        if found != ws.project_id:
            raise UnknownObject(f"no {target_type} {target_id} in this project")
        memo = t.Memo(project_id=ws.project_id, target_type=target_type, target_id=target_id, author_id=author,
                      text=text)
        session.add(memo)
        session.flush()
        return memo.id
