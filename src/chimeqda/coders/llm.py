"""The ``llm`` coder: a language model behind any OpenAI-compatible endpoint.

The codebook becomes the prompt (each code's definition, inclusion and
exclusion criteria, examples and counter-examples, plus the research
question); each passage is sent with its neighbouring sentences, and the
model answers with JSON ``{"codes": [...], "quote": "...", "rationale": "..."}``.
Answers are constrained by a JSON schema where the server supports it and
validated always; the quote is located back in the passage.

Safety and reproducibility:

- the endpoint is loopback by default: ``endpoint="auto"`` finds a running
  server on this machine (one started by ``chimeqda llm serve``, Ollama,
  LM Studio, vLLM or llama.cpp on their usual ports; :mod:`chimeqda.coders.llm_discover`);
  any other host is refused unless ``allow_remote=True``, because interview
  text would leave the machine. No proxy settings from the environment are used.
- the API key is read from an environment variable (``api_key_env``), never
  stored in the project, the cache or the provenance;
- temperature 0 by default; ``samples > 1`` asks several answers (with
  ``temperature > 0``) and scores each code by the share of samples agreeing;
- every answer is cached on disk, keyed by model, prompt and passage
  (:mod:`chimeqda.coders.llm_cache`), so a rerun gives the same result free;
- retries with exponential backoff, a per-request timeout, a per-run budget
  (``max_requests``, ``max_total_tokens``) and a concurrency limit. When the
  server stops answering, :class:`LLMUnavailable` is raised and, through
  ``services.run_coder``, nothing of the run is stored.

Example::

    coder = LLMCoder(endpoint="http://127.0.0.1:8080/v1", model="qwen2.5-7b-instruct")
    coder.fit(builtin_codebook("chime-d")).predict_proba(segments)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

import numpy as np

from chimeqda.coders.base import Coder
from chimeqda.coders.lexicon import target_codes
from chimeqda.coders.llm_calibration import calibrate_llm
from chimeqda.coders.llm_prompt import (  # noqa: F401  (importable from here, as before)
    DEFAULT_ENDPOINT,
    DEFAULT_KEY_ENV,
    DEFAULT_TEMPLATE,
    JSON_MODES,
    LANGUAGES,
    PROMPTS_DIR,
    Answer,
    PromptTemplate,
    _bullets,
    _code_lookup,
    _json_object,
    _loads_ok,
    _normalised,
    _pick_examples,
    _public_url,
    _research_question,
    answer_schema,
    check_endpoint,
    is_local_endpoint,
    locate_quote,
    parse_answer,
    render_system,
    render_user,
    salvage_cut_answer,
)
from chimeqda.errors import (  # noqa: F401  (the LLM errors stay importable from here)
    InvalidInput,
    LLMBudgetExceeded,
    LLMRequestRejected,
    LLMUnavailable,
)
from chimeqda.model import Codebook, CoderInfo, LabelledText, Segment, span_within

# ---------------------------------------------------------------- the coder


@dataclass
class _Run:
    """Counters of one coder's requests (shared by worker threads)."""

    requests: int = 0
    cache_hits: int = 0
    tokens: int = 0
    retries: int = 0
    invalid: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("requests", "cache_hits", "tokens", "retries", "invalid")}


class LLMCoder(Coder):
    """A language model on an OpenAI-compatible server (local by default) codes with the codebook as prompt.

    Parameters
    ----------
    endpoint:
        Base URL of an OpenAI-compatible API (``.../v1``); ``"auto"`` (default)
        finds a running server on this machine and says which (``discovered_``).
    model:
        Model name as the server knows it; empty takes the server's first model.
    api_key_env:
        Environment variable holding the API key, if the server needs one.
    allow_remote:
        Allow an endpoint that is not this machine (interview text leaves it).
    prompt_template:
        Path of a prompt template file (default: the built-in ``prompts/default.txt``).
    research_question:
        The project's research question (default: the built-in codebook's).
    samples, temperature, seed:
        Self-consistency: ``samples`` answers per passage (``temperature > 0``
        needed for more than one); each code's score is the share of samples
        giving it. Defaults: one answer at temperature 0.
    max_tokens:
        Length limit of one answer.
    timeout, retries, backoff:
        Seconds per request; retries after a timeout, a lost connection or a
        5xx/429 answer, waiting ``backoff * 2**attempt`` seconds.
    max_requests, max_total_tokens:
        Budget of one run (cached answers are free); reaching it raises
        :class:`LLMBudgetExceeded`.
    concurrency:
        Requests in flight at once.
    cache:
        Answer cache: None for the default file, ``"off"`` to keep answers in
        memory only, or a path to an SQLite file.
    json_mode:
        ``auto`` (JSON schema in llama.cpp's ``json_object`` form, then the
        OpenAI ``json_schema`` form, then none, whichever the server accepts),
        or one of ``json_object``, ``json_schema``, ``none``.
    max_examples:
        Examples and counter-examples per code in the prompt.
    level:
        ``"top"`` codes the top-level codes, ``"all"`` every code.
    calibrate, calibration_min, calibration_max:
        ``"auto"``: with at least ``calibration_min`` decided passages among
        ``labelled`` (the researchers' decisions), the model also answers up to
        ``calibration_max`` of them and its scores are calibrated on them
        (:mod:`chimeqda.coders.llm_calibration`); ``"off"``: raw shares.
        The provenance says which, with the numbers.
    """

    coder_id = "llm"
    reads_whole_passages = True
    needs_server: ClassVar[bool] = True
    needs_key = False
    cacheable = False  # fitting is one /models request; a pickled fit would keep a stale server and model
    batch_size = 16
    default_threshold = 0.5

    def __init__(
        self,
        endpoint: str = "auto",
        model: str = "",
        api_key_env: str = DEFAULT_KEY_ENV,
        allow_remote: bool = False,
        prompt_template: str | None = None,
        research_question: str | None = None,
        samples: int = 1,
        temperature: float = 0.0,
        seed: int = 0,
        max_tokens: int = 256,
        timeout: float = 120.0,
        retries: int = 2,
        backoff: float = 1.0,
        max_requests: int | None = None,
        max_total_tokens: int | None = None,
        concurrency: int = 1,
        cache: str | None = None,
        json_mode: str = "auto",
        max_examples: int = 3,
        level: str = "top",
        calibrate: str = "auto",
        calibration_min: int = 20,
        calibration_max: int = 200,
    ):
        self.endpoint = endpoint
        self.model = model
        self.api_key_env = api_key_env
        self.allow_remote = allow_remote
        self.prompt_template = prompt_template
        self.research_question = research_question
        self.samples = samples
        self.temperature = temperature
        self.seed = seed
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_requests = max_requests
        self.max_total_tokens = max_total_tokens
        self.concurrency = concurrency
        self.cache = cache
        self.json_mode = json_mode
        self.max_examples = max_examples
        self.level = level
        self.calibrate = calibrate
        self.calibration_min = calibration_min
        self.calibration_max = calibration_max

    # -- fitting ----------------------------------------------------------------
    def _validate(self) -> None:
        def bad(name: str, why: str) -> InvalidInput:
            return InvalidInput(why, source=name)

        if not isinstance(self.samples, int) or self.samples < 1:
            raise bad("samples", "must be a whole number of at least 1")
        if not isinstance(self.temperature, (int, float)) or not 0 <= self.temperature <= 2:
            raise bad("temperature", "must be between 0 and 2")
        if self.samples > 1 and self.temperature == 0:
            raise bad("samples", "several samples at temperature 0 would all be the same answer; "
                                 "set temperature (e.g. temperature=0.7) for self-consistency")
        for name in ("max_tokens", "concurrency"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise bad(name, "must be a whole number of at least 1")
        for name in ("max_requests", "max_total_tokens"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise bad(name, "must be a whole number (or left unset for no limit)")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise bad("retries", "must be a whole number of 0 or more")
        for name in ("timeout", "backoff"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0 or (name == "timeout" and value == 0):
                raise bad(name, "must be a positive number of seconds")
        if self.json_mode not in JSON_MODES:
            raise bad("json_mode", f"must be one of {', '.join(JSON_MODES)}")
        if not isinstance(self.max_examples, int) or self.max_examples < 0:
            raise bad("max_examples", "must be a whole number of 0 or more")
        if not isinstance(self.allow_remote, bool):
            raise bad("allow_remote", "must be true or false")
        if self.calibrate not in ("auto", "off"):
            raise bad("calibrate", "must be auto or off")
        for name in ("calibration_min", "calibration_max"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise bad(name, "must be a whole number of 0 or more")

    def fit(self, codebook: Codebook, labelled: Sequence[LabelledText] = ()) -> LLMCoder:
        """Check the settings, build the prompt from ``codebook`` and ask the server which model it runs.

        The model is not trained (see :mod:`chimeqda.llm_teacher` for the other
        direction); ``labelled`` (the researchers' decisions) calibrates its
        scores when there are enough (:mod:`chimeqda.coders.llm_calibration`). When the server
        cannot be reached but ``model`` is named, fitting succeeds so that
        cached answers can be reused offline; an uncached request then fails.
        """
        from chimeqda.coders.llm_cache import open_cache

        self._validate()
        self.endpoint_, self.discovered_ = self._find_endpoint()
        self.codes_ = target_codes(codebook, self.level)
        self.codebook_ = codebook
        self.template_ = PromptTemplate.load(self.prompt_template)
        question = self.research_question if self.research_question is not None else _research_question(codebook)
        self.research_question_ = " ".join(str(question).split())
        self.system_prompt_ = render_system(self.template_, codebook, self.codes_, self.research_question_,
                                            self.max_examples)
        self.lookup_ = _code_lookup(codebook, self.codes_)
        self.schema_ = answer_schema(self.codes_)
        self.cache_ = open_cache(self.cache)
        self.answers_: dict[tuple[str, str], list[Answer]] = {}
        self.run_ = _Run()
        self._lock = threading.Lock()
        self._mode = self.json_mode
        self._client = None
        self.model_, self.model_info_ = self._resolve_model()
        self.training_size_ = 0
        self.provenance_ = self._provenance()
        for stale in ("calibration_", "thresholds_by_lang_", "thresholds_"):
            self.__dict__.pop(stale, None)  # a refit with fewer decisions must not keep an old calibration
        self.calibration_note_ = calibrate_llm(self, labelled, lambda code: self.lookup_.get(str(code).lower()))
        if hasattr(self, "calibration_"):
            self.training_size_ = int(self.calibration_note_.get("decided_passages", 0))
        return self

    def info(self) -> CoderInfo:
        """Provenance, with how the scores were calibrated (or why they were not)."""
        info = super().info()
        note = getattr(self, "calibration_note_", None)
        if not note:
            return info
        fitted = info.params.get("calibration")
        merged = {**(fitted if isinstance(fitted, dict) else {}), **note}
        return replace(info, params={**info.params, "calibration": merged})

    def _find_endpoint(self) -> tuple[str, str]:
        """The endpoint to use, and a sentence saying how it was found (empty when it was given)."""
        from chimeqda.coders.llm_discover import discover

        if str(self.endpoint).strip().lower() not in ("", "auto"):
            return check_endpoint(self.endpoint, self.allow_remote), ""
        try:
            found = discover(self.model)
        except LLMUnavailable as exc:
            if not self.model:
                raise
            # No server, but the model is named: cached answers can still be reused offline.
            return DEFAULT_ENDPOINT, f"{exc.args[0] if exc.args else exc} — only cached answers of {self.model} can be used"
        return check_endpoint(found.endpoint), found.describe()

    def _provenance(self) -> dict[str, Any]:
        return {
            "endpoint": _public_url(self.endpoint_),
            "model": self.model_,
            "model_digest": str(self.model_info_.get("digest") or self.model_info_.get("sha256") or ""),
            "model_info": self.model_info_,
            "prompt_template": self.template_.source,
            "prompt_template_sha256": self.template_.sha256,
            "system_prompt_sha256": hashlib.sha256(self.system_prompt_.encode("utf-8")).hexdigest(),
            "constrained_decoding": self._mode,
            **({"endpoint_found": self.discovered_} if self.discovered_ else {}),
        }

    # -- HTTP -------------------------------------------------------------------
    def _http(self):
        import httpx

        with self._lock:
            if self._client is None:
                headers = {"Accept": "application/json"}
                key = os.environ.get(self.api_key_env or "", "")
                if key:
                    headers["Authorization"] = f"Bearer {key}"
                self._client = httpx.Client(
                    timeout=httpx.Timeout(float(self.timeout), connect=min(float(self.timeout), 10.0)),
                    headers=headers,
                    trust_env=False,  # no proxies: only the configured endpoint is contacted
                    follow_redirects=False,
                    limits=httpx.Limits(max_connections=self.concurrency),
                )
            return self._client

    def _resolve_model(self) -> tuple[str, dict[str, Any]]:
        import httpx

        try:
            response = self._http().get(f"{self.endpoint_}/models", timeout=min(float(self.timeout), 10.0))
            response.raise_for_status()
            models = [m for m in (response.json().get("data") or []) if isinstance(m, dict) and m.get("id")]
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            if self.model:
                return self.model, {}
            raise LLMUnavailable(
                f"cannot reach a language-model server at {_public_url(self.endpoint_)} ({_short(exc)}). "
                "Start one (e.g. `chimeqda llm serve --model MODEL.gguf`, or Ollama), "
                "or name the model (model=...) to reuse cached answers offline"
            ) from None
        if not models and not self.model:
            raise LLMUnavailable(f"the server at {_public_url(self.endpoint_)} lists no models; pass model=NAME")
        chosen = next((m for m in models if m["id"] == self.model), None) if self.model else models[0]
        name = self.model or models[0]["id"]
        chosen = chosen or {}
        info: dict[str, Any] = {
            k: v for k, v in chosen.items() if isinstance(v, (str, int, float, bool)) and k != "id"
        }
        if isinstance(chosen.get("meta"), dict):
            info["meta"] = {k: v for k, v in chosen["meta"].items() if isinstance(v, (str, int, float, bool))}
        if not info.get("digest"):
            info.update(self._ollama_digest(name))
        return name, info

    def _ollama_digest(self, name: str) -> dict[str, Any]:
        """Ollama reports a model's digest on its native API, on the same server (empty elsewhere)."""
        import httpx

        parts = urlsplit(self.endpoint_)
        try:
            response = self._http().get(f"{parts.scheme}://{parts.netloc}/api/tags", timeout=3.0)
            models = response.json().get("models") or [] if response.status_code == 200 else []
        except (httpx.HTTPError, ValueError, AttributeError):
            return {}
        for entry in models:
            if isinstance(entry, dict) and name in (entry.get("name"), entry.get("model")) and entry.get("digest"):
                details: dict[str, Any] = entry["details"] if isinstance(entry.get("details"), dict) else {}
                return {"digest": str(entry["digest"]), **{k: v for k, v in details.items() if isinstance(v, str)}}
        return {}

    def _payload(self, user: str, sample: int) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model_,
            "messages": [{"role": "system", "content": self.system_prompt_}, {"role": "user", "content": user}],
            "temperature": float(self.temperature),
            "max_tokens": int(self.max_tokens),
            "seed": int(self.seed) + sample,
            "stream": False,
        }
        return payload

    def _with_format(self, payload: dict[str, Any], mode: str) -> dict[str, Any]:
        if mode in ("auto", "json_object"):
            return {**payload, "response_format": {"type": "json_object", "schema": self.schema_}}
        if mode == "json_schema":
            return {**payload, "response_format": {
                "type": "json_schema", "json_schema": {"name": "coding", "strict": True, "schema": self.schema_}}}
        return payload

    def _charge(self) -> None:
        """Count one request against the budget, or raise when it is spent."""
        with self.run_.lock:
            if self.max_requests is not None and self.run_.requests >= self.max_requests:
                raise LLMBudgetExceeded(
                    f"the run reached its budget of {self.max_requests} requests; answers so far are cached, "
                    "so raising max_requests and rerunning continues where this run stopped"
                )
            if self.max_total_tokens is not None and self.run_.tokens >= self.max_total_tokens:
                raise LLMBudgetExceeded(
                    f"the run reached its budget of {self.max_total_tokens} tokens; answers so far are cached, "
                    "so raising max_total_tokens and rerunning continues where this run stopped"
                )
            self.run_.requests += 1

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST a chat completion with retries; falls back to weaker JSON constraints when refused."""
        import httpx

        url = f"{self.endpoint_}/chat/completions"
        last = ""
        attempt = 0
        while True:
            mode = self._mode
            self._charge()
            wait_for = float(self.backoff) * (2**attempt)
            try:
                response = self._http().post(url, json=self._with_format(payload, mode))
            except httpx.TimeoutException:
                last = f"no answer within {self.timeout} s (timeout)"
            except httpx.TransportError as exc:
                last = f"connection failed: {_short(exc)}"
            else:
                status = response.status_code
                if status < 400:
                    try:
                        data = response.json()
                        data["choices"][0]["message"]
                        return {"data": data, "mode": mode}
                    except (ValueError, KeyError, IndexError, TypeError):
                        last = "the server's reply is not an OpenAI chat completion"
                elif mode != "none" and status in (400, 404, 415, 422, 500) \
                        and "response_format" in _body(response, 4000).lower():
                    if self.json_mode != "auto":
                        raise LLMRequestRejected(
                            f"the server at {_public_url(self.endpoint_)} does not accept json_mode={mode} "
                            f"({_body(response, 200)}); use json_mode=auto"
                        )
                    # The server does not take this form of JSON constraint: try the next one.
                    with self._lock:
                        if self._mode == mode:
                            self._mode = {"auto": "json_schema", "json_schema": "none"}[mode]
                    continue
                elif self._is_context_error(response):
                    raise self._rejected(response)
                elif status in (408, 425, 429) or status >= 500:
                    last = f"HTTP {status}: {_body(response)}"
                    retry_after = response.headers.get("retry-after", "")
                    if retry_after.isdigit():
                        wait_for = max(wait_for, min(float(retry_after), 60.0))
                else:
                    raise self._rejected(response)
            if attempt >= self.retries:
                raise LLMUnavailable(
                    f"the language-model server at {_public_url(self.endpoint_)} did not answer after "
                    f"{attempt + 1} attempt(s): {last}. Nothing of this run was stored; answers received so far "
                    "are cached, so a rerun continues from there"
                )
            with self.run_.lock:
                self.run_.retries += 1
            attempt += 1
            time.sleep(wait_for)

    @staticmethod
    def _is_context_error(response: Any) -> bool:
        body = _body(response, 2000).lower()
        return re.search(r"context (window|length|size)|exceed|too long|n_ctx", body) is not None

    def _rejected(self, response: Any) -> LLMRequestRejected:
        hint = ""
        if self._is_context_error(response):
            hint = (" The prompt is longer than the model's context window: start the server with a larger "
                    "context (e.g. --n_ctx 8192), or shorten the prompt (max_examples=1, a shorter template).")
        return LLMRequestRejected(
            f"the server at {_public_url(self.endpoint_)} refused the request "
            f"(HTTP {response.status_code}: {_body(response)}).{hint}"
        )

    # -- answering ----------------------------------------------------------------
    def _request(self, segment: Segment, sample: int) -> tuple[dict[str, Any], str]:
        """The chat request for one passage and sample, and its answer-cache key."""
        from chimeqda.coders.llm_cache import request_key

        user = render_user(self.template_, self.codebook_, self.codes_, self.research_question_, segment)
        payload = self._payload(user, sample)
        key = request_key({"payload": payload, "json_mode": self.json_mode,
                           "schema": self.schema_ if self.json_mode != "none" else None})
        return payload, key

    def cache_key(self, segment: Segment, sample: int = 0) -> str:
        """The answer cache's key for ``segment`` (and sample number): where its answer is, or will be, kept."""
        self._check_fitted()
        return self._request(segment, sample)[1]

    def _ask(self, segment: Segment, sample: int) -> Answer:
        payload, key = self._request(segment, sample)
        stored = self.cache_.get(key)
        cached = stored is not None
        if stored is None:
            reply = self._post(payload)
            data = reply["data"]
            choice = data["choices"][0]
            stored = {
                "content": choice["message"].get("content") or "",
                "finish_reason": choice.get("finish_reason"),
                "model": data.get("model"),
                "system_fingerprint": data.get("system_fingerprint"),
                "usage": data.get("usage") or {},
                "constrained_decoding": reply["mode"],
            }
            with self.run_.lock:
                self.run_.tokens += int((stored["usage"] or {}).get("total_tokens") or 0)
            self.cache_.put(key, self.model_, stored)
        else:
            with self.run_.lock:
                self.run_.cache_hits += 1
        answer = parse_answer(stored["content"], segment.text, self.lookup_)
        if stored.get("finish_reason") == "length" and not answer.valid:
            answer = salvage_cut_answer(stored["content"], segment.text, self.lookup_, self.max_tokens)
        if not answer.valid:
            with self.run_.lock:
                self.run_.invalid += 1
        fingerprint = stored.get("system_fingerprint")
        if fingerprint and not self.provenance_.get("system_fingerprint"):
            self.provenance_["system_fingerprint"] = fingerprint
        return Answer(answer.valid, answer.codes, answer.quote, answer.rationale, answer.span, answer.problems,
                      answer.raw, cached)

    def answers(self, segments: Sequence[Segment]) -> list[list[Answer]]:
        """Every sample's validated answer for each segment (asks the server only for uncached ones)."""
        self._check_fitted()
        jobs = [(i, s) for i in range(len(segments)) for s in range(self.samples)]
        results: dict[tuple[int, int], Answer] = {}
        if self.concurrency == 1 or len(jobs) == 1:
            for i, s in jobs:
                results[(i, s)] = self._ask(segments[i], s)
        else:
            with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="chimeqda-llm") as pool:
                futures = {pool.submit(self._ask, segments[i], s): (i, s) for i, s in jobs}
                done, pending = wait(futures, return_when=FIRST_EXCEPTION)
                for future in pending:
                    future.cancel()
                for future in done:
                    if future.exception() is not None:
                        raise future.exception()  # type: ignore[misc]
                for future, job in futures.items():
                    results[job] = future.result()
        self.provenance_["constrained_decoding"] = self._mode
        out = []
        for i, segment in enumerate(segments):
            sampled = [results[(i, s)] for s in range(self.samples)]
            self.answers_[_segment_id(segment)] = sampled
            out.append(sampled)
        return out

    def predict_proba(self, segments: Sequence[Segment]) -> list[dict[str, float]]:
        """Per segment and code, the calibrated probability, or the raw share when not calibrated (see ``info``)."""
        raw = self.raw_scores(segments)
        calibration = getattr(self, "calibration_", None)
        if calibration is None or not raw:
            return raw
        from chimeqda.coders.language import segment_language

        matrix = np.array([[row[c] for c in self.codes_] for row in raw], dtype=float)
        probs = calibration.apply(matrix, [segment_language(s) for s in segments])
        return [{c: float(v) for c, v in zip(self.codes_, row)} for row in probs]

    def raw_scores(self, segments: Sequence[Segment]) -> list[dict[str, float]]:
        """Per segment and code, the share of samples whose answer gives the code."""
        scores = []
        for sampled in self.answers(segments):
            votes = {code: 0 for code in self.codes_}
            for answer in sampled:
                for code in answer.codes:
                    votes[code] += 1
            scores.append({code: votes[code] / len(sampled) for code in self.codes_})
        return scores

    def explain(self, segment: Segment, code_id: str) -> str:
        """The located quote with its offsets, the rationale, the votes, the model and the raw answer."""
        sampled = self.answers_.get(_segment_id(segment))
        if not sampled:
            return ""
        voting = [a for a in sampled if code_id in a.codes]
        best = next((a for a in voting if a.span), voting[0] if voting else sampled[0])
        parts = []
        if best.span:
            start, end = best.span
            parts.append(f'"{segment.text[start:end]}" [{segment.start + start}:{segment.start + end}]')
        elif best.quote:
            parts.append(f'quote not found in the passage: "{best.quote[:200]}"')
        if best.rationale:
            parts.append(best.rationale[:300])
        parts.append(f"{self.model_}: {len(voting)}/{len(sampled)} samples"
                     f"{' (cached)' if all(a.cached for a in sampled) else ''}")
        raw = json.dumps([a.raw for a in sampled], ensure_ascii=False)
        parts.append(f"raw: {raw[:1200]}")
        return " | ".join(parts)

    def evidence_span(self, segment: Segment, code_id: str) -> tuple[int, int] | None:
        """Offsets in ``segment.text`` of the located quote supporting ``code_id`` (None when there is none).

        The quote of the first answer giving the code whose quote was found in
        the passage (the one ``explain`` shows); the suggestion then covers
        those words instead of the whole segment.
        """
        for answer in self.answers_.get(_segment_id(segment), ()):
            if code_id in answer.codes and answer.span:
                inside = span_within(*answer.span, segment.text)
                if inside:
                    return inside
        return None

    def quote_span(self, segment: Segment, code_id: str) -> tuple[int, int] | None:
        """Document offsets of the located quote supporting ``code_id`` (None when there is none)."""
        span = self.evidence_span(segment, code_id)
        return None if span is None else (segment.start + span[0], segment.start + span[1])

    def stats(self) -> dict[str, int]:
        """Requests sent, cache hits, tokens, retries and invalid answers since ``fit``."""
        self._check_fitted()
        return self.run_.as_dict()

    def close(self) -> None:
        """Close the HTTP connection and the cache file."""
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
            self._client = None
        if hasattr(self, "cache_"):
            self.cache_.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_client", "_lock", "cache_", "run_"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "codes_" in state:
            from chimeqda.coders.llm_cache import open_cache

            self._client, self._lock, self.run_ = None, threading.Lock(), _Run()
            self.cache_ = open_cache(self.cache)


def _segment_id(segment: Segment) -> tuple[str, str]:
    return repr(segment.key), segment.text


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


def _body(response: Any, limit: int = 300) -> str:
    try:
        data = response.json()
        message = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(message, dict):
            message = message.get("message") or message.get("detail") or message
        text = message if isinstance(message, str) else json.dumps(message)
    except ValueError:
        text = response.text
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
