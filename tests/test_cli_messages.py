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


PWNED = "\x1b]0;pwned\x07"  # OSC 0: would re-title the terminal window of whoever reads the message
SHOWN = "\\x1b]0;pwned\\x07"
TRANSCRIPT = """SYNTHETIC TEST TRANSCRIPT (written for chimeqda's tests; no real participant)

Interviewer: Thank you for coming. Where did you go to your first meeting?
Mieke: In Zwolle, with my sponsor Big Mike. He said keep coming back and I felt hope again.
"""


def _shown_not_run(result, *expected: str) -> str:
    assert "\x1b" not in result.output and "\x07" not in result.output, repr(result.output)
    for text in expected:
        assert text in result.output, result.output
    return result.output


def test_names_from_files_are_printed_with_control_characters_visible(tmp_path, db_url, monkeypatch):
    """File, document, participant and folder names with an escape sequence are shown as ``\\x1b``, never sent."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("CHIMEQDA_KEY_PASSPHRASE", "a long enough passphrase")
    runner = CliRunner()
    folder, transcripts = tmp_path / "study", tmp_path / "transcripts"
    p = ["-p", str(folder), "--db", db_url]
    assert runner.invoke(main, ["init", str(folder), "--db", db_url]).exit_code == 0
    transcripts.mkdir()
    (transcripts / f"interview {PWNED}.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (transcripts / "second \x1b[2J.txt").write_text(TRANSCRIPT, encoding="utf-8")  # ESC [2J clears the screen
    (transcripts / f"notes {PWNED}.xyz").write_text("not a transcript", encoding="utf-8")

    imported = runner.invoke(main, ["import", *p, str(transcripts), "--interviewer", "Interviewer"])
    assert imported.exit_code == 0, imported.output
    _shown_not_run(imported, f"interview {SHOWN}.txt", f"notes {SHOWN}.xyz")

    people = tmp_path / "participants.csv"
    # the file column lists files separated by ";", so the linked file is the one whose name has none
    people.write_text(f"participant,file,name\nP9{PWNED},second \x1b[2J.txt,Mieke\n", encoding="utf-8")
    linked = runner.invoke(main, ["participants", *p, str(people)])
    assert linked.exit_code == 0, linked.output
    _shown_not_run(linked, f"second \\x1b[2J.txt → P9{SHOWN}")

    proposals = runner.invoke(main, ["pseudonymise", *p, "--participants", str(people)])
    assert proposals.exit_code == 0, proposals.output
    _shown_not_run(proposals, f"interview {SHOWN}.txt:", "second \\x1b[2J.txt:")

    out = tmp_path / f"study {PWNED}.qdpx"
    exported = runner.invoke(main, ["export", *p, "--format", "qdpx", "--out", str(out), "--allow-unpseudonymised"])
    assert exported.exit_code == 0, exported.output
    _shown_not_run(exported, f"study {SHOWN}.qdpx")

    (transcripts / f"empty {PWNED}.txt").write_text("", encoding="utf-8")
    refused = runner.invoke(main, ["import", *p, str(transcripts / f"empty {PWNED}.txt")])
    assert refused.exit_code == 1
    _shown_not_run(refused, f"empty {SHOWN}.txt")


def test_commands_print_through_the_escaping_echo():
    """A new ``click.echo`` of a message would print names raw: commands use ``cli.common.echo``."""
    from pathlib import Path

    import chimeqda.cli

    raw = [f"{path.name}:{number}" for path in Path(chimeqda.cli.__file__).parent.glob("*.py")
           if path.name != "common.py"
           for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
           if "click.echo(" in line and "terminal_safe" not in line and "escapes its parts" not in line]
    assert not raw, f"print with cli.common.echo (control characters made visible): {raw}"
