"""The ``llm`` coder: a language model behind any OpenAI-compatible endpoint.

The codebook becomes the prompt (each code's definition, inclusion and
exclusion criteria, examples and counter-examples, plus the research
question); each passage is sent with its neighbouring sentences, and the
model answers with JSON ``{"codes": [...], "quote": "...", "rationale": "..."}``.
Answers are constrained by a JSON schema where the server supports it and
validated always; the quote is located back in the passage.

Safety and reproducibility:

- the endpoint is loopback by default (``http://127.0.0.1:8080/v1``: a
  llama.cpp, Ollama, vLLM or LM Studio server on this machine); any other host
  is refused unless ``allow_remote=True``, because interview text would leave
  the machine. No proxy settings from the environment are used.
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

import difflib
import hashlib
import ipaddress
import json
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from chimeqda.coders.base import Coder
from chimeqda.coders.lexicon import roll_up, target_codes
from chimeqda.errors import (  # noqa: F401  (the LLM errors stay importable from here)
    InvalidInput,
    LLMBudgetExceeded,
    LLMRequestRejected,
    LLMUnavailable,
)
from chimeqda.model import Code, Codebook, Example, LabelledText, Segment, span_within

PROMPTS_DIR = Path(__file__).parent / "prompts"
DEFAULT_TEMPLATE = PROMPTS_DIR / "default.txt"
DEFAULT_ENDPOINT = "http://127.0.0.1:8080/v1"
DEFAULT_KEY_ENV = "CHIMEQDA_LLM_API_KEY"
JSON_MODES = ("auto", "json_object", "json_schema", "none")
LANGUAGES = {"en": "English", "nl": "Dutch", "de": "German", "fr": "French"}


# ---------------------------------------------------------------- endpoint


def is_local_endpoint(url: str) -> bool:
    """True when ``url`` points at this machine (``localhost`` or a loopback address)."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _public_url(url: str) -> str:
    """``url`` without any user:password part (safe to record)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def check_endpoint(url: str, allow_remote: bool = False) -> str:
    """The normalised endpoint; refuses a non-local one unless ``allow_remote``."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("give the server's address, e.g. http://127.0.0.1:8080/v1", source="endpoint")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"{url!r} is not an http(s) address; e.g. http://127.0.0.1:8080/v1 (llama.cpp) "
            "or http://127.0.0.1:11434/v1 (Ollama)",
            source="endpoint",
        )
    if not allow_remote and not is_local_endpoint(url):
        raise InvalidInput(
            f"{parts.hostname} is not this machine: the passages (interview text) would be sent there. "
            "Run the model locally, or, if your ethics approval and data agreement allow it, pass "
            "allow_remote=True (command line: --param allow_remote=true)",
            source="endpoint",
        )
    return url.strip().rstrip("/")


# ---------------------------------------------------------------- prompts


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt template file: ``### system``, ``### code`` and ``### user`` sections."""

    system: str
    code: str
    user: str
    source: str
    sha256: str

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> PromptTemplate:
        path = Path(path) if path else DEFAULT_TEMPLATE
        if not path.is_file():
            raise InvalidInput("no such prompt template file", source=str(path))
        try:
            raw = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("not UTF-8 text; save the template as UTF-8", source=path.name) from None
        sections: dict[str, list[str]] = {}
        current: list[str] | None = None
        for number, line in enumerate(raw.splitlines(), start=1):
            heading = re.match(r"^###\s*(\w+)\s*$", line)
            if heading:
                name = heading.group(1).lower()
                if name not in ("system", "code", "user"):
                    raise InvalidInput(
                        f'unknown section "{name}"; use "### system", "### code" and "### user"',
                        source=path.name, location=f"line {number}",
                    )
                current = sections.setdefault(name, [])
                continue
            if current is None or line.startswith("# ") or line == "#":
                continue  # comments before the first section, and "# " lines
            current.append(line)
        missing = [name for name in ("system", "code", "user") if name not in sections]
        if missing:
            raise InvalidInput(f"missing section(s) {', '.join('### ' + m for m in missing)}", source=path.name)
        text = {name: "\n".join(lines).strip("\n") for name, lines in sections.items()}
        for name, body in text.items():
            try:
                Template(body).substitute(_PLACEHOLDER_CHECK)
            except (KeyError, ValueError) as exc:
                raise InvalidInput(
                    f"section {name}: unknown or malformed placeholder {exc}; write $$ for a dollar sign",
                    source=path.name,
                ) from None
        source = "default" if path == DEFAULT_TEMPLATE else str(path)
        return cls(text["system"], text["code"], text["user"], source, hashlib.sha256(raw.encode("utf-8")).hexdigest())


_PLACEHOLDER_CHECK: dict[str, str] = {
    name: "" for name in (
        "codes", "id", "name", "definition", "inclusion", "exclusion", "examples", "counter_examples",
        "segment", "context", "lang", "speaker", "research_question", "code_ids", "codebook_name",
    )
}


def _pick_examples(examples: Sequence[Example], limit: int) -> list[Example]:
    """Up to ``limit`` examples, alternating languages (English first)."""
    by_lang: dict[str, list[Example]] = {}
    for example in examples:
        by_lang.setdefault(example.lang, []).append(example)
    order = sorted(by_lang, key=lambda lang: (lang != "en", lang))
    picked: list[Example] = []
    while len(picked) < limit and any(by_lang.values()):
        for lang in order:
            if by_lang[lang] and len(picked) < limit:
                picked.append(by_lang[lang].pop(0))
    return picked


def _bullets(examples: Sequence[Example]) -> str:
    return "\n".join(f'    - "{e.text}"' for e in examples) or "    (none)"


def _research_question(codebook: Codebook) -> str:
    """The research question stored in a built-in codebook's YAML (``research_question``)."""
    from chimeqda.codebook.loader import BUILTIN

    path = BUILTIN.get(codebook.id)
    if path is None or not Path(path).exists():
        return ""
    import yaml

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return " ".join(str(raw.get("research_question") or "").split())


def render_system(template: PromptTemplate, codebook: Codebook, codes: Sequence[str], research_question: str,
                  max_examples: int) -> str:
    """The system message: the codebook as the template lays it out."""
    common = {
        "research_question": research_question or "(not stated)",
        "code_ids": ", ".join(codes),
        "codebook_name": codebook.name,
    }
    blocks = []
    for code_id in codes:
        code: Code = codebook[code_id]
        blocks.append(
            Template(template.code).substitute(
                common,
                id=code.id,
                name=code.name,
                definition=" ".join(code.definition.split()),
                inclusion=" ".join(code.inclusion.split()),
                exclusion=" ".join(code.exclusion.split()),
                examples=_bullets(_pick_examples(code.examples, max_examples)),
                counter_examples=_bullets(_pick_examples(code.counter_examples, max_examples)),
                segment="", context="", lang="", speaker="",
            )
        )
    return Template(template.system).substitute(
        common, codes="\n".join(blocks), segment="", context="", lang="", speaker="",
        id="", name="", definition="", inclusion="", exclusion="", examples="", counter_examples="",
    )


def render_user(template: PromptTemplate, codebook: Codebook, codes: Sequence[str], research_question: str,
                segment: Segment) -> str:
    """The user message: one passage with its context."""
    context = " … ".join(" ".join(c.split()) for c in segment.context if c.strip()) or "(none)"
    return Template(template.user).substitute(
        research_question=research_question or "(not stated)",
        code_ids=", ".join(codes),
        codebook_name=codebook.name,
        segment=" ".join(segment.text.split()),
        context=context,
        lang=LANGUAGES.get(segment.lang or "", segment.lang or "unknown language"),
        speaker=segment.speaker or segment.role,
        codes="", id="", name="", definition="", inclusion="", exclusion="", examples="", counter_examples="",
    )


def answer_schema(codes: Sequence[str]) -> dict[str, Any]:
    """The JSON schema an answer must follow (sent to servers that constrain decoding)."""
    return {
        "type": "object",
        "properties": {
            "codes": {"type": "array", "items": {"type": "string", "enum": list(codes)}, "uniqueItems": True},
            "quote": {"type": "string", "maxLength": 400},
            "rationale": {"type": "string", "maxLength": 200},
        },
        "required": ["codes", "quote", "rationale"],
        "additionalProperties": False,
    }


# ---------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    """One validated model answer for one passage."""

    valid: bool
    codes: tuple[str, ...] = ()
    quote: str = ""
    rationale: str = ""
    span: tuple[int, int] | None = None  # offsets of the quote in the segment text
    problems: tuple[str, ...] = ()
    raw: str = ""
    cached: bool = False


def _code_lookup(codebook: Codebook, codes: Sequence[str]) -> dict[str, str]:
    """Lower-cased ids and names (English and translated) → the target code they roll up to."""
    lookup: dict[str, str] = {}
    for code in codebook.codes:
        target = roll_up(codebook, code.id, codes)
        if target is None:
            continue
        names = {code.id, code.name, code.id.split(".")[-1], *(t.get("name", "") for t in code.translations.values())}
        for name in names:
            if name:
                lookup.setdefault(name.strip().lower(), target)
    return lookup


def _json_object(content: str) -> Any:
    text = content.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return json.loads(text, strict=False)  # strict=False: tolerate raw line breaks inside strings
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if start != -1 and end > start:
            return json.loads(text[start : end + 1], strict=False)
        raise


def parse_answer(content: str, segment_text: str, lookup: Mapping[str, str]) -> Answer:
    """Validate a model's answer; never raises. Invalid answers count as no codes."""
    problems: list[str] = []
    try:
        data = _json_object(content)
    except (json.JSONDecodeError, ValueError):
        return Answer(False, problems=("the answer is not valid JSON",), raw=content)
    if not isinstance(data, dict):
        return Answer(False, problems=("the answer is not a JSON object",), raw=content)
    raw_codes = data.get("codes", data.get("code"))
    if isinstance(raw_codes, str):
        raw_codes = [raw_codes]
    if not isinstance(raw_codes, list):
        return Answer(False, problems=('the answer has no "codes" list',), raw=content)
    found: list[str] = []
    for item in raw_codes:
        if not isinstance(item, str):
            problems.append(f"ignored {json.dumps(item)}: not a code name")
            continue
        key = item.strip().lower()
        if key in ("", "none", "no code", "null"):
            continue
        target = lookup.get(key)
        if target is None:
            problems.append(f"ignored unknown code {item!r}")
        elif target not in found:
            found.append(target)
    if raw_codes and not found and problems:
        return Answer(False, problems=tuple(problems), raw=content)
    quote = str(data["quote"]) if isinstance(data.get("quote"), str) else ""
    rationale = str(data["rationale"]) if isinstance(data.get("rationale"), str) else ""
    span = locate_quote(quote, segment_text) if quote.strip() else None
    if quote.strip() and span is None:
        problems.append("the quote was not found in the passage")
    return Answer(True, tuple(found), quote.strip(), " ".join(rationale.split()), span, tuple(problems), content)


def salvage_cut_answer(content: str, segment_text: str, lookup: Mapping[str, str], max_tokens: int) -> Answer:
    """An answer cut off at ``max_tokens``: keep it when its ``codes`` list (and quote) were complete.

    The schema asks for ``codes`` first, so a long rationale cut short does
    not lose the decision; anything less complete stays invalid.
    """
    cut = f"the answer was cut off at max_tokens={max_tokens}"
    codes = re.search(r'^\s*\{\s*"codes"\s*:\s*(\[[^\]]*\])', content)
    if not codes:
        return Answer(False, problems=("the answer is not valid JSON", cut), raw=content)
    quote = re.search(r'"quote"\s*:\s*("(?:[^"\\]|\\.)*")', content)
    rebuilt = {"codes": json.loads(codes.group(1), strict=False) if _loads_ok(codes.group(1)) else None,
               "quote": json.loads(quote.group(1), strict=False) if quote and _loads_ok(quote.group(1)) else ""}
    answer = parse_answer(json.dumps(rebuilt), segment_text, lookup)
    if not answer.valid:
        return Answer(False, problems=(*answer.problems, cut), raw=content)
    return Answer(True, answer.codes, answer.quote, "", answer.span, (*answer.problems, cut + "; codes kept"), content)


def _loads_ok(text: str) -> bool:
    try:
        json.loads(text, strict=False)
        return True
    except json.JSONDecodeError:
        return False


_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "«": '"', "»": '"', "–": "-", "—": "-"})


def _normalised(text: str) -> tuple[str, list[int]]:
    """Lower-case letters and digits with single spaces, and each character's offset in ``text``."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text.translate(_QUOTES)):
        if ch.isalnum():
            out.append(ch.lower())
            where.append(i)
        elif out and out[-1] != " ":
            out.append(" ")
            where.append(i)
    while out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


def locate_quote(quote: str, text: str, min_ratio: float = 0.8) -> tuple[int, int] | None:
    """Offsets ``(start, end)`` of ``quote`` in ``text``, tolerating case, punctuation and small slips.

    Tries, in order: the exact string; the same words ignoring case and
    punctuation; quotes with an ellipsis (first and last piece); the most
    similar run of words (``difflib`` ratio at least ``min_ratio``).
    """
    quote = quote.strip().strip("\"'“”‘’«» ").strip()
    if not quote:
        return None
    at = text.find(quote)
    if at != -1:
        return at, at + len(quote)
    pieces = [p for p in re.split(r"\.\.\.|…|\[\.\.\.\]", quote) if p.strip(" .,;\"'")]
    if len(pieces) > 1:
        first, last = locate_quote(pieces[0], text, min_ratio), locate_quote(pieces[-1], text, min_ratio)
        if first and last and last[1] > first[0]:
            return first[0], last[1]
    norm_text, where = _normalised(text)
    norm_quote, _ = _normalised(quote)
    if not norm_quote or not norm_text:
        return None
    at = norm_text.find(norm_quote)
    if at != -1:
        return where[at], where[at + len(norm_quote) - 1] + 1
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", norm_text)]
    n = len(norm_quote.split())
    best, best_span = 0.0, None
    for size in range(max(1, n - 2), n + 3):
        for i in range(0, max(1, len(words) - size + 1)):
            j = min(len(words), i + size) - 1
            window = norm_text[words[i][0] : words[j][1]]
            ratio = difflib.SequenceMatcher(None, norm_quote, window, autojunk=False).ratio()
            if ratio > best:
                best, best_span = ratio, (words[i][0], words[j][1])
    if best_span is None or best < min_ratio:
        return None
    return where[best_span[0]], where[best_span[1] - 1] + 1


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
        Base URL of an OpenAI-compatible API (``.../v1``). Loopback by default.
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
    """

    coder_id = "llm"
    reads_whole_passages = True
    needs_server: ClassVar[bool] = True
    needs_key = False
    batch_size = 16
    default_threshold = 0.5

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
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

    def fit(self, codebook: Codebook, labelled: Sequence[LabelledText] = ()) -> LLMCoder:
        """Check the settings, build the prompt from ``codebook`` and ask the server which model it runs.

        ``labelled`` is not used: the model is not trained (see
        :mod:`chimeqda.llm_teacher` for the other direction). When the server
        cannot be reached but ``model`` is named, fitting succeeds so that
        cached answers can be reused offline; an uncached request then fails.
        """
        from chimeqda.coders.llm_cache import open_cache

        self._validate()
        self.endpoint_ = check_endpoint(self.endpoint, self.allow_remote)
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
        return self

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
                "Start one (e.g. `python -m llama_cpp.server --model MODEL.gguf --port 8080`, or Ollama), "
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
