"""Recording commands: transcribe (no project needed) and speakers (fix the turns of a document)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from chimeqda.cli.common import (
    diarise_options,
    echo,
    friendly_errors,
    open_project,
    project_options,
    terminal_safe,
)
from chimeqda.errors import InvalidInput

ASR_MODEL_HELP = ("A faster-whisper model folder (e.g. a large-v3 conversion for better Dutch); "
                  "default: the shipped Whisper base.")
class ProgressLine:
    """``name: 40% (2:10 of 5:00), about 1:20 left`` on stderr, rewritten in place."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.shown = 0.0

    def __call__(self, name: str, done: float, total: float) -> None:
        now = time.monotonic()
        started = self.started.setdefault(name, now)
        if now - self.shown < 0.5 and done < total:
            return
        self.shown = now
        share = done / total if total else 1.0
        left = (now - started) * (1 - share) / share if share > 0.02 else None
        eta = f", about {_clock(left)} left" if left is not None else ""
        end = "\n" if done >= total else ""
        click.echo(f"\r{terminal_safe(name)}: {share:4.0%} ({_clock(done)} of {_clock(total)}){eta}   {end}", nl=False, err=True)


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{rest:02d}" if minutes >= 60 else f"{minutes}:{rest:02d}"


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here; the suffix picks the format: .txt (Speaker: text per turn), .vtt, .srt, .json "
                   "(Whisper-style). With several recordings, a folder-like stem gets the recording's name.")
@click.option("--language", type=click.Choice(["en", "nl"]), help="Language spoken (default: detected per file).")
@click.option("--asr-model", type=click.Path(file_okay=False), help=ASR_MODEL_HELP)
@diarise_options
@friendly_errors
def transcribe(files: tuple[Path, ...], out: Path | None, language: str | None, asr_model: str | None,
               speaker_count: int, no_diarise: bool) -> None:
    """Transcribe recordings offline (.wav .mp3 .m4a .flac .ogg .opus .webm .mp4); no project needed.

    Without --out the transcript is printed (one turn per line). Mono recordings
    are split into speakers by their voices (docs/recordings.md).

    Example: chimeqda transcribe interview.m4a --out interview.vtt
    """
    from chimeqda.audio import RECORDING_SUFFIXES
    from chimeqda.audio.formats import check_output, render
    from chimeqda.audio.transcribe import AsrSettings, transcribe_file

    for file in files:
        if file.suffix.lower() not in RECORDING_SUFFIXES:
            raise InvalidInput(f"not a recording type; supported: {' '.join(sorted(RECORDING_SUFFIXES))}",
                               source=file.name)
    if out is not None:
        check_output(out)
    settings = AsrSettings(model_dir=asr_model, language=language, diarise=False if no_diarise else None,
                           speakers=speaker_count)
    progress = ProgressLine()
    for file in files:
        transcript = transcribe_file(file, settings, progress=lambda done, total, n=file.name: progress(n, done, total))
        doc = transcript.document()
        suffix = out.suffix if out is not None else ".txt"
        text = render(doc, suffix, transcript.utterances)
        if out is None:
            sys.stdout.write(text)
            continue
        target = out if len(files) == 1 else out.with_name(f"{out.stem}-{file.stem}{out.suffix}")
        target.write_text(text, encoding="utf-8")
        echo(f"written {target} ({len(doc.turns)} turns, {len(doc.segments)} sentences, {doc.language})",
                   err=True)


@click.command()
@click.argument("document")
@project_options
@click.option("--turn", "turns", help="A turn number, or a range like 3-7 (see the list).")
@click.option("--speaker", help="Give the turn(s) this speaker name.")
@click.option("--role", type=click.Choice(["interviewer", "participant", "other"]),
              help="Give the turn(s) this role; interviewer turns are not coded.")
@click.option("--merge", is_flag=True, help="Merge the turns of --turn (default: that turn and the next).")
@click.option("--split-at", type=int, help="Start a new turn at this sentence of --turn (counted from 0).")
@friendly_errors
def speakers(document: str, project_dir: Path, db: str | None, turns: str | None, speaker: str | None,
             role: str | None, merge: bool, split_at: int | None) -> None:
    """List a document's speaker turns, or fix them: name a speaker, set a role, merge or split turns.

    Codings and offsets are kept; only turns and their sentences' speaker and role change.

    Example: chimeqda speakers -p my-study interview.m4a --turn 0-4 --speaker Els --role interviewer
    """
    from chimeqda.services.speakers import list_turns, merge_turns, set_speaker, split_turn

    ws = open_project(project_dir, db)
    changing = speaker is not None or role is not None or merge or split_at is not None
    if changing:
        if turns is None:
            raise InvalidInput("say which turn(s) to change with --turn N or --turn N-M")
        first, last = _turn_range(turns)
        if merge:
            merge_turns(ws, document, first, last if last != first else None)
            echo(f"merged turns {first}-{last if last != first else first + 1}")
        elif split_at is not None:
            new = split_turn(ws, document, first, split_at, speaker=speaker, role=role)
            echo(f"turn {first} split: the new turn is {new}")
        else:
            count = set_speaker(ws, document, first, last, speaker=speaker, role=role)
            echo(f"changed {count} turn(s)")
    for turn in list_turns(ws, document):
        when = f"{_clock(turn.time)} " if turn.time is not None else ""
        text = turn.text if len(turn.text) <= 70 else turn.text[:67] + "..."
        echo(f"{turn.index:4} {when}{turn.speaker or '(unnamed)'} [{turn.role}]: {text}")


def _turn_range(value: str) -> tuple[int, int]:
    try:
        first, _, last = value.partition("-")
        low, high = int(first), int(last or first)
    except ValueError:
        raise InvalidInput(f"--turn takes a number or a range like 3-7, not {value!r}") from None
    return low, high


COMMANDS = (transcribe, speakers)
