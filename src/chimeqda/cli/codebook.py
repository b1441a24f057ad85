"""Codebook commands: chimeqda codebook show | validate | export."""

from __future__ import annotations

from pathlib import Path

import click

from chimeqda.cli.common import echo, friendly_errors


@click.group()
def codebook() -> None:
    """Show, check and export codebooks.

    Example: chimeqda codebook show chime-d
    """


@codebook.command("show")
@click.argument("source", default="chime-d")
@friendly_errors
def codebook_show(source: str) -> None:
    """Print a codebook's code tree.

    Example: chimeqda codebook show chime-d
    """
    from chimeqda.codebook import load_codebook

    book = load_codebook(source)
    echo(f"{book.name} ({book.id} {book.version}), {len(book.codes)} codes, {len(book.bank)} bank examples")
    for item in book.codes:
        depth = item.id.count(".") if item.id.startswith(book.root_of(item.id)) else 0
        echo(f"{'  ' * depth}{item.id}: {item.name}")


@codebook.command("validate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def codebook_validate(path: Path) -> None:
    """Check a codebook file; errors name the file, row and field.

    Example: chimeqda codebook validate my-codebook.csv
    """
    from chimeqda.codebook import load_codebook

    book = load_codebook(path)
    echo(f"OK: {len(book.codes)} codes ({len(book.top_level)} top-level)")


@codebook.command("export")
@click.argument("source", default="chime-d")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help=".csv or .yaml file")
@friendly_errors
def codebook_export(source: str, out: Path) -> None:
    """Write a codebook as CSV or YAML.

    Example: chimeqda codebook export chime-d --out chime-d.csv
    """
    from chimeqda.codebook import load_codebook, write_codebook_csv, write_codebook_yaml

    book = load_codebook(source)
    (write_codebook_yaml if out.suffix.lower() in (".yaml", ".yml") else write_codebook_csv)(book, out)
    echo(f"wrote {out}")


COMMANDS = (codebook,)
