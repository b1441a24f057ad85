"""The llm coder against a real llama.cpp server running a real (tiny) model.

SmolLM2-135M answers badly on purpose: the tests check the protocol (prompt,
constrained JSON, validation, quote location), caching, provenance, budgets,
timeouts, retries, and that a server dying mid-run stores nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time

import pytest
from click.testing import CliRunner
from llm_support import DATA, start_server
from sqlalchemy import func, select

from chimeqda.classify import read_jsonl, to_labelled
from chimeqda.cli import main
from chimeqda.coders import get_coder
from chimeqda.coders.llm import LLMBudgetExceeded, LLMCoder, LLMUnavailable
from chimeqda.errors import ChimeqdaError
from chimeqda.llm_teacher import llm_teacher_labels
from chimeqda.model import Segment
from chimeqda.store import tables as t
from chimeqda.testing import check_coder

SEGMENTS = [
    Segment("My sponsor calls me every week.", lang="en", key="a", context=("I go to NA.",)),
    Segment("I relapsed last winter and lost my job.", lang="en", key="b"),
]


def _cache_rows(path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT count(*) FROM answers").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_the_coder_contract_holds_against_a_real_server(small_book, llm_params):
    check_coder(LLMCoder(**llm_params), small_book)


def test_codes_validates_and_records_provenance(small_book, fresh_params, cache_file):
    llm_params = fresh_params
    coder = get_coder("llm", **llm_params).fit(small_book)
    scores = coder.predict_proba(SEGMENTS)
    assert [set(row) for row in scores] == [set(coder.codes_)] * 2
    assert all(value in (0.0, 1.0) for row in scores for value in row.values())
    stats = coder.stats()
    assert stats["requests"] == 2 and stats["cache_hits"] == 0 and stats["tokens"] > 0
    for segment in SEGMENTS:
        (answer,) = coder.answers_[(repr(segment.key), segment.text)]
        assert answer.raw  # the raw answer is kept, valid or not
        if answer.valid:
            assert set(answer.codes) <= set(coder.codes_)
            if answer.span:
                start, end = answer.span
                assert segment.text[start:end]
        else:
            assert answer.problems
    info = coder.info()
    assert info.name == "llm" and info.params["model"].endswith(".gguf")
    assert len(info.params["prompt_template_sha256"]) == 64
    assert info.params["constrained_decoding"] in ("auto", "json_object", "json_schema", "none")
    assert info.params["endpoint"] == llm_params["endpoint"]
    assert "CHIMEQDA_LLM_API_KEY" == info.params["api_key_env"]
    assert _cache_rows(cache_file) == 2


def test_a_rerun_is_reproducible_and_free(small_book, llm_params):
    first = LLMCoder(**llm_params).fit(small_book)
    scores = first.predict_proba(SEGMENTS)
    again = LLMCoder(**llm_params).fit(small_book)
    assert again.predict_proba(SEGMENTS) == scores
    assert again.stats()["requests"] == 0 and again.stats()["cache_hits"] == 2
    changed = LLMCoder(**{**llm_params, "research_question": "Something else?"}).fit(small_book)
    changed.predict_proba(SEGMENTS[:1])
    assert changed.stats()["requests"] == 1  # another prompt is another cache key


def test_constrained_decoding_keeps_codes_inside_the_codebook(small_book, llm_params):
    coder = LLMCoder(**{**llm_params, "json_mode": "json_object"}).fit(small_book)
    coder.predict_proba(SEGMENTS)
    for sampled in coder.answers_.values():
        for answer in sampled:
            data = json.loads(answer.raw)
            assert set(data["codes"]) <= {"connectedness", "hope", "difficulties"}


def test_unconstrained_answers_are_validated(small_book, llm_params):
    coder = LLMCoder(**{**llm_params, "json_mode": "none", "max_tokens": 40}).fit(small_book)
    scores = coder.predict_proba(SEGMENTS)  # whatever the model writes, nothing raises
    assert all(set(row) == set(coder.codes_) for row in scores)
    assert coder.stats()["invalid"] == sum(not a.valid for s in coder.answers_.values() for a in s)


def test_self_consistency_scores_are_shares_of_samples(small_book, llm_params):
    coder = LLMCoder(**{**llm_params, "samples": 3, "temperature": 0.9, "max_tokens": 48}).fit(small_book)
    (row,) = coder.predict_proba(SEGMENTS[:1])
    assert coder.stats()["requests"] == 3
    assert all(round(value * 3) == pytest.approx(value * 3) for value in row.values())


def test_a_timeout_is_retried_then_reported(small_book, llm_params):
    coder = LLMCoder(**{**llm_params, "timeout": 0.05, "retries": 1, "backoff": 0.0}).fit(small_book)
    with pytest.raises(LLMUnavailable, match="timeout") as caught:
        coder.predict_proba([Segment("A passage nobody asked about before.", key="t")])
    assert isinstance(caught.value, ChimeqdaError)
    assert coder.stats()["retries"] == 1 and coder.stats()["requests"] == 2


def test_the_budget_stops_the_run_and_keeps_what_was_paid_for(small_book, fresh_params, cache_file):
    llm_params = fresh_params
    coder = LLMCoder(**{**llm_params, "max_requests": 1}).fit(small_book)
    with pytest.raises(LLMBudgetExceeded, match="budget of 1 requests"):
        coder.predict_proba(SEGMENTS)
    assert _cache_rows(cache_file) == 1
    more = LLMCoder(**{**llm_params, "max_requests": 1}).fit(small_book)
    more.predict_proba(SEGMENTS)  # the first answer is cached: one request is enough now
    assert more.stats() | {"tokens": 0} == {"requests": 1, "cache_hits": 1, "tokens": 0, "retries": 0,
                                            "invalid": more.stats()["invalid"]}


def test_concurrent_requests(small_book, llm_params):
    coder = LLMCoder(**{**llm_params, "concurrency": 2, "max_tokens": 32}).fit(small_book)
    assert len(coder.predict_proba(SEGMENTS)) == 2 and coder.stats()["requests"] == 2


def test_teacher_labels_train_the_offline_coders(small_book, llm_params):
    coder = LLMCoder(**llm_params).fit(small_book)
    labelled = llm_teacher_labels(SEGMENTS, coder)
    assert len(labelled) <= 2
    for item in labelled:
        assert item.labels <= set(coder.codes_) and item.source in ("a", "b")
        assert item.complete  # one answer at temperature 0 decides every code


def test_classify_and_teach_commands(llm_params, tmp_path):
    passages = tmp_path / "passages.jsonl"
    passages.write_text("".join(json.dumps({"id": s.key, "text": s.text, "lang": "en"}) + "\n" for s in SEGMENTS),
                        encoding="utf-8")
    params = [f"--param=endpoint={llm_params['endpoint']}", f"--param=cache={llm_params['cache']}",
              "--param=max_tokens=64", "--param=max_examples=1", f"--param=prompt_template={DATA / 'compact.txt'}"]
    runner = CliRunner()
    result = runner.invoke(main, ["classify", "--coder", "llm", "--input", str(passages), "--output",
                                  str(tmp_path / "coded.jsonl"), *params])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "coded.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"] and all(len(r["scores"]) == 6 for r in rows)

    result = runner.invoke(main, ["teach", "--input", str(passages), "--output", str(tmp_path / "teacher.jsonl"),
                                  "--prompt-template", str(DATA / "compact.txt"), *params[:1], *params[1:4]])
    assert result.exit_code == 0, result.output
    assert "cached answers" in result.output  # same prompt and passages as classify: answered from the cache
    from chimeqda.codebook import builtin_codebook

    if (tmp_path / "teacher.jsonl").read_text(encoding="utf-8").strip():
        training = to_labelled(read_jsonl(tmp_path / "teacher.jsonl"), builtin_codebook("chime-d"))
        assert all(item.labels <= {c.id for c in builtin_codebook("chime-d").top_level} for item in training)

    refused = runner.invoke(main, ["classify", "--coder", "llm", "--input", str(passages), "--output",
                                   str(tmp_path / "x.jsonl"), "--param", "endpoint=https://api.example.org/v1"])
    assert refused.exit_code == 1 and "allow_remote" in refused.output


# ---------------------------------------------------------------- a real project


def _project_params(llm_params) -> dict:
    return {**llm_params, "prompt_template": str(DATA / "compact.txt"), "max_tokens": 64}


def _events(ws) -> int:
    with ws.session() as session:
        return session.scalar(select(func.count()).select_from(t.CodingEvent))


def test_run_coder_stores_suggestions_with_provenance(workspace, llm_params):
    from chimeqda.services import import_files, run_coder

    import_files(workspace, [DATA / "T01-interview.txt"])
    run = run_coder(workspace, "llm", params=_project_params(llm_params))
    assert run.segments >= 2
    with workspace.session() as session:
        coder_row = session.scalar(select(t.Coder).where(t.Coder.name == "llm"))
        assert coder_row.params["model"].endswith(".gguf")
        assert len(coder_row.params["prompt_template_sha256"]) == 64
        assert coder_row.params["max_tokens"] == 64
        events = session.scalars(select(t.CodingEvent).where(t.CodingEvent.run_id == run.run_id)).all()
    assert len(events) == run.suggestions
    with workspace.session() as session:
        segments = {seg.id: seg for seg in session.scalars(select(t.Segment))}
        text = session.scalar(select(t.Document.text))
    for event in events:
        assert "raw: " in event.evidence and ".gguf" in event.evidence
        # a located quote is the coding's span; else the whole sentence
        located = re.match(r'"(.*?)" \[(\d+):(\d+)\]', event.evidence, re.S)
        segment = segments[event.segment_id]
        if located:
            assert (event.start, event.end) == (int(located.group(2)), int(located.group(3)))
            assert text[event.start:event.end] == located.group(1)
            assert segment.start <= event.start < event.end <= segment.end
        else:
            assert (event.start, event.end) == (segment.start, segment.end)


def test_a_suggestion_covers_the_quoted_words_and_accepting_keeps_them(workspace, db_url, llm_params, cache_file):
    """The model's answers are put in the answer cache first (the coder then reads them as it would a rerun's):
    a located quote becomes the suggestion's span, an unlocatable one leaves the whole sentence."""
    from chimeqda.services import (
        codings_frame,
        decide,
        import_files,
        pending_suggestions,
        run_coder,
    )
    from chimeqda.services.coding import project_segments
    from chimeqda.services.project import project_codebook

    import_files(workspace, [DATA / "T01-interview.txt"])
    params = {**_project_params(llm_params), "cache": str(cache_file)}
    with workspace.session() as session:
        book = project_codebook(session, workspace.project_id)[1]
        segments = project_segments(session, workspace.project_id)
    sponsor, relapse = (next(s for s in segments if s.text.startswith(w)) for w in ("My sponsor", "I relapsed"))
    quote = "I believe things will get better"
    answers = {sponsor.key: {"codes": ["connectedness"], "quote": "a sponsor on the moon", "rationale": "support"},
               relapse.key: {"codes": ["hope"], "quote": quote, "rationale": "optimism"}}
    coder = get_coder("llm", **params).fit(book)
    for segment in segments:
        answer = answers.get(segment.key, {"codes": [], "quote": "", "rationale": ""})
        coder.cache_.put(coder.cache_key(segment), coder.model_,
                         {"content": json.dumps(answer), "finish_reason": "stop", "usage": {}})
    coder.close()

    run = run_coder(workspace, "llm", params=params)
    assert run.suggestions == 2
    with workspace.session() as session:
        text = session.scalar(select(t.Document.text))
        stored = session.scalars(select(t.CodingEvent).where(t.CodingEvent.run_id == run.run_id))
        events = {e.segment_id: e for e in stored}
    hope = events[relapse.key]
    assert text[hope.start:hope.end] == quote
    at = relapse.start + relapse.text.index(quote)
    assert (hope.start, hope.end) == (at, at + len(quote))
    assert f'"{quote}" [{hope.start}:{hope.end}]' in hope.evidence
    whole = events[sponsor.key]
    assert (whole.start, whole.end) == (sponsor.start, sponsor.end)  # the quote was not found: the sentence

    (pending,) = [p for p in pending_suggestions(workspace) if p.event_id == hope.id]
    assert pending.text == quote and pending.segment_text == relapse.text  # the sentence is still the unit
    assert (pending.segment_start, pending.segment_end) == (relapse.start, relapse.end)
    review = CliRunner().invoke(main, ["review", "-p", str(workspace.directory), "--db", db_url, "--code", "hope"])
    assert f"“I relapsed last winter, but »{quote}«.”" in review.output, review.output

    decide(workspace, [hope.id], "accepted", by="ann")
    with workspace.session() as session:
        accepted = session.scalar(select(t.CodingEvent).where(t.CodingEvent.decides_id == hope.id))
    assert accepted.action == "accepted" and (accepted.start, accepted.end) == (hope.start, hope.end)
    assert accepted.segment_id == relapse.key
    frame = codings_frame(workspace)
    assert frame[["segment_id", "code"]].values.tolist() == [[relapse.key, "hope"]]  # mapped to its sentence


def test_a_server_dying_mid_run_stores_nothing(workspace, tmp_path):
    """The server is killed after its first answer: a clear error, no half-written run."""
    from chimeqda.services import import_files, run_coder

    import_files(workspace, [DATA / "T01-interview.txt"])
    server = start_server(tmp_path)
    cache = tmp_path / "dying-cache.sqlite3"
    killed = threading.Event()

    def kill_after_first_answer():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed.is_set():
            if _cache_rows(cache) >= 1:
                server.stop()
                killed.set()
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_after_first_answer, daemon=True)
    watcher.start()
    params = {"endpoint": server.url, "cache": str(cache), "prompt_template": str(DATA / "compact.txt"),
              "max_tokens": 64, "retries": 2, "backoff": 0.1, "timeout": 120.0}
    try:
        with pytest.raises(LLMUnavailable, match="did not answer after 3 attempt.*Nothing of this run was stored"):
            run_coder(workspace, "llm", params=params)
    finally:
        killed.set()
        server.stop()
    assert _events(workspace) == 0
    assert _cache_rows(cache) >= 1  # what was answered before the crash is kept for the rerun


def test_an_unsupported_json_constraint_is_refused_or_falls_back(small_book, llm_params):
    from chimeqda.coders.llm import LLMRequestRejected

    strict = LLMCoder(**{**llm_params, "json_mode": "json_schema"}).fit(small_book)
    with pytest.raises(LLMRequestRejected, match="does not accept json_mode=json_schema"):
        strict.predict_proba(SEGMENTS[:1])
    auto = LLMCoder(**{**llm_params, "max_tokens": 33}).fit(small_book)
    auto._mode = "json_schema"  # as if json_object had been refused: llama-cpp-python refuses this form too
    auto.predict_proba(SEGMENTS[:1])
    assert auto.provenance_["constrained_decoding"] == "none"
    assert auto.stats()["requests"] == 2 and auto.stats()["retries"] == 0


def test_a_prompt_longer_than_the_context_is_reported(small_book, llm_params):
    from chimeqda.coders.llm import LLMRequestRejected

    long_question = " ".join(["Which processes do people describe when they talk about recovery?"] * 600)
    coder = LLMCoder(**{**llm_params, "research_question": long_question}).fit(small_book)
    with pytest.raises(LLMRequestRejected, match="context"):
        coder.predict_proba(SEGMENTS[:1])
    assert coder.stats()["retries"] == 0


def test_quote_spans_are_document_offsets(small_book, llm_params):
    coder = LLMCoder(**llm_params).fit(small_book)
    segment = Segment("I relapsed last winter and lost my job.", start=100, lang="en", key="q")
    coder.predict_proba([segment])
    for code in coder.codes_:
        span = coder.quote_span(segment, code)
        if span is not None:
            assert 100 <= span[0] < span[1] <= 100 + len(segment.text)
