"""Quotes: exemplary segments per code, and a filter for coded segments."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model import Codebook
from ._prepare import code_names, level_codes, prepare_codings

QUOTE_COLUMNS = (
    "code",
    "name",
    "participant",
    "document",
    "text",
    "score",
    "status",
    "words",
    "document_id",
    "segment_id",
    "segment_index",
    "coder",
)

TYPICAL_WORDS = (15, 40)
"""Quotes of this many words read best in a results section."""


def _words(text: pd.Series) -> pd.Series:
    return text.fillna("").astype(str).str.split().str.len().fillna(0).astype(int)


def exemplar_quotes(
    codings: pd.DataFrame,
    codebook: Codebook,
    *,
    n: int = 3,
    level: str = "root",
    include_suggested: bool = False,
    min_words: int = 6,
) -> pd.DataFrame:
    """Pick the ``n`` strongest quotes for each code.

    Quotes are ranked by

    1. status: accepted before suggested;
    2. score, highest first; a coding without a score (made by a person) ranks
       as certain, score 1.0;
    3. length: quotes of 15-40 words first, then by how many words they fall
       short of 15 or beyond 40;
    4. document and position, for a stable order.

    The pick is spread over participants: every participant's best quote
    comes before anyone's second best, so a code gets at most one quote per
    participant unless there are fewer than ``n`` participants to quote.

    Parameters
    ----------
    codings : DataFrame
        One row per segment and code (see :mod:`chimeqda.analysis`).
    codebook : Codebook
        Gives the codes, their order and names.
    n : int
        Quotes per code (at most).
    level : {"root", "code", "all"}
        As for :func:`~chimeqda.analysis.code_frequencies`.
    include_suggested : bool
        Consider unreviewed machine suggestions (after every accepted quote).
    min_words : int
        Leave out segments with fewer words (0 keeps all).

    Returns
    -------
    DataFrame
        Up to ``n`` rows per code, codes in codebook order and quotes best
        first, with columns ``code``, ``name``, ``participant``,
        ``document``, ``text``, ``score``, ``status``, ``words``,
        ``document_id``, ``segment_id``, ``segment_index``, ``coder``. Codes
        without quotes have no rows.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n!r}")
    prepared = prepare_codings(codings, codebook, level=level, include_suggested=include_suggested)
    codes = level_codes(codebook, level)
    frame = prepared.assign(words=_words(prepared["text"]))
    frame = frame[frame["words"] >= min_words]
    if frame.empty or n == 0:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in QUOTE_COLUMNS})
    low, high = TYPICAL_WORDS
    words = frame["words"].to_numpy()
    frame = frame.assign(
        _code_order=frame["code"].map({code: i for i, code in enumerate(codes)}),
        _score=frame["score"].fillna(1.0),
        _length=np.maximum(low - words, 0) + np.maximum(words - high, 0),
        _who=frame["participant"].astype(object).where(frame["participant"].notna(), "\0none"),
    )
    frame = frame.sort_values(
        ["_code_order", "status_rank", "_score", "_length", "document_id", "segment_index"],
        ascending=[True, True, False, True, True, True],
        kind="stable",
    )
    frame["_round"] = frame.groupby(["code", "_who"], sort=False).cumcount()
    frame["_rank"] = np.arange(len(frame))
    frame = frame.sort_values(["_code_order", "_round", "_rank"], kind="stable")
    picked = frame.groupby("code", sort=False).head(n)
    names = dict(zip(codes, code_names(codebook, codes)))
    picked = picked.assign(name=picked["code"].map(names))
    return picked[list(QUOTE_COLUMNS)].reset_index(drop=True)


def coded_segments(
    codings: pd.DataFrame,
    codebook: Codebook,
    code: str | None = None,
    *,
    level: str = "root",
    include_suggested: bool = False,
    participant: str | None = None,
    document: str | int | None = None,
) -> pd.DataFrame:
    """The segments coded with ``code``, in document order.

    Parameters
    ----------
    codings, codebook, level, include_suggested
        As for :func:`~chimeqda.analysis.code_frequencies`. With
        ``level="root"`` (or ``"all"``) a top-level code also finds the
        segments coded with its sub-codes.
    code : str, optional
        A code id of the level; ``None`` keeps every code.
    participant : str, optional
        Keep only this participant's segments.
    document : str or int, optional
        Keep only this document (its name or its id).

    Returns
    -------
    DataFrame
        The matching rows of ``codings`` (one per segment and code, the code
        mapped to ``level``), sorted by document and position.
    """
    prepared = prepare_codings(codings, codebook, level=level, include_suggested=include_suggested)
    if code is not None:
        if code not in level_codes(codebook, level):
            raise ValueError(f"code {code!r} is not a code at level {level!r}")
        prepared = prepared[prepared["code"] == code]
    if participant is not None:
        prepared = prepared[prepared["participant"] == participant]
    if document is not None:
        prepared = prepared[(prepared["document"] == document) | (prepared["document_id"] == document)]
    return prepared.drop(columns="status_rank").reset_index(drop=True)
