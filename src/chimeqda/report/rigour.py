"""HTML fragments and figures for the rigour sections of the report.

Every function returns HTML that escapes all user text itself, since the
report inserts extra sections unescaped. Figures are inline PNGs drawn with
the Agg canvas (see :mod:`chimeqda.report.figures`).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..analysis import framework as fw
from .figures import _png

e = html.escape


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return e(str(value))


def _ci(row: pd.Series, name: str) -> str:
    value = row.get(name)
    low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
    text = _fmt(value)
    if low is not None and not (isinstance(low, float) and math.isnan(low)):
        text += f" <small>[{_fmt(low)}, {_fmt(high)}]</small>"
    return text


def _table(headings: list[str], rows: list[list[str]], caption: str = "", numeric: set[int] = frozenset()) -> str:
    num = ' class="num"'
    head = "".join(f"<th{num if i in numeric else ''}>{h}</th>" for i, h in enumerate(headings))
    body = "".join(
        "<tr>" + "".join(f"<td{num if i in numeric else ''}>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _img(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{e(alt)}">'
            f"<figcaption>{e(caption)}</figcaption></figure>")


def message_html(text: str) -> str:
    return f"<p>{e(text)}</p>"


# ---------------------------------------------------------------- agreement


def agreement_figure(by_code: pd.DataFrame) -> bytes:
    """Alpha and kappa per code with bootstrap intervals (a dot plot)."""
    rows = by_code.iloc[::-1]
    fig = Figure(figsize=(6.5, 0.42 * len(rows) + 1.2))
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    for offset, name, colour in ((0.12, "alpha", "#4C72B0"), (-0.12, "kappa", "#DD8452")):
        values = rows[name].to_numpy(dtype=float)
        if np.isnan(values).all():
            continue
        low = rows[f"{name}_low"].to_numpy(dtype=float)
        high = rows[f"{name}_high"].to_numpy(dtype=float)
        ax.errorbar(values, y + offset, xerr=[np.nan_to_num(values - low), np.nan_to_num(high - values)],
                    fmt="o", color=colour, label="Krippendorff's α" if name == "alpha" else "Cohen's κ", capsize=3)
    labels = [str(n) for n in (rows["name"] if "name" in rows else rows["code"])]
    ax.set_yticks(y, labels=labels)
    ax.axvline(0, color="#999", linewidth=0.8)
    ax.axvline(0.667, color="#bbb", linewidth=0.8, linestyle=":")
    ax.axvline(0.8, color="#bbb", linewidth=0.8, linestyle="--")
    ax.set_xlim(min(-0.1, float(np.nanmin(by_code[["alpha_low", "kappa_low"]].to_numpy(dtype=float), initial=0)) - 0.05), 1.02)
    ax.set_xlabel("Agreement (dotted 0.667, dashed 0.800: Krippendorff's thresholds)")
    ax.legend(loc="lower left", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def agreement_html(result) -> str:
    """The agreement section: per code (headline), per document, characters, pairs."""
    coders = result.coders
    two = len(coders) == 2
    headings = ["Category", "Segments", *[f"Coded by {e(c)}" for c in coders], "Both" if two else "All",
                "Agreement", *(["Cohen's κ"] if two else []), "Krippendorff's α"]
    rows = []
    for _, row in result.by_code.iterrows():
        name = row.get("name", row["code"])
        rows.append([f"<strong>{e(str(name))}</strong>" if row["code"] == "(all codes)" else e(str(name)),
                     _fmt(row["units"]), *[_fmt(row[f"coded_{c}"]) for c in coders], _fmt(row["both"]),
                     _fmt(row["percent_agreement"] * 100 if not pd.isna(row["percent_agreement"]) else float("nan"), 1) + "%",
                     *([_ci(row, "kappa")] if two else []), _ci(row, "alpha")])
    parts = [f"<p>{e(result.note)}</p>"]
    if len(result.by_code) > 1:
        parts.append(_img(agreement_figure(result.by_code[result.by_code["code"] != "(all codes)"]),
                          "Agreement per category with intervals", "Agreement per category (95% bootstrap intervals)."))
    title = " vs ".join(e(c) for c in coders)
    parts.append(_table(headings, rows, f"Agreement per category: {title}", numeric=set(range(1, len(headings)))))
    doc_rows = [
        [e(str(r["document"])), e(str(r.get("participant") or "")), _fmt(r["units"]),
         _fmt(r["percent_agreement"] * 100, 1) + "%", *([_ci(r, "kappa")] if two else []), _ci(r, "alpha")]
        for _, r in result.by_document.iterrows()
    ]
    parts.append(_table(["Document", "Participant", "Segment × category pairs", "Agreement",
                         *(["Cohen's κ"] if two else []), "Krippendorff's α"], doc_rows,
                        "Agreement per document (all categories pooled)", numeric={2, 3, 4, 5}))
    char_rows = [
        [e(str(r.get("name", r["code"]))), _fmt(r["characters"]), *[_fmt(r[f"marked_{c}"]) for c in coders],
         _fmt(r["jaccard"]), _ci(r, "alpha")]
        for _, r in result.characters.iterrows()
    ]
    parts.append(_table(["Category", "Characters", *[f"Marked by {e(c)}" for c in coders], "Overlap (Jaccard)",
                         "Character-level α"], char_rows,
                        "Character-level (unitised) comparison of the coded spans", numeric=set(range(1, 4 + len(coders)))))
    parts.append(
        "<p>Segment-level figures treat each participant segment and category as a unit with two values "
        "(coded / not coded). The pooled row treats every segment × category pair as one unit. At character level "
        "each character of the participant segments is a unit, so a coder who marks a longer span than the other is "
        "penalised for the extra characters; the Jaccard overlap is the share of characters marked by all coders "
        "among those marked by any.</p>"
    )
    return "\n".join(parts)


# ---------------------------------------------------------------- framework matrix


def framework_section_html(table_html: str, cells: pd.DataFrame) -> str:
    drafted = int(cells["machine_drafted"].sum())
    written = int(((cells["summary"] != "") & ~cells["machine_drafted"]).sum())
    filled = int((cells["segments"] > 0).sum())
    intro = (
        f"<p>Participants × themes (Ritchie &amp; Spencer). Each cell gives the number of the participant's coded "
        f"segments (sub-codes included), a summary and the most representative quotes. {filled} of {len(cells)} cells "
        f"hold codings; {written} summaries were written by a person and {drafted} are machine drafts (extractive: the "
        f"segments closest to the cell's centroid), marked as such until a person edits them "
        f"(<code>chimeqda framework --draft</code> saves drafts; <code>--summary</code> writes one).</p>"
    )
    style = ("<style>.framework td{max-width:18rem;font-size:.8rem}.framework .n{font-weight:bold}"
             ".framework .draft{color:#a60;font-size:.7rem;border:1px solid #a60;padding:0 .2rem}</style>")
    return style + intro + table_html


# ---------------------------------------------------------------- saturation


def saturation_figure(curve: pd.DataFrame, bootstrap: pd.DataFrame, point: dict) -> bytes:
    """Cumulative codes (interview order and random orders) with new codes per interview as bars."""
    fig = Figure(figsize=(6.5, 3.8))
    ax = fig.add_subplot()
    x = curve["position"].to_numpy()
    ax.bar(x, curve["new_codes"], color="#DD8452", alpha=0.7, label="New codes in the interview")
    if len(bootstrap):
        ax.fill_between(bootstrap["position"], bootstrap["cumulative_low"], bootstrap["cumulative_high"],
                        color="#4C72B0", alpha=0.15, label="Random orders (95% of orders)")
        ax.plot(bootstrap["position"], bootstrap["cumulative_mean"], color="#4C72B0", linestyle="--",
                linewidth=1, label="Random orders (mean)")
    ax.plot(x, curve["cumulative"], color="#4C72B0", marker="o", label="Cumulative codes, interview order")
    if point.get("reached"):
        ax.axvline(point["position"], color="#55A868", linestyle=":", label=f"Saturation ({point['label']})")
    ax.set_xticks(x, labels=[str(v) for v in curve["label"]], rotation=45, ha="right")
    ax.set_xlabel("Interview (in order)")
    ax.set_ylabel("Codes")
    ax.legend(fontsize=8, loc="center right")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def saturation_html(result) -> str:
    curve = result.curve
    if curve.empty:
        return message_html("No coded interviews yet.")
    parts = [f"<p>{e(result.note)}</p>",
             _img(saturation_figure(curve, result.bootstrap, result.point), "Saturation curve",
                  "New codes per interview and cumulative codes found.")]
    rows = [[_fmt(r.position), e(str(r.label)), e(str(r.date)), _fmt(r.codes), _fmt(r.new_codes),
             e(str(r.new_code_ids)), _fmt(r.cumulative), f"{r.coverage:.0%}" if not pd.isna(r.coverage) else "–"]
            for r in curve.itertuples(index=False)]
    parts.append(_table(["#", "Interview", "Date", "Codes", "New", "New codes", "Cumulative", "Coverage"], rows,
                        "New codes per successive interview", numeric={0, 3, 4, 6, 7}))
    return "\n".join(parts)


# ---------------------------------------------------------------- attributes


def attributes_html(tables: dict[str, pd.DataFrame]) -> str:
    if not tables:
        return message_html("No participant attribute with two to eight groups to compare.")
    parts = ["<p>Participants mentioning each category within each group (n of N, share) and the coded segments "
             "of the group; numeric attributes are split into quartiles. The last column gives the largest "
             "difference in share between groups.</p>"]
    for attribute, table in tables.items():
        groups = list(table["group"].cat.categories)
        sizes = table.drop_duplicates("group").set_index("group")["participants_in_group"]
        codes = list(pd.unique(table["code"]))
        rows = []
        for code in codes:
            part = table[table["code"] == code].set_index("group")
            cells = []
            for g in groups:
                r = part.loc[g]
                share = "" if pd.isna(r["share"]) else f" ({r['share']:.0%})"
                cells.append(f"{int(r['participants'])} of {int(r['participants_in_group'])}{share}; "
                             f"{int(r['segments'])} seg.")
            spread = part["share"].max() - part["share"].min()
            rows.append([e(str(part["name"].iloc[0])), *cells, "–" if pd.isna(spread) else f"{spread:.0%}"])
        headings = ["Category", *[f"{e(str(g))} (n={int(sizes[g])})" for g in groups], "Spread"]
        parts.append(_table(headings, rows, f"By {e(str(attribute))}"))
    return "\n".join(parts)


def framework_html(cells: pd.DataFrame, participants: pd.DataFrame, *, sort_by: Sequence[str] = (),
                   attributes: Sequence[str] | None = None, title: str = "Framework matrix",
                   standalone: bool = True) -> str:
    """The matrix as an HTML table: per cell the count, the summary and the quotes."""
    attrs = [a for a in (attributes if attributes is not None else participants.columns) if a != "participant"]
    themes = list(pd.unique(cells["code"]))
    theme_names = dict(zip(cells["code"], cells["name"]))
    order = fw.framework_wide(cells, "segments", participants, sort_by=sort_by, attributes=attrs)
    by_cell = {(c.participant, c.code): c for c in cells.itertuples(index=False)}
    info = participants.drop_duplicates("participant").set_index("participant") if len(participants) else None
    e = html.escape
    head = "".join(f"<th>{e(str(a))}</th>" for a in attrs) + "".join(f"<th>{e(theme_names[c])}</th>" for c in themes)
    body = []
    for person in order.index:
        cells_html = []
        for attr in attrs:
            value = info.loc[person, attr] if info is not None and person in info.index else ""
            cells_html.append(f"<td>{e('' if pd.isna(value) else str(value))}</td>")
        for theme in themes:
            cell = by_cell[(person, theme)]
            parts = [f'<div class="n">{cell.segments} segment{"s" if cell.segments != 1 else ""}</div>']
            if cell.summary:
                mark = ' <span class="draft">machine draft</span>' if cell.machine_drafted else ""
                parts.append(f'<p class="summary">{e(cell.summary)}{mark}</p>')
            if cell.quotes:
                quotes = "".join(f"<li>{e(q)}</li>" for q in cell.quotes)
                parts.append(f"<details><summary>Quotes ({len(cell.quotes)})</summary><ul>{quotes}</ul></details>")
            cells_html.append(f"<td>{''.join(parts)}</td>")
        body.append(f"<tr><th>{e(str(person))}</th>{''.join(cells_html)}</tr>")
    sort_note = f"<p>Rows sorted by {e(', '.join(sort_by))}.</p>" if sort_by else ""
    table = (f'{sort_note}<div class="scroll"><table class="framework"><thead><tr><th>Participant</th>{head}</tr></thead>'
             f"<tbody>{''.join(body)}</tbody></table></div>")
    if not standalone:
        return table
    style = ("body{font-family:Arial,sans-serif;margin:1rem}table{border-collapse:collapse;font-size:.85rem}"
             "th,td{border:1px solid #ccc;padding:.3rem;vertical-align:top;max-width:22rem}"
             ".n{font-weight:bold}.draft{color:#a60;font-size:.75rem;border:1px solid #a60;padding:0 .2rem}"
             ".summary{margin:.2rem 0}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{style}</style></head><body><h1>{e(title)}</h1>{table}</body></html>")
