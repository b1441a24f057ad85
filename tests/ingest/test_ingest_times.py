"""Timed transcripts (VTT, SRT, Whisper JSON) give segments and turns their times."""

import json

from chimeqda.ingest import read_document

SRT = """1
00:00:01,000 --> 00:00:03,000
INT: Hello. How are

2
00:00:03,000 --> 00:00:04,000
you today?

3
00:00:05,500 --> 00:00:08,000
Anna: Good, thanks.
"""


def test_srt_segments_and_turns_get_times(tmp_path):
    path = tmp_path / "P06.srt"
    path.write_text(SRT)
    doc = read_document(path)
    hello, how, good = doc.segments
    assert (hello.text, how.text, good.text) == ("Hello.", "How are you today?", "Good, thanks.")
    assert hello.time_start == 1.0 and 1.0 < hello.time_end < how.time_start < 3.0
    assert how.time_end == 4.0
    assert (good.time_start, good.time_end) == (5.5, 8.0)
    assert [(turn.time, turn.time_end) for turn in doc.turns] == [(1.0, 4.0), (5.5, 8.0)]
    assert all(segment.words is None for segment in doc.segments)


def test_vtt_without_end_times_ends_at_the_next_cue(tmp_path):
    path = tmp_path / "P05.vtt"
    path.write_text("WEBVTT\n\n00:01.000 --> 00:02.000\n<v Ann>Hi there.\n\n00:03.000 --> 00:04.500\n<v Bo>Hello.\n")
    doc = read_document(path)
    assert [(s.time_start, s.time_end) for s in doc.segments] == [(1.0, 2.0), (3.0, 4.5)]


def test_whisper_json_words_are_kept_with_probabilities(tmp_path):
    words = [
        {"word": " I", "start": 0.0, "end": 0.2, "probability": 0.99},
        {"word": " feel", "start": 0.2, "end": 0.5, "probability": 0.4},
        {"word": " better.", "start": 0.5, "end": 1.0, "probability": 0.9},
        {"word": " Really.", "start": 1.2, "end": 1.6, "probability": 0.8},
    ]
    segments = [
        {"start": 0.0, "end": 1.6, "text": " I feel better. Really.", "speaker": "P", "words": words},
        {"start": 2.0, "end": 3.0, "text": " Good to hear.", "speaker": "I"},
    ]
    path = tmp_path / "P07.json"
    path.write_text(json.dumps({"segments": segments, "language": "en"}))
    doc = read_document(path)
    first, second, third = doc.segments
    assert [doc.text[a:b] for a, b, _ in first.words] == ["I", "feel", "better."]
    assert [p for _, _, p in first.words] == [0.99, 0.4, 0.9]
    assert (first.time_start, first.time_end) == (0.0, 1.0)
    assert (second.time_start, second.time_end) == (1.2, 1.6)
    assert third.words == () and (third.time_start, third.time_end) == (2.0, 3.0)
    assert [(turn.time, turn.time_end) for turn in doc.turns] == [(0.0, 1.6), (2.0, 3.0)]


def test_plain_text_has_no_times(tmp_path):
    path = tmp_path / "P01.txt"
    path.write_text("I: How are you?\nP: Fine.\n")
    doc = read_document(path)
    assert all(s.time_start is None and s.time_end is None and s.words is None for s in doc.segments)
    assert all(turn.time_end is None for turn in doc.turns)
