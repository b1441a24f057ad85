"""``chimeqda next``: the segments whose human decision will teach the coder most (active learning)."""

from __future__ import annotations

from pathlib import Path

import click

from chimeqda.cli import _open, _parse_params, friendly_errors, project_options
from chimeqda.coders import DEFAULT_CODER


@click.command("next")
@project_options
@click.option("--coder", default=DEFAULT_CODER, show_default=True,
              help="Coder to retrain and ask (the one `chimeqda code` suggests with). See `chimeqda coders`.")
@click.option("-n", "count", type=click.IntRange(min=1), default=5, show_default=True, help="How many segments to serve.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Coder parameter (repeatable).")
@click.option("--no-agreement", is_flag=True, help="Skip the estimated agreement (it refits the coder per fold).")
@friendly_errors
def next_command(project_dir: Path, db: str | None, coder: str, count: int, params: tuple[str, ...],
                 no_agreement: bool) -> None:
    """Serve the undecided segments the coder is least sure about, retrained on every decision so far.

    Decide them with `chimeqda review` (or code them by hand); the next call
    refits the coder on the new decisions. Also prints Cohen's κ between the
    coder and the decisions made so far (cross-validated by document, once at
    least 20 segments are decided).

    Example: chimeqda next -n 10
    """
    from chimeqda.services.active import estimated_agreement, next_for_review

    ws = _open(project_dir, db)
    settings = _parse_params(params)
    items = next_for_review(ws, coder=coder, n=count, params=settings)
    if not items:
        click.echo("no undecided participant segments left")
    for item in items:
        who = f" [{item.participant}]" if item.participant else ""
        click.echo(f"segment {item.segment_id} {item.document}{who}: {item.code} score {item.score:.2f} "
                   f"(uncertainty {item.uncertainty:.2f})")
        click.echo(f"    {item.text}")
    if not no_agreement:
        click.echo(estimated_agreement(ws, coder=coder, params=settings).summary())
