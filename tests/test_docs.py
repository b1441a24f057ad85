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
        name = " ".join(path)
        if len(path) > 1:  # groups too; a group may list example calls instead of an "Example:" line
            assert "Example" in command.help or (hasattr(command, "commands") and f"{name} " in command.help), \
                f"{name}: the docstring should show an example"
