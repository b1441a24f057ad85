"""Generate docs/cli.md from the commands' own ``--help`` (``make docs``).

A test compares the file with this output, so the reference cannot fall behind.
"""

from __future__ import annotations

import click

from chimeqda.cli import main


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found += _walk(command.commands[name], [*path, name])
    return found


def render() -> str:
    """The CLI reference as Markdown."""
    parts = ["# Command-line reference", "", "Generated from `--help` by `make docs`; do not edit by hand.", ""]
    for path, command in _walk(main, ["chimeqda"]):
        # the same help options as a real invocation (main.context_settings), so the text
        # does not depend on whether click already built them for another context
        with click.Context(command, info_name=" ".join(path), terminal_width=100,
                           help_option_names=["-h", "--help"]) as ctx:
            parts += [f"## `{' '.join(path)}`", "", "```text", command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
