"""The command line speaks to researchers: errors are one line (examples: tests/test_docs.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from chimeqda.cli import main


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not a crash
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_a_folder_that_does_not_exist_for_the_output_is_one_line(tmp_path):
    missing = tmp_path / "no-such-folder" / "chime-d.csv"
    line = _one_line_error(CliRunner().invoke(main, ["codebook", "export", "chime-d", "--out", str(missing)]))
    assert str(missing) in line


def test_an_unknown_codebook_is_one_line(tmp_path):
    line = _one_line_error(CliRunner().invoke(main, ["codebook", "show", str(tmp_path / "mine.yaml")]))
    assert "mine.yaml" in line


@pytest.mark.parametrize("args", [["documents"], ["analyse", "frequencies"], ["agreement"], ["export", "--format", "qdc"],
                                  ["users", "list"], ["report"]])
def test_commands_outside_a_project_say_so_in_one_line(tmp_path, args):
    line = _one_line_error(CliRunner().invoke(main, [*args, "-p", str(tmp_path / "nothing-here")]))
    assert "nothing-here" in line and "chimeqda init" in line
