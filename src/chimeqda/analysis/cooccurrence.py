"""Which codes occur together: in the same segment or within a few segments.

Units
-----
With ``window=0`` the unit is the segment: two codes co-occur in a unit when
one segment carries both. With ``window=k`` every segment ``i`` of a document
opens a unit, the window of segments ``i-k`` to ``i+k`` (by
``segment_index``, within the same document, across speaker turns); a code is
present in the unit when any segment in that window carries it. ``n_a`` is
the number of units where code ``a`` is present and ``n_ab`` the number where
both ``a`` and ``b`` are. Windows make neighbouring codings (an answer coded
Hope right after one coded Connectedness) count as linked.

Units that contain no code add nothing to any count, so the set of units only
matters at the document edges: with ``segments`` given, the units are exactly
the segments listed there; without it, the units are the positions 0 to the
highest coded ``segment_index`` of each document.

Measures
--------
``jaccard = n_ab / (n_a + n_b - n_ab)``. ``c_coefficient`` uses the formula of
the ATLAS.ti code co-occurrence table, ``n12 / (n1 + n2 - n12)``, where
ATLAS.ti counts quotations. Our quotations are segments (or windows), so
``n1 = n_a``, ``n2 = n_b`` and ``n12 = n_ab`` and the two columns are
*identical*; both are kept so that tables read like ATLAS.ti's and like the
set-similarity literature. Both lie in [0, 1] and are 0 when neither code
occurs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model import Codebook
from ._prepare import code_names, level_codes, prepare_codings

COOCCURRENCE_COLUMNS = (
    "code_a",
    "code_b",
    "name_a",
    "name_b",
    "n_a",
    "n_b",
    "n_ab",
    "jaccard",
    "c_coefficient",
)


def _presence(
    codings: pd.DataFrame,
    codebook: Codebook,
    *,
    segments: pd.DataFrame | None,
    window: int,
    level: str,
    include_suggested: bool,
) -> tuple[np.ndarray, list[str]]:
    """A units x codes boolean matrix (only units with at least one code)."""
    if window < 0 or int(window) != window:
        raise ValueError(f"window must be a whole number >= 0, not {window!r}")
    window = int(window)
    prepared = prepare_codings(codings, codebook, level=level, include_suggested=include_suggested)
    codes = level_codes(codebook, level)
    code_pos = pd.Series(np.arange(len(codes)), index=codes)
    if prepared.empty:
        return np.zeros((0, len(codes)), dtype=bool), codes

    if window == 0:
        unit = prepared["segment_id"].to_numpy()
        column = prepared["code"].map(code_pos).to_numpy()
    else:
        doc = prepared["document_id"].to_numpy()
        idx = prepared["segment_index"].to_numpy().astype(np.int64)
        col = prepared["code"].map(code_pos).to_numpy()
        offsets = np.arange(-window, window + 1)
        units = pd.DataFrame(
            {
                "document_id": np.repeat(doc, len(offsets)),
                "unit_index": (idx[:, None] + offsets[None, :]).ravel(),
                "column": np.repeat(col, len(offsets)),
            }
        )
        if segments is not None:
            valid = segments[["document_id", "segment_index"]].drop_duplicates()
            valid = valid.rename(columns={"segment_index": "unit_index"})
            valid = valid.astype({"unit_index": np.int64})
            units = units.merge(valid, on=["document_id", "unit_index"], how="inner")
        else:
            last = prepared.groupby("document_id")["segment_index"].max()
            upper = units["document_id"].map(last).to_numpy()
            keep = (units["unit_index"].to_numpy() >= 0) & (units["unit_index"].to_numpy() <= upper)
            units = units[keep]
        unit = pd.MultiIndex.from_arrays([units["document_id"], units["unit_index"]])
        column = units["column"].to_numpy()

    rows, _ = pd.factorize(unit) if not isinstance(unit, pd.MultiIndex) else unit.factorize()
    matrix = np.zeros((int(rows.max()) + 1 if len(rows) else 0, len(codes)), dtype=bool)
    matrix[rows, column] = True
    return matrix, codes


def _counts(matrix: np.ndarray) -> np.ndarray:
    """Codes x codes units with both (the diagonal: units with the code)."""
    as_float = matrix.astype(np.float64)
    return np.rint(as_float.T @ as_float).astype(np.int64)


def cooccurrence(
    codings: pd.DataFrame,
    codebook: Codebook,
    *,
    segments: pd.DataFrame | None = None,
    window: int = 0,
    level: str = "root",
    include_suggested: bool = False,
) -> pd.DataFrame:
    """Count how often each pair of codes occurs in the same unit.

    See the module docstring for what a unit is with and without a window.

    Parameters
    ----------
    codings : DataFrame
        One row per segment and code (see :mod:`chimeqda.analysis`).
    codebook : Codebook
        Gives the codes, their order, names and hierarchy.
    segments : DataFrame, optional
        Every segment of the documents (``document_id``, ``segment_index``);
        with ``window > 0`` it fixes the units at document edges.
    window : int
        0 for the same segment; ``k`` for within ``k`` segments.
    level : {"root", "code", "all"}
        As for :func:`~chimeqda.analysis.code_frequencies`. With ``"all"`` a
        sub-code always co-occurs with its ancestors.
    include_suggested : bool
        Count unreviewed machine suggestions as well.

    Returns
    -------
    DataFrame
        One row per unordered pair ``code_a``/``code_b`` of the level's codes
        (``code_a`` before ``code_b`` in codebook order, zero pairs
        included), with ``name_a``, ``name_b``, ``n_a``, ``n_b``, ``n_ab``,
        ``jaccard`` and ``c_coefficient`` (identical to ``jaccard``, see the
        module docstring).
    """
    matrix, codes = _presence(
        codings,
        codebook,
        segments=segments,
        window=window,
        level=level,
        include_suggested=include_suggested,
    )
    return pair_table(_counts(matrix), codes, codebook, window=window, level=level,
                      include_suggested=include_suggested)


def pair_table(counts: np.ndarray, codes: list[str], codebook: Codebook, *, window: int, level: str,
               include_suggested: bool) -> pd.DataFrame:
    """The :func:`cooccurrence` table from a codes x codes matrix of units with both codes (diagonal: with the code).

    Shared with the SQL path of large projects (``services.sql_tables``).
    """
    a, b = np.triu_indices(len(codes), k=1)
    n_a = counts.diagonal()[a]
    n_b = counts.diagonal()[b]
    n_ab = counts[a, b]
    union = n_a + n_b - n_ab
    with np.errstate(divide="ignore", invalid="ignore"):
        jaccard = np.where(union > 0, n_ab / np.maximum(union, 1), 0.0)
    names = code_names(codebook, codes)
    result = pd.DataFrame(
        {
            "code_a": [codes[i] for i in a],
            "code_b": [codes[i] for i in b],
            "name_a": [names[i] for i in a],
            "name_b": [names[i] for i in b],
            "n_a": n_a,
            "n_b": n_b,
            "n_ab": n_ab,
            "jaccard": jaccard,
            "c_coefficient": jaccard.copy(),
        },
        columns=list(COOCCURRENCE_COLUMNS),
    )
    result.attrs.update(window=window, level=level, include_suggested=include_suggested)
    return result


def cooccurrence_matrix(
    codings: pd.DataFrame,
    codebook: Codebook,
    *,
    segments: pd.DataFrame | None = None,
    window: int = 0,
    level: str = "root",
    include_suggested: bool = False,
) -> pd.DataFrame:
    """Co-occurrence counts as a square code x code table.

    Parameters are those of :func:`cooccurrence`.

    Returns
    -------
    DataFrame
        Index and columns are the level's code ids in codebook order; cell
        ``[a, b]`` is ``n_ab`` and the diagonal ``[a, a]`` is ``n_a``. The
        table is symmetric.
    """
    matrix, codes = _presence(
        codings,
        codebook,
        segments=segments,
        window=window,
        level=level,
        include_suggested=include_suggested,
    )
    result = pd.DataFrame(
        _counts(matrix),
        index=pd.Index(codes, name="code_a"),
        columns=pd.Index(codes, name="code_b"),
    )
    result.attrs.update(window=window, level=level, include_suggested=include_suggested)
    return result


def most_linked(
    cooccurrence_df: pd.DataFrame, code: str, *, by: str = "c_coefficient"
) -> pd.DataFrame:
    """The other codes ordered by how strongly they are linked to ``code``.

    Parameters
    ----------
    cooccurrence_df : DataFrame
        The result of :func:`cooccurrence`.
    code : str
        The code id to look from.
    by : str
        The column to sort by, descending (``"c_coefficient"``,
        ``"jaccard"`` or ``"n_ab"``); ties are broken by ``n_ab`` and then
        codebook order.

    Returns
    -------
    DataFrame
        One row per other code with ``code``, ``name``, ``n_code`` (units
        with ``code``), ``n_other``, ``n_ab``, ``jaccard``,
        ``c_coefficient`` and ``share_of_code`` (``n_ab / n_code``: the share
        of ``code``'s units that also hold the other code).
    """
    if by not in ("c_coefficient", "jaccard", "n_ab"):
        raise ValueError(f"by must be 'c_coefficient', 'jaccard' or 'n_ab', not {by!r}")
    df = cooccurrence_df
    if code not in set(df["code_a"]) | set(df["code_b"]):
        raise ValueError(f"code {code!r} is not in the co-occurrence table")
    as_a = df[df["code_a"] == code]
    as_b = df[df["code_b"] == code]
    rows = pd.concat(
        [
            pd.DataFrame(
                {
                    "code": as_a["code_b"],
                    "name": as_a["name_b"],
                    "n_code": as_a["n_a"],
                    "n_other": as_a["n_b"],
                }
            ),
            pd.DataFrame(
                {
                    "code": as_b["code_a"],
                    "name": as_b["name_a"],
                    "n_code": as_b["n_b"],
                    "n_other": as_b["n_a"],
                }
            ),
        ]
    )
    source = pd.concat([as_a, as_b])
    for column in ("n_ab", "jaccard", "c_coefficient"):
        rows[column] = source[column]
    rows["share_of_code"] = rows["n_ab"] / rows["n_code"].where(rows["n_code"] > 0)
    order = {c: i for i, c in enumerate(dict.fromkeys([*df["code_a"], *df["code_b"]]))}
    rows["_order"] = rows["code"].map(order)
    rows = rows.sort_values([by, "n_ab", "_order"], ascending=[False, False, True], kind="stable")
    return rows.drop(columns="_order").reset_index(drop=True)
