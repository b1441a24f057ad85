"""Render a :class:`~chimeqda.report.builder.Report` as one HTML file plus CSVs."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from chimeqda.tabular import write_csv

from .builder import Report

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("chimeqda.report", "templates"),
    autoescape=True,  # every value is escaped unless marked safe
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def cell_text(value: Any) -> str:
    """A table cell as text, the same in the HTML report, the web page and Word: blank for missing,
    whole numbers without decimals, other numbers with two."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}"
    return str(value)


def _table(frame: pd.DataFrame, columns: dict[str, str], *, index: str | None = None) -> dict:
    """Columns to show (frame column -> heading) as a dict the template loops over."""
    data = frame.reset_index() if index else frame
    keys = ([index] if index else []) + [key for key in columns if key != index]
    headings = [columns.get(key, key) for key in keys]
    numeric = [pd.api.types.is_numeric_dtype(data[key]) for key in keys]
    rows = [[cell_text(value) for value in record] for record in data[keys].itertuples(index=False)]
    return {"headings": headings, "rows": rows, "numeric": numeric}


def _percent(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].map(lambda v: "" if pd.isna(v) else f"{v:.0%}")


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document (inline CSS and images)."""
    freq = report.frequencies.assign(share=_percent(report.frequencies, "participant_share"))
    frequency_table = _table(
        freq,
        {
            "name": "Category",
            "mentioned_by": "Mentioned by",
            "share": "Share",
            "segments": "Segments",
            "documents": "Documents",
        },
    )
    all_codes = report.code_frequencies
    code_rows = [
        {
            "depth": int(row.depth),
            "name": row.name,
            "id": code,
            "segments": int(row.segments),
            "mentioned_by": row.mentioned_by,
        }
        for code, row in zip(all_codes.index, all_codes.itertuples(index=False))
    ]
    names = dict(zip(report.frequencies.index, report.frequencies["name"]))
    matrix = report.participant_matrix.rename(columns=names)
    matrix_table = _table(
        matrix, {"participant": "Participant", **{c: c for c in matrix.columns}}, index="participant"
    )

    attribute_tables = []
    for attribute, long in report.by_attribute.items():
        groups = list(long["group"].cat.categories)
        unit = "documents" if "documents" in long.columns else "participants"  # a corpus row's attribute
        sizes = long.drop_duplicates("group").set_index("group")[f"{unit}_in_group"]
        wide = long.assign(
            cell=[
                f"{n} of {total}" + (f" ({n / total:.0%})" if total else "")
                for n, total in zip(long[unit], long[f"{unit}_in_group"])
            ]
        ).pivot(index="code", columns="group", values="cell")
        wide = wide.reindex(index=list(report.frequencies.index), columns=groups)
        wide.insert(0, "Category", [names[code] for code in wide.index])
        headings = {"Category": "Category"}
        headings.update({g: f"{g} (n={int(sizes[g])})" for g in groups})
        attribute_tables.append(
            {"attribute": attribute, "table": _table(wide.reset_index(drop=True), headings),
             "caption": f"{unit.capitalize()} mentioning each category, by {attribute}"}
        )

    pairs = report.cooccurrence.sort_values(
        ["c_coefficient", "n_ab"], ascending=False, kind="stable"
    )
    pair_table = _table(
        pairs,
        {
            "name_a": "Category A",
            "name_b": "Category B",
            "n_a": "Units with A",
            "n_b": "Units with B",
            "n_ab": "Units with both",
            "c_coefficient": "c-coefficient",
        },
    )
    linked_table = None
    if report.most_linked is not None:
        linked = report.most_linked.assign(
            share=_percent(report.most_linked, "share_of_code")
        )
        linked_table = _table(
            linked,
            {
                "name": "Category",
                "n_ab": "Units with both",
                "n_other": "Units with the category",
                "share": f"Share of {names[report.central_code]} units",
                "c_coefficient": "c-coefficient",
            },
        )

    quote_groups = []
    for code, group in report.quotes.groupby("code", sort=False):
        quote_groups.append(
            {
                "code": code,
                "name": group["name"].iloc[0],
                "quotes": [
                    {
                        "text": row.text,
                        "participant": row.participant if pd.notna(row.participant) else "",
                        "document": row.document,
                        "status": row.status,
                        "score": "" if pd.isna(row.score) else f"{row.score:.2f}",
                    }
                    for row in group.itertuples(index=False)
                ],
            }
        )

    images = {
        name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for name, png in report.figures.items()
    }
    template = _ENV.get_template("report.html.j2")
    return template.render(
        report=report,
        central_name=names.get(report.central_code, "") if report.central_code else "",
        frequency_table=frequency_table,
        code_rows=code_rows,
        matrix_table=matrix_table,
        attribute_tables=attribute_tables,
        pair_table=pair_table,
        linked_table=linked_table,
        quote_groups=quote_groups,
        images=images,
        window=report.settings.get("window", 0),
        extra_sections=[(title, Markup(html)) for title, html in report.extra_sections],
    )


def write_report(report: Report, out_dir: Path | str) -> Path:
    """Write ``report.html`` and ``tables/<table>.csv`` into ``out_dir``.

    Parameters
    ----------
    report : Report
        From :func:`~chimeqda.report.build_report`.
    out_dir : Path
        Created when missing; existing files of the same names are replaced.

    Returns
    -------
    Path
        The path of ``report.html``. It is a single file with inline CSS and
        images, no scripts and no external links, so it opens offline and can
        be mailed as it is. The CSVs are UTF-8 with a header row; text that a
        spreadsheet would run as a formula (a quote starting with ``=``) gets
        a leading ``'`` (:func:`chimeqda.tabular.csv_safe`).
    """
    out = Path(out_dir)
    tables_dir = out / "tables"
    tables_dir.mkdir(parents=True, exist_ok=True)
    for name, table in report.tables().items():
        keep_index = table.index.name is not None
        write_csv(table, tables_dir / f"{name}.csv", index=keep_index, encoding="utf-8")
    path = out / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path
