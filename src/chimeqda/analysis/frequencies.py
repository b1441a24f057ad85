"""How often each code is used: by segments, documents and participants."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..model import Codebook
from ._prepare import code_names, level_codes, participant_ids, prepare_codings


def mentioned_by(n: int, total: int, unit: str = "participant") -> str:
    """``"3 of 11 participants"`` (singular when ``total`` is one; ``unit="document"`` for documents)."""
    return f"{n} of {total} {unit if total == 1 else unit + 's'}"


def code_frequencies(
    codings: pd.DataFrame,
    codebook: Codebook,
    participants: pd.DataFrame | None = None,
    *,
    level: str = "root",
    include_suggested: bool = False,
) -> pd.DataFrame:
    """Count segments, documents and participants per code.

    Parameters
    ----------
    codings : DataFrame
        One row per segment and code (see :mod:`chimeqda.analysis`).
    codebook : Codebook
        Gives the codes, their order, names and hierarchy.
    participants : DataFrame, optional
        One row per participant of the project in a ``participant`` column.
        All of them form the denominator, including those without codings.
        Participants found only in ``codings`` are added to it.
    level : {"root", "code", "all"}
        ``"root"`` rolls sub-codes up to their top-level code; ``"code"``
        keeps codes as coded; ``"all"`` counts a coding for its code and
        every ancestor.
    include_suggested : bool
        Count machine suggestions that nobody has accepted yet as well.

    Returns
    -------
    DataFrame
        Indexed by code id (``code``) in codebook order, every code of the
        level included (zeros too), with columns ``name``, ``parent``,
        ``depth``, ``segments``, ``documents``, ``participants``,
        ``participants_total``, ``participant_share`` (0-1, NaN without
        participants) and ``mentioned_by`` (``"n of N participants"``).
        Codings without a participant id count for segments and documents
        only.
    """
    prepared = prepare_codings(codings, codebook, level=level, include_suggested=include_suggested)
    total = len(participant_ids(participants, prepared))
    grouped = prepared.groupby("code", sort=False)
    counts = pd.DataFrame(
        {
            "segments": grouped["segment_id"].nunique(),
            "documents": grouped["document_id"].nunique(),
            "participants": grouped["participant"].nunique(dropna=True),
        }
    )
    return frequency_table(counts, codebook, level=level, participants_total=total)


def frequency_table(counts: pd.DataFrame, codebook: Codebook, *, level: str, participants_total: int) -> pd.DataFrame:
    """The :func:`code_frequencies` table from counts per code (columns ``segments``, ``documents``, ``participants``).

    Shared with the SQL path of large projects (``services.sql_tables``).
    """
    codes = level_codes(codebook, level)
    total = participants_total
    counts = counts.reindex(codes).fillna(0).astype(int)
    result = pd.DataFrame(
        {
            "name": code_names(codebook, codes),
            "parent": [codebook[code].parent for code in codes],
            "depth": [_depth(codebook, code) for code in codes],
        },
        index=pd.Index(codes, name="code"),
    )
    result = result.join(counts)
    result["participants_total"] = total
    result["participant_share"] = result["participants"] / total if total else np.nan
    result["mentioned_by"] = [mentioned_by(n, total) for n in result["participants"]]
    return result


def _depth(codebook: Codebook, code_id: str) -> int:
    depth = 0
    code = codebook[code_id]
    while code.parent is not None:
        depth += 1
        code = codebook[code.parent]
    return depth


def code_participant_matrix(
    codings: pd.DataFrame,
    codebook: Codebook,
    participants: pd.DataFrame | None = None,
    *,
    level: str = "root",
    include_suggested: bool = False,
    value: str = "segments",
) -> pd.DataFrame:
    """Tabulate codes against participants.

    Parameters
    ----------
    codings, codebook, participants, level, include_suggested
        As for :func:`code_frequencies`.
    value : {"segments", "presence"}
        ``"segments"`` gives the number of segments of the participant with
        the code; ``"presence"`` gives 1 when the participant mentioned it at
        all, else 0.

    Returns
    -------
    DataFrame
        One row per participant (index ``participant``; every participant of
        the project, zero rows included) and one integer column per code of
        the level, in codebook order. Codings without a participant id are
        left out.
    """
    if value not in ("segments", "presence"):
        raise ValueError(f"value must be 'segments' or 'presence', not {value!r}")
    prepared = prepare_codings(codings, codebook, level=level, include_suggested=include_suggested)
    people = participant_ids(participants, prepared)
    codes = level_codes(codebook, level)
    known = prepared.dropna(subset=["participant"])
    counts = known.groupby(["participant", "code"])["segment_id"].nunique()
    matrix = counts.unstack("code") if len(counts) else pd.DataFrame()
    matrix = matrix.reindex(index=people, columns=codes).fillna(0).astype(int)
    if value == "presence":
        matrix = (matrix > 0).astype(int)
    matrix.index.name = "participant"
    matrix.columns.name = "code"
    return matrix


def bin_attribute(
    values: pd.Series, bins: int | Sequence[float] | None = None
) -> pd.Series:
    """Group an attribute's values for a by-attribute table.

    Parameters
    ----------
    values : Series
        One value per participant.
    bins : int or sequence of float, optional
        A sequence of edges gives left-closed intervals labelled ``"<1"``,
        ``"1-5"``, ``"5-10"``, ``"10+"`` (for ``[1, 5, 10]``; the outer
        edges may be given as ``-inf``/``inf`` or left out). An int gives that
        many quantile groups. ``None`` keeps categorical values as they are
        and splits numeric ones with more than five distinct values into
        quartiles.

    Returns
    -------
    Series
        An ordered categorical of group labels; missing values stay missing.
    """
    if pd.api.types.is_bool_dtype(values):
        values = values.astype(object)
    numeric = pd.to_numeric(values, errors="coerce")
    is_numeric = (
        not values.map(lambda v: isinstance(v, bool)).any()
        and values.notna().sum() > 0
        and numeric.notna().sum() == values.notna().sum()
    )
    if bins is None and (not is_numeric or numeric.nunique() <= 5):
        if is_numeric:
            order = sorted(numeric.dropna().unique())
            labels = numeric.map(lambda v: np.nan if pd.isna(v) else _number(v))
            return pd.Series(
                pd.Categorical(labels, categories=[_number(v) for v in order], ordered=True),
                index=values.index,
            )
        order = sorted(values.dropna().astype(str).unique())
        labels = values.map(lambda v: np.nan if pd.isna(v) else str(v))
        return pd.Series(
            pd.Categorical(labels, categories=order, ordered=True), index=values.index
        )
    if not is_numeric:
        raise ValueError(f"cannot bin non-numeric attribute {values.name!r}")
    if bins is None or isinstance(bins, int):
        _, edges = pd.qcut(numeric, 4 if bins is None else bins, retbins=True, duplicates="drop")
        labels = [f"{_number(lo)}-{_number(hi)}" for lo, hi in zip(edges, edges[1:])]
        groups = pd.cut(numeric, edges, labels=labels, include_lowest=True, ordered=True)
        return pd.Series(groups, index=values.index)
    edges = sorted(float(edge) for edge in bins if np.isfinite(edge))
    if not edges:
        raise ValueError("bins must contain at least one finite edge")
    full = [-np.inf, *edges, np.inf]
    labels = [f"<{_number(edges[0])}"]
    labels += [f"{_number(lo)}-{_number(hi)}" for lo, hi in zip(edges, edges[1:])]
    labels.append(f"{_number(edges[-1])}+")
    groups = pd.cut(numeric, full, right=False, labels=labels, ordered=True)
    return pd.Series(groups, index=values.index)


def _number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def frequencies_by_attribute(
    codings: pd.DataFrame,
    codebook: Codebook,
    participants: pd.DataFrame,
    attribute: str,
    *,
    level: str = "root",
    include_suggested: bool = False,
    bins: int | Sequence[float] | None = None,
    missing_label: str = "unknown",
) -> pd.DataFrame:
    """Count the participants mentioning each code within groups of an attribute.

    Parameters
    ----------
    codings, codebook, level, include_suggested
        As for :func:`code_frequencies`.
    participants : DataFrame
        One row per participant with a ``participant`` column and the
        ``attribute`` column.
    attribute : str
        The column to group participants by (``gender``,
        ``years_in_recovery`` ...).
    bins : int or sequence of float, optional
        How to group numeric values; see :func:`bin_attribute`. For example
        ``[1, 5, 10]`` gives ``<1``, ``1-5``, ``5-10`` and ``10+``.
    missing_label : str
        The group of participants whose attribute is missing (and of those
        that appear only in ``codings``). The group is left out when empty.

    Returns
    -------
    DataFrame
        Long format, one row per code (codebook order) and group (attribute
        order), with columns ``code``, ``name``, ``group``, ``participants``
        (mentioning the code), ``participants_in_group``, ``share`` (0-1) and
        ``mentioned_by``. Pivot it for a wide table, e.g.
        ``df.pivot(index="code", columns="group", values="share")``.
    """
    if attribute not in participants.columns:
        raise ValueError(f"participants has no column {attribute!r}")
    prepared = prepare_codings(codings, codebook, level=level, include_suggested=include_suggested)
    codes = level_codes(codebook, level)
    people = participant_ids(participants, prepared)
    attrs = participants.drop_duplicates("participant").set_index("participant")[attribute]
    attrs = attrs.reindex(people)
    groups = bin_attribute(attrs, bins)
    if groups.isna().any():
        groups = groups.cat.add_categories([missing_label]).fillna(missing_label)
    order = [group for group in groups.cat.categories if (groups == group).any()]
    sizes = groups.value_counts().reindex(order).astype(int)

    present = prepared.dropna(subset=["participant"])[["code", "participant"]].drop_duplicates()
    present = present.assign(group=present["participant"].map(groups).astype(object))
    counts = present.groupby(["code", "group"]).size()
    return attribute_table(counts, sizes, codebook, codes, attribute)


def attribute_table(counts: pd.Series, sizes: pd.Series, codebook: Codebook, codes: list[str], attribute: str,
                    *, unit: str = "participants") -> pd.DataFrame:
    """The :func:`frequencies_by_attribute` table from counts per (code, group) and the size of each group.

    ``sizes`` is indexed by group in attribute order (empty groups left out);
    ``unit`` names the counted columns (``participants`` or ``documents``).
    Shared with the SQL path of large projects (``services.sql_tables``).
    """
    order = list(sizes.index)
    grid = pd.MultiIndex.from_product([codes, order], names=["code", "group"])
    counts = counts.reindex(grid, fill_value=0).astype(int)
    result = counts.rename(unit).reset_index()
    result.insert(1, "name", result["code"].map(dict(zip(codes, code_names(codebook, codes)))))
    in_group = f"{unit}_in_group"
    result[in_group] = result["group"].map(sizes).astype(int)
    result["share"] = result[unit] / result[in_group].where(result[in_group] > 0)
    result["mentioned_by"] = [mentioned_by(n, total, unit[:-1]) for n, total in zip(result[unit], result[in_group])]
    result["group"] = pd.Categorical(result["group"], categories=order, ordered=True)
    result.attrs["attribute"] = attribute
    return result


def frequencies_by_document_attribute(
    codings: pd.DataFrame,
    codebook: Codebook,
    documents: pd.DataFrame,
    attribute: str,
    **options,
) -> pd.DataFrame:
    """:func:`frequencies_by_attribute` with documents as the unit (attributes of corpus rows).

    ``documents`` has a ``document_id`` column and one column per document
    attribute. The table counts the documents mentioning each code in each
    group: columns ``documents`` and ``documents_in_group`` instead of
    ``participants`` and ``participants_in_group``.
    """
    if attribute not in documents.columns:
        raise ValueError(f"no document has the attribute {attribute!r}")
    as_people = codings.assign(participant=codings["document_id"])
    people = documents.rename(columns={"document_id": "participant"})
    table = frequencies_by_attribute(as_people, codebook, people, attribute, **options)
    table = table.rename(columns={"participants": "documents", "participants_in_group": "documents_in_group"})
    table["mentioned_by"] = [mentioned_by(n, total, "document")
                             for n, total in zip(table["documents"], table["documents_in_group"])]
    return table
