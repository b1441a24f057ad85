"""Project commands: init, import, participants, documents, demo, db migrate."""

from __future__ import annotations

from pathlib import Path

import click

from chimeqda.cli.common import (
    diarise_options,
    echo,
    echo_table,
    friendly_errors,
    open_project,
    project_options,
)
from chimeqda.errors import InvalidInput


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Project name (default: the folder name).")
@click.option("--codebook", default="chime-d", show_default=True, help="Built-in codebook name, or a YAML/CSV/XLSX file.")
@click.option("--db", envvar="CHIMEQDA_DATABASE_URL", help="SQLAlchemy URL instead of a SQLite file in DIRECTORY.")
@click.option("--pseudonymise", is_flag=True,
              help="Require pseudonymised transcripts before coding, export and report (docs/privacy.md).")
@friendly_errors
def init(directory: Path, name: str | None, codebook: str, db: str | None, pseudonymise: bool) -> None:
    """Create a project folder with a database and a codebook.

    Example: chimeqda init my-study
    """
    from chimeqda.services import init_project

    ws = init_project(directory, name=name, db=db, codebook=codebook)
    if pseudonymise:
        from chimeqda.services.privacy_audit import opt_in

        opt_in(ws)
        echo("Transcripts must be pseudonymised before coding, export and report: chimeqda pseudonymise")
    echo(f"Created project in {directory} (codebook: {codebook}). Next: chimeqda import -p {directory} TRANSCRIPTS/")


@click.command("import")
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
@click.option("--max-size", type=float, default=None, show_default="25; corpus rows 5",
              help="Largest file (for corpus files: largest row text) accepted, in MB.")
@click.option("--id-column", default="id", show_default=True, help="Corpus files: the column naming each document.")
@click.option("--text-column", default="text", show_default=True, help="Corpus files: the column holding the text.")
@click.option("--lang-column", default="lang", show_default=True, help="Corpus files: the (optional) language column.")
@click.option("--chunk-size", type=click.IntRange(1), default=1000, show_default=True,
              help="Corpus files: rows stored per transaction.")
@click.option("--asr-model", help="Recordings: a faster-whisper model folder, kept as the project's setting "
                                  "('default': the shipped Whisper base).")
@diarise_options
@friendly_errors
def import_(inputs: tuple[str, ...], project_dir: Path, db: str | None, participants_csv: Path | None,
            participant: str | None, interviewer_labels: tuple[str, ...], language: str | None, max_size: float | None,
            id_column: str, text_column: str, lang_column: str, chunk_size: int, asr_model: str | None,
            speaker_count: int, no_diarise: bool) -> None:
    """Import transcripts (.txt .md .docx .odt .vtt .srt Whisper .json) or recordings: files, folders or globs.

    Recordings (.wav .mp3 .m4a .flac .ogg .opus .webm .mp4) are transcribed on
    this machine, each stored on its own once done (docs/recordings.md).

    All files are checked first; if one is bad nothing is imported.
    Unchanged files are skipped; a changed file becomes a new version.
    Projects from other tools (REFI-QDA .qdpx .qde .qdc, Taguette .sqlite3)
    are imported on their own, with their codes and codings (docs/interop.md).
    Corpus files (.jsonl .csv .parquet: one document per row, docs/scale.md) are
    imported in chunks and resume where a stopped import left off; bad rows are
    listed and not imported, and the exit status is then 3.

    Example: chimeqda import -p my-study transcripts/ --participants participants.csv
    """
    from chimeqda.ingest.corpus import Columns, is_corpus_file
    from chimeqda.interop import EXCHANGE_SUFFIXES, import_exchange
    from chimeqda.services import import_files, read_participants_csv
    from chimeqda.services.corpus import import_corpus

    corpora = [item for item in inputs if is_corpus_file(item)]
    if corpora:
        if len(corpora) < len(inputs):
            raise InvalidInput("import corpus files (.jsonl .csv .parquet) separately from transcripts",
                               source=", ".join(corpora))
        ws = open_project(project_dir, db)
        results = [import_corpus(ws, item, columns=Columns(id_column, text_column, lang_column), language=language,
                                 chunk_size=chunk_size, max_text_bytes=int((max_size or 5) * 1_000_000),
                                 progress=lambda m: echo(m, err=True)) for item in corpora]
        for result in results:
            echo(result.summary())
            for bad in result.bad:
                echo(f"  not imported: {bad}", err=True)
            if result.bad_count > len(result.bad):
                echo(f"  … and {result.bad_count - len(result.bad)} more bad rows", err=True)
        if any(r.bad_count for r in results):
            raise click.exceptions.Exit(3)
        return

    exchange = [item for item in inputs if Path(item).suffix.lower() in EXCHANGE_SUFFIXES]
    if exchange and len(exchange) < len(inputs):
        raise InvalidInput(f"import exchange files ({' '.join(EXCHANGE_SUFFIXES)}) separately from transcripts, "
                           f"e.g. chimeqda import {Path(exchange[0]).name}", source=", ".join(exchange))
    if exchange:
        _refuse_transcript_options(participant=participant, interviewer=interviewer_labels, language=language,
                                   max_size=max_size, asr_model=asr_model)
    ws = open_project(project_dir, db)
    if exchange:
        people = read_participants_csv(participants_csv) if participants_csv else []
        for item in exchange:
            echo(str(import_exchange(ws, item)))
        if people:
            _link_and_report(ws, people)
        return
    from chimeqda.services.recordings import split_recordings

    transcripts, recordings = split_recordings(inputs)
    if recordings:  # every recording is checked before any transcript is written
        from chimeqda.services.recordings import check_recordings

        checked = check_recordings(ws, recordings, status=lambda line: echo(line, err=True))
    outcomes = import_files(
        ws, transcripts, participants_csv=participants_csv, participant=participant,
        interviewer_labels=interviewer_labels, language=language, max_bytes=int((max_size or 25) * 1_000_000),
    ) if transcripts else []
    if recordings:
        from chimeqda.cli.audio import ProgressLine
        from chimeqda.services.recordings import import_recordings

        outcomes += import_recordings(
            ws, recordings, participant=participant, participants_csv=participants_csv,
            interviewer_labels=interviewer_labels, language=language, asr_model=asr_model, checked=checked,
            diarise=False if no_diarise else None, speakers=speaker_count,
            progress=ProgressLine(), status=lambda line: echo(line, err=True))
    no_interviewer = {o.document_id: o.speakers_without_interviewer for o in outcomes
                      if o.status != "unchanged" and o.speakers_without_interviewer}
    for o in outcomes:
        who = f" [{o.participant}]" if o.participant else ""
        echo(f"{o.status:12} {o.name}{who}: {o.segments} segments, {o.language}")
        if o.note:
            echo(f"{'':12} {o.note}")
        for warning in o.warnings:
            echo(f"{'':12} warning: {warning}")
        if o.document_id in no_interviewer:
            names = no_interviewer[o.document_id]
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            echo(f"{'':12} no interviewer recognised among the speakers {shown}: "
                       "all their turns count as participant speech and will be coded")
    counts = {s: sum(o.status == s for o in outcomes)
              for s in ("imported", "new version", "linked", "roles updated", "unchanged")}
    echo(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to import")
    _report_passed_over(inputs)
    if no_interviewer:
        example = next(iter(no_interviewer.values()))[0]
        echo(f"To mark the interviewer, import the same files again with --interviewer LABEL "
                   f"(e.g. --interviewer {example}): the roles are updated, codings are kept.")


@click.command()
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@project_options
@friendly_errors
def participants(csv_file: Path, project_dir: Path, db: str | None) -> None:
    """Load or update participant attributes from a CSV (column 'participant' plus attributes).

    A document the CSV's 'file' column names is linked to that row's
    participant, also when it was linked to another one (the command says
    so). Other documents without a participant are linked by a participant
    label (e.g. P03) in their file name.

    Example: chimeqda participants -p my-study participants.csv
    """
    from chimeqda.services import read_participants_csv

    rows = read_participants_csv(csv_file)
    ws = open_project(project_dir, db)
    echo(f"{len(rows)} participants loaded")
    _link_and_report(ws, rows)


def _link_and_report(ws, people) -> None:
    """Store participants, link documents to them, and say which were linked or moved to another participant."""
    from chimeqda.services.importing import link_participants

    with ws.session(lock=True) as session:
        links = link_participants(session, ws.project_id, people)
    for link in links:
        if link.previous is None:
            echo(f"linked      {link.document} → {link.participant}")
        else:
            echo(f"relinked    {link.document}: {link.previous} → {link.participant} (the CSV's 'file' column "
                 f"names it; its codings now count for {link.participant}, not {link.previous})")


def _refuse_transcript_options(**given) -> None:
    """Exchange projects bring their own documents: options that shape transcripts don't apply."""
    used = [f"--{name.replace('_', '-')}" for name, value in given.items() if value]
    if used:
        raise InvalidInput(
            f"{', '.join(used)} applies to transcripts and recordings, not to a project from another tool; "
            "import the exchange file without it (--participants is allowed: it links participants afterwards)"
        )


@click.command()
@project_options
@click.option("--all-versions", is_flag=True, help="Also list superseded versions.")
@friendly_errors
def documents(project_dir: Path, db: str | None, all_versions: bool) -> None:
    """List the project's documents.

    Example: chimeqda documents -p my-study
    """
    from chimeqda.services import documents_frame

    frame = documents_frame(open_project(project_dir, db))
    if frame.empty:
        echo(f"No documents yet. Next: chimeqda import -p {project_dir} TRANSCRIPTS/")
        return
    if not all_versions:
        frame = frame[frame["current"].astype(bool)]
    echo_table(frame.drop(columns=["imported_at"]).set_index("document_id"))


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for the project and report (default: a new ./chimeqda-demo).")
@click.option("--coder", default=None, help="Coder to use (default: ensemble).")
@friendly_errors
def demo(out: Path | None, coder: str | None) -> None:
    """Run the whole path on the bundled synthetic sample study.

    init → import → machine coding → review against the human reference → analysis → report.

    Example: chimeqda demo --out /tmp/demo
    """
    from chimeqda.services.demo import run_demo

    result = run_demo(out, coder=coder, progress=lambda m: echo(m, err=True))
    echo(f"Done in {result.seconds:.1f} s.")
    echo(f"Project: {result.project_dir}")
    echo(f"Report:  {result.report}")
    echo(f"Tables:  {result.report.parent / 'tables'}")


@click.group("db")
def db_group() -> None:
    """Database maintenance.

    Example: chimeqda db migrate -p my-study
    """


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
    echo(f"schema at revision {head_revision()}")


@db_group.command("copy")
@project_options
@click.option("--to", "target", required=True, metavar="URL",
              help="Empty database to copy into: postgresql://user@host/newdb, or sqlite:///path/new.sqlite3.")
@friendly_errors
def db_copy(project_dir: Path, db: str | None, target: str) -> None:
    """Copy the whole project database into a new, empty one (move a study to the team's PostgreSQL server).

    Everything comes along with its ids: documents and versions, the full coding history with authors
    and times, suggestions, reviews, memos, participants, accounts and the privacy audit trail. The
    project's own database is only read; stop `chimeqda serve` first, as work done during the copy stays
    behind. The pseudonymisation key file is not in any database and stays where it is.

    Example: chimeqda db copy -p my-study --to postgresql://qda@dbhost/study
    """
    from chimeqda.store.copy import copy_database
    from chimeqda.store.db import open_database, project_url, shown_url

    source = open_database(project_url(project_dir, db))
    try:
        result = copy_database(source, target)
    finally:
        source.dispose()
    counted = ", ".join(f"{rows:,} {name}" for name, rows in result.rows.items() if rows)
    echo(f"copied {result.total:,} rows into {shown_url(target)}: {counted}")
    echo(f"use it with --db (or CHIMEQDA_DATABASE_URL), e.g. chimeqda serve --db {shown_url(target)}")


COMMANDS = (init, import_, participants, documents, demo, db_group)


def _report_passed_over(inputs) -> None:
    """Name the files of the imported folders that no reader takes (an old .doc, a .pdf): never a silent gap."""
    from chimeqda.audio import RECORDING_SUFFIXES
    from chimeqda.ingest.readers import SUPPORTED_SUFFIXES, passed_over

    suffixes = SUPPORTED_SUFFIXES | RECORDING_SUFFIXES
    skipped = passed_over(inputs, suffixes)
    if skipped:
        shown = ", ".join(path.name for path in skipped[:10]) + (f" and {len(skipped) - 10} more"
                                                                 if len(skipped) > 10 else "")
        echo(f"not imported (no reader for their file type): {shown}. Transcripts must be "
                   f"{', '.join(sorted(SUPPORTED_SUFFIXES))}; save a .doc or .rtf as .docx to import it")
