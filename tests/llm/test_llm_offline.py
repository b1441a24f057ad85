"""The llm coder's pure parts: endpoint policy, prompts, answer validation, quote location, cache.

No server is needed; an unreachable endpoint is a real closed loopback port.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from llm_support import DATA, free_port

from chimeqda.codebook import builtin_codebook
from chimeqda.coders import get_coder
from chimeqda.coders.llm import (
    LLMCoder,
    LLMUnavailable,
    PromptTemplate,
    _code_lookup,
    check_endpoint,
    locate_quote,
    parse_answer,
    render_system,
    render_user,
)
from chimeqda.coders.llm_cache import AnswerCache, open_cache, request_key
from chimeqda.errors import ChimeqdaError, InvalidInput, ModelUnavailable, NotFittedError
from chimeqda.model import Segment

TEXT = "Uhm, my sponsor — she calls me every week, and honestly I believe things will get better."


# ---------------------------------------------------------------- endpoint policy


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v1", "http://localhost:11434/v1", "http://[::1]:8000/v1",
                                 "http://127.0.0.2:1234/v1"])
def test_loopback_endpoints_are_accepted(url):
    assert check_endpoint(url) == url


@pytest.mark.parametrize("url", ["https://api.openai.com/v1", "http://192.168.1.20:8080/v1", "http://gpu-box:8000/v1"])
def test_remote_endpoints_are_refused_unless_allowed(url):
    with pytest.raises(InvalidInput, match="not this machine.*allow_remote"):
        check_endpoint(url)
    assert check_endpoint(url, allow_remote=True) == url


def test_fit_refuses_a_remote_endpoint_before_any_request(small_book):
    with pytest.raises(InvalidInput, match="allow_remote=True"):
        LLMCoder(endpoint="https://api.example.org/v1", model="m").fit(small_book)


@pytest.mark.parametrize("url", ["", "ftp://127.0.0.1/v1", "127.0.0.1:8080"])
def test_malformed_endpoints_are_refused(url):
    with pytest.raises(InvalidInput, match="endpoint"):
        check_endpoint(url)


def test_unreachable_server_is_a_clear_error(small_book, tmp_path):
    coder = LLMCoder(endpoint=f"http://127.0.0.1:{free_port()}/v1", cache=str(tmp_path / "c.sqlite3"))
    with pytest.raises(LLMUnavailable, match="cannot reach a language-model server") as caught:
        coder.fit(small_book)
    assert isinstance(caught.value, (ChimeqdaError, ModelUnavailable))


def test_unreachable_server_with_named_model_fails_at_the_first_uncached_request(small_book, tmp_path):
    coder = LLMCoder(endpoint=f"http://127.0.0.1:{free_port()}/v1", model="m", cache="off", retries=1, backoff=0)
    coder.fit(small_book)
    with pytest.raises(LLMUnavailable, match="after 2 attempt"):
        coder.predict_proba([Segment("I relapsed.")])
    assert coder.stats()["requests"] == 2 and coder.stats()["retries"] == 1


def test_unfitted_use_raises(small_book):
    with pytest.raises(NotFittedError):
        LLMCoder().predict_proba([Segment("x")])


@pytest.mark.parametrize(
    "params, match",
    [({"samples": 3}, "temperature"), ({"samples": 0}, "samples"), ({"json_mode": "xml"}, "json_mode"),
     ({"max_requests": -1}, "max_requests"), ({"timeout": 0}, "timeout"), ({"temperature": 5}, "temperature")],
)
def test_bad_parameters_are_refused_in_fit(small_book, params, match):
    with pytest.raises(InvalidInput, match=match):
        LLMCoder(model="m", **params).fit(small_book)


def test_registered_and_parameters_round_trip():
    coder = get_coder("llm", endpoint="http://127.0.0.1:9/v1", model="qwen", samples=3, temperature=0.7)
    assert isinstance(coder, LLMCoder) and LLMCoder.needs_server
    assert LLMCoder(**coder.get_params()).get_params() == coder.get_params()
    assert "api_key" not in " ".join(coder.get_params()).replace("api_key_env", "")


# ---------------------------------------------------------------- prompts


def test_the_prompt_carries_the_codebook_the_question_and_the_context():
    book = builtin_codebook("chime-d")
    template = PromptTemplate.load()
    codes = [c.id for c in book.top_level]
    system = render_system(template, book, codes, "What helps recovery?", max_examples=2)
    hope = book["hope"]
    for text in (hope.definition, hope.inclusion, hope.exclusion):
        assert " ".join(text.split()) in system
    assert hope.examples[0].text in system and hope.counter_examples[0].text in system
    assert "What helps recovery?" in system and ", ".join(codes) in system
    user = render_user(template, book, codes, "", Segment("I go to meetings.", lang="nl", context=("Before.", "After.")))
    assert '"I go to meetings."' in user and "Before. … After." in user and "Dutch" in user
    assert "$" not in system + user


def test_the_builtin_research_question_is_used_by_default(tmp_path):
    coder = LLMCoder(model="m", endpoint=f"http://127.0.0.1:{free_port()}/v1", cache="off")
    coder.fit(builtin_codebook("chime-d"))
    assert "recovery-supportive processes" in coder.research_question_
    assert coder.research_question_ in coder.system_prompt_
    assert coder.provenance_["prompt_template"] == "default"
    assert len(coder.provenance_["prompt_template_sha256"]) == 64


def test_a_user_template_is_read_and_hashed(small_book):
    template = PromptTemplate.load(DATA / "compact.txt")
    assert template.source.endswith("compact.txt") and template.sha256 != PromptTemplate.load().sha256
    system = render_system(template, small_book, ["hope"], "Q?", 1)
    assert "- hope: Hope and optimism" in system and "connectedness" not in system


@pytest.mark.parametrize(
    "body, match",
    [("### system\nx\n### user\ny\n", "missing section"), ("### system\n$nope\n### code\n$id\n### user\n$segment\n",
                                                            "placeholder"),
     ("### sytem\n", "unknown section")],
)
def test_broken_templates_say_what_is_wrong(tmp_path, body, match):
    path = tmp_path / "t.txt"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InvalidInput, match=match):
        PromptTemplate.load(path)


def test_missing_template_file(tmp_path):
    with pytest.raises(InvalidInput, match="no such prompt template"):
        PromptTemplate.load(tmp_path / "nope.txt")


def test_prompt_templates_ship_as_package_data():
    from importlib.resources import files

    assert files("chimeqda.coders").joinpath("prompts/default.txt").is_file()


# ---------------------------------------------------------------- answers


@pytest.fixture
def lookup(small_book):
    return _code_lookup(small_book, ["connectedness", "hope", "difficulties"])


def test_a_good_answer(lookup):
    answer = parse_answer('{"codes": ["hope"], "quote": "I believe things will get better", "rationale": "optimism"}',
                          TEXT, lookup)
    assert answer.valid and answer.codes == ("hope",) and answer.rationale == "optimism"
    assert TEXT[answer.span[0]:answer.span[1]] == "I believe things will get better"


@pytest.mark.parametrize(
    "content, valid, codes",
    [
        ('{"codes":[1, "SUNDAY", 2]}', False, ()),  # what the tiny model said once
        ("I think it is about hope.", False, ()),
        ("[\"hope\"]", False, ()),
        ('{"codes": "hope"}', True, ("hope",)),
        ('{"codes": ["Hope", "CONNECTEDNESS", "hope", 7]}', True, ("hope", "connectedness")),
        ('```json\n{"codes": ["difficulties"], "quote": "", "rationale": ""}\n```', True, ("difficulties",)),
        ('Sure! {"codes": [], "quote": "", "rationale": "nothing"} Hope this helps', True, ()),
        ('{"codes": ["none"]}', True, ()),
        ('{"quote": "x"}', False, ()),
        ('{"codes": ["hope"], "quote": "unterminated', False, ()),
    ],
)
def test_bad_answers_are_validated_never_trusted(lookup, content, valid, codes):
    answer = parse_answer(content, TEXT, lookup)
    assert answer.valid is valid and answer.codes == codes and answer.raw == content
    if not valid:
        assert answer.problems


def test_a_quote_not_in_the_passage_is_flagged(lookup):
    answer = parse_answer('{"codes": ["hope"], "quote": "the weather was lovely in May", "rationale": ""}', TEXT, lookup)
    assert answer.valid and answer.span is None and "not found" in answer.problems[0]


@pytest.mark.parametrize(
    "quote, expected",
    [
        ("my sponsor", "my sponsor"),
        ('"My Sponsor - she calls me"', "my sponsor — she calls me"),
        ("she calls me every week and honestly", "she calls me every week, and honestly"),
        ("my sponsor ... calls me every week", "my sponsor — she calls me every week"),
        ("I beleive things will get beter", "I believe things will get better"),
        ("she call me evry week", "she calls me every week"),
    ],
)
def test_quotes_are_located_tolerantly(quote, expected):
    span = locate_quote(quote, TEXT)
    assert span is not None
    assert TEXT[span[0]:span[1]].lower() == expected.lower()


@pytest.mark.parametrize("quote", ["", "   ", "completely different words about cooking pasta"])
def test_unlocatable_quotes(quote):
    assert locate_quote(quote, TEXT) is None


# ---------------------------------------------------------------- cache


def test_cache_round_trip_on_disk(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite3"
    key = request_key({"model": "m", "messages": [{"role": "user", "content": "é"}]})
    cache = AnswerCache(path)
    cache.put(key, "m", {"content": '{"codes": []}'})
    cache.close()
    again = open_cache(str(path))
    assert again.get(key) == {"content": '{"codes": []}'} and len(again) == 1
    assert again.get(request_key({"model": "other"})) is None


def test_cache_off_keeps_answers_in_memory_only(tmp_path):
    cache = open_cache("off")
    cache.put("k", "m", {"content": "x"})
    assert cache.get("k") == {"content": "x"} and cache.path is None


def test_default_cache_location_follows_the_environment(tmp_path, monkeypatch):
    from chimeqda.coders.llm_cache import default_cache_path

    monkeypatch.setenv("CHIMEQDA_LLM_CACHE", str(tmp_path / "x.sqlite3"))
    assert default_cache_path() == tmp_path / "x.sqlite3"
    monkeypatch.delenv("CHIMEQDA_LLM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_path() == Path(tmp_path) / "chimeqda" / "llm-cache.sqlite3"


def test_a_fitted_coder_pickles_without_its_connection(small_book, tmp_path):
    import pickle

    coder = LLMCoder(model="m", endpoint=f"http://127.0.0.1:{free_port()}/v1", cache=str(tmp_path / "c.sqlite3"))
    coder.fit(small_book)
    clone = pickle.loads(pickle.dumps(coder))
    assert clone.get_params() == coder.get_params() and clone.stats()["requests"] == 0
    assert clone.system_prompt_ == coder.system_prompt_


def test_raw_line_breaks_inside_strings_are_tolerated(lookup):
    answer = parse_answer('{"codes": ["hope"], "quote": "I believe things\n", "rationale": "one line"}', TEXT, lookup)
    assert answer.valid and answer.codes == ("hope",) and answer.span is not None


@pytest.mark.parametrize(
    "content, valid, codes",
    [
        ('{"codes": ["hope"], "quote": "I believe things will get better", "rationale": "The passage talks ab', True,
         ("hope",)),
        ('{ "codes": [ ] ,"quote": "my sponsor", "rationale": "It is', True, ()),
        ('{"codes": ["hope", "conn', False, ()),
        ('{"quote": "my sponsor", "codes": ["hope"], "rationale": "x', False, ()),
        ('{"codes": [1, 2], "quote": "x", "rationale": "y', False, ()),
    ],
)
def test_answers_cut_off_at_max_tokens_keep_complete_codes(lookup, content, valid, codes):
    from chimeqda.coders.llm import salvage_cut_answer

    answer = salvage_cut_answer(content, TEXT, lookup, 64)
    assert answer.valid is valid and answer.codes == codes and answer.raw == content
    assert any("max_tokens=64" in p for p in answer.problems)
    if valid and "believe" in content:
        assert answer.span is not None and answer.quote == "I believe things will get better"


# ---------------------------------------------------------------- suggestions name the quoted words


def _answer_from_the_cache(coder, segment, answer: dict) -> None:
    """Put a model answer for ``segment`` in the coder's answer cache (as a server's reply is kept)."""
    import json

    coder.cache_.put(coder.cache_key(segment), coder.model_,
                     {"content": json.dumps(answer), "finish_reason": "stop", "usage": {}})


def test_suggestions_carry_the_located_quote_as_offsets_in_the_segment(small_book, tmp_path):
    """Answers come from the cache (the server is a closed port): offsets are the segment's, not the document's."""
    coder = LLMCoder(endpoint=f"http://127.0.0.1:{free_port()}/v1", model="m", cache=str(tmp_path / "c.sqlite3"),
                     retries=0).fit(small_book)
    located = Segment(TEXT, start=500, end=500 + len(TEXT), lang="en", key="located")
    lost = Segment("I relapsed last winter and lost my job.", start=700, lang="en", key="lost")
    _answer_from_the_cache(coder, located, {"codes": ["hope"], "quote": "I Believe things will get better!",
                                            "rationale": "optimism"})
    _answer_from_the_cache(coder, lost, {"codes": ["difficulties"], "quote": "the weather was lovely in May",
                                         "rationale": "struggle"})
    suggestions = {s.segment_key: s for s in coder.suggest([located, lost])}
    assert coder.stats()["requests"] == 0
    hope = suggestions["located"]
    assert hope.code_id == "hope" and 0 <= hope.start < hope.end <= len(TEXT)
    assert TEXT[hope.start:hope.end] == "I believe things will get better"
    assert f"[{500 + hope.start}:{500 + hope.end}]" in hope.evidence  # the evidence keeps document offsets
    assert coder.quote_span(located, "hope") == (500 + hope.start, 500 + hope.end)
    unlocated = suggestions["lost"]
    assert unlocated.code_id == "difficulties" and (unlocated.start, unlocated.end) == (None, None)
    assert "quote not found" in unlocated.evidence


def test_other_coders_suggest_whole_segments():
    coder = get_coder("lexicon").fit(builtin_codebook("chime-d"))
    suggestions = coder.suggest([Segment("My sponsor calls me every week and my family visits.", key="s")])
    assert suggestions and all((s.start, s.end) == (None, None) for s in suggestions)
