"""ImportOutcome says when a file's speakers include nobody recognised as the interviewer."""

from __future__ import annotations

from chimeqda.services import import_files

DIALOGUE = (
    "Els: How did you find the meetings?\n"
    "Marc: I kept going back because nobody judged me.\n"
    "Els: And now?\n"
    "Marc: Now I am the one who makes the coffee.\n"
)


def test_outcome_names_the_speakers_when_no_interviewer_is_recognised(workspace, tmp_path):
    path = tmp_path / "P07-focus.txt"
    path.write_text(DIALOGUE, encoding="utf-8")

    (first,) = import_files(workspace, [path])
    assert first.speakers_without_interviewer == ("Els", "Marc")

    (again,) = import_files(workspace, [path], interviewer_labels=["Els"])
    assert again.status == "roles updated" and again.speakers_without_interviewer == ()


def test_a_recognised_interviewer_or_a_single_speaker_gives_no_names(workspace, tmp_path):
    marked = tmp_path / "P08.txt"
    marked.write_text(DIALOGUE.replace("Els:", "Interviewer:"), encoding="utf-8")
    alone = tmp_path / "P09-diary.txt"
    alone.write_text("Marc: I kept going back.\nMarc: Now I make the coffee.\n", encoding="utf-8")

    outcomes = {o.name: o for o in import_files(workspace, [marked, alone])}

    assert outcomes["P08.txt"].speakers_without_interviewer == ()
    assert outcomes["P09-diary.txt"].speakers_without_interviewer == ()
