"""Transcribing synthetic recorded interviews with the shipped Whisper base model."""

from __future__ import annotations

import json

from conftest import DUTCH, ENGLISH, word_error_rate, words_of

from chimeqda.ingest import read_document


def _script_text(script):
    return " ".join(text for _, text in script)


def test_english_is_transcribed_close_to_the_script(transcripts):
    doc = transcripts["mono"].document()
    assert doc.language == "en"
    assert word_error_rate(_script_text(ENGLISH), doc.text) < 0.15
    stereo = transcripts["stereo"].document()
    assert word_error_rate(_script_text(ENGLISH), stereo.text) < 0.15


def test_times_are_monotonic_and_inside_the_recording(transcripts, recordings):
    for key, transcript in transcripts.items():
        doc = transcript.document()
        duration = transcript.info.duration
        starts = [s.time_start for s in doc.segments]
        assert all(s is not None for s in starts), key
        assert starts == sorted(starts), key
        for segment in doc.segments:
            assert 0 <= segment.time_start <= segment.time_end <= duration + 0.5
            word_starts = [a for a, _, _ in segment.words]
            assert word_starts == sorted(word_starts)
            assert all(segment.start <= a < b <= segment.end and 0 <= p <= 1 for a, b, p in segment.words)
        turn_times = [turn.time for turn in doc.turns]
        assert turn_times == sorted(turn_times) and all(t.time <= t.time_end for t in doc.turns)


def test_stereo_turns_follow_the_channels(transcripts, recordings):
    doc = transcripts["stereo"].document()
    _, times = recordings["stereo"]
    assert [turn.speaker for turn in doc.turns] == ["Speaker 1", "Speaker 2", "Speaker 1", "Speaker 2"]
    assert [turn.role for turn in doc.turns] == ["interviewer", "participant"] * 2
    for turn, (start, end) in zip(doc.turns, times):
        assert abs(turn.time - start) < 0.8 and abs(turn.time_end - end) < 0.8
    assert transcripts["stereo"].provenance["turns"] == "by channel"
    assert all(not line.startswith("Speaker") for line in doc.text.splitlines())


def test_mono_turns_come_from_the_voices(transcripts):
    doc = transcripts["mono"].document()
    assert [turn.speaker for turn in doc.turns] == ["Speaker 1", "Speaker 2", "Speaker 1", "Speaker 2"]
    assert [turn.role for turn in doc.turns] == ["interviewer", "participant"] * 2
    assert transcripts["mono"].provenance["turns"] == "diarised into 2 voices"


def test_the_language_is_detected_per_file(transcripts):
    for key in ("stereo", "mono"):
        assert transcripts[key].provenance["language"] == "en"
        assert 0 < transcripts[key].provenance["language_probability"] <= 1


def test_provenance_names_model_version_and_settings(transcripts):
    from chimeqda.audio.model import BASE_MODEL_SHA256

    meta = transcripts["mono"].document().metadata["transcription"]
    assert meta["model_sha256"] == BASE_MODEL_SHA256 and meta["faster_whisper"]
    assert meta["settings"]["compute_type"] == "int8" and meta["uncertain_below"] == 0.5
    assert 0 <= meta["uncertain_words"] <= meta["words"] and meta["words"] > 20


def test_forced_dutch_is_split_into_dutch_sentences(recordings, asr):
    """espeak-ng's Dutch is too synthetic for Whisper base to detect reliably: the language is forced."""
    from dataclasses import replace

    from chimeqda.audio.transcribe import transcribe_file

    path, _ = recordings["dutch"]
    transcript = transcribe_file(path, replace(asr, language="nl"))
    doc = transcript.document()
    assert doc.language == "nl" and transcript.provenance["language_probability"] == 1.0
    assert len(doc.segments) >= 3 and all(s.lang == "nl" for s in doc.segments)
    assert words_of(doc.segments[0].text)[:2] == words_of(DUTCH[0][1])[:2]


def test_whisper_json_output_imports_back_with_words(transcripts, tmp_path):
    from chimeqda.audio.formats import render

    transcript = transcripts["stereo"]
    doc = transcript.document()
    out = tmp_path / "P01.json"
    out.write_text(render(doc, ".json", transcript.utterances))
    again = read_document(out)
    assert again.text.replace("Speaker 1: ", "").replace("Speaker 2: ", "") == doc.text != again.text
    assert [s.text for s in again.segments] == [s.text for s in doc.segments]
    assert [len(s.words) for s in again.segments] == [len(s.words) for s in doc.segments]
    assert json.loads(out.read_text())["transcription"]["model_sha256"]
    vtt = render(doc, ".vtt")
    assert vtt.startswith("WEBVTT") and "<v Speaker 2>" in vtt
    srt = render(doc, ".srt")
    assert srt.startswith("1\n00:00:0") and "Speaker 1: " in srt
    txt = render(doc, ".txt").splitlines()
    assert len(txt) == 4 and txt[0].startswith("Speaker 1: Thank you")




def test_transcribe_command_writes_the_format_of_the_suffix(recordings, asr, tmp_path):
    from click.testing import CliRunner

    from chimeqda.cli import main

    path, _ = recordings["stereo"]
    out = tmp_path / "out.srt"
    result = CliRunner().invoke(main, ["transcribe", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("1\n00:00:0") and "Speaker 2: " in out.read_text()
    refused = CliRunner().invoke(main, ["transcribe", str(path), "--out", str(tmp_path / "out.docx")])
    assert refused.exit_code == 1 and "unsupported output type '.docx'" in refused.output
    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("hello")
    refused = CliRunner().invoke(main, ["transcribe", str(not_audio)])
    assert refused.exit_code == 1 and "notes.txt" in refused.output
