"""Recordings spoken by espeak-ng at test time from a known script, and one loaded speech model."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("faster_whisper", reason="the audio extra is not installed")
if shutil.which("espeak-ng") is None:  # pragma: no cover - scripts/system-deps.sh installs it
    pytest.skip("espeak-ng is not installed (scripts/system-deps.sh)", allow_module_level=True)

ENGLISH = [
    (0, "Thank you for joining me today. How have you been feeling since we last spoke?"),
    (1, "Honestly, much better. I started going to a support group every Tuesday."),
    (0, "What does the group mean to you?"),
    (1, "It gives me hope. The people there understand what I went through."),
]
INTERVIEW = [  # eight turns with short pauses: splitting at pauses alone cannot find them
    (0, "Thank you for joining me today. How have you been feeling since we last spoke?"),
    (1, "Honestly, much better. I started going to a support group every Tuesday evening."),
    (0, "What does the group mean to you?"),
    (1, "It gives me hope. The people there understand what I went through."),
    (0, "And how are things at home with your family?"),
    (1, "We talk more now. My sister visits on Sundays and we cook together."),
    (0, "Is there anything you are still worried about?"),
    (1, "Money, mostly. But I have a plan and a counsellor who helps me with it."),
]
DISTINCT_VOICES = ("en-us", "en-us+f3")  # a low and a high voice the voice encoder tells apart
SHORT_GAP = 0.5
DUTCH = [
    (0, "Dank je wel dat je er bent. Hoe gaat het nu met je?"),
    (1, "Het gaat veel beter. Ik heb weer werk gevonden en ik sport elke week."),
]


@pytest.fixture(scope="session")
def asr(tmp_path_factory):
    """The shipped Whisper base model, assembled into this session's cache and loaded once."""
    from chimeqda.audio.transcribe import AsrSettings, load_model

    settings = AsrSettings(cpu_threads=2)
    load_model(settings)
    return settings


def _make(folder, name, script, language="en", stereo=False, suffix=".wav", **speech):
    from chimeqda.audio.synthetic import encode, speak_script, write_wav

    samples, times = speak_script(script, language, stereo=stereo, **speech)
    wav = write_wav(folder / f"{name}.wav", samples)
    if suffix == ".wav":
        return wav, times
    target = encode(wav, folder / f"{name}{suffix}")
    wav.unlink()
    return target, times


@pytest.fixture(scope="session")
def recordings(tmp_path_factory):
    """English stereo (.ogg, one voice per channel), English mono (.wav), Dutch mono (.opus),
    and an English mono interview of eight turns with short pauses (.wav)."""
    folder = tmp_path_factory.mktemp("recordings")
    return {
        "stereo": _make(folder, "P01 stereo", ENGLISH, stereo=True, suffix=".ogg"),
        "mono": _make(folder, "P02 mono", ENGLISH, voices=DISTINCT_VOICES),
        "interview": _make(folder, "P04 interview", INTERVIEW, voices=DISTINCT_VOICES, gap=SHORT_GAP),
        "dutch": _make(folder, "P03 dutch", DUTCH, "nl", suffix=".opus"),
    }


@pytest.fixture(scope="session")
def transcripts(recordings, asr):
    """Each recording transcribed once for the session."""
    from chimeqda.audio.transcribe import transcribe_file

    return {key: transcribe_file(path, asr) for key, (path, _) in recordings.items() if key != "dutch"}


def speaker_of_word(times, script, middle: float) -> int:
    """The script speaker (0 or 1) of the line spoken at ``middle`` seconds (the nearest line in a pause)."""
    def distance(line):
        start, end = times[line]
        return 0.0 if start <= middle <= end else min(abs(middle - start), abs(middle - end))

    return script[min(range(len(times)), key=distance)][0]


def words_of(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c.isspace() else " " for c in text).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level edit distance divided by the reference's length."""
    ref, hyp = words_of(reference), words_of(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, start=1):
        previous, row[0] = row[0], i
        for j, other in enumerate(hyp, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1] / max(len(ref), 1)
