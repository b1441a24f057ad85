"""Thematic saturation: new codes per successive interview (pure functions).

The input is a codings frame (see :mod:`chimeqda.analysis`) plus the order in
which the interviews were held. ``saturation_curve`` counts, interview by
interview, the codes seen for the first time and the cumulative share of all
codes found; ``saturation_point`` applies the base-size / run-length rule of
Guest, Namey & Chen (2020, PLoS ONE 15(5): e0232076); ``saturation_bootstrap``
repeats both over random interview orders, since the curve of one order is
partly an accident of who was interviewed first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..model import Codebook
from ._prepare import prepare_codings


def code_presence(
    codings: pd.DataFrame,
    codebook: Codebook,
    documents: Sequence[object],
    *,
    level: str = "code",
    include_suggested: bool = False,
) -> pd.DataFrame:
    """Documents × codes, 1 when a document carries the code (rows in ``documents`` order).

    ``documents`` are ``document_id`` values in interview order; documents
    without codings get a row of zeros. Codes never used are left out.
    """
    prepared = prepare_codings(codings, codebook, level=level, include_suggested=include_suggested)
    prepared = prepared[prepared["document_id"].isin(list(documents))]
    if prepared.empty:
        return pd.DataFrame(index=pd.Index(list(documents), name="document_id"))
    table = pd.crosstab(prepared["document_id"], prepared["code"]).clip(upper=1)
    order = [code.id for code in codebook.codes if code.id in table.columns]
    return table.reindex(index=list(documents), columns=order).fillna(0).astype(int).rename_axis(
        index="document_id", columns="code"
    )


def _curve(presence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New codes per position and cumulative distinct codes (any leading axes)."""
    seen = np.maximum.accumulate(presence, axis=-2)
    cumulative = seen.sum(axis=-1)
    previous = np.concatenate([np.zeros_like(cumulative[..., :1]), cumulative[..., :-1]], axis=-1)
    return cumulative - previous, cumulative


def saturation_curve(presence: pd.DataFrame, labels: Sequence[object] | None = None) -> pd.DataFrame:
    """New and cumulative codes per successive interview.

    Parameters
    ----------
    presence : DataFrame
        Documents × codes, 0/1, rows in interview order (see :func:`code_presence`).
    labels : sequence, optional
        A label per document (a participant id, a file name) for the table.

    Returns
    -------
    DataFrame
        One row per interview: ``position`` (1-based), ``document_id``,
        ``label``, ``codes`` (codes in this interview), ``new_codes`` (seen for
        the first time), ``new_code_ids`` (comma-separated), ``cumulative``
        and ``coverage`` (cumulative / all codes found, 0-1).
    """
    values = presence.to_numpy(dtype=int)
    total = values.any(axis=0).sum() if values.size else 0
    new, cumulative = _curve(values) if values.size else (np.zeros(len(presence), int),) * 2
    seen_before = np.zeros(values.shape[1], dtype=bool)
    new_ids = []
    for row in values.astype(bool):
        fresh = row & ~seen_before
        new_ids.append(", ".join(presence.columns[fresh]))
        seen_before |= row
    return pd.DataFrame(
        {
            "position": np.arange(1, len(presence) + 1),
            "document_id": list(presence.index),
            "label": list(labels) if labels is not None else [str(i) for i in presence.index],
            "codes": values.sum(axis=1) if values.size else 0,
            "new_codes": new,
            "new_code_ids": new_ids,
            "cumulative": cumulative,
            "coverage": cumulative / total if total else np.nan,
        }
    )


def saturation_point(
    new_codes: Sequence[int], *, base: int = 4, run: int = 2, threshold: float = 0.05
) -> dict[str, object]:
    """The base-size / run-length rule of Guest, Namey & Chen (2020).

    The *base* is the first ``base`` interviews; its distinct codes are the
    denominator. A *run* is ``run`` consecutive interviews after the base;
    runs roll forward one interview at a time. The new information of a run
    is the number of codes first seen in it (not in any earlier interview),
    and saturation is reached at the end of the first run whose new
    information is at most ``threshold`` of the base's codes.

    Parameters
    ----------
    new_codes : sequence of int
        New codes per interview in order (``saturation_curve()["new_codes"]``).
    base, run : int
        Base size and run length (Guest et al. suggest 4 and 2 or 3).
    threshold : float
        Largest share of new information that still counts as saturated
        (0.05 or 0 in Guest et al.).

    Returns
    -------
    dict
        ``reached`` (bool), ``position`` (the interview at which saturation
        was reached, or None), ``base_codes``, ``run_new`` and ``ratio`` of the
        deciding run (or of the last run examined), and ``label`` such as
        ``"4+2"``.
    """
    if base < 1 or run < 1:
        raise ValueError("base and run must be at least 1")
    new = np.asarray(list(new_codes), dtype=int)
    base_codes = int(new[:base].sum())
    result: dict[str, object] = {
        "reached": False, "position": None, "base_codes": base_codes, "run_new": None, "ratio": None,
        "label": "", "base": base, "run": run, "threshold": threshold,
    }
    if len(new) < base + run or base_codes == 0:
        return result
    for start in range(base, len(new) - run + 1):
        in_run = int(new[start:start + run].sum())
        ratio = in_run / base_codes
        result.update(run_new=in_run, ratio=ratio)
        if ratio <= threshold:
            end = start + run
            result.update(reached=True, position=end, label=f"{start}+{run}")
            break
    return result


def saturation_bootstrap(
    presence: pd.DataFrame,
    *,
    n_orders: int = 1000,
    base: int = 4,
    run: int = 2,
    threshold: float = 0.05,
    ci: float = 0.95,
    random_state: int | None = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Saturation over random interview orders.

    Returns
    -------
    (curve, points)
        ``curve``: one row per position with the mean, and the percentile
        interval (``ci``), of ``cumulative`` and ``coverage`` over orders,
        and ``saturated_share`` (orders whose saturation point is at or before
        this position). ``points``: one row per order with ``position`` (NaN
        when not reached) and ``order`` (document ids, comma-separated).
    """
    values = presence.to_numpy(dtype=int)
    n_docs = len(presence)
    rng = np.random.default_rng(random_state)
    orders = np.stack([rng.permutation(n_docs) for _ in range(n_orders)]) if n_docs else np.zeros((n_orders, 0), int)
    shuffled = values[orders] if n_docs else np.zeros((n_orders, 0, values.shape[1]))
    new, cumulative = _curve(shuffled)
    total = values.any(axis=0).sum() if values.size else 0
    tail = (1 - ci) / 2 * 100
    points = [saturation_point(row, base=base, run=run, threshold=threshold)["position"] for row in new]
    positions = np.asarray([np.nan if p is None else p for p in points], dtype=float)
    coverage = cumulative / total if total else np.full(cumulative.shape, np.nan)
    curve = pd.DataFrame(
        {
            "position": np.arange(1, n_docs + 1),
            "cumulative_mean": cumulative.mean(axis=0) if n_orders else np.nan,
            "cumulative_low": np.percentile(cumulative, tail, axis=0) if n_orders else np.nan,
            "cumulative_high": np.percentile(cumulative, 100 - tail, axis=0) if n_orders else np.nan,
            "coverage_mean": coverage.mean(axis=0) if n_orders else np.nan,
            "coverage_low": np.percentile(coverage, tail, axis=0) if n_orders else np.nan,
            "coverage_high": np.percentile(coverage, 100 - tail, axis=0) if n_orders else np.nan,
            "saturated_share": [float(np.mean(positions <= k)) for k in range(1, n_docs + 1)],
        }
    )
    ids = list(presence.index)
    table = pd.DataFrame(
        {"position": positions, "order": [", ".join(str(ids[i]) for i in row) for row in orders]}
    )
    return curve, table
