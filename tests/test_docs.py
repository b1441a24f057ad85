"""Documentation that must not fall behind the code."""

from pathlib import Path

from chimeqda.cli import main
from chimeqda.docs_cli import _walk, render

ROOT = Path(__file__).parent.parent


def test_cli_reference_is_current():
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render(), "docs/cli.md is out of date: run `make docs`"


def test_every_command_has_a_docstring_with_an_example():
    for path, command in _walk(main, ["chimeqda"]):
        assert command.help, f"{' '.join(path)} has no help text"
        if not hasattr(command, "commands"):
            assert "Example" in command.help, f"{' '.join(path)}: the docstring should show an example"
