"""Commands for rigour: agreement, disagreements, reconcile, history, framework, saturation.

Thin translators to :mod:`chimeqda.services.rigour`.
"""

from __future__ import annotations

from pathlib import Path

import click

from chimeqda.cli.common import (
    current_user,
    echo,
    echo_table,
    friendly_errors,
    open_project,
    project_options,
)
from chimeqda.tabular import write_csv

CODER_HELP = "Coder to compare (repeatable; default: the person with most codings vs the main machine coder). " \
             "Prefix human: or machine: when a name is ambiguous."


def _coder_options(func):
    func = click.option("--rule", type=click.Choice(["all", "any"]), default="all", show_default=True,
                        help="Units: documents every coder coded (all), or coded by at least two (any; "
                             "missing ratings for the others, alpha only).")(func)
    func = click.option("--document", "documents", multiple=True,
                        help="Compare on these documents only (repeatable); overrides --rule.")(func)
    func = click.option("--coder", "coders", multiple=True, help=CODER_HELP)(func)
    return func


@click.command()
@project_options
@_coder_options
@click.option("--level", type=click.Choice(["root", "code"]), default="root", show_default=True,
              help="root: top-level categories (sub-codes rolled up); code: codes as coded.")
@click.option("--by", "table", type=click.Choice(["code", "document", "characters", "pairs"]), default="code",
              show_default=True, help="Which table to print.")
@click.option("--bootstrap", "n_boot", type=int, default=1000, show_default=True,
              help="Bootstrap replicates for the confidence intervals (0: none).")
@click.option("--cluster", type=click.Choice(["unit", "document"]), default="unit", show_default=True,
              help="Resample segments or whole documents in the bootstrap.")
@click.option("--list", "list_coders", is_flag=True, help="List the project's coders and exit.")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), help="Write every table to this workbook.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the printed table to CSV.")
@friendly_errors
def agreement(project_dir, db, coders, documents, rule, level, table, n_boot, cluster, list_coders, xlsx, csv_out):
    """Inter-coder agreement (percent, Cohen's kappa, Krippendorff's alpha) with bootstrap intervals.

    Machine coders count as coders: their suggestions are their codings.

    Example: chimeqda agreement --coder ann --coder machine:ensemble --by code
    """
    from chimeqda.interop.spreadsheets import write_workbook
    from chimeqda.services import rigour

    ws = open_project(project_dir, db)
    if list_coders:
        echo_table(rigour.coders_frame(ws))
        return
    result = rigour.agreement(ws, list(coders) or None, level=level, documents=list(documents) or None,
                              rule=rule, n_boot=n_boot, cluster=cluster)
    echo(result.note, err=True)
    shown = {"code": result.by_code, "document": result.by_document, "characters": result.characters,
             "pairs": result.pairwise}[table]
    echo_table(shown.round(3))
    if csv_out:
        write_csv(shown, csv_out, index=False)
        echo(f"written {csv_out}", err=True)
    if xlsx:
        write_workbook(result.tables(), xlsx, readme=["chimeqda inter-coder agreement", result.note])
        echo(f"written {xlsx}", err=True)


@click.command()
@project_options
@_coder_options
@click.option("--level", type=click.Choice(["root", "code"]), default="code", show_default=True,
              help="code: codes as coded; root: top-level categories.")
@click.option("--open", "open_only", is_flag=True, help="Only disagreements not reconciled yet.")
@click.option("--limit", type=int, default=100, show_default=True, help="Segments to print (0: all).")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write all rows to CSV.")
@friendly_errors
def disagreements(project_dir, db, coders, documents, rule, level, open_only, limit, csv_out):
    """List disagreements segment by segment: who coded what, and the consensus so far.

    Example: chimeqda disagreements --coder ann --coder bob --open
    """
    from chimeqda.services import rigour

    ws = open_project(project_dir, db)
    table = rigour.disagreements(ws, list(coders) or None, level=level, documents=list(documents) or None,
                                 rule=rule, open_only=open_only)
    if csv_out:
        write_csv(table, csv_out, index=False)
        echo(f"written {csv_out}", err=True)
    if table.empty:
        echo("No disagreements.")
        return
    segments = list(dict.fromkeys(table["segment_id"]))
    for segment_id in segments[: limit or None]:
        rows = table[table["segment_id"] == segment_id]
        first = rows.iloc[0]
        who = f" [{first['participant']}]" if isinstance(first["participant"], str) else ""
        echo(f"segment {segment_id}  {first['document']}{who} #{first['segment_index']}")
        echo(f"    “{first['text']}”")
        for row in rows.itertuples(index=False):
            consensus = f"  → consensus: {row.consensus}" if row.consensus else ""
            echo(f"    {row.code}: coded by {row.coded_by or '–'}; not by {row.not_coded_by or '–'}"
                       f" (events {row.event_ids}){consensus}")
    echo(f"{len(table)} disagreement(s) on {len(segments)} segment(s)"
               + (f"; first {limit} segments shown" if limit and len(segments) > limit else ""))


@click.command()
@project_options
@_coder_options
@click.option("--segment", "segment_id", type=int, help="Segment id (see `chimeqda disagreements`).")
@click.option("--code", "code_id", help="Code to decide on.")
@click.option("--include/--exclude", "include", default=None, help="The final decision for --segment/--code.")
@click.option("--side", help="Settle every open disagreement as this coder coded it.")
@click.option("--interactive", "-i", is_flag=True, help="Walk through open disagreements: i=include e=exclude s=skip q=quit.")
@click.option("--level", type=click.Choice(["root", "code"]), default="code", show_default=True)
@click.option("--by", default=current_user, show_default="your user name", help="Name of the reconciler.")
@click.option("--note", default="", help="Why (stored with the decision).")
@friendly_errors
def reconcile(project_dir, db, coders, documents, rule, segment_id, code_id, include, side, interactive, level, by,
              note):
    """Record the final (consensus) coding of disagreements; the original codings stay.

    Each decision is a coding by the coder `consensus` that names you and the original events.

    Example: chimeqda reconcile --segment 812 --code hope --include; chimeqda reconcile --coder ann --coder bob -i
    """
    from chimeqda.services import rigour

    ws = open_project(project_dir, db)
    if segment_id is not None or code_id is not None:
        if segment_id is None or code_id is None or include is None:
            raise click.UsageError("give --segment, --code and --include or --exclude together")
        event = rigour.reconcile(ws, segment_id, code_id, "include" if include else "exclude", by=by, note=note)
        echo(f"recorded consensus event {event}" if event else "the consensus already says so; nothing recorded")
        return
    if side:
        n = rigour.reconcile_disagreements(ws, list(coders) or None, side=side, by=by, level=level,
                                           documents=list(documents) or None, note=note)
        echo(f"recorded {n} consensus decision(s)")
        return
    if not interactive:
        raise click.UsageError("give --segment/--code/--include|--exclude, --side CODER, or --interactive")
    table = rigour.disagreements(ws, list(coders) or None, level=level, documents=list(documents) or None,
                                 rule=rule, open_only=True)
    if table.empty:
        echo("No open disagreements.")
        return
    for row in table.itertuples(index=False):
        echo(f"segment {row.segment_id} {row.document} #{row.segment_index}: “{row.text}”")
        echo(f"    {row.code}: coded by {row.coded_by or '–'}; not by {row.not_coded_by or '–'}")
        choice = click.prompt("    [i]nclude, [e]xclude, [s]kip, [q]uit", type=click.Choice(list("iesq")),
                              show_choices=False, default="s")
        if choice == "q":
            break
        if choice in "ie":
            ids = [int(i) for i in row.event_ids.split(", ") if i]
            rigour.reconcile(ws, row.segment_id, row.code, "include" if choice == "i" else "exclude", by=by,
                             original_events=ids, note=note)


@click.command()
@project_options
@click.option("--coder", help="Only events of this coder.")
@click.option("--replay", "replay_state", is_flag=True, help="Replay the log and print the resulting state instead.")
@click.option("--until", type=int, help="With --replay: stop after this event id.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the table to CSV.")
@friendly_errors
def history(project_dir, db, coder, replay_state, until, csv_out):
    """Show the append-only coding log, or replay it to the state at any event.

    Example: chimeqda history --coder consensus; chimeqda history --replay --until 500
    """
    from chimeqda.services import rigour

    ws = open_project(project_dir, db)
    table = rigour.coding_history(ws)
    if replay_state:
        table = rigour.replay(table, until=until)
    if coder:
        table = table[table["coder"] == coder]
    echo_table(table.drop(columns=[c for c in ("created_at",) if c in table.columns]).set_index("event_id"),
                max_rows=200)
    if csv_out:
        write_csv(table, csv_out, index=False)
        echo(f"written {csv_out}", err=True)


@click.command()
@project_options
@click.option("--code", "codes", multiple=True, help="Theme (repeatable; default: the top-level codes).")
@click.option("--include-suggested", is_flag=True, help="Count pending machine suggestions too.")
@click.option("--draft", is_flag=True, help="Machine-draft summaries for cells with codings and no summary.")
@click.option("--redraft", is_flag=True, help="With --draft: also replace earlier machine drafts.")
@click.option("--summary", nargs=3, metavar="PARTICIPANT CODE TEXT", help="Write a cell summary (as --by).")
@click.option("--by", default=current_user, show_default="your user name", help="Author of --summary.")
@click.option("--sort-by", multiple=True, help="Participant attribute to sort rows by (repeatable).")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), help="Export to this workbook.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), help="Export to this HTML file.")
@friendly_errors
def framework(project_dir, db, codes, include_suggested, draft, redraft, summary, by, sort_by, xlsx, html_out):
    """Framework matrix (participants × themes): counts, quotes and summaries; export to XLSX/HTML.

    Example: chimeqda framework --draft --sort-by gender --xlsx matrix.xlsx --html matrix.html
    """
    from chimeqda.interop.spreadsheets import write_workbook
    from chimeqda.services import participants_frame, rigour

    ws = open_project(project_dir, db)
    codes = list(codes) or None
    if summary:
        participant, code, text = summary
        memo = rigour.write_summary(ws, participant, code, text, by=by)
        echo(f"summary saved (memo {memo})", err=True)
    if draft:
        n = rigour.draft_summaries(ws, codes=codes, include_suggested=include_suggested, redraft=redraft)
        echo(f"{n} machine-drafted summaries added", err=True)
    cells = rigour.framework(ws, codes=codes, include_suggested=include_suggested)
    people = participants_frame(ws)
    try:
        tables = rigour.framework_tables(cells, people, sort_by=sort_by)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sort-by") from None
    echo_table(tables["counts"].set_index("participant"))
    if xlsx:
        write_workbook(tables, xlsx, readme=[
            "chimeqda framework matrix (participants × themes)",
            "counts: coded segments per participant and theme (sub-codes included)",
            "summaries: the latest summary per cell; '[machine draft]' marks drafts nobody has edited yet",
            "quotes: the most representative linked quotes per cell", "cells: everything, one row per cell",
        ])
        echo(f"written {xlsx}", err=True)
    if html_out:
        html_out.write_text(rigour.framework_html(cells, people, sort_by=sort_by), encoding="utf-8")
        echo(f"written {html_out}", err=True)


@click.command()
@project_options
@click.option("--level", type=click.Choice(["root", "code", "all"]), default="code", show_default=True,
              help="code: codes as coded; root: top-level categories; all: codes and their ancestors.")
@click.option("--include-suggested", is_flag=True, help="Count pending machine suggestions too.")
@click.option("--coder", help="Only this coder's codings.")
@click.option("--base", type=int, default=4, show_default=True, help="Base size (interviews).")
@click.option("--run", "run_length", type=int, default=2, show_default=True, help="Run length (interviews).")
@click.option("--threshold", type=float, default=0.05, show_default=True, help="New-information threshold (share).")
@click.option("--orders", type=int, default=1000, show_default=True, help="Random interview orders to bootstrap.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Save the saturation plot as PNG.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the curve to CSV.")
@friendly_errors
def saturation(project_dir, db, level, include_suggested, coder, base, run_length, threshold, orders, plot, csv_out):
    """New codes per successive interview and the saturation point (Guest, Namey & Chen 2020).

    Example: chimeqda saturation --level code --base 4 --run 2 --plot saturation.png
    """
    from chimeqda.report.rigour import saturation_figure
    from chimeqda.services import rigour

    ws = open_project(project_dir, db)
    result = rigour.saturation(ws, level=level, include_suggested=include_suggested, coder=coder, base=base,
                               run=run_length, threshold=threshold, n_orders=orders)
    echo_table(result.curve.drop(columns=["document_id"]).set_index("position").round(3))
    echo(result.note)
    if plot:
        plot.write_bytes(saturation_figure(result.curve, result.bootstrap, result.point))
        echo(f"written {plot}", err=True)
    if csv_out:
        write_csv(result.curve, csv_out, index=False)
        echo(f"written {csv_out}", err=True)


COMMANDS = (agreement, disagreements, reconcile, history, framework, saturation)

