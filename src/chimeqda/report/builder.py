"""Assemble the results of a framework analysis into a :class:`Report`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from .. import analysis
from ..analysis.frequencies import frequencies_by_document_attribute
from ..model import Codebook
from . import figures

MAX_GROUPS = 8
"""Attributes with more groups than this (free text, ids) get no table."""


@dataclass
class Report:
    """Everything a results section needs, computed and ready to render.

    The tables are plain DataFrames (the same ones :func:`write_report` saves
    as CSV); ``figures`` maps a name to PNG bytes. ``extra_sections`` holds
    ``(title, html)`` pairs whose HTML is inserted unescaped (see
    :func:`build_report`).
    """

    title: str
    project_name: str
    summary: list[str]
    methods: list[str]
    frequencies: pd.DataFrame
    code_frequencies: pd.DataFrame
    participant_matrix: pd.DataFrame
    by_attribute: dict[str, pd.DataFrame]
    cooccurrence: pd.DataFrame
    cooccurrence_matrix: pd.DataFrame
    most_linked: pd.DataFrame | None
    quotes: pd.DataFrame
    central_code: str | None
    figures: dict[str, bytes] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)
    extra_sections: tuple[tuple[str, str], ...] = ()
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Tables of the extra sections (agreement, framework, saturation…), saved with the others."""

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by the file name (without ``.csv``) it is saved under."""
        tables = {
            "frequencies": self.frequencies,
            "frequencies_all_codes": self.code_frequencies,
            "participant_matrix": self.participant_matrix,
        }
        for attribute, table in self.by_attribute.items():
            tables[f"by_{_file_safe(attribute)}"] = table
        tables["cooccurrence"] = self.cooccurrence
        tables["cooccurrence_matrix"] = self.cooccurrence_matrix
        if self.most_linked is not None:
            tables["most_linked"] = self.most_linked
        tables["quotes"] = self.quotes
        for name, table in self.extra_tables.items():
            tables.setdefault(_file_safe(name), table)
        return tables


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_") or "attribute"


def build_report(
    codings: pd.DataFrame,
    codebook: Codebook,
    participants: pd.DataFrame | None = None,
    *,
    segments: pd.DataFrame | None = None,
    documents: pd.DataFrame | None = None,
    title: str = "CHIME-D framework analysis",
    project_name: str = "",
    include_suggested: bool = False,
    window: int = 1,
    n_quotes: int = 3,
    attributes: Sequence[str] | None = None,
    attribute_bins: Mapping[str, int | Sequence[float]] | None = None,
    provenance: str | None = None,
    extra_sections: Sequence[tuple[str, str]] = (),
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
) -> Report:
    """Run the framework analysis and collect tables, figures and prose.

    Parameters
    ----------
    codings, codebook, participants, segments
        The frames described in :mod:`chimeqda.analysis`.
    documents : DataFrame, optional
        ``document_id`` and the documents' attributes (columns of corpus rows):
        a by-attribute table per attribute, counting documents.
    title, project_name : str
        Shown at the top of the report.
    include_suggested : bool
        Count unreviewed machine suggestions as well as accepted codings.
    window : int
        Co-occurrence window in segments (0: the same segment only).
    n_quotes : int
        Exemplar quotes per category.
    attributes : sequence of str, optional
        Participant columns to tabulate; default every column but
        ``participant``. Attributes with more than eight groups are skipped.
    attribute_bins : mapping, optional
        Bins per numeric attribute, e.g. ``{"years_in_recovery": [1, 5, 10]}``;
        other numeric attributes are split into quartiles.
    provenance : str, optional
        A description of the machine coder (name, version, settings) for the
        methods note.
    extra_sections : sequence of (title, html)
        Sections appended by other features. The title is escaped; the HTML
        is inserted as it is, so it must come from chimeqda's own code and
        escape any user text itself.
    extra_tables : mapping of name to DataFrame, optional
        The tables of those sections; saved, exported and rendered with the others.

    Returns
    -------
    Report
    """
    kwargs = {"include_suggested": include_suggested}
    frequencies = analysis.code_frequencies(codings, codebook, participants, **kwargs)
    by_attribute: dict[str, pd.DataFrame] = {}
    skipped: list[str] = []
    if participants is not None:
        names = attributes if attributes is not None else [
            column for column in participants.columns if column != "participant"
        ]
        for attribute in names:
            bins = (attribute_bins or {}).get(attribute)
            try:
                table = analysis.frequencies_by_attribute(
                    codings, codebook, participants, attribute, bins=bins, **kwargs
                )
            except ValueError:
                skipped.append(attribute)
                continue
            keep_attribute_table(by_attribute, skipped, attribute, table)
    if documents is not None:
        for attribute in [c for c in documents.columns if c != "document_id" and c not in by_attribute]:
            if attribute in skipped:
                continue
            try:
                table = frequencies_by_document_attribute(codings, codebook, documents, attribute, **kwargs)
            except ValueError:
                skipped.append(attribute)
                continue
            keep_attribute_table(by_attribute, skipped, attribute, table)
    prepared = codings[codings["status"].isin(("accepted", "suggested"))] if len(codings) else codings
    tables = ReportTables(
        frequencies=frequencies,
        code_frequencies=analysis.code_frequencies(codings, codebook, participants, level="all", **kwargs),
        participant_matrix=analysis.code_participant_matrix(codings, codebook, participants, **kwargs),
        cooccurrence=analysis.cooccurrence(codings, codebook, segments=segments, window=window, **kwargs),
        cooccurrence_matrix=analysis.cooccurrence_matrix(codings, codebook, segments=segments, window=window,
                                                         **kwargs),
        quotes=analysis.exemplar_quotes(codings, codebook, n=n_quotes, **kwargs),
        by_attribute=by_attribute,
        skipped_attributes=skipped,
        suggestions_in_input=int((prepared["status"] == "suggested").sum()) if len(prepared) else 0,
        codings_without_participant=int(prepared["participant"].isna().sum()) if "participant" in prepared else 0,
    )
    return report_from_tables(tables, codebook, title=title, project_name=project_name,
                              include_suggested=include_suggested, window=window, n_quotes=n_quotes,
                              provenance=provenance, extra_sections=extra_sections, extra_tables=extra_tables)


def keep_attribute_table(by_attribute: dict[str, pd.DataFrame], skipped: list[str], attribute: str,
                         table: pd.DataFrame) -> None:
    """Keep a by-attribute table unless it has more than :data:`MAX_GROUPS` groups (then the attribute is skipped)."""
    if table["group"].cat.categories.size > MAX_GROUPS:
        skipped.append(attribute)
    else:
        by_attribute[attribute] = table


@dataclass
class ReportTables:
    """The counted tables a report is made from (by pandas, or by the database for a large project)."""

    frequencies: pd.DataFrame
    code_frequencies: pd.DataFrame
    participant_matrix: pd.DataFrame
    cooccurrence: pd.DataFrame
    cooccurrence_matrix: pd.DataFrame
    quotes: pd.DataFrame
    by_attribute: dict[str, pd.DataFrame]
    skipped_attributes: list[str]
    suggestions_in_input: int
    codings_without_participant: int
    notes: list[str] = field(default_factory=list)
    """Methods notes on how the tables were made (e.g. sampled quotes of a large project)."""


def report_from_tables(
    tables: ReportTables, codebook: Codebook, *, title: str = "CHIME-D framework analysis",
    project_name: str = "", include_suggested: bool = False, window: int = 1, n_quotes: int = 3,
    provenance: str | None = None, extra_sections: Sequence[tuple[str, str]] = (),
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
) -> Report:
    """The :class:`Report` of counted tables: summary, methods and figures (see :func:`build_report`)."""
    frequencies, pairs = tables.frequencies, tables.cooccurrence
    central = _central_code(frequencies)
    linked = analysis.most_linked(pairs, central) if central is not None else None

    report_figures: dict[str, bytes] = {}
    if len(frequencies):
        report_figures["participants"] = figures.participants_bar_chart(frequencies, codebook)
        report_figures["heatmap"] = figures.cooccurrence_heatmap(
            tables.cooccurrence_matrix, list(frequencies["name"])
        )
    if central is not None:
        report_figures["network"] = figures.code_network(frequencies, pairs, codebook, central)

    settings = {
        "include_suggested": include_suggested,
        "window": window,
        "n_quotes": n_quotes,
        "provenance": provenance,
        "skipped_attributes": tables.skipped_attributes,
        "suggestions_in_input": tables.suggestions_in_input,
        "codings_without_participant": tables.codings_without_participant,
        "notes": list(tables.notes),
    }
    return Report(
        title=title,
        project_name=project_name,
        summary=_summary(frequencies, pairs, linked, central, window, include_suggested),
        methods=_methods(frequencies, settings),
        frequencies=frequencies,
        code_frequencies=tables.code_frequencies,
        participant_matrix=tables.participant_matrix,
        by_attribute=tables.by_attribute,
        cooccurrence=pairs,
        cooccurrence_matrix=tables.cooccurrence_matrix,
        most_linked=linked,
        quotes=tables.quotes,
        central_code=central,
        figures=report_figures,
        settings=settings,
        extra_sections=tuple((str(t), str(h)) for t, h in extra_sections),
        extra_tables=dict(extra_tables or {}),
    )


def _central_code(frequencies: pd.DataFrame) -> str | None:
    """The most frequent code: most participants, then most segments."""
    used = frequencies[frequencies["segments"] > 0]
    if used.empty:
        return None
    order = used.assign(_pos=range(len(used))).sort_values(
        ["participants", "segments", "_pos"], ascending=[False, False, True], kind="stable"
    )
    return str(order.index[0])


def _units(window: int) -> str:
    if window == 0:
        return "segments"
    return f"windows of \u00b1{window} segment{'s' if window != 1 else ''}"


def _summary(
    frequencies: pd.DataFrame,
    pairs: pd.DataFrame,
    linked: pd.DataFrame | None,
    central: str | None,
    window: int,
    include_suggested: bool,
) -> list[str]:
    counted = "accepted and suggested codings" if include_suggested else "accepted codings"
    total = int(frequencies["participants_total"].iloc[0]) if len(frequencies) else 0
    if central is None:
        return [f"There are no {counted} to report yet ({total} participants)."]
    row = frequencies.loc[central]
    first = (
        f"{row['name']} was mentioned by {row['mentioned_by']} "
        f"({_plural(int(row['segments']), 'segment')} in "
        f"{_plural(int(row['documents']), 'document')})"
    )
    if linked is not None and len(linked) and linked["n_ab"].iloc[0] > 0:
        top = linked.iloc[0]
        first += (
            f"; the code most linked to it was {top['name']} "
            f"(c = {top['c_coefficient']:.2f}, together in "
            f"{int(top['n_ab'])} of {int(top['n_code'])} {_units(window)} with {row['name']})."
        )
    else:
        first += f"; it did not co-occur with any other code in {_units(window)}."
    paragraphs = [first]

    rest = frequencies.drop(index=central)
    mentioned = rest[rest["participants"] > 0].sort_values(
        "participants", ascending=False, kind="stable"
    )
    if len(mentioned):
        parts = [
            f"{r['name']} {'was mentioned by' if i == 0 else 'by'} {r['mentioned_by']} "
            f"({_plural(int(r['segments']), 'segment')})"
            for i, (_, r) in enumerate(mentioned.iterrows())
        ]
        paragraphs.append(f"Of the other categories, {_join(parts)}.")
    unmentioned = rest[rest["participants"] == 0]
    if len(unmentioned):
        names = list(unmentioned["name"])
        verb = "was" if len(names) == 1 else "were"
        paragraphs.append(f"{_join(names)} {verb} not mentioned by any participant.")
    if linked is not None and len(linked):
        connected = linked[linked["n_other"] > 0]
        connected = connected.assign(_share=connected["n_ab"] / connected["n_other"]).sort_values(
            "_share", ascending=False, kind="stable"
        )
        if len(connected):
            shares = [
                f"{r['name']} {r['n_ab']} of {r['n_other']} ({r['n_ab'] / r['n_other']:.0%})"
                for _, r in connected.iterrows()
            ]
            paragraphs.append(
                f"Share of each category's {_units(window)} that also held {row['name']}: "
                f"{_join(shares)}."
            )
    paragraphs.append(f"Counts are of {counted}.")
    return paragraphs


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _methods(frequencies: pd.DataFrame, settings: Mapping[str, object]) -> list[str]:
    total = int(frequencies["participants_total"].iloc[0]) if len(frequencies) else 0
    window = int(settings["window"])  # type: ignore[call-overload]
    notes = [
        "The unit of coding is the segment (a sentence of a transcript). Sub-codes are "
        "counted under their top-level category, except in the table of all codes, where "
        "each coding counts for its code and every code above it. A segment counts once "
        "per category, however many of its sub-codes it carries.",
        f"A participant mentions a category when at least one of their segments carries it. "
        f"Shares are out of all {total} participants of the project, including those "
        f"without codings.",
    ]
    if settings["include_suggested"]:
        notes.append(
            "Both codings accepted by a researcher and machine suggestions that nobody has "
            "reviewed yet were counted; a segment with both counts once. Rejected and "
            "removed codings were left out."
        )
    else:
        unreviewed = settings["suggestions_in_input"]
        notes.append(
            "Only codings accepted by a researcher (made by hand, or machine suggestions "
            "that a researcher accepted) were counted; rejected codings and "
            f"{unreviewed} unreviewed machine suggestion(s) were left out."
        )
    if window == 0:
        where = "when one segment carries both"
    else:
        where = (
            f"when they are coded within {window} segment(s) of each other in the same "
            f"transcript: every segment's window of \u00b1{window} segments is one unit, and "
            "a category is present in a unit when any segment in the window carries it"
        )
    notes.append(
        f"Two categories co-occur {where}. The c-coefficient (as in ATLAS.ti) is "
        "n_ab / (n_a + n_b \u2212 n_ab), between 0 (never together) and 1 (always "
        "together); counted on these units it equals the Jaccard index."
    )
    notes.append(
        f"Exemplar quotes: up to {settings['n_quotes']} per category, accepted codings "
        "first, then by the machine coder's score (codings made by hand rank as certain), "
        "preferring quotes of 15\u201340 words and at most one quote per participant where "
        "possible; segments of fewer than six words were not quoted."
    )
    missing = settings["codings_without_participant"]
    if missing:
        notes.append(
            f"{missing} coding(s) belong to segments without a participant id; they count "
            "for segments and documents but not for participants."
        )
    skipped = settings["skipped_attributes"]
    if skipped:
        notes.append(
            "No table was made for attribute(s) "
            f"{', '.join(map(str, skipped))} (too many distinct values to group)."
        )
    notes.extend(str(note) for note in settings.get("notes") or ())  # type: ignore[union-attr]
    provenance = str(settings["provenance"] or "").strip()
    if provenance:  # a sentence is used as it is; a bare description gets a lead-in
        notes.append(provenance if provenance.endswith(".") else f"Machine coding: {provenance}.")
    return notes
