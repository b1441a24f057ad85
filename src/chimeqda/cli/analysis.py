"""Analysis commands: analyse (tables) and report (the findings report)."""

from __future__ import annotations

from pathlib import Path

import click

from chimeqda.cli.common import (
    allow_unpseudonymised_option,
    echo,
    echo_table,
    friendly_errors,
    guard_privacy,
    log_export,
    open_project,
    project_options,
    terminal_safe,
)
from chimeqda.tabular import write_csv

ANALYSES = ("frequencies", "matrix", "cooccurrence", "linked", "quotes", "by-attribute", "segments")


@click.command()
@click.argument("what", type=click.Choice(ANALYSES))
@project_options
@click.option("--level", type=click.Choice(["root", "code", "all"]), default="root", show_default=True,
              help="root: roll sub-codes up to top-level codes; code: as coded; all: code and ancestors.")
@click.option("--include-suggested", is_flag=True, help="Count pending machine suggestions too.")
@click.option("--window", type=int, default=0, show_default=True, help="Co-occurrence window in segments.")
@click.option("--code", "code_id", help="For `linked`: the code whose links to show (default: most frequent).")
@click.option("--attribute", help="For `by-attribute`: a participant attribute, or a document attribute (a corpus column).")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the table to CSV.")
@friendly_errors
def analyse(what: str, project_dir: Path, db: str | None, level: str, include_suggested: bool, window: int,
            code_id: str | None, attribute: str | None, csv_out: Path | None) -> None:
    """Print an analysis table: frequencies, matrix, cooccurrence, linked, quotes, by-attribute, segments.

    Example: chimeqda analyse frequencies; chimeqda analyse by-attribute --attribute gender
    """
    from chimeqda import analysis
    from chimeqda.services import codings_frame, participants_frame, segments_frame
    from chimeqda.services.frames import attribute_frequencies, document_attributes_frame
    from chimeqda.services.project import project_codebook
    from chimeqda.services.sql_tables import is_large, large_project_table

    ws = open_project(project_dir, db)
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
    if what == "by-attribute" and not attribute:
        choices = [c for c in participants_frame(ws).columns if c != "participant"]
        choices += [c for c in document_attributes_frame(ws).columns if c != "document_id" and c not in choices]
        raise click.UsageError(terminal_safe(f"give --attribute, one of: {', '.join(choices) or '(no attributes loaded)'}"))
    if what == "segments" and is_large(ws):  # a large project: read a range of documents at a time
        _echo_codings_in_parts(ws, include_suggested, csv_out)
        return
    large = large_project_table(ws, book, what, level=level, include_suggested=include_suggested, window=window,
                                attribute=attribute, code_id=code_id)
    if large is not None:  # a large project: counted by the database (docs/scale.md)
        echo_table(large)
        if csv_out:
            write_csv(large, csv_out)
            echo(f"written {csv_out}", err=True)
        return
    codings = codings_frame(ws, include_suggested=include_suggested)
    people = participants_frame(ws)
    common = {"level": level, "include_suggested": include_suggested}
    if what == "frequencies":
        table = analysis.code_frequencies(codings, book, people, **common)
    elif what == "matrix":
        table = analysis.code_participant_matrix(codings, book, people, **common)
    elif what in ("cooccurrence", "linked"):
        table = analysis.cooccurrence(codings, book, segments=segments_frame(ws), window=window, **common)
        if what == "linked":
            if code_id is None:
                freq = analysis.code_frequencies(codings, book, people, **common)
                code_id = str(freq["segments"].idxmax())
            table = analysis.most_linked(table, code_id)
    elif what == "quotes":
        table = analysis.exemplar_quotes(codings, book, **common)
    elif what == "by-attribute":
        table = attribute_frequencies(ws, codings, book, people, str(attribute), **common)
    else:
        table = codings
    echo_table(table)
    if csv_out:
        write_csv(table, csv_out)
        echo(f"written {csv_out}", err=True)


def _echo_codings_in_parts(ws, include_suggested: bool, csv_out: Path | None, shown: int = 60) -> None:
    """``analyse segments`` of a large project: the first rows on screen, every row to ``--csv``, in parts."""
    from chimeqda.services.sql_tables import iter_codings

    total = 0
    handle = csv_out.open("w", encoding="utf-8", newline="") if csv_out else None
    try:
        for part in iter_codings(ws, include_suggested=include_suggested):
            part.index = range(total, total + len(part))
            if total < shown:
                echo_table(part.head(shown - total))
            if handle:
                write_csv(part, handle, header=total == 0)
            total += len(part)
    finally:
        if handle:
            handle.close()
    echo(f"{total} coded segment rows" + ("" if csv_out else f"; the first {min(total, shown)} shown, "
                                                "--csv FILE writes them all"))
    if csv_out:
        echo(f"written {csv_out}", err=True)


@click.command()
@project_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("report"), show_default=True)
@click.option("--include-suggested", is_flag=True, help="Count pending machine suggestions too.")
@click.option("--window", type=int, default=1, show_default=True, help="Co-occurrence window in segments.")
@allow_unpseudonymised_option
@friendly_errors
def report(project_dir: Path, db: str | None, out: Path, include_suggested: bool, window: int,
           allow_unpseudonymised: bool) -> None:
    """Write the findings report (one self-contained HTML file plus a CSV per table).

    Example: chimeqda report -p my-study --out my-study/report
    """
    from chimeqda.services import project_report

    ws = open_project(project_dir, db)
    guard_privacy(ws, allow_unpseudonymised, "the report")
    path = project_report(ws, out, include_suggested=include_suggested, window=window, rigour=True)
    log_export(ws, "report", path)
    echo(f"Report: {path}")


COMMANDS = (analyse, report)
