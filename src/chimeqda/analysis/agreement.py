"""Inter-coder agreement: percent agreement, Cohen's kappa, Krippendorff's alpha.

Pure functions on pandas/numpy data; nothing here reads a database.

Two kinds of input:

``data`` (the core statistics)
    A reliability matrix with one row per unit and one column per coder
    (a DataFrame or 2-D array). Cells hold the value a coder gave a unit;
    ``NaN``/``None`` means the coder did not rate the unit (missing data).
    This is the transpose of the layout in Krippendorff's papers and of the
    ``krippendorff`` package's ``reliability_data`` (coders in rows).
``ratings`` (the tables)
    Long format, one row per unit, code and coder: ``unit`` (a segment id),
    ``code``, ``coder`` and ``present`` (1 when the coder applied the code to
    the unit, 0 when the coder rated the unit and did not, ``NaN`` when the
    coder did not rate it), plus any grouping column such as ``document``.
    ``services.rigour.agreement_ratings`` builds it from a project.

All three statistics are functions of sums over units (of the coincidence
matrix, the two coders' confusion matrix and the counts of agreeing pairs),
so confidence intervals come from a fast cluster bootstrap: resample units
(or whole documents), add up their sums, recompute.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np
import pandas as pd

OVERALL = "(all codes)"
LEVELS = ("nominal", "interval")


# ---------------------------------------------------------------- per-unit sums


def _as_matrix(data) -> np.ndarray:
    """Units × coders as an object array with ``None`` for missing values."""
    array = np.asarray(data.to_numpy() if isinstance(data, pd.DataFrame) else data, dtype=object)
    if array.ndim != 2:
        raise ValueError(f"data must be two-dimensional (units × coders), not {array.ndim}-D")
    missing = pd.isna(pd.DataFrame(array)).to_numpy()
    array = array.copy()
    array[missing] = None
    return array


def _categories(array: np.ndarray) -> list[Hashable]:
    values = {value for value in array.ravel() if value is not None}
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


def _codes(array: np.ndarray, categories: Sequence[Hashable]) -> np.ndarray:
    """Category index per cell, -1 when missing."""
    lookup = {value: i for i, value in enumerate(categories)}
    return np.vectorize(lambda v: -1 if v is None else lookup[v], otypes=[int])(array) if array.size else (
        np.zeros(array.shape, dtype=int)
    )


def unit_sums(data, categories: Sequence[Hashable] | None = None) -> dict[str, np.ndarray]:
    """The additive per-unit pieces every statistic here is built from.

    Returns a dict of arrays with one entry per unit: ``coincidence``
    (units × C × C, Krippendorff's o_ck contributions), ``confusion``
    (units × C × C, first coder's value in rows; only units the first two
    coders both rated), ``agree`` and ``pairs`` (agreeing and all pairs of
    values within the unit), plus ``categories``.
    """
    array = _as_matrix(data)
    categories = list(categories) if categories is not None else _categories(array)
    codes = _codes(array, categories)
    return _sums_from_codes(codes, len(categories)) | {"categories": np.asarray(categories, dtype=object)}


def _sums_from_codes(codes: np.ndarray, n_categories: int) -> dict[str, np.ndarray]:
    units = codes.shape[0]
    counts = np.zeros((units, n_categories))
    for column in codes.T:
        rated = column >= 0
        counts[np.flatnonzero(rated), column[rated]] += 1
    m = counts.sum(axis=1)
    pairable = m >= 2
    outer = counts[:, :, None] * counts[:, None, :]
    outer[:, np.arange(n_categories), np.arange(n_categories)] -= counts
    coincidence = np.zeros_like(outer)
    coincidence[pairable] = outer[pairable] / (m[pairable] - 1)[:, None, None]
    confusion = np.zeros((units, n_categories, n_categories))
    if codes.shape[1] >= 2:
        both = (codes[:, 0] >= 0) & (codes[:, 1] >= 0)
        confusion[np.flatnonzero(both), codes[both, 0], codes[both, 1]] = 1
    agree = (counts * (counts - 1) / 2).sum(axis=1)
    pairs = m * (m - 1) / 2
    return {"coincidence": coincidence, "confusion": confusion, "agree": agree, "pairs": pairs}


def _delta(categories: Sequence[Hashable], level: str) -> np.ndarray:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    size = len(categories)
    if level == "nominal":
        return 1.0 - np.eye(size)
    values = np.asarray(categories, dtype=float)
    return (values[:, None] - values[None, :]) ** 2


def alpha_from_coincidence(coincidence: np.ndarray, delta: np.ndarray) -> float:
    """Krippendorff's alpha from a coincidence matrix and a squared-difference matrix."""
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n <= 1:
        return float("nan")
    observed = (coincidence * delta).sum()
    expected = (np.outer(n_c, n_c) * delta).sum() / (n - 1)
    if expected <= 0:
        return float("nan")
    return float(1.0 - observed / expected)


def kappa_from_confusion(confusion: np.ndarray) -> float:
    """Cohen's kappa from a confusion matrix (NaN when chance agreement is 1)."""
    total = confusion.sum()
    if total <= 0:
        return float("nan")
    observed = np.trace(confusion) / total
    expected = (confusion.sum(axis=1) @ confusion.sum(axis=0)) / total**2
    if expected >= 1:
        return float("nan")
    return float((observed - expected) / (1.0 - expected))


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")


# ---------------------------------------------------------------- the statistics


def krippendorff_alpha(data, *, level: str = "nominal") -> float:
    """Krippendorff's alpha for any number of coders, with missing data.

    Parameters
    ----------
    data : DataFrame or array-like
        Units in rows, coders in columns, NaN/None where a coder did not rate
        a unit. Units with fewer than two values are not pairable and are
        ignored, as Krippendorff prescribes.
    level : {"nominal", "interval"}
        The metric: nominal (any hashable values) or interval (numbers).

    Returns
    -------
    float
        Alpha, or NaN when it is undefined (fewer than two pairable values, or
        every pairable value the same).
    """
    sums = unit_sums(data)
    delta = _delta(list(sums["categories"]), level)
    return alpha_from_coincidence(sums["coincidence"].sum(axis=0), delta)


def cohen_kappa(a, b) -> float:
    """Cohen's kappa of two coders over the units both rated.

    Parameters
    ----------
    a, b : sequence
        The two coders' values per unit, aligned; NaN/None where a coder did
        not rate the unit (such units are left out).

    Returns
    -------
    float
        Kappa as scikit-learn's ``cohen_kappa_score`` computes it, NaN when
        undefined (no shared units, or chance agreement equal to 1).
    """
    data = pd.DataFrame({"a": list(a), "b": list(b)})
    sums = unit_sums(data)
    return kappa_from_confusion(sums["confusion"].sum(axis=0))


def percent_agreement(data) -> float:
    """Share of agreeing pairs of values within units, over all coders' pairs.

    For two coders this is the share of the units both rated on which they
    gave the same value. With more coders every pair of values within a unit
    counts once (missing values make no pairs).
    """
    sums = unit_sums(data)
    return _ratio(sums["agree"].sum(), sums["pairs"].sum())


# ---------------------------------------------------------------- bootstrap


def _statistics(totals: dict[str, np.ndarray], delta: np.ndarray, two_coders: bool) -> dict[str, float]:
    return {
        "percent_agreement": _ratio(totals["agree"], totals["pairs"]),
        "kappa": kappa_from_confusion(totals["confusion"]) if two_coders else float("nan"),
        "alpha": alpha_from_coincidence(totals["coincidence"], delta),
    }


STATISTICS = ("percent_agreement", "kappa", "alpha")


def bootstrap_statistics(
    sums: dict[str, np.ndarray],
    *,
    clusters: Sequence[Hashable] | None = None,
    level: str = "nominal",
    n_boot: int = 1000,
    ci: float = 0.95,
    random_state: int | None = 0,
    two_coders: bool = True,
) -> dict[str, float]:
    """Point estimates and percentile bootstrap intervals from :func:`unit_sums`.

    ``clusters`` gives each unit's cluster (e.g. its document): whole
    clusters are resampled, which respects the dependence of segments within
    an interview. Default: each unit is its own cluster. Replicates in which a
    statistic is undefined are dropped before taking percentiles.

    Returns
    -------
    dict
        ``percent_agreement``, ``kappa`` and ``alpha`` plus ``<name>_low`` and
        ``<name>_high`` for each.
    """
    delta = _delta(list(sums["categories"]), level)
    keys = ("coincidence", "confusion", "agree", "pairs")
    totals = {key: sums[key].sum(axis=0) for key in keys}
    result = _statistics(totals, delta, two_coders)
    for name in STATISTICS:
        result[f"{name}_low"] = result[f"{name}_high"] = float("nan")
    units = len(sums["agree"])
    if n_boot <= 0 or units == 0:
        return result
    if clusters is None:
        index = np.arange(units)
    else:
        index = pd.factorize(pd.Series(list(clusters)))[0]
    n_clusters = int(index.max()) + 1
    per_cluster = {
        key: np.stack([np.bincount(index, weights=sums[key].reshape(units, -1)[:, j], minlength=n_clusters)
                       for j in range(sums[key].reshape(units, -1).shape[1])], axis=1)
        for key in keys
    }
    rng = np.random.default_rng(random_state)
    draws = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    weights = np.stack([np.bincount(row, minlength=n_clusters) for row in draws]).astype(float)
    shapes = {key: sums[key].shape[1:] for key in keys}
    replicated = {key: weights @ per_cluster[key] for key in keys}
    values: dict[str, list[float]] = {name: [] for name in STATISTICS}
    for b in range(n_boot):
        boot = {key: replicated[key][b].reshape(shapes[key]) for key in keys}
        for name, value in _statistics(boot, delta, two_coders).items():
            values[name].append(value)
    tail = (1.0 - ci) / 2 * 100
    for name in STATISTICS:
        sample = np.asarray(values[name])
        sample = sample[~np.isnan(sample)]
        if len(sample) and not np.isnan(result[name]):
            low, high = np.percentile(sample, [tail, 100 - tail])
            result[f"{name}_low"], result[f"{name}_high"] = float(low), float(high)
    return result


# ---------------------------------------------------------------- tables


def _check_ratings(ratings: pd.DataFrame) -> None:
    missing = [c for c in ("unit", "code", "coder", "present") if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings lacks required column(s): {', '.join(missing)}")


def _wide(ratings: pd.DataFrame, coders: Sequence[str]) -> pd.DataFrame:
    wide = ratings.pivot_table(index=["unit", "code"], columns="coder", values="present", aggfunc="max",
                               dropna=False)
    return wide.reindex(columns=list(coders))


def agreement_table(
    ratings: pd.DataFrame,
    *,
    by: str | None = "code",
    coders: Sequence[str] | None = None,
    overall: bool = True,
    cluster: str | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    random_state: int | None = 0,
    names: Callable[[Hashable], str] | None = None,
) -> pd.DataFrame:
    """Agreement on code presence per group (code, document ...) and overall.

    Parameters
    ----------
    ratings : DataFrame
        Long ratings (see module docstring).
    by : str or None
        Column to group by: ``"code"`` (one row per code), ``"document"``
        (one row per document, all codes pooled), or None (overall only).
    coders : sequence of str, optional
        The coders to compare, in this order (default: all, sorted). Kappa is
        reported only for exactly two coders.
    overall : bool
        Add a row pooling every (unit, code) pair, labelled ``"(all codes)"``.
    cluster : str, optional
        Column of ``ratings`` whose values are resampled as whole clusters by
        the bootstrap (e.g. ``"document"``). Default: the unit (segment), so a
        segment's codes stay together.
    n_boot, ci, random_state
        Bootstrap replicates (0 for none), interval width and seed.
    names : callable, optional
        Maps a group value to a display name (column ``name``).

    Returns
    -------
    DataFrame
        One row per group with ``units`` (pairable (unit, code) pairs),
        ``coded_<coder>`` (units each coder coded present), ``both``
        (units all compared coders coded present), ``percent_agreement``,
        ``kappa``, ``alpha`` and their ``_low``/``_high`` bounds.
    """
    _check_ratings(ratings)
    coders = list(coders) if coders is not None else sorted(ratings["coder"].dropna().unique(), key=str)
    if len(coders) < 2:
        raise ValueError("agreement needs at least two coders")
    frame = ratings[ratings["coder"].isin(coders)]
    cluster_col = cluster or "unit"
    groups: list[tuple[Hashable, pd.DataFrame]] = []
    if by is not None:
        if by not in frame.columns:
            raise ValueError(f"ratings has no column {by!r}")
        groups = list(frame.groupby(by, sort=False, observed=True))
        if by == "code":  # keep codes in the order they first appear (the codebook order)
            order = list(pd.unique(ratings["code"]))
            groups.sort(key=lambda item: order.index(item[0]))
    if overall:
        groups.append((OVERALL, frame))
    rows = []
    for key, group in groups:
        clusters = group.groupby(["unit", "code"], sort=True)[cluster_col].first()
        wide = _wide(group, coders).reindex(clusters.index)
        sums = unit_sums(wide, categories=[0, 1])
        stats = bootstrap_statistics(sums, clusters=list(clusters), n_boot=n_boot, ci=ci,
                                     random_state=random_state, two_coders=len(coders) == 2)
        pairable = wide.notna().sum(axis=1) >= 2
        row: dict[str, object] = {by or "group": key}
        if names is not None:
            row["name"] = names(key)
        row["units"] = int(pairable.sum())
        for coder in coders:
            row[f"coded_{coder}"] = int((wide.loc[pairable, coder] == 1).sum())
        row["both"] = int((wide.loc[pairable] == 1).all(axis=1).sum())
        row.update(stats)
        rows.append(row)
    result = pd.DataFrame(rows)
    result.attrs["coders"] = coders
    return result


def pairwise_agreement(
    ratings: pd.DataFrame,
    *,
    coders: Sequence[str] | None = None,
    n_boot: int = 0,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Every pair of coders compared over all codes pooled: one row per pair."""
    _check_ratings(ratings)
    coders = list(coders) if coders is not None else sorted(ratings["coder"].dropna().unique(), key=str)
    rows = []
    for i, first in enumerate(coders):
        for second in coders[i + 1:]:
            table = agreement_table(ratings, by=None, coders=[first, second], n_boot=n_boot,
                                    random_state=random_state)
            row = table.iloc[0].drop(labels=["group", f"coded_{first}", f"coded_{second}"]).to_dict()
            rows.append({"coder_a": first, "coder_b": second, **row,
                         "coded_a": int(table.iloc[0][f"coded_{first}"]),
                         "coded_b": int(table.iloc[0][f"coded_{second}"])})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- character level


def _runs(regions: pd.DataFrame, spans: pd.DataFrame, coders: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the regions at every span boundary: per run its length, document and coders' 0/1."""
    lengths, documents, marks = [], [], []
    spans_by_doc = {doc: group for doc, group in spans.groupby("document", sort=False)}
    for doc, region in regions.groupby("document", sort=False):
        doc_spans = spans_by_doc.get(doc, spans.iloc[0:0])
        starts, ends = region["start"].to_numpy(int), region["end"].to_numpy(int)
        bounds = np.unique(np.concatenate([starts, ends, doc_spans["start"].to_numpy(int),
                                           doc_spans["end"].to_numpy(int)]))
        if len(bounds) < 2:
            continue

        def covered(lo: np.ndarray, hi: np.ndarray, bounds: np.ndarray = bounds) -> np.ndarray:
            change = np.zeros(len(bounds) + 1)
            np.add.at(change, np.searchsorted(bounds, lo), 1)
            np.add.at(change, np.searchsorted(bounds, hi), -1)
            return np.cumsum(change)[:-2] > 0  # one value per elementary interval

        inside = covered(starts, ends)
        pattern = np.stack([
            covered(doc_spans.loc[doc_spans["coder"] == coder, "start"].to_numpy(int),
                    doc_spans.loc[doc_spans["coder"] == coder, "end"].to_numpy(int))
            for coder in coders
        ], axis=1)
        width = np.diff(bounds)
        keep = inside & (width > 0)
        lengths.append(width[keep])
        marks.append(pattern[keep].astype(int))
        documents.append(np.full(int(keep.sum()), doc, dtype=object))
    if not lengths:
        return np.zeros(0), np.zeros(0, dtype=object), np.zeros((0, len(coders)), dtype=int)
    return np.concatenate(lengths).astype(float), np.concatenate(documents), np.concatenate(marks)


def character_agreement(
    spans: pd.DataFrame,
    regions: pd.DataFrame,
    *,
    coders: Sequence[str] | None = None,
    codes: Sequence[str] | None = None,
    n_boot: int = 0,
    ci: float = 0.95,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Unitised comparison of span codings, character by character.

    Every character inside ``regions`` is a unit; a coder marks it for a code
    when one of the coder's spans with that code covers it. Per code this gives
    the binary alpha over characters (Krippendorff's alpha with each character
    a unit, close to his unitising alpha for two values), the share of
    characters on which the coders agree, and the overlap of the marked
    characters (Jaccard index, the coders' union in the denominator).

    Parameters
    ----------
    spans : DataFrame
        ``document``, ``coder``, ``code``, ``start``, ``end`` (character
        offsets, end exclusive).
    regions : DataFrame
        ``document``, ``start``, ``end``: the text every coder read (e.g. the
        participant's segments of the documents compared). Regions must not
        overlap one another.
    coders, codes : sequence, optional
        Default: every coder, every code in ``spans``.
    n_boot, ci, random_state
        Bootstrap over documents (whole documents are resampled).

    Returns
    -------
    DataFrame
        One row per code plus ``"(all codes)"`` (characters × codes pooled):
        ``characters``, ``marked_<coder>``, ``marked_all``, ``marked_any``,
        ``jaccard``, ``percent_agreement``, ``alpha`` (+ bounds).
    """
    missing = [c for c in ("document", "coder", "code", "start", "end") if c not in spans.columns]
    if missing:
        raise ValueError(f"spans lacks column(s): {', '.join(missing)}")
    coders = list(coders) if coders is not None else sorted(spans["coder"].unique(), key=str)
    codes = list(codes) if codes is not None else list(pd.unique(spans["code"]))
    rows, pooled = [], []
    for code in codes:
        length, docs, marks = _runs(regions, spans[(spans["code"] == code) & spans["coder"].isin(coders)], coders)
        sums = _sums_from_codes(marks, 2)
        weighted = {key: sums[key] * length.reshape(-1, *([1] * (sums[key].ndim - 1)))
                    for key in ("coincidence", "confusion", "agree", "pairs")}
        weighted["categories"] = np.asarray([0, 1], dtype=object)
        pooled.append((weighted, docs))
        rows.append(_character_row(code, weighted, docs, length, marks, coders, n_boot, ci, random_state))
    if pooled:
        merged = {key: np.concatenate([w[key] for w, _ in pooled]) for key in ("coincidence", "confusion", "agree", "pairs")}
        merged["categories"] = np.asarray([0, 1], dtype=object)
        docs = np.concatenate([d for _, d in pooled])
        row = _character_row(OVERALL, merged, docs, None, None, coders, n_boot, ci, random_state)
        row["characters"] = int(sum(r["characters"] for r in rows))
        for coder in coders:
            row[f"marked_{coder}"] = int(sum(r[f"marked_{coder}"] for r in rows))
        row["marked_all"] = int(sum(r["marked_all"] for r in rows))
        row["marked_any"] = int(sum(r["marked_any"] for r in rows))
        row["jaccard"] = _ratio(row["marked_all"], row["marked_any"])
        rows.append(row)
    return pd.DataFrame(rows)


def _character_row(code, weighted, docs, length, marks, coders, n_boot, ci, random_state) -> dict:
    stats = bootstrap_statistics(weighted, clusters=list(docs) if len(docs) else None, n_boot=n_boot if len(docs) else 0,
                                 ci=ci, random_state=random_state, two_coders=len(coders) == 2)
    row: dict[str, object] = {"code": code}
    if length is not None:
        row["characters"] = int(length.sum())
        for i, coder in enumerate(coders):
            row[f"marked_{coder}"] = int(length[marks[:, i] == 1].sum()) if len(marks) else 0
        row["marked_all"] = int(length[(marks == 1).all(axis=1)].sum()) if len(marks) else 0
        row["marked_any"] = int(length[(marks == 1).any(axis=1)].sum()) if len(marks) else 0
        row["jaccard"] = _ratio(row["marked_all"], row["marked_any"])
    row.update({k: v for k, v in stats.items() if not k.startswith("kappa")})
    return row
