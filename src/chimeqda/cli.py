"""The ``chimeqda`` command: a thin translator from the terminal to ``services``.

Each command's docstring shows an example; ``docs/cli.md`` is generated from
``--help`` (``chimeqda docs-cli``) and a test fails when it falls behind.
"""

from __future__ import annotations

import functools
import getpass
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from chimeqda import __version__
from chimeqda.errors import ChimeqdaError

PROJECT_HELP = "Project folder (default: the current folder)."


def _user() -> str:
    return os.environ.get("CHIMEQDA_USER") or getpass.getuser() or "researcher"


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn chimeqda's own errors into a one-line message and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ChimeqdaError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def project_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--project DIR`` and ``--db URL`` on every command that opens a project."""
    func = click.option("--db", envvar="CHIMEQDA_DATABASE_URL", help="SQLAlchemy database URL (e.g. postgresql://…).")(func)
    func = click.option(
        "--project", "-p", "project_dir", type=click.Path(file_okay=False, path_type=Path), default=".",
        show_default=True, help=PROJECT_HELP,
    )(func)
    return func


def _open(project_dir: Path, db: str | None):
    from chimeqda.services import open_project

    return open_project(project_dir, db=db)


def _echo_table(frame, *, max_rows: int = 60) -> None:
    import pandas as pd

    with pd.option_context("display.max_rows", max_rows, "display.max_columns", 30, "display.width", 160,
                           "display.max_colwidth", 60):
        click.echo(frame.to_string())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chimeqda")
def main() -> None:
    """chimeqda: framework-based qualitative analysis of recovery narratives (CHIME-D built in).

    Everything runs on this machine; no interview text leaves it.
    Start with `chimeqda demo`, or `chimeqda init my-study`.
    """


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Project name (default: the folder name).")
@click.option("--codebook", default="chime-d", show_default=True, help="Built-in codebook name, or a YAML/CSV/XLSX file.")
@click.option("--db", envvar="CHIMEQDA_DATABASE_URL", help="SQLAlchemy URL instead of a SQLite file in DIRECTORY.")
@friendly_errors
def init(directory: Path, name: str | None, codebook: str, db: str | None) -> None:
    """Create a project folder with a database and a codebook.

    Example: chimeqda init my-study
    """
    from chimeqda.services import init_project

    init_project(directory, name=name, db=db, codebook=codebook)
    click.echo(f"Created project in {directory} (codebook: {codebook}). Next: chimeqda import -p {directory} TRANSCRIPTS/")


@main.command("import")
@click.argument("inputs", nargs=-1, required=True)
@project_options
@click.option("--participants", "participants_csv", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV with a 'participant' column, optional 'file' column and attributes.")
@click.option("--participant", help="Participant ID for the imported file(s).")
@click.option("--interviewer", "interviewer_labels", multiple=True,
              help="Speaker label used by the interviewer (repeatable), e.g. --interviewer Els. Default: "
                   "labels like I, Q, Interviewer, Onderzoeker; in .vtt/.srt/.json with two speakers, the "
                   "one who speaks first if they ask at least as many questions.")
@click.option("--language", type=click.Choice(["en", "nl"]), help="Language of the transcripts (default: detected).")
@click.option("--max-size", type=float, default=25, show_default=True, help="Largest file accepted, in MB.")
@friendly_errors
def import_(inputs: tuple[str, ...], project_dir: Path, db: str | None, participants_csv: Path | None,
            participant: str | None, interviewer_labels: tuple[str, ...], language: str | None, max_size: float) -> None:
    """Import transcripts (.txt .md .docx .odt .vtt .srt Whisper .json): files, folders or globs.

    All files are checked first; if one is bad nothing is imported.
    Unchanged files are skipped; a changed file becomes a new version.

    Example: chimeqda import -p my-study transcripts/ --participants participants.csv
    """
    from chimeqda.services import import_files

    ws = _open(project_dir, db)
    if all(Path(item).suffix.lower() in (".qdpx", ".qdc", ".sqlite3") for item in inputs):
        from chimeqda.interop import import_exchange

        for item in inputs:
            click.echo(str(import_exchange(ws, item)))
        return
    outcomes = import_files(
        ws, inputs, participants_csv=participants_csv, participant=participant,
        interviewer_labels=interviewer_labels, language=language, max_bytes=int(max_size * 1_000_000),
    )
    no_interviewer = _speakers_without_interviewer(ws, outcomes)
    for o in outcomes:
        who = f" [{o.participant}]" if o.participant else ""
        click.echo(f"{o.status:12} {o.name}{who}: {o.segments} segments, {o.language}")
        if o.note:
            click.echo(f"{'':12} {o.note}")
        if o.document_id in no_interviewer:
            names = no_interviewer[o.document_id]
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            click.echo(f"{'':12} no interviewer recognised among the speakers {shown}: "
                       "all their turns count as participant speech and will be coded")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("imported", "new version", "roles updated", "unchanged")}
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to import")
    if no_interviewer:
        example = next(iter(no_interviewer.values()))[0]
        click.echo(f"To mark the interviewer, import the same files again with --interviewer LABEL "
                   f"(e.g. --interviewer {example}): the roles are updated, codings are kept.")


def _speakers_without_interviewer(ws: Any, outcomes: list[Any]) -> dict[int, list[str]]:
    """Newly stored documents with two or more speakers of whom none is an interviewer."""
    from chimeqda.services import segments_frame

    new = {o.document_id for o in outcomes if o.status != "unchanged"}
    if not new:
        return {}
    frame = segments_frame(ws)
    frame = frame[frame["document_id"].isin(new)]
    found: dict[int, list[str]] = {}
    for document_id, rows in frame.groupby("document_id", sort=False):
        speakers = list(dict.fromkeys(rows["speaker"].dropna()))
        if len(speakers) >= 2 and not (rows["role"] == "interviewer").any():
            found[int(document_id)] = speakers
    return found


@main.command()
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@project_options
@friendly_errors
def participants(csv_file: Path, project_dir: Path, db: str | None) -> None:
    """Load or update participant attributes from a CSV (column 'participant' plus attributes).

    Example: chimeqda participants -p my-study participants.csv
    """
    from chimeqda.services import read_participants_csv
    from chimeqda.services.importing import upsert_participants

    rows = read_participants_csv(csv_file)
    ws = _open(project_dir, db)
    with ws.session() as session:
        upsert_participants(session, ws.project_id, rows)
    click.echo(f"{len(rows)} participants loaded")


@main.command()
@project_options
@click.option("--all-versions", is_flag=True, help="Also list superseded versions.")
@friendly_errors
def documents(project_dir: Path, db: str | None, all_versions: bool) -> None:
    """List the project's documents.

    Example: chimeqda documents -p my-study
    """
    from chimeqda.services import documents_frame

    frame = documents_frame(_open(project_dir, db))
    if not all_versions:
        frame = frame[frame["current"]]
    _echo_table(frame.drop(columns=["imported_at"]).set_index("document_id"))


@main.command()
@project_options
@click.option("--coder", default=None, help="Coder name (default: ensemble). See `chimeqda coders`.")
@click.option("--document", "documents", multiple=True, help="Only these documents (repeatable).")
@click.option("--include-interviewer", is_flag=True, help="Also code the interviewer's turns.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Coder parameter (repeatable).")
@friendly_errors
def code(project_dir: Path, db: str | None, coder: str | None, documents: tuple[str, ...],
         include_interviewer: bool, params: tuple[str, ...]) -> None:
    """Let a machine coder suggest codes; suggestions wait for review.

    Example: chimeqda code -p my-study --coder ensemble
    """
    from chimeqda.services import run_coder

    ws = _open(project_dir, db)
    run = run_coder(ws, coder, params=_parse_params(params), documents=documents or None,
                    include_interviewer=include_interviewer, progress=lambda m: click.echo(m, err=True))
    click.echo(f"{run.suggestions} new suggestions on {run.segments} segments by {run.coder.name} "
               f"{run.coder.version} (run {run.run_id[:8]}); {run.skipped_existing} already suggested or decided.")
    click.echo("Review them with: chimeqda review")


def _parse_params(params: tuple[str, ...]) -> dict[str, Any]:
    import json

    parsed: dict[str, Any] = {}
    for item in params:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        key, value = item.split("=", 1)
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = value
    return parsed


@main.command()
@project_options
@click.option("--code", "code_filter", help="Only suggestions of this code (and its sub-codes).")
@click.option("--document", help="Only suggestions in this document.")
@click.option("--min-score", type=float)
@click.option("--max-score", type=float)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--accept", "accept_ids", help="Accept these suggestion ids (comma-separated).")
@click.option("--reject", "reject_ids", help="Reject these suggestion ids (comma-separated).")
@click.option("--accept-listed", is_flag=True, help="Accept every suggestion the filters select.")
@click.option("--reject-listed", is_flag=True, help="Reject every suggestion the filters select.")
@click.option("--interactive", "-i", is_flag=True, help="Walk through suggestions: a=accept r=reject s=skip q=quit.")
@click.option("--by", default=_user, show_default="your user name", help="Name of the person deciding.")
@friendly_errors
def review(project_dir: Path, db: str | None, code_filter: str | None, document: str | None,
           min_score: float | None, max_score: float | None, limit: int, accept_ids: str | None,
           reject_ids: str | None, accept_listed: bool, reject_listed: bool, interactive: bool, by: str) -> None:
    """List, accept and reject machine suggestions.

    Example: chimeqda review --code hope --min-score 0.6; chimeqda review --accept 12,15 --reject 13
    """
    from chimeqda.services import decide, pending_suggestions

    ws = _open(project_dir, db)
    if accept_ids or reject_ids:
        for ids, action in ((accept_ids, "accepted"), (reject_ids, "rejected")):
            if ids:
                n = decide(ws, _ids(ids), action, by=by)
                click.echo(f"{action} {n} suggestion(s)")
        return
    pending = pending_suggestions(ws, code=code_filter, document=document, min_score=min_score,
                                  max_score=max_score, limit=None if (accept_listed or reject_listed) else limit)
    if accept_listed or reject_listed:
        action = "accepted" if accept_listed else "rejected"
        n = decide(ws, [p.event_id for p in pending], action, by=by) if pending else 0
        click.echo(f"{action} {n} suggestion(s)")
        return
    if not pending:
        click.echo("No pending suggestions match.")
        return
    for item in pending:
        score = f"{item.score:.2f}" if item.score is not None else "–"
        click.echo(f"#{item.event_id} {item.code} {score} {item.document}"
                   f"{' [' + item.participant + ']' if item.participant else ''}")
        click.echo(f"    “{_marked(item)}”")
        if item.evidence:
            click.echo(f"    why: {item.evidence}")
        if interactive:
            choice = click.prompt("    [a]ccept, [r]eject, [s]kip, [q]uit", type=click.Choice(list("arsq")),
                                  show_choices=False, default="s")
            if choice == "q":
                break
            if choice in "ar":
                decide(ws, [item.event_id], "accepted" if choice == "a" else "rejected", by=by)


def _marked(item) -> str:
    """The suggestion's segment with the words it names (a quote inside the segment) between » and «."""
    start, end = item.segment_start, item.segment_end
    if start is None or end is None or (item.start, item.end) == (start, end) \
            or not start <= item.start < item.end <= end:
        return item.text
    a, b, unit = item.start - start, item.end - start, item.segment_text
    return f"{unit[:a]}»{unit[a:b]}«{unit[b:]}"


def _ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise click.BadParameter(f"{text!r}: give suggestion ids separated by commas, e.g. 12,15") from None


ANALYSES = ("frequencies", "matrix", "cooccurrence", "linked", "quotes", "by-attribute", "segments")


@main.command()
@click.argument("what", type=click.Choice(ANALYSES))
@project_options
@click.option("--level", type=click.Choice(["root", "code", "all"]), default="root", show_default=True,
              help="root: roll sub-codes up to top-level codes; code: as coded; all: code and ancestors.")
@click.option("--include-suggested", is_flag=True, help="Count pending machine suggestions too.")
@click.option("--window", type=int, default=0, show_default=True, help="Co-occurrence window in segments.")
@click.option("--code", "code_id", help="For `linked`: the code whose links to show (default: most frequent).")
@click.option("--attribute", help="For `by-attribute`: the participant attribute.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the table to CSV.")
@friendly_errors
def analyse(what: str, project_dir: Path, db: str | None, level: str, include_suggested: bool, window: int,
            code_id: str | None, attribute: str | None, csv_out: Path | None) -> None:
    """Print an analysis table: frequencies, matrix, cooccurrence, linked, quotes, by-attribute, segments.

    Example: chimeqda analyse frequencies; chimeqda analyse by-attribute --attribute gender
    """
    from chimeqda import analysis
    from chimeqda.services import codings_frame, participants_frame, segments_frame
    from chimeqda.services.project import project_codebook

    ws = _open(project_dir, db)
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
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
        if not attribute:
            choices = [c for c in people.columns if c != "participant"]
            raise click.UsageError(f"give --attribute, one of: {', '.join(choices) or '(no attributes loaded)'}")
        table = analysis.frequencies_by_attribute(codings, book, people, attribute, **common)
    else:
        table = codings
    _echo_table(table)
    if csv_out:
        table.to_csv(csv_out)
        click.echo(f"written {csv_out}", err=True)


@main.command()
@project_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("report"), show_default=True)
@click.option("--include-suggested", is_flag=True, help="Count pending machine suggestions too.")
@click.option("--window", type=int, default=1, show_default=True, help="Co-occurrence window in segments.")
@friendly_errors
def report(project_dir: Path, db: str | None, out: Path, include_suggested: bool, window: int) -> None:
    """Write the findings report (one self-contained HTML file plus a CSV per table).

    Example: chimeqda report -p my-study --out my-study/report
    """
    from chimeqda.services import project_report
    from chimeqda.services.rigour import rigour_sections

    ws = _open(project_dir, db)
    path = project_report(ws, out, include_suggested=include_suggested, window=window,
                          extra_sections=rigour_sections(ws, include_suggested=include_suggested))
    click.echo(f"Report: {path}")


@main.command()
@click.option("--codebook", default="chime-d", show_default=True, help="Built-in name or codebook file.")
@click.option("--coder", default=None, help="Coder name (default: ensemble).")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help='JSON lines {"id": ..., "text": ...} (optional "lang", "context").')
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--train", "train_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Labelled JSON lines (text, labels) to train a learning coder on first.")
@click.option("--encoder", help="Sentence encoder: minilm, e5, or a local sentence-transformers model folder.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Coder parameter (repeatable).")
@click.option("--whole-passages", is_flag=True,
              help="Score each passage as one text instead of sentence by sentence (the default).")
@friendly_errors
def classify(codebook: str, coder: str | None, input_path: Path, output_path: Path, train_path: Path | None,
             encoder: str | None, params: tuple[str, ...], whole_passages: bool) -> None:
    """Code passages from a JSONL file without a project (for benchmarks and pipelines).

    Example: chimeqda classify --coder lexicon --input passages.jsonl --output coded.jsonl
    """
    from chimeqda.classify import classify_file
    from chimeqda.codebook import load_codebook

    stats = classify_file(input_path, output_path, load_codebook(codebook), coder, train=train_path,
                          encoder=encoder, params=_parse_params(params) or None, by_sentence=not whole_passages)
    click.echo(f"wrote {output_path}" + (f" ({stats})" if stats else ""), err=True)


@main.command()
def coders() -> None:
    """List the available machine coders.

    Example: chimeqda coders
    """
    from chimeqda.coders import CODERS, DEFAULT_CODER

    for name, cls in sorted(CODERS.items()):
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        click.echo(f"{name}{' (default)' if name == DEFAULT_CODER else ''}: {doc}")


@main.command()
@click.option("--coder", default=None, help="Coder to prepare (default: ensemble).")
@click.option("--codebook", default="chime-d", show_default=True, help="Built-in name or codebook file.")
@friendly_errors
def prepare(coder: str | None, codebook: str) -> None:
    """Fit a coder on a codebook's examples once and cache it (setup runs this).

    Embedding the example bank and fitting the default coder takes about half
    a minute on a 2-core laptop for the built-in codebook (its multilingual-e5
    vectors ship with chimeqda), longer for your own; afterwards `chimeqda code`
    and `chimeqda demo` load the cached fit. Nothing is downloaded.

    Example: chimeqda prepare --codebook chime-d
    """
    import time

    from chimeqda.codebook import load_codebook
    from chimeqda.coders import get_coder
    from chimeqda.coders.cache import cache_root, fit_cached

    started = time.perf_counter()
    fitted = fit_cached(get_coder(coder), load_codebook(codebook))
    where = cache_root()
    click.echo(f"{fitted.coder_id} coder ready for {codebook} in {time.perf_counter() - started:.1f} s"
               + (f" (cached in {where})" if where else " (caching is off)"))


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for the project and report (default: a new ./chimeqda-demo).")
@click.option("--coder", default=None, help="Coder to use (default: ensemble).")
@friendly_errors
def demo(out: Path | None, coder: str | None) -> None:
    """Run the whole path on the bundled synthetic sample study.

    init → import → machine coding → review against the human reference → analysis → report.

    Example: chimeqda demo --out /tmp/demo
    """
    from chimeqda.services.demo import run_demo

    result = run_demo(out, coder=coder, progress=lambda m: click.echo(m, err=True))
    click.echo(f"Done in {result.seconds:.1f} s.")
    click.echo(f"Project: {result.project_dir}")
    click.echo(f"Report:  {result.report}")
    click.echo(f"Tables:  {result.report.parent / 'tables'}")


@main.group()
def codebook() -> None:
    """Show, check and export codebooks."""


@codebook.command("show")
@click.argument("source", default="chime-d")
def codebook_show(source: str) -> None:
    """Print a codebook's code tree.

    Example: chimeqda codebook show chime-d
    """
    from chimeqda.codebook import load_codebook

    try:
        book = load_codebook(source)
    except ChimeqdaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{book.name} ({book.id} {book.version}), {len(book.codes)} codes, {len(book.bank)} bank examples")
    for item in book.codes:
        depth = item.id.count(".") if item.id.startswith(book.root_of(item.id)) else 0
        click.echo(f"{'  ' * depth}{item.id}: {item.name}")


@codebook.command("validate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def codebook_validate(path: Path) -> None:
    """Check a codebook file; errors name the file, row and field.

    Example: chimeqda codebook validate my-codebook.csv
    """
    from chimeqda.codebook import load_codebook

    try:
        book = load_codebook(path)
    except ChimeqdaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"OK: {len(book.codes)} codes ({len(book.top_level)} top-level)")


@codebook.command("export")
@click.argument("source", default="chime-d")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help=".csv or .yaml file")
def codebook_export(source: str, out: Path) -> None:
    """Write a codebook as CSV or YAML.

    Example: chimeqda codebook export chime-d --out chime-d.csv
    """
    from chimeqda.codebook import load_codebook, write_codebook_csv, write_codebook_yaml

    try:
        book = load_codebook(source)
    except ChimeqdaError as exc:
        raise click.ClickException(str(exc)) from None
    (write_codebook_yaml if out.suffix.lower() in (".yaml", ".yml") else write_codebook_csv)(book, out)
    click.echo(f"wrote {out}")


@main.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("migrate")
@project_options
@friendly_errors
def db_migrate(project_dir: Path, db: str | None) -> None:
    """Bring the database schema up to date (PostgreSQL needs this after an upgrade).

    Example: chimeqda db migrate --db postgresql://me@localhost/study
    """
    from chimeqda.store.db import head_revision, make_engine, migrate, project_url

    engine = make_engine(project_url(project_dir, db))
    migrate(engine)
    click.echo(f"schema at revision {head_revision()}")


# ---------------------------------------------------------------- feature commands
# Each feature package defines its click commands in its own module; they are
# added to the main group here, one line each.
from chimeqda.interop.commands import export as _interop_export  # noqa: E402

main.add_command(_interop_export)
from chimeqda import rigour_cli as _rigour  # noqa: E402

for _command in getattr(_rigour, "COMMANDS", ()):  # empty while rigour_cli itself is importing this module
    main.add_command(_command)
from chimeqda.web.commands import serve as _web_serve, users as _web_users  # noqa: E402

main.add_command(_web_serve)
main.add_command(_web_users)
from chimeqda.llm_cli import teach as _llm_teach  # noqa: E402

main.add_command(_llm_teach)
from chimeqda.active_cli import next_command  # noqa: E402

main.add_command(next_command)
# (end of feature commands)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
