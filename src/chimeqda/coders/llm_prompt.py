"""The ``llm`` coder's text side: which endpoints are allowed, the prompt, and reading the answer.

Pure functions and small values, no HTTP: :mod:`chimeqda.coders.llm` sends
the requests. The endpoint check refuses non-loopback hosts unless allowed;
the prompt is rendered from a template (``prompts/default.txt``) and the
codebook; an answer is parsed, validated against the codes and its quote
located back in the passage.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from chimeqda.coders.lexicon import roll_up
from chimeqda.errors import (  # noqa: F401  (the LLM errors stay importable from here)
    InvalidInput,
    LLMBudgetExceeded,
    LLMRequestRejected,
    LLMUnavailable,
)
from chimeqda.model import Code, Codebook, Example, Segment

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
