"""The ``chimeqda`` command: a thin translator from the terminal to ``services``.

``main`` is the Click group; each area module (``cli/project.py``,
``cli/coding.py``…) lists its commands in ``COMMANDS`` and imports only
``cli.common``, so registration runs one way, here. Each command's docstring
shows an example; ``docs/cli.md`` is generated from ``--help``
(``python -m chimeqda.docs_cli``) and a test fails when it falls behind.
"""

from __future__ import annotations

import sys

import click

from chimeqda import __version__
from chimeqda.cli import (
    analysis,
    audio,
    codebook,
    coding,
    exchange,
    llm,
    privacy,
    project,
    rigour,
    web,
)

AREAS = (project, coding, analysis, codebook, rigour, exchange, web, llm, privacy, audio)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chimeqda")
def main() -> None:
    """chimeqda: framework-based qualitative analysis of recovery narratives (CHIME-D built in).

    Everything runs on this machine; no interview text leaves it.
    Start with `chimeqda demo`, or `chimeqda init my-study`.
    """


for _area in AREAS:
    for _command in _area.COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
