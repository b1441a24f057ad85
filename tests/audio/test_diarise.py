"""Telling the voices of a mono recording apart (Resemblyzer's voice encoder, offline)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import INTERVIEW, speaker_of_word

from chimeqda.audio.diarise import cluster, speech_regions, split_by_speaker, suggest_interviewer
from chimeqda.ingest.timed import Utterance

pytest.importorskip("resemblyzer", reason="Resemblyzer (scripts/setup.sh) is not installed")


def test_speech_regions_join_words_across_short_gaps():
    words = [(0.0, 0.4), (0.5, 0.9), (2.0, 2.3), (2.35, 2.8), (1.0, 1.1)]
    assert speech_regions(words, gap=0.3) == [(0.0, 1.1), (2.0, 2.8)]


def test_cluster_separates_two_groups_of_directions():
    import numpy as np

    rng = np.random.default_rng(3)
    low = np.array([1.0, 0.1, 0.0]) + rng.normal(0, 0.05, (20, 3))
    high = np.array([0.0, 0.2, 1.0]) + rng.normal(0, 0.05, (15, 3))
    labels, centroids = cluster(np.vstack([low, high]), 2)
    assert len(set(labels[:20])) == 1 and len(set(labels[20:])) == 1 and labels[0] != labels[20]
    assert centroids.shape == (2, 3) and np.allclose(np.linalg.norm(centroids, axis=1), 1)


def test_the_speaker_who_asks_most_is_suggested_as_interviewer():
    said = [("Speaker 2", "Hello."), ("Speaker 1", "How are you?"), ("Speaker 1", "And your week?"),
            ("Speaker 2", "Fine."), ("Speaker 1", "Why?"), ("Speaker 2", "Am I late?")]
    utterances = [Utterance(speaker, None, text) for speaker, text in said]
    assert suggest_interviewer(utterances) == "Speaker 1"  # two asking turns against one
    assert suggest_interviewer(utterances[:4] + utterances[5:]) == "Speaker 2"  # a tie: who spoke first
    assert suggest_interviewer([Utterance("Speaker 1", 0.0, "No questions here.")]) is None


def test_a_segment_is_split_where_the_voice_changes():
    import numpy as np

    from chimeqda.audio.diarise import Diarisation

    words = [(" How", 0.0, 0.3, 0.9), (" are", 0.3, 0.5, 0.9), (" you?", 0.5, 0.9, 0.9),
             (" Fine,", 1.3, 1.7, 0.8), (" thanks.", 1.7, 2.2, 0.9)]
    voices = Diarisation(np.array([0.4, 1.8]), [(0.0, 0.9), (1.3, 2.2)], np.array([[0.9, 0.2], [0.3, 0.8]]),
                         ("Speaker 1", "Speaker 2"))
    runs = split_by_speaker([Utterance(None, 0.0, "How are you? Fine, thanks.", 2.2, words)], voices)
    assert [(u.speaker, u.text, u.time, u.time_end) for u in runs] == [
        ("Speaker 1", "How are you?", 0.0, 0.9), ("Speaker 2", "Fine, thanks.", 1.3, 2.2)]


def test_turns_follow_the_voices_of_a_mono_interview_with_short_pauses(transcripts, recordings):
    transcript = transcripts["interview"]
    _, times = recordings["interview"]
    assert all(b2 - e1 < 1.0 for (_, e1), (b2, _) in zip(times, times[1:]))  # pauses alone cannot split them
    right = total = 0
    for utterance in transcript.utterances:
        for _, start, end, _ in utterance.words:
            truth = speaker_of_word(times, INTERVIEW, (start + end) / 2)
            right += utterance.speaker == f"Speaker {truth + 1}"
            total += 1
    assert total > 60 and right / total >= 0.8, f"{right} of {total} words assigned to the right speaker"
    doc = transcript.document()
    speakers = [turn.speaker for turn in doc.turns]
    assert speakers[:2] == ["Speaker 1", "Speaker 2"] and 6 <= len(speakers) <= 10
    roles = {turn.speaker: turn.role for turn in doc.turns}
    assert roles == {"Speaker 1": "interviewer", "Speaker 2": "participant"}
    assert transcript.interviewer == "Speaker 1"


def test_provenance_records_the_voice_encoder_and_settings(transcripts):
    import resemblyzer

    weights = Path(resemblyzer.__file__).parent / "pretrained.pt"
    meta = transcripts["interview"].document().metadata["transcription"]
    assert meta["turns"] == "diarised into 2 voices"
    assert meta["diarisation"]["model_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert meta["diarisation"]["speakers"] == 2 and meta["diarisation"]["resemblyzer"] == "0.1.4"
    assert meta["diarisation"]["interviewer_suggested"] == "Speaker 1" and meta["diarisation"]["prints"] > 20
    assert meta["settings"]["diarise"] is None and meta["settings"]["speakers"] == 2


def test_no_diarise_falls_back_to_pauses_which_miss_the_short_ones(recordings, asr, tmp_path):
    from chimeqda.cli import main

    path, _ = recordings["interview"]
    out = tmp_path / "interview.txt"
    result = CliRunner().invoke(main, ["transcribe", str(path), "--no-diarise", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) < len(INTERVIEW) and not any(line.startswith("Speaker") for line in lines)
