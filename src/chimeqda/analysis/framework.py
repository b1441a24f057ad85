"""The framework matrix of Ritchie & Spencer: participants × themes (pure functions).

Each cell holds the number of the participant's segments coded with the theme
(a theme counts its sub-codes), the linked quotes, and a summary. Summaries
come from the caller (persisted memos); :func:`draft_summary` makes an
extractive draft from the segments most representative of a cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..model import Codebook
from ._prepare import participant_ids, prepare_codings

CELL_COLUMNS = [
    "participant", "code", "name", "segments", "quotes", "segment_ids", "summary", "summary_author",
    "machine_drafted",
]


def draft_summary(texts: Sequence[str], *, sentences: int = 2, max_chars: int = 400) -> str:
    """An extractive summary: the ``sentences`` texts closest to the cell's centroid.

    The texts are compared as TF-IDF vectors (words and word pairs); the
    chosen ones are joined in their original order, so the draft reads in
    interview order. Deterministic; nothing is generated.
    """
    texts = [str(text).strip() for text in texts if str(text).strip()]
    if not texts:
        return ""
    chosen = representative(texts, n=sentences)
    draft = " … ".join(texts[i] for i in sorted(chosen))
    return draft if len(draft) <= max_chars else draft[: max_chars - 1].rstrip() + "…"


def representative(texts: Sequence[str], *, n: int = 3) -> list[int]:
    """Indices of the ``n`` texts most similar to the centroid, most typical first."""
    if len(texts) <= n:
        return list(range(len(texts)))
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        vectors = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    except ValueError:  # only stop words or punctuation
        return list(range(n))
    centroid = np.asarray(vectors.mean(axis=0)).ravel()
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel()) * (np.linalg.norm(centroid) or 1)
    similarity = (vectors @ centroid) / np.where(norms > 0, norms, 1)
    lengths = np.asarray([len(t.split()) for t in texts])
    similarity = np.where(lengths >= 5, similarity, similarity - 1)  # prefer full sentences
    return list(np.argsort(-similarity, kind="stable")[:n])


def framework_matrix(
    codings: pd.DataFrame,
    codebook: Codebook,
    participants: pd.DataFrame | None = None,
    *,
    codes: Sequence[str] | None = None,
    include_suggested: bool = False,
    summaries: Mapping[tuple[str, str], tuple[str, str, bool]] | None = None,
    n_quotes: int = 3,
) -> pd.DataFrame:
    """One row per participant and theme: counts, quotes and summary.

    Parameters
    ----------
    codings, codebook, participants, include_suggested
        As in :mod:`chimeqda.analysis`; every participant of ``participants``
        gets a row per theme, also without codings.
    codes : sequence of str, optional
        The themes (default: the top-level codes). A coding counts for a theme
        when its code is the theme or below it.
    summaries : mapping, optional
        ``(participant, code) -> (text, author, machine_drafted)`` (the latest
        memo of each cell).
    n_quotes : int
        Linked quotes kept per cell, most representative first.

    Returns
    -------
    DataFrame
        Columns ``participant``, ``code``, ``name``, ``segments``, ``quotes``
        (a list of quote texts), ``segment_ids`` (all linked segments, in
        interview order), ``summary``, ``summary_author`` and
        ``machine_drafted``, participants in ``participants`` order and
        themes in the given order.
    """
    themes = list(codes) if codes is not None else [code.id for code in codebook.top_level]
    unknown = [code for code in themes if code not in codebook]
    if unknown:
        raise ValueError(f"not in the codebook: {', '.join(unknown)}")
    prepared = prepare_codings(codings, codebook, level="all", include_suggested=include_suggested)
    prepared = prepared[prepared["code"].isin(themes)].dropna(subset=["participant"])
    people = participant_ids(participants, prepared)
    grouped = {key: group for key, group in prepared.groupby(["participant", "code"], sort=False)}
    summaries = summaries or {}
    rows = []
    for person in people:
        for theme in themes:
            group = grouped.get((person, theme))
            texts: list[str] = []
            ids: list[int] = []
            if group is not None:
                group = group.drop_duplicates("segment_id")
                texts = [str(t) for t in group["text"]]
                ids = [int(i) for i in group["segment_id"]]
            quotes = [texts[i] for i in representative(texts, n=n_quotes)] if texts else []
            text, author, machine = summaries.get((str(person), theme), ("", "", False))
            rows.append({
                "participant": person, "code": theme, "name": codebook[theme].name, "segments": len(ids),
                "quotes": quotes, "segment_ids": ids, "summary": text, "summary_author": author,
                "machine_drafted": bool(machine and text),
            })
    return pd.DataFrame(rows, columns=CELL_COLUMNS)


def framework_wide(
    cells: pd.DataFrame,
    value: str = "segments",
    participants: pd.DataFrame | None = None,
    *,
    sort_by: Sequence[str] = (),
    attributes: Sequence[str] = (),
) -> pd.DataFrame:
    """Participants × themes of one cell field (``segments``, ``summary`` ...).

    ``attributes`` (columns of ``participants``) are put first; rows are
    sorted by ``sort_by`` (attribute names, or theme ids for the value),
    participant id last. Column headings are theme names.
    """
    wide = cells.pivot(index="participant", columns="code", values=value)
    themes = list(pd.unique(cells["code"]))
    names = dict(zip(cells["code"], cells["name"]))
    wide = wide.reindex(index=list(pd.unique(cells["participant"])), columns=themes)
    info = pd.DataFrame(index=wide.index)
    wanted = list(dict.fromkeys([*attributes, *[s for s in sort_by if s not in themes]]))
    if wanted:
        if participants is None:
            raise ValueError("participants are needed to show or sort by attributes")
        missing = [a for a in wanted if a not in participants.columns]
        if missing:
            raise ValueError(f"no participant attribute {', '.join(missing)}")
        info = participants.drop_duplicates("participant").set_index("participant")[wanted].reindex(wide.index)
    table = info.join(wide)
    if sort_by:
        table = table.sort_values([*sort_by], kind="stable", na_position="last")
    table = table.rename(columns=names)
    table.index.name = "participant"
    return table
