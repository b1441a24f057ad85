"""``chimeqda llm check``: does this model follow the answer schema, and how long does an answer take?

The codebook prompt is run on a handful of synthetic passages shipped with
chimeqda (``coders/prompts/check-passages.jsonl``: English and Dutch, one
CHIME-D code each), without the answer cache, one request at a time. Each
answer is checked strictly against the JSON schema (a JSON object with a
``codes`` list of the codebook's ids, a ``quote`` and a ``rationale``, nothing
else), and timed. With a project's segment count the time of a whole run is
estimated from the answers after the first (the first one also reads the
codebook prompt, which the server then reuses).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chimeqda.coders.llm import LLMCoder
from chimeqda.coders.llm_prompt import PROMPTS_DIR
from chimeqda.model import Codebook, Segment

CHECK_PASSAGES = PROMPTS_DIR / "check-passages.jsonl"


@dataclass(frozen=True)
class CheckedAnswer:
    passage_id: str
    lang: str
    expected: tuple[str, ...]
    codes: tuple[str, ...]
    follows_schema: bool
    usable: bool
    seconds: float
    problems: tuple[str, ...]


@dataclass
class CheckReport:
    endpoint: str
    model: str
    found: str
    constrained_decoding: str
    answers: list[CheckedAnswer] = field(default_factory=list)
    samples: int = 1

    @property
    def valid(self) -> int:
        return sum(a.follows_schema for a in self.answers)

    @property
    def schema_followed(self) -> bool:
        return bool(self.answers) and self.valid == len(self.answers)

    def seconds_per_answer(self) -> float:
        """Typical seconds per answer once the codebook prompt is cached (all answers when there is one)."""
        later = [a.seconds for a in self.answers[1:]] or [a.seconds for a in self.answers]
        return statistics.median(later) if later else 0.0

    def estimate(self, segments: int) -> float:
        """Seconds to code ``segments`` passages with this model (one request at a time, ``samples`` each)."""
        first = self.answers[0].seconds if self.answers else 0.0
        return first + max(segments * self.samples - 1, 0) * self.seconds_per_answer()


def check_passages(codes: Sequence[str] | None = None, limit: int | None = None) -> list[tuple[Segment, dict]]:
    """The bundled passages as segments with their line (English and Dutch alternating, up to ``limit``)."""
    rows = [json.loads(line) for line in CHECK_PASSAGES.read_text(encoding="utf-8").splitlines() if line.strip()]
    english = [r for r in rows if r["lang"] == "en"]
    dutch = [r for r in rows if r["lang"] != "en"]
    mixed = [r for pair in zip(english, dutch) for r in pair] + english[len(dutch):] + dutch[len(english):]
    mixed = mixed[:limit] if limit else mixed
    return [(Segment(r["text"], lang=r["lang"], speaker=r.get("speaker"), context=tuple(r.get("context", ())),
                     key=r["id"]), r) for r in mixed]


def strict_problems(content: str, codes: Sequence[str]) -> list[str]:
    """What in ``content`` departs from the answer schema (empty: it follows it)."""
    try:
        data = json.loads(content)
    except ValueError:
        return ["not valid JSON"]
    if not isinstance(data, dict):
        return ["not a JSON object"]
    problems = []
    extra = set(data) - {"codes", "quote", "rationale"}
    if extra:
        problems.append(f"unexpected fields {sorted(extra)}")
    if not isinstance(data.get("codes"), list):
        problems.append('no "codes" list')
    else:
        unknown = [c for c in data["codes"] if c not in codes]
        if unknown:
            problems.append(f"codes not in the codebook: {unknown}")
    for name in ("quote", "rationale"):
        if not isinstance(data.get(name), str):
            problems.append(f'no "{name}" text')
    return problems


def check_model(codebook: Codebook, settings: Mapping[str, Any], *, limit: int | None = None) -> CheckReport:
    """Run the codebook prompt on the bundled passages with an ``llm`` coder of ``settings`` (cache off)."""
    coder = LLMCoder(**{**settings, "cache": "off", "concurrency": 1})
    coder.fit(codebook)
    try:
        report = CheckReport(coder.endpoint_, coder.model_, coder.discovered_, coder._mode, samples=coder.samples)
        for segment, row in check_passages(coder.codes_, limit):
            began = time.perf_counter()
            answer = coder.answers([segment])[0][0]
            seconds = time.perf_counter() - began
            problems = strict_problems(answer.raw, coder.codes_)
            report.answers.append(CheckedAnswer(
                str(row["id"]), row["lang"], tuple(row.get("expected", ())), answer.codes, not problems,
                answer.valid, seconds, tuple(problems) + tuple(answer.problems)))
        report.constrained_decoding = coder._mode
        return report
    finally:
        coder.close()


def format_report(report: CheckReport, segments: int | None = None) -> str:
    """The report a researcher reads: per passage, then the verdict and the time estimate."""
    how = {"auto": "JSON schema (llama.cpp's json_object form)", "json_object": "JSON schema (json_object form)",
           "json_schema": "JSON schema (OpenAI json_schema form)", "none": "none (the server took no JSON constraint)"}
    head = report.found[0].upper() + report.found[1:] if report.found else \
        f"Using the server at {report.endpoint} (model {report.model})"
    lines = [head, f"constrained decoding: {how.get(report.constrained_decoding, report.constrained_decoding)}", ""]
    for a in report.answers:
        mark = "ok " if a.follows_schema else "BAD"
        lines.append(f"{mark} {a.passage_id:5} {a.seconds:6.1f} s  codes: {', '.join(a.codes) or '(none)'}"
                     f"  (written for: {', '.join(a.expected)})"
                     + (f"  — {'; '.join(a.problems)}" if a.problems else ""))
    lines.append("")
    total = len(report.answers)
    verdict = "follows the answer schema" if report.schema_followed else "does NOT follow the answer schema"
    lines.append(f"schema: {report.valid}/{total} answers valid: the model {verdict}.")
    agreeing = sum(bool(set(a.codes) & set(a.expected)) for a in report.answers)
    lines.append(f"codes: {agreeing}/{total} answers name the code the passage was written for "
                 "(a sanity check, not a measure of agreement: see docs/llm.md, benchmarks/llm_eval.py).")
    per = report.seconds_per_answer()
    first = report.answers[0].seconds if report.answers else 0.0
    lines.append(f"time: {per:.1f} s per answer (first answer {first:.1f} s, it also reads the codebook prompt).")
    if segments is not None:
        hours = report.estimate(segments) / 3600
        lines.append(f"estimate: {segments} segments × {report.samples} sample(s) ≈ {hours:.1f} h "
                     f"({report.estimate(segments) / 60:.0f} min) at this speed, one request at a time.")
    if not report.schema_followed:
        lines.append("Invalid answers count as 'no code'. Try --param json_mode=json_schema (vLLM, LM Studio), "
                     "a larger instruction-tuned model, or a larger --param max_tokens.")
    return "\n".join(lines)


def report_json(report: CheckReport, segments: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "endpoint": report.endpoint, "model": report.model, "found": report.found,
        "constrained_decoding": report.constrained_decoding, "valid": report.valid, "total": len(report.answers),
        "schema_followed": report.schema_followed, "seconds_per_answer": report.seconds_per_answer(),
        "answers": [a.__dict__ for a in report.answers],
    }
    if segments is not None:
        data["segments"] = segments
        data["estimated_seconds"] = report.estimate(segments)
    return data

