"""``chimeqda llm serve``: llama-cpp-python's OpenAI-compatible server on loopback, sized for the codebook.

:func:`context_need` computes the context window the ``llm`` coder needs:
the tokens of the codebook prompt (system message), of the longest passage
with its context (user message), the answer budget and a margin for the chat
template, rounded up to a multiple of 512. Tokens are counted with the
model's own tokenizer (llama.cpp loads only the vocabulary: well under a
second); when that cannot be loaded, a safe estimate of one token per three
characters is used and said.

:class:`LocalServer` checks the model file (a GGUF), the memory and the port
before starting ``python -m llama_cpp.server``, waits until it answers, and
records itself in a state file (``chimeqda.coders.llm_discover.state_dir``)
so ``--coder llm`` finds it; the state file goes when the server stops.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chimeqda.coders.lexicon import target_codes
from chimeqda.coders.llm_discover import probe, state_dir
from chimeqda.coders.llm_prompt import PromptTemplate, render_system, render_user
from chimeqda.errors import InvalidInput, LLMUnavailable
from chimeqda.model import Codebook, Segment

CHAT_MARGIN = 96
"""Tokens for the chat template's role markers around the two messages."""
DEFAULT_PASSAGE_CHARS = 1600
"""Without a project: room for a passage and its neighbouring sentences (a long interview sentence and two more)."""
ROUND = 512


@dataclass(frozen=True)
class ContextNeed:
    """The context window the codebook prompt needs, and how it was counted."""

    n_ctx: int
    system_tokens: int
    passage_tokens: int
    answer_tokens: int
    method: str
    """``the model's tokenizer`` or ``estimate (3 characters per token)``."""
    passage_source: str
    trained_context: int | None = None

    def describe(self) -> str:
        text = (f"context window {self.n_ctx} tokens: codebook prompt {self.system_tokens} + longest passage "
                f"{self.passage_tokens} ({self.passage_source}) + answer {self.answer_tokens} + chat template "
                f"{CHAT_MARGIN}, counted with {self.method}, rounded up to a multiple of {ROUND}")
        if self.trained_context and self.n_ctx > self.trained_context:
            text += (f". Warning: the model was trained on {self.trained_context} tokens; "
                     "answers may degrade (use --param max_examples=1, or a model with a longer context)")
        return text


def check_gguf(model_file: Path) -> Path:
    """The resolved model file; refuses a missing file or one that is not a GGUF model."""
    path = Path(model_file).expanduser()
    if not path.is_file():
        raise InvalidInput("no such model file; give the path of a .gguf file "
                           "(e.g. Qwen2.5-7B-Instruct-Q4_K_M.gguf)", source=str(path))
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF":
        raise InvalidInput("this file is not a GGUF model (it does not start with 'GGUF'); llama.cpp needs a "
                           ".gguf file — download the GGUF version of the model (e.g. a Q4_K_M quantisation)",
                           source=str(path))
    return path.resolve()


def _die_with_parent() -> None:
    """In the server process (Linux): stop when ``chimeqda llm serve`` dies, even by SIGKILL."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _tokenizer(model_file: Path):
    """A function counting tokens with the model's vocabulary, or None when it cannot be loaded."""
    try:
        from llama_cpp import Llama
        from llama_cpp._utils import suppress_stdout_stderr

        with suppress_stdout_stderr(disable=False):  # llama.cpp's C code writes context notes to stderr
            vocab = Llama(model_path=str(model_file), vocab_only=True, verbose=False)
    except Exception:  # noqa: BLE001 - no tokenizer: fall back to the estimate
        return None, None
    trained = next((int(v) for k, v in vocab.metadata.items() if k.endswith(".context_length") and str(v).isdigit()),
                   None)
    return (lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=True, special=True))), trained


def context_need(model_file: Path, codebook: Codebook, research_question: str, segments: Sequence[Segment] = (),
                 *, max_tokens: int = 256, max_examples: int = 3, level: str = "top",
                 prompt_template: str | None = None) -> ContextNeed:
    """The context window for coding ``segments`` (or a long passage, without any) with ``codebook``."""
    template = PromptTemplate.load(prompt_template)
    codes = target_codes(codebook, level)
    system = render_system(template, codebook, codes, research_question, max_examples)
    if segments:
        longest = max(segments, key=lambda s: len(s.text) + sum(len(c) for c in s.context))
        source = f"the longest of the project's {len(segments)} segments, with its context"
    else:
        longest = Segment("x " * (DEFAULT_PASSAGE_CHARS // 2), lang="nl", speaker="participant")
        source = f"no project given: room for {DEFAULT_PASSAGE_CHARS} characters"
    user = render_user(template, codebook, codes, research_question, longest)
    count, trained = _tokenizer(model_file)
    if count is not None:
        method = "the model's tokenizer"
        system_tokens, passage_tokens = count(system), count(user)
    else:
        method = "an estimate (3 characters per token; the tokenizer could not be loaded)"
        system_tokens, passage_tokens = math.ceil(len(system) / 3), math.ceil(len(user) / 3)
    total = system_tokens + passage_tokens + max_tokens + CHAT_MARGIN
    n_ctx = max(2048, ROUND * math.ceil(total / ROUND))
    return ContextNeed(n_ctx, system_tokens, passage_tokens, max_tokens, method, source, trained)


def available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux ``MemAvailable``; None elsewhere)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_FAILURES = (
    (("out of memory", "failed to allocate", "cannot allocate", "unable to allocate", "std::bad_alloc",
      "mmap failed"), "too little memory for this model with a context of {n_ctx} tokens: close other programs, "
                     "or use a smaller quantisation (Q4_K_M) or a smaller model"),
    (("invalid magic", "gguf_init", "unknown model architecture", "unsupported model",
      "failed to load model", "error loading model"),
     "llama.cpp could not load {model}: a damaged download, or an architecture this llama-cpp-python "
     "version does not know (upgrade llama-cpp-python, or use another GGUF)"),
    (("address already in use", "errno 98"), "port {port} is taken by another program: choose another with --port"),
    (("no module named",), "llama-cpp-python's server is not installed: pip install 'llama-cpp-python[server]'"),
)


def explain_failure(log_text: str, model: Path, port: int, n_ctx: int) -> str:
    """What went wrong, from the server's output."""
    low = log_text.lower()
    for needles, message in _FAILURES:
        if any(n in low for n in needles):
            return message.format(model=model.name, port=port, n_ctx=n_ctx)
    return "see the server's output below"


@dataclass
class LocalServer:
    """One ``python -m llama_cpp.server`` process on 127.0.0.1 (start, wait, record, stop)."""

    model_file: Path
    port: int
    n_ctx: int
    threads: int | None = None
    gpu_layers: int = -1
    alias: str = ""
    process: subprocess.Popen | None = None
    log: Path | None = None
    state: Path | None = None
    started: float = field(default_factory=time.time)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_file),
                "--model_alias", self.alias or self.model_file.stem, "--host", "127.0.0.1",
                "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--n_gpu_layers", str(self.gpu_layers)]
        if self.threads:
            args += ["--n_threads", str(self.threads), "--n_threads_batch", str(self.threads)]
        return args

    def preflight(self) -> None:
        """Refuse before starting: not a GGUF, clearly too little memory, port taken."""
        self.model_file = check_gguf(self.model_file)
        need = self.model_file.stat().st_size
        free = available_memory()
        if free is not None and need > free:
            raise InvalidInput(
                f"too little memory: the model needs at least {need / 2**30:.1f} GB and "
                f"{free / 2**30:.1f} GB is available. Close other programs, or use a smaller quantisation "
                "(e.g. Q4_K_M) or a smaller model", source=str(self.model_file))
        if not port_free(self.port):
            raise InvalidInput(f"port {self.port} on 127.0.0.1 is already in use (another server?): "
                               "choose another with --port, or stop that server", source="--port")

    def start(self, wait: float = 600.0) -> None:
        """Start the server and return once it lists its model; raises with the reason when it does not."""
        folder = state_dir()
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / f"llm-serve-{self.port}.log"
        handle = self.log.open("wb")
        self.process = subprocess.Popen(self.command(), stdout=handle, stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=_die_with_parent)
        handle.close()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self._failed(f"the server stopped (exit code {self.process.returncode})")
            if probe(self.endpoint, timeout=2.0):
                self._record()
                return
            time.sleep(0.3)
        self.stop()
        raise self._failed(f"the server did not answer within {wait:.0f} s")

    def _failed(self, what: str) -> LLMUnavailable:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log and self.log.exists() else ""
        tail = "\n".join(text.strip().splitlines()[-15:])
        why = explain_failure(text, self.model_file, self.port, self.n_ctx)
        return LLMUnavailable(f"could not start a server for {self.model_file}: {what}; {why}."
                              + (f"\nServer output (full log: {self.log}):\n{tail}" if tail else ""))

    def _record(self) -> None:
        assert self.process is not None
        self.state = state_dir() / f"llm-serve-{self.port}.json"
        temporary = self.state.with_suffix(".tmp")
        temporary.write_text(json.dumps({
            "pid": self.process.pid, "owner_pid": os.getpid(), "endpoint": self.endpoint,
            "model": self.alias or self.model_file.stem, "model_file": str(self.model_file),
            "n_ctx": self.n_ctx, "started": self.started,
        }), encoding="utf-8")
        os.replace(temporary, self.state)

    def wait(self) -> int:
        """Block until the server stops (Ctrl-C stops it: see :meth:`stop`)."""
        assert self.process is not None
        return self.process.wait()

    def stop(self) -> None:
        """Stop the server (politely, then for good) and remove its state file."""
        if self.state is not None:
            self.state.unlink(missing_ok=True)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
