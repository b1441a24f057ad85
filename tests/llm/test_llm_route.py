"""The capable-model route: `chimeqda llm serve`, server discovery, `chimeqda llm check` — with a real tiny model.

Every test sees only its own state folder and no usual ports
(``isolated_discovery`` in conftest), so a server running on this machine
for other reasons is never found by accident.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from llm_support import DATA, _missing, free_port, model_path

from chimeqda.cli import main
from chimeqda.coders.llm import LLMCoder
from chimeqda.coders.llm_discover import discover
from chimeqda.errors import InvalidInput, LLMUnavailable
from chimeqda.model import Segment


def _serve(args, env, wait=240.0):
    """Start `chimeqda llm serve` and return (process, the printed `chimeqda code` line, stderr lines so far)."""
    process = subprocess.Popen([sys.executable, "-m", "chimeqda", "llm", "serve", *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip())
        if line.strip().startswith("chimeqda code"):
            return process, line.strip(), seen
    process.kill()
    raise AssertionError("no `chimeqda code` line:\n" + "\n".join(seen))


def test_serve_prints_the_line_is_discovered_and_stops_on_ctrl_c(workspace, db_url, isolated_discovery, tmp_path):
    if _missing():
        pytest.skip(_missing())
    from chimeqda.services import import_files

    import_files(workspace, [DATA / "T01-interview.txt"])
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process, line, seen = _serve(["--model", model_path(), "--port", port, "--threads", 1,
                                  "-p", workspace.directory, "--db", db_url], env)
    try:
        endpoint = f"http://127.0.0.1:{port}/v1"
        assert line == (f"chimeqda code -p {workspace.directory} --coder llm --param endpoint={endpoint} "
                        f"--param model={model_path().stem}")
        sizing = next(s for s in seen if s.startswith("context window"))
        assert "counted with the model's tokenizer" in sizing and "longest of the project's" in sizing
        n_ctx, prompt = map(int, re.search(r"context window (\d+) tokens: codebook prompt (\d+)", sizing).groups())
        assert n_ctx % 512 == 0 and n_ctx >= prompt + 256
        state = json.loads((isolated_discovery / f"llm-serve-{port}.json").read_text())
        assert state["endpoint"] == endpoint and state["model_file"] == str(model_path())

        # `chimeqda code --coder llm` with no endpoint finds it and says so
        result = CliRunner().invoke(main, [
            "code", "-p", str(workspace.directory), "--db", db_url, "--coder", "llm",
            "--param", f"prompt_template={DATA / 'compact.txt'}", "--param", "max_tokens=48",
            "--param", f"cache={tmp_path / 'cache.sqlite3'}"])
        assert result.exit_code == 0, result.output
        assert (f"using the server started by `chimeqda llm serve` ({model_path().name}) at {endpoint} "
                f"(model {model_path().stem})") in result.stderr
        assert "new suggestions on" in result.stdout
    finally:
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=60)[0]
    assert process.returncode == 0, rest
    assert "stopping the server" in rest
    assert not (isolated_discovery / f"llm-serve-{port}.json").exists()
    with pytest.raises(LLMUnavailable, match="chimeqda llm serve --model"):
        discover()  # the server is gone


def test_serve_refuses_what_cannot_work(tmp_path):
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_text("not a model")
    result = CliRunner().invoke(main, ["llm", "serve", "--model", str(not_gguf)])
    assert result.exit_code == 1 and "is not a GGUF model" in result.output and str(not_gguf) in result.output
    result = CliRunner().invoke(main, ["llm", "serve", "--model", str(tmp_path / "missing.gguf")])
    assert result.exit_code == 1 and "no such model file" in result.output
    if _missing():
        return
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["llm", "serve", "--model", str(model_path()), "--port", str(port),
                                           "--context", "2048"])
    assert result.exit_code == 1 and f"port {port} on 127.0.0.1 is already in use" in result.output


def test_discovery_probes_the_usual_ports_and_reports_the_server(llm_server, small_book, monkeypatch):
    port = int(llm_server.url.rsplit(":", 1)[1].split("/")[0])
    monkeypatch.setenv("CHIMEQDA_LLM_PORTS", f"{free_port()}=Ollama,{port}=llama.cpp server")
    found = discover()
    assert (found.endpoint, found.model) == (llm_server.url, str(model_path()))
    assert found.kind == f"llama.cpp server (port {port})"
    coder = LLMCoder(cache="off").fit(small_book)
    assert coder.endpoint_ == llm_server.url
    assert coder.info().params["endpoint_found"].startswith(f"using the llama.cpp server (port {port}) at")
    with pytest.raises(LLMUnavailable, match="serving model 'no-such-model'"):
        discover("no-such-model")


def test_no_server_is_a_clear_error(workspace, db_url, monkeypatch, isolated_discovery):
    from chimeqda.services import import_files

    import_files(workspace, [DATA / "T01-interview.txt"])
    ports = [free_port(), free_port()]
    monkeypatch.setenv("CHIMEQDA_LLM_PORTS", ",".join(map(str, ports)))
    isolated_discovery.mkdir(parents=True)
    (isolated_discovery / "llm-serve-1.json").write_text(json.dumps(
        {"pid": 2**22 + 12345, "endpoint": f"http://127.0.0.1:{ports[0]}/v1", "model_file": "gone.gguf"}))
    result = CliRunner().invoke(main, ["code", "-p", str(workspace.directory), "--db", db_url, "--coder", "llm"])
    assert result.exit_code == 1
    assert "no language-model server is running on this machine" in result.output
    assert f"127.0.0.1:{ports[0]}, 127.0.0.1:{ports[1]}" in result.output  # the dead server's state file is skipped
    assert "chimeqda llm serve --model MODEL.gguf" in result.output


def test_remote_endpoints_are_refused_without_allow_remote(workspace, db_url, small_book):
    result = CliRunner().invoke(main, ["code", "-p", str(workspace.directory), "--db", db_url, "--coder", "llm",
                                       "--param", "endpoint=http://10.20.30.40:8080/v1"])
    assert result.exit_code == 1 and "10.20.30.40 is not this machine" in result.output
    result = CliRunner().invoke(main, ["llm", "check", "--endpoint", "https://llm.example.org/v1"])
    assert result.exit_code == 1 and "allow_remote" in result.output
    with pytest.raises(InvalidInput, match="not this machine"):
        LLMCoder(endpoint="https://llm.example.org/v1", model="m", cache="off").fit(small_book)


def test_check_reports_schema_compliance_time_and_an_estimate(llm_server, workspace, db_url):
    from chimeqda.services import import_files

    import_files(workspace, [DATA / "T01-interview.txt"])
    result = CliRunner().invoke(main, ["llm", "check", "--endpoint", llm_server.url, "--limit", "2", "--json",
                                       "-p", str(workspace.directory), "--db", db_url, "--param", "max_tokens=96"])
    report = json.loads(result.stdout)
    assert report["total"] == 2 and [a["lang"] for a in report["answers"]] == ["en", "nl"]
    assert result.exit_code == (0 if report["valid"] == 2 else 1)
    assert report["schema_followed"] is (report["valid"] == 2)
    assert report["constrained_decoding"] == "auto" and report["seconds_per_answer"] > 0
    assert report["segments"] >= 2
    assert report["estimated_seconds"] == pytest.approx(
        report["answers"][0]["seconds"] + (report["segments"] - 1) * report["seconds_per_answer"])
    assert all(set(a["codes"]) <= {"connectedness", "hope", "identity", "meaning", "empowerment", "difficulties"}
               for a in report["answers"])


def test_check_fails_when_the_model_does_not_follow_the_schema(llm_server):
    result = CliRunner().invoke(main, ["llm", "check", "--endpoint", llm_server.url, "--limit", "2",
                                       "--param", "json_mode=none", "--param", f"prompt_template={DATA / 'prose.txt'}",
                                       "--param", "max_tokens=24"])
    assert result.exit_code == 1, result.output
    assert re.search(r"schema: [01]/2 answers valid: the model does NOT follow the answer schema", result.output)
    assert "BAD" in result.output and "s per answer" in result.output


# ---------------------------------------------------------------- calibration on the researchers' decisions

DECIDED = [
    ("My sponsor phones me every Sunday evening.", "en", {"connectedness"}, {"hope"}),
    ("I lost my flat after the relapse in March.", "en", {"difficulties"}, {"connectedness"}),
    ("I really think next year will be better for me.", "en", {"hope"}, {"difficulties"}),
    ("Mijn zus komt elke week bij me op bezoek.", "nl", {"connectedness"}, {"difficulties"}),
    ("Ik ben in de winter weer gaan drinken.", "nl", {"difficulties"}, {"hope"}),
    ("Ik geloof echt dat het beter wordt.", "nl", {"hope"}, {"connectedness"}),
    ("The group at the church hall keeps me going.", "en", {"connectedness"}, {"difficulties"}),
    ("Some nights the craving is still very strong.", "en", {"difficulties"}, {"hope"}),
]


def _decisions(n):
    from chimeqda.model import LabelledText

    return [LabelledText(text, frozenset(yes), lang, complete=False, rejected=frozenset(no), source=f"segment:{i}")
            for i, (text, lang, yes, no) in enumerate(DECIDED[:n])]


def test_scores_are_calibrated_on_decisions_or_the_provenance_says_why_not(small_book, llm_params):
    params = {**llm_params, "prompt_template": str(DATA / "compact.txt"), "max_tokens": 48}
    few = LLMCoder(**params).fit(small_book, _decisions(3))
    note = few.info().params["calibration"]
    assert note["method"] == "none: not enough researcher decisions yet"
    assert (note["decided_passages"], note["accepted_pairs"], note["rejected_pairs"]) == (3, 3, 3)
    assert "not calibrated probabilities" in note["scores"]
    raw = few.predict_proba(SEGMENTS_FOR_CALIBRATION)
    assert all(v in (0.0, 1.0) for row in raw for v in row.values())  # one sample: raw shares

    coder = LLMCoder(**params, calibration_min=6).fit(small_book, _decisions(8))
    note = coder.info().params["calibration"]
    assert note["method"].startswith("Platt per code and language")
    assert (note["decided_passages"], note["accepted_pairs"], note["rejected_pairs"]) == (8, 8, 8)
    assert note["per_language"] == {"en": 5, "nl": 3} and note["decision_rows"] == {"en": 5, "nl": 3}
    assert coder.info().training_size == 8
    probs = coder.predict_proba(SEGMENTS_FOR_CALIBRATION)
    assert all(0.0 < v < 1.0 for row in probs for v in row.values())
    # increasing map: the labels at the calibrated thresholds are those of the raw shares at 0.5
    assert coder.predict(SEGMENTS_FOR_CALIBRATION) == [[c for c, v in row.items() if v >= 0.5] for row in raw]
    assert LLMCoder(**params, calibrate="off").fit(small_book, _decisions(8)).info().params["calibration"][
        "method"] == "none (calibrate=off)"


SEGMENTS_FOR_CALIBRATION = [Segment("My sponsor calls me every week.", lang="en", key="a"),
                            Segment("Ik ben vorige winter teruggevallen.", lang="nl", key="b")]


CALIBRATION_TRANSCRIPT = """SYNTHETIC TEST TRANSCRIPT (written for chimeqda's LLM tests; no real participant)

I: Tell me about this year.
R: My sponsor phones me every Sunday evening.
I: And your family?
R: My sister visits me every week and we cook together.
I: What was hard?
R: I lost my flat after the relapse in March.
I: And now?
R: Some nights the craving is still very strong.
I: How do you see the future?
R: I really think next year will be better for me.
I: Anything else?
R: The group at the church hall keeps me going.
I: Where do you live now?
R: The flat is on the second floor near the station.
I: How did you get here today?
R: I took the number twelve bus this morning.
I: What did you have for lunch?
R: We had soup and bread at the centre.
I: What is the weather like there?
R: It rained all of last week.
"""


def test_code_with_the_llm_calibrated_on_decisions_end_to_end(workspace, db_url, isolated_discovery, tmp_path):
    """`chimeqda llm serve` + `chimeqda code --coder llm --precision 0.9`: calibrated on the project's decisions."""
    if _missing():
        pytest.skip(_missing())
    from sqlalchemy import select

    from chimeqda.services import add_coding, import_files
    from chimeqda.services.review import mark_no_code
    from chimeqda.store import tables as t

    source = tmp_path / "T02-interview.txt"
    source.write_text(CALIBRATION_TRANSCRIPT, encoding="utf-8")
    import_files(workspace, [source])
    with workspace.session() as session:
        segments = session.execute(select(t.Segment.id, t.Segment.document_id, t.Segment.start, t.Segment.end)
                                   .where(t.Segment.role != "interviewer", ~t.Segment.text.startswith("SYNTHETIC"))
                                   .order_by(t.Segment.index)).all()
    assert len(segments) == 10
    codes = ["connectedness", "connectedness", "difficulties", "difficulties", "hope", "connectedness"]
    for (_, doc, start, end), code in zip(segments, codes):
        add_coding(workspace, doc, start, end, code, by="ann")
    mark_no_code(workspace, [sid for sid, *_ in segments[6:]], by="ann")

    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process, line, _ = _serve(["--model", model_path(), "--port", port, "--threads", 1,
                               "-p", workspace.directory, "--db", db_url], env)
    try:
        result = CliRunner().invoke(main, [
            "code", "-p", str(workspace.directory), "--db", db_url, "--coder", "llm", "--precision", "0.9",
            "--param", f"prompt_template={DATA / 'compact.txt'}", "--param", "max_tokens=48",
            "--param", "calibration_min=8", "--param", f"cache={tmp_path / 'cache.sqlite3'}"])
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert result.exit_code == 0, result.output
    assert "using the server started by `chimeqda llm serve`" in result.stderr
    assert "At precision 0.9: each suggestion has a calibrated probability of at least 0.9" in result.stdout
    assert "decided (passage, code) pairs at probability ≥ 0.9" in result.stdout  # checked on the decisions
    with workspace.session() as session:
        coder = session.scalars(select(t.Coder).where(t.Coder.name == "llm")).one()
        scores = session.scalars(select(t.CodingEvent.score).where(t.CodingEvent.action == "suggested")).all()
    note = coder.params["calibration"]
    assert note["method"].startswith("Platt per code and language") and coder.params["precision"] == 0.9
    assert note["decided_passages"] == 10 and note["accepted_pairs"] == 6 and note["rejected_pairs"] >= 24
    # calibrated probabilities (not the raw 0/1 shares of one sample), each at least the requested precision
    assert all(0.9 <= s < 1.0 for s in scores)
