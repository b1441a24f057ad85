"""Shared input handling for the analysis functions.

Every public analysis function starts from the same ``codings`` frame (one row
per segment and code, see :mod:`chimeqda.analysis`). This module validates it,
keeps the statuses that count, maps codes to the requested level and removes
duplicates, so that each function only has to count.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..model import Codebook

Level = Literal["root", "code", "all"]
LEVELS: tuple[str, ...] = ("root", "code", "all")

CODING_COLUMNS: tuple[str, ...] = (
    "document_id",
    "document",
    "participant",
    "segment_id",
    "segment_index",
    "turn",
    "text",
    "code",
    "status",
    "score",
    "coder",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("document_id", "segment_id", "code", "status")
COUNTED_STATUSES: tuple[str, ...] = ("accepted", "suggested")


def level_codes(codebook: Codebook, level: str) -> list[str]:
    """The code ids a table at ``level`` has rows for, in codebook order."""
    check_level(level)
    if level == "root":
        return [code.id for code in codebook.top_level]
    return [code.id for code in codebook.codes]


def check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")


def empty_codings() -> pd.DataFrame:
    """A codings frame with the contract's columns and no rows."""
    return pd.DataFrame({column: pd.Series(dtype=object) for column in CODING_COLUMNS})


def prepare_codings(
    codings: pd.DataFrame,
    codebook: Codebook,
    *,
    level: str = "root",
    include_suggested: bool = False,
) -> pd.DataFrame:
    """Codings that count, mapped to ``level``, one row per segment and code.

    Rows whose status is neither ``accepted`` nor (with ``include_suggested``)
    ``suggested`` are dropped. ``level="root"`` replaces each code by its
    top-level ancestor; ``"code"`` keeps codes as coded; ``"all"`` repeats each
    coding for the code and every ancestor. When a segment then carries a code
    more than once, the row kept is the accepted one, else the highest score.

    Missing optional columns are added (``participant`` as missing, ``score``
    as NaN, ``segment_index`` from ``segment_id`` ...). A ``status_rank``
    column (0 accepted, 1 suggested) is added for sorting.

    Raises
    ------
    ValueError
        When a required column is missing or ``level`` is unknown.
    InvalidInput
        When a coding uses a code that is not in the codebook.
    """
    check_level(level)
    if not isinstance(codings, pd.DataFrame):
        raise TypeError(f"codings must be a pandas DataFrame, not {type(codings).__name__}")
    missing = [column for column in REQUIRED_COLUMNS if column not in codings.columns]
    if missing:
        raise ValueError(f"codings lacks required column(s): {', '.join(missing)}")
    frame = codings.copy()
    defaults = {
        "document": frame["document_id"].astype(str) if len(frame) else None,
        "participant": np.nan,
        "segment_index": frame["segment_id"],
        "turn": 0,
        "text": "",
        "score": np.nan,
        "coder": "",
    }
    for column, default in defaults.items():
        if column not in frame.columns:
            frame[column] = default

    statuses = ("accepted", "suggested") if include_suggested else ("accepted",)
    frame = frame[frame["status"].isin(statuses)]

    codes = pd.unique(frame["code"])
    unknown = sorted(str(code) for code in codes if code not in codebook)
    if unknown:
        raise InvalidInput(
            f"code(s) not in codebook {codebook.id!r}: {', '.join(unknown)}; "
            "load the codebook the codings were made with",
            source="codings",
        )

    if level == "root":
        mapping = {code: codebook.root_of(code) for code in codes}
        frame = frame.assign(code=frame["code"].map(mapping))
    elif level == "all":
        lineage = {code: _with_ancestors(codebook, code) for code in codes}
        frame = frame.assign(code=frame["code"].map(lineage)).explode("code")

    frame = frame.assign(
        status_rank=np.where(frame["status"] == "accepted", 0, 1),
        score=pd.to_numeric(frame["score"], errors="coerce").astype(float),
    )
    frame = frame.sort_values(
        ["status_rank", "score"], ascending=[True, False], na_position="first", kind="stable"
    )
    frame = frame.drop_duplicates(["segment_id", "code"], keep="first")
    frame = frame.sort_values(["document_id", "segment_index", "segment_id"], kind="stable")
    return frame.reset_index(drop=True)


def _with_ancestors(codebook: Codebook, code_id: str) -> list[str]:
    found = [code_id]
    code = codebook[code_id]
    while code.parent is not None:
        found.append(code.parent)
        code = codebook[code.parent]
    return found


def participant_ids(participants: pd.DataFrame | None, codings: pd.DataFrame) -> pd.Index:
    """Every participant a denominator counts, in the ``participants`` order.

    Participants that appear in ``codings`` but not in ``participants`` are
    appended (sorted), so that a share can never exceed one. Missing ids
    (None/NaN) are never participants.
    """
    known: list[object] = []
    if participants is not None:
        if "participant" not in participants.columns:
            raise ValueError("participants lacks the 'participant' column")
        known = list(pd.unique(participants["participant"].dropna()))
    if "participant" in codings.columns:
        seen = set(known)
        extra = sorted(
            {p for p in codings["participant"].dropna().unique() if p not in seen}, key=str
        )
        known.extend(extra)
    return pd.Index(known, name="participant", dtype=object)


def code_names(codebook: Codebook, codes: list[str]) -> list[str]:
    return [codebook[code].name for code in codes]
