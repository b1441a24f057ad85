"""Codebooks: the built-in CHIME-D and user files, with errors that say where."""

from __future__ import annotations

import pytest
import yaml

from chimeqda.codebook import (
    builtin_codebook,
    load_codebook,
    write_codebook_csv,
    write_codebook_yaml,
)
from chimeqda.errors import CodebookError

TOP = ["connectedness", "hope", "identity", "meaning", "empowerment", "difficulties"]


def test_builtin_chime_d_is_complete_and_bilingual():
    book = builtin_codebook("chime-d")
    assert [c.id for c in book.top_level] == TOP
    subthemes = {c.id for c in book.children("connectedness.peer_support")}
    assert {"connectedness.peer_support.safety_net", "connectedness.peer_support.non_judgemental",
            "connectedness.peer_support.mutual_understanding", "connectedness.peer_support.social_network"} <= subthemes
    assert {"difficulties.relapse_cravings", "difficulties.stigma", "difficulties.isolation"} <= {
        c.id for c in book.children("difficulties")}
    for code in book.codes:
        for lang in ("en", "nl"):
            assert code.text_in("definition", lang) and code.text_in("inclusion", lang) and code.text_in("exclusion", lang)
            assert any(e.lang == lang for e in code.examples), (code.id, lang)
            assert any(e.lang == lang for e in code.counter_examples), (code.id, lang)
        assert code.translations["nl"]["name"]
    langs = {item.lang for item in book.bank}
    assert langs == {"en", "nl"} and len(book.bank) >= 1000
    assert sum(not item.labels for item in book.bank) > 0.25 * len(book.bank)  # sentences that fit no code


def test_yaml_and_csv_round_trip(tmp_path):
    book = builtin_codebook()
    again = load_codebook(write_codebook_yaml(book, tmp_path / "cb.yaml"))
    assert [c.id for c in again.codes] == [c.id for c in book.codes]
    assert again["hope"].examples == book["hope"].examples
    assert again["hope"].translations == book["hope"].translations
    from_csv = load_codebook(write_codebook_csv(book, tmp_path / "cb.csv"), id="chime-d")
    assert [(c.id, c.parent) for c in from_csv.codes] == [(c.id, c.parent) for c in book.codes]
    assert from_csv["meaning.spirituality"].keywords == book["meaning.spirituality"].keywords


def _write(tmp_path, data):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


GOOD = {"id": "x", "name": "Mine", "version": "1", "codes": [
    {"id": "a", "name": "A", "definition": "d", "inclusion": "i", "exclusion": "e", "examples": ["ex"],
     "children": [{"id": "a.b", "name": "B", "definition": "d", "inclusion": "i", "exclusion": "e", "examples": ["ex"]}]}
]}


def test_user_yaml_codebook_loads_with_hierarchy(tmp_path):
    book = load_codebook(_write(tmp_path, GOOD))
    assert book.root_of("a.b") == "a" and book.descendants("a") == ("a.b",)


@pytest.mark.parametrize("breakage, message", [
    (lambda d: d["codes"][0].pop("definition"), 'mine.yaml, code "a", field \'definition\': code "a" has no definition'),
    (lambda d: d["codes"][0]["children"][0].pop("examples"), 'code "a.b" has no examples'),
    (lambda d: d.pop("version"), "missing required field 'version'"),
    (lambda d: d["codes"][0].update(color="red"), "is not of the form #rrggbb"),
    (lambda d: d["codes"][0]["children"][0].update(id="a"), 'code id "a" is used twice'),
])
def test_codebook_errors_name_file_code_and_field(tmp_path, breakage, message):
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    breakage(data)
    with pytest.raises(CodebookError) as caught:
        load_codebook(_write(tmp_path, data))
    assert message in str(caught.value)


def test_broken_yaml_says_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("id: x\ncodes: [\n  - a: b\n", encoding="utf-8")
    with pytest.raises(CodebookError, match=r"bad.yaml, line \d+, column \d+: not valid YAML"):
        load_codebook(path)


def test_csv_missing_column_and_row_errors(tmp_path):
    path = tmp_path / "cb.csv"
    path.write_text("id;name;definition;inclusion;exclusion\nhope;Hope;d;i;e\n", encoding="utf-8")
    with pytest.raises(CodebookError, match="missing column 'examples'"):
        load_codebook(path)
    path.write_text("id;name;definition;inclusion;exclusion;examples\nhope;Hope;d;i;e;x\nhope;H;d;i;e;x\n",
                    encoding="cp1252")
    with pytest.raises(CodebookError, match='code id "hope" is used twice'):
        load_codebook(path)


def test_unknown_builtin_and_format(tmp_path):
    with pytest.raises(CodebookError, match="built-in codebooks: chime-d"):
        load_codebook("chime-s")
    odd = tmp_path / "cb.txt"
    odd.write_text("x", encoding="utf-8")
    with pytest.raises(CodebookError, match="unsupported codebook format"):
        load_codebook(odd)
