"""Finding a language-model server on this machine, for ``--coder llm`` without an endpoint.

Only loopback is probed (``127.0.0.1``), each address with a short timeout,
in this order:

1. servers started by ``chimeqda llm serve`` (each writes a small state file,
   :func:`state_dir`, removed when it stops);
2. the usual ports of local servers: Ollama (11434), LM Studio (1234),
   vLLM (8000), llama.cpp's server (8080).

A server counts as found when ``GET /v1/models`` answers with at least one
model. Nothing here ever contacts another host.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from chimeqda.errors import LLMUnavailable

KNOWN_PORTS: tuple[tuple[int, str], ...] = (
    (11434, "Ollama"),
    (1234, "LM Studio"),
    (8000, "vLLM"),
    (8080, "llama.cpp server"),
)
PROBE_TIMEOUT = 1.5
"""Seconds per probe: a local server answers ``/v1/models`` in milliseconds; a closed port fails at once."""
PORTS_ENV = "CHIMEQDA_LLM_PORTS"
"""Comma-separated ``port`` or ``port=label`` list replacing :data:`KNOWN_PORTS` (tests, unusual setups)."""


@dataclass(frozen=True)
class FoundServer:
    """A server that answered: its endpoint, first model, and how it was found."""

    endpoint: str
    model: str
    kind: str
    """``chimeqda llm serve`` (with the model file) or the server its port is usual for."""

    def describe(self) -> str:
        return f"using the {self.kind} at {self.endpoint} (model {self.model})"


def state_dir() -> Path:
    """Where ``chimeqda llm serve`` records running servers: ``$CHIMEQDA_STATE_DIR``, the runtime dir, or the cache."""
    explicit = os.environ.get("CHIMEQDA_STATE_DIR")
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "chimeqda"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chimeqda" / "run"


def state_files() -> list[Path]:
    """State files of ``chimeqda llm serve`` servers, newest first."""
    folder = state_dir()
    if not folder.is_dir():
        return []
    return sorted(folder.glob("llm-serve-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def probe(endpoint: str, timeout: float = PROBE_TIMEOUT) -> list[str]:
    """The model ids a server at ``endpoint`` (``.../v1``) lists; empty when nothing answers there."""
    import httpx

    try:
        response = httpx.get(f"{endpoint.rstrip('/')}/models", timeout=timeout, trust_env=False,
                             follow_redirects=False)
        if response.status_code != 200:
            return []
        data = response.json().get("data") or []
    except (httpx.HTTPError, ValueError, AttributeError):
        return []
    return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]


def _candidates() -> list[tuple[str, str]]:
    """``(endpoint, kind)`` pairs to probe, in order (state files first)."""
    out: list[tuple[str, str]] = []
    for path in state_files():
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(state, dict) or not _pid_alive(state.get("pid")):
            continue  # a server that was killed without cleaning up
        name = Path(str(state.get("model_file", ""))).name
        out.append((str(state.get("endpoint", "")), f"server started by `chimeqda llm serve` ({name})"))
    ports = os.environ.get(PORTS_ENV)
    known: list[tuple[int, str]] = list(KNOWN_PORTS)
    if ports is not None:
        known = []
        for item in ports.split(","):
            number, _, label = item.strip().partition("=")
            if number.isdigit():
                known.append((int(number), label or "server"))
    for port, label in known:
        out.append((f"http://127.0.0.1:{port}/v1", f"{label} (port {port})"))
    return out


def discover(model: str = "") -> FoundServer:
    """The first local server that lists a model (``model``, when named); raises when there is none."""
    tried = []
    for endpoint, kind in _candidates():
        if not endpoint.startswith("http://127.0.0.1:") and not endpoint.startswith("http://localhost:"):
            continue  # a state file may only point at this machine
        tried.append(endpoint.split("//")[1].split("/")[0])
        models = probe(endpoint)
        if not models or (model and model not in models):
            continue
        return FoundServer(endpoint=endpoint, model=model or models[0], kind=kind)
    wanted = f" serving model {model!r}" if model else ""
    raise LLMUnavailable(
        f"no language-model server{wanted} is running on this machine (looked at {', '.join(tried) or 'nothing'}). "
        "Start one with `chimeqda llm serve --model MODEL.gguf` (or Ollama / LM Studio), "
        "or give its address with --param endpoint=http://127.0.0.1:PORT/v1"
    )
