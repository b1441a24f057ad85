"""Benchmark: speaker diarisation of mono recordings (Resemblyzer voice encoder, CPU).

Speaks synthetic two-person interviews with espeak-ng, turns separated by
0.5 s of silence (too short for pause turns), transcribes each once without
diarisation (Whisper base, int8, 2 threads) and then times the diarisation
step alone, exactly as ``transcribe_file`` runs it: the recording read in the
transcriber's windows, voice prints of the words' speech, clustering, words
split into speakers. Reports its time ÷ the recording's duration, the share of
words given to the right speaker (clusters matched to the script's speakers
the best way round), the script's speaker changes found (a turn starting
within 1 s), whether the suggested interviewer is the script's, and the turns
pauses alone would give. Rewrites the ``diarise-bench`` part of the
transcription section of docs/benchmarks.md. Not a test.

    .venv/bin/python benchmarks/diarise_bench.py [--long-minutes 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from asr_bench import DUTCH, ENGLISH, peak_mb

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- diarise-bench:start -->", "<!-- diarise-bench:end -->"
AFTER = "<!-- asr-bench:end -->"
GAP = 0.5
DISTINCT = {"en": ("en-us", "en-us+f3"), "nl": ("nl", "nl+f3")}


def script_speaker(times, script, middle: float) -> int:
    def distance(line):
        start, end = times[line]
        return 0.0 if start <= middle <= end else min(abs(middle - start), abs(middle - end))

    return script[min(range(len(times)), key=distance)][0]


def diarise_timed(path: Path, transcript, settings) -> tuple[list, float, int, str | None]:
    """The diarisation step of ``transcribe_file`` on an already transcribed recording, timed."""
    from chimeqda.audio.diarise import (
        VoiceEmbeddings,
        diarise,
        split_by_speaker,
        suggest_interviewer,
    )
    from chimeqda.audio.transcribe import windows

    started = time.perf_counter()
    voices = VoiceEmbeddings()
    words = [(w[1], w[2]) for u in transcript.utterances for w in u.words]
    for offset, window in windows(path, 1, settings.window_seconds):
        end = offset + window.shape[1] / 16000
        voices.add(window[0], offset, [w for w in words if offset <= w[0] < end])
    result = diarise(voices, settings.speakers)
    utterances = split_by_speaker(transcript.utterances, result)
    interviewer = suggest_interviewer(utterances)
    return utterances, time.perf_counter() - started, len(voices), interviewer


def measure(label: str, path: Path, times, script, settings) -> dict:
    from chimeqda.audio.transcribe import transcribe_file

    started = time.perf_counter()
    plain = transcribe_file(path, replace(settings, diarise=False))
    asr = time.perf_counter() - started
    utterances, seconds, prints, interviewer = diarise_timed(path, plain, settings)
    pairs = [(u.speaker, script_speaker(times, script, (a + b) / 2)) for u in utterances for _, a, b, _ in u.words]
    right = max(sum((s == "Speaker 1") == (t == 0) for s, t in pairs), sum((s == "Speaker 1") == (t == 1) for s, t in pairs))
    starts, previous = [], None
    for utterance in utterances:
        if utterance.speaker != previous:
            starts.append(utterance.time)
        previous = utterance.speaker
    changes = [times[i][0] for i in range(1, len(script)) if script[i][0] != script[i - 1][0]]
    found = sum(any(abs(start - change) <= 1.0 for start in starts) for change in changes)
    said = [t for s, t in pairs if s == interviewer]
    interviewer_right = bool(said) and said.count(0) > len(said) / 2  # the script's interviewer is speaker 0
    row = {"label": label, "duration": plain.info.duration, "asr": asr, "seconds": seconds, "prints": prints,
           "accuracy": right / len(pairs), "words": len(pairs), "changes": len(changes), "found": found,
           "turns": len(starts), "pause_turns": len(plain.document().turns), "interviewer": interviewer_right}
    print(label, {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}, file=sys.stderr)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-minutes", type=float, default=10.0)
    args = parser.parse_args()

    from chimeqda.audio.diarise import encoder_provenance
    from chimeqda.audio.synthetic import RATE, VOICES, speak_script, write_wav
    from chimeqda.audio.transcribe import AsrSettings, load_model

    settings = AsrSettings(cpu_threads=2)
    load_model(settings)
    started = time.perf_counter()
    encoder = encoder_provenance()
    encoder_load = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="chimeqda-diarise-bench-"))
    rows = []
    cases = [
        ("English, 12 turns, a low and a high voice", ENGLISH, "en", DISTINCT["en"], None),
        ("English, 12 turns, two similar voices (espeak-ng en-us, en-gb+m3)", ENGLISH, "en", VOICES["en"], None),
        ("Dutch, 6 turns, a low and a high voice, `--language nl`", DUTCH, "nl", DISTINCT["nl"], "nl"),
    ]
    for number, (label, script, language, voices, forced) in enumerate(cases):
        samples, times = speak_script(script, language, gap=GAP, voices=voices)
        path = write_wav(folder / f"case{number}.wav", samples)
        rows.append(measure(label, path, times, script, replace(settings, language=forced)))
    samples, times = speak_script(ENGLISH, "en", gap=GAP, voices=DISTINCT["en"])
    repeats = max(1, int(args.long_minutes * 60 / (samples.shape[1] / RATE)))
    import numpy as np

    long = np.concatenate([samples] * repeats, axis=1)
    span = samples.shape[1] / RATE
    long_times = [(a + k * span, b + k * span) for k in range(repeats) for a, b in times]
    path = write_wav(folder / "long.wav", long)
    rows.append(measure(f"English, {long.shape[1] / RATE / 60:.0f} minutes (the 12 turns {repeats} times), low and high voice",
                        path, long_times, ENGLISH * repeats, settings))
    write_section(rows, encoder, encoder_load)


def write_section(rows: list[dict], encoder: dict, encoder_load: float) -> None:
    lines = "\n".join(
        f"| {r['label']} | {r['duration']:.0f} | {r['asr']:.1f} | {r['seconds']:.1f} | **{r['seconds'] / r['duration']:.3f}×** "
        f"| {r['prints']:,} | **{r['accuracy']:.1%}** of {r['words']:,} | {r['found']} of {r['changes']} | {r['turns']} "
        f"| {r['pause_turns']} | {'yes' if r['interviewer'] else 'no'} |" for r in rows)
    section = f"""{START}
### Speaker diarisation of mono recordings (Resemblyzer voice encoder)

`.venv/bin/python benchmarks/diarise_bench.py` — {platform.machine()}, {os.cpu_count()} cores, Python
{platform.python_version()}, Resemblyzer {encoder['resemblyzer']} (weights sha256 `{encoder['model_sha256'][:16]}…`, loaded in
{encoder_load:.1f} s), {time.strftime('%Y-%m-%d')}; load average {os.getloadavg()[0]:.1f} at the end (shared cores: wall times
are upper bounds). Synthetic two-person interviews spoken by espeak-ng, the turns {GAP} s apart (less than the 1 s pause
that starts a turn without diarisation). *Diarisation* is the step alone (reading the windows, voice prints every 0.4 s
of the words' speech, spherical k-means into 2 voices, words split into speakers), timed after a transcription without it;
*words right*: words given to the script's speaker (clusters matched the best way round); *changes found*: the script's
speaker changes with a diarised turn starting within 1 s; *pause turns*: turns the same recording gets with `--no-diarise`.

| recording | duration (s) | transcription (s) | diarisation (s) | diarisation ÷ duration | voice prints | words right | changes found | turns | pause turns | interviewer suggested right |
|---|---|---|---|---|---|---|---|---|---|---|
{lines}

Peak RSS of the whole benchmark process: {peak_mb():,.0f} MB (the prints of the long recording are
{rows[-1]['prints'] * 256 * 4 / 1e6:.1f} MB; the audio is read a window at a time as for transcription).
Two voices the encoder hears as alike (the similar-voices row) are where it fails; real interviews differ
more than espeak-ng's variants of one voice, but same-sex speakers on a poor recording can come close, so the
speakers are a suggestion to check (docs/recordings.md).
{END}"""
    text = DOC.read_text(encoding="utf-8")
    if START in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END):]
    else:
        text = text.replace(AFTER, AFTER + "\n\n" + section, 1)
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote the diarise-bench part of {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
