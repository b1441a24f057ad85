"""``chimeqda export``: REFI-QDA, spreadsheets and Word (see docs/interop.md)."""

from __future__ import annotations

from pathlib import Path

import click

from chimeqda.cli.common import (
    allow_unpseudonymised_option,
    echo,
    friendly_errors,
    guard_privacy,
    log_export,
    open_project,
    project_options,
)

FORMATS = {
    "qdpx": ".qdpx",
    "qdc": ".qdc",
    "xlsx": ".xlsx",
    "docx": ".docx",
    "csv-codebook": ".csv",
    "xlsx-codebook": ".xlsx",
    "presence-matrix": ".csv",
    "vtt": ".vtt",
    "srt": ".srt",
}


WITH_TRANSCRIPT_TEXT = ("qdpx", "xlsx", "docx")  # formats that carry quotes or whole transcripts


@click.command("export")
@project_options
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), required=True,
              help="qdpx: REFI-QDA project; qdc: REFI-QDA codebook; xlsx: every analysis table; docx: the report "
                   "for Word; csv-codebook/xlsx-codebook: the codebook; presence-matrix: participants × codes 0/1 "
                   "(.csv or .xlsx); vtt/srt: one timed transcript as subtitles (with --document).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file (default: the project name with the format's extension).")
@click.option("--include-suggested", is_flag=True, help="Tables and report: count pending machine suggestions too.")
@click.option("--window", type=int, default=1, show_default=True, help="Co-occurrence window in segments.")
@click.option("--document", help="vtt/srt: the transcript to write (its name or id).")
@click.option("--recordings/--no-recordings", default=None,
              help="qdpx: include the recordings of recorded interviews (default: yes, except in projects that "
                   "require pseudonymisation: a voice, and the names it speaks, are not pseudonymised).")
@allow_unpseudonymised_option
@friendly_errors
def export(project_dir: Path, db: str | None, fmt: str, out: Path | None, include_suggested: bool,
           window: int, document: str | None, recordings: bool | None, allow_unpseudonymised: bool) -> None:
    """Export the project for other tools: REFI-QDA (.qdpx/.qdc), Excel, Word, codebook, presence matrix, subtitles.

    A recorded interview goes into the .qdpx with its recording (REFI-QDA AudioSource,
    transcript and sync points).

    \b
    Example: chimeqda export -p my-study --format qdpx --out my-study.qdpx
    Example: chimeqda export -p my-study --format vtt --document P03.m4a --out P03.vtt
    """
    from chimeqda.interop import refi_export, spreadsheets, subtitles, word

    if fmt in ("vtt", "srt") and not document:
        raise click.UsageError(f"--format {fmt} writes one transcript: name it with --document NAME")
    ws = open_project(project_dir, db)
    if fmt in ("vtt", "srt"):
        name = subtitles.document_name(ws, document)
        guard_privacy(ws, allow_unpseudonymised, f"export --format {fmt}", documents=[name])
        out = out or Path(Path(name).stem + FORMATS[fmt])
        subtitles.export_subtitles(ws, name, out, fmt)
        log_export(ws, fmt, out)
        echo(f"wrote {out}")
        return
    if out is None:
        stem = (ws.directory.resolve().name if ws.directory else "chimeqda") or "chimeqda"
        suffix = "-codebook" if fmt.endswith("codebook") else "-presence" if fmt == "presence-matrix" else ""
        out = Path(f"{stem}{suffix}{FORMATS[fmt]}")
    if fmt in WITH_TRANSCRIPT_TEXT:
        guard_privacy(ws, allow_unpseudonymised, f"export --format {fmt}")
    if fmt == "qdpx":
        if recordings is None:
            recordings = not _pseudonymisation_required(ws)
            if not recordings:
                echo("recordings are left out (this project requires pseudonymisation); "
                           "add --recordings to include them")
        refi_export.export_qdpx(ws, out, recordings=recordings)
    elif fmt == "qdc":
        refi_export.export_qdc(ws, out)
    elif fmt == "xlsx":
        spreadsheets.export_tables_xlsx(ws, out, include_suggested=include_suggested, window=window)
    elif fmt == "docx":
        word.export_docx(ws, out, include_suggested=include_suggested, window=window)
    elif fmt == "presence-matrix":
        spreadsheets.export_presence(ws, out, include_suggested=include_suggested)
    else:
        from chimeqda.codebook import write_codebook_csv
        from chimeqda.services.project import project_codebook

        with ws.session() as session:
            _, book = project_codebook(session, ws.project_id)
        if fmt == "csv-codebook":
            write_codebook_csv(book, out)
        else:
            spreadsheets.write_codebook_xlsx(book, out)
    log_export(ws, fmt, out)
    echo(f"wrote {out}")


def _pseudonymisation_required(ws) -> bool:
    from chimeqda.services.privacy_audit import privacy_settings

    with ws.session() as session:
        return bool(privacy_settings(session, ws.project_id).get("required"))


COMMANDS = (export,)
