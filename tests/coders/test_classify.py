"""classify: JSONL in, JSONL out; bad input names the file and line."""

from __future__ import annotations

import json

import pytest

from chimeqda.classify import classify_file, classify_records, read_jsonl, to_labelled
from chimeqda.errors import InvalidInput, UnknownCoder


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_round_trip(tmp_path, codebook):
    source = _write(
        tmp_path / "in.jsonl",
        [
            json.dumps({"id": "a", "text": "I relapsed and lost my job."}),
            "",
            json.dumps({"id": 7, "text": "Ik ben hervallen en voelde me alleen.", "lang": "nl"}),
            json.dumps({"text": "My sponsor helps me.", "context": ["I go every week."]}),
        ],
    )
    out = tmp_path / "out.jsonl"
    assert classify_file(source, out, codebook, "lexicon") == 3
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", 7, 4]  # a missing id becomes the line number
    top = [c.id for c in codebook.top_level]
    for row in rows:
        assert list(row["scores"]) == top
        assert set(row["labels"]) <= set(top)
        assert all(row["scores"][c] >= 0.5 for c in row["labels"])
    assert rows[0]["labels"] == ["difficulties"] and rows[1]["labels"] == ["difficulties"]


def test_train_file(tmp_path, codebook):
    train = _write(
        tmp_path / "train.jsonl",
        [json.dumps({"text": f"Gardening gives my life meaning {i}.", "labels": ["meaning"], "doc": f"s{i % 3}"}) for i in range(6)]
        + [json.dumps({"text": "We ate at six.", "labels": [], "doc": "s1"})],
    )
    rows = classify_records([{"id": 1, "text": "The garden gives my life meaning."}], codebook, "supervised", train=train, params={"cv_folds": 0, "nl_encoder": None})
    assert rows[0]["scores"]["meaning"] > 0.5


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "JSON object"),
        ('{"id": 1}', '"text"'),
        ('{"id": 1, "text": "  "}', '"text"'),
        ('{"id": 1, "text": "x", "context": "one string"}', "context"),
        ('{"id": 1, "text": "x", "role": "judge"}', "role"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    path = _write(tmp_path / "bad.jsonl", [json.dumps({"id": 0, "text": "fine"}), line])
    with pytest.raises(InvalidInput) as info:
        read_jsonl(path)
    assert info.value.source == "bad.jsonl" and info.value.location == "line 2"
    assert message in str(info.value)


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(InvalidInput, match="no passages"):
        read_jsonl(_write(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(InvalidInput, match="no such file"):
        read_jsonl(tmp_path / "nope.jsonl")
    (tmp_path / "latin.jsonl").write_bytes(b'{"text": "caf\xe9"}\n')
    with pytest.raises(InvalidInput, match="UTF-8"):
        read_jsonl(tmp_path / "latin.jsonl")


def test_training_labels_are_checked(tmp_path, codebook):
    path = _write(tmp_path / "train.jsonl", [json.dumps({"text": "x", "labels": ["hope"]}), json.dumps({"text": "y", "labels": ["joy"]})])
    with pytest.raises(InvalidInput) as info:
        to_labelled(read_jsonl(path), codebook, source="train.jsonl")
    assert info.value.location == "line 2" and "joy" in str(info.value)
    path = _write(tmp_path / "nolabels.jsonl", [json.dumps({"text": "x"})])
    with pytest.raises(InvalidInput, match="labels"):
        to_labelled(read_jsonl(path), codebook)


def test_unknown_coder(codebook):
    with pytest.raises(UnknownCoder):
        classify_records([{"id": 1, "text": "x"}], codebook, "nope")


def test_encoder_option_rejected_for_lexicon(codebook):
    with pytest.raises(InvalidInput, match="encoder"):
        classify_records([{"id": 1, "text": "x"}], codebook, "lexicon", encoder="e5")


def test_sentence_units_split_passages_and_keep_the_rest_as_context():
    from chimeqda.classify import sentence_units
    from chimeqda.model import Segment

    passages = [
        Segment("I relapsed in May. My sponsor came round. We talked for hours.", lang="en", context=("Before.",)),
        Segment("Just one sentence here.", lang="en", context=("Kept.",)),
    ]
    units, owner = sentence_units(passages)
    assert [u.text for u in units] == [
        "I relapsed in May.", "My sponsor came round.", "We talked for hours.", "Just one sentence here.",
    ]
    assert owner == [0, 0, 0, 1]
    assert units[1].context == ("Before.", "I relapsed in May.", "We talked for hours.")
    assert units[3] is passages[1]  # a one-sentence passage is scored as given, context and all


def test_passages_are_scored_by_their_best_sentence(codebook):
    from chimeqda.classify import passage_scores, sentence_units, to_segments
    from chimeqda.coders import get_coder

    coder = get_coder("lexicon").fit(codebook)
    text = "I relapsed and lost my job. My sponsor helps me every week. We ate at six."
    passages = to_segments([{"id": 1, "text": text, "lang": "en"}])
    units, _ = sentence_units(passages)
    per_sentence = coder.predict_proba(units)
    scored = passage_scores(coder, passages)[0]
    for code, score in scored.items():
        assert score == max(s[code] for s in per_sentence)
    assert scored["difficulties"] >= 0.5 and scored["connectedness"] >= 0.5
    whole = passage_scores(coder, passages, by_sentence=False)[0]
    assert whole == coder.predict_proba(passages)[0]
    rows = classify_records([{"id": 1, "text": text}], codebook, "lexicon")
    assert set(rows[0]["labels"]) >= {"difficulties", "connectedness"}


def test_llm_coder_reads_passages_whole():
    from chimeqda.coders import CODERS

    assert CODERS["llm"].reads_whole_passages
    assert not any(CODERS[name].reads_whole_passages for name in ("lexicon", "similarity", "supervised", "ensemble"))
