"""The language model as a teacher: its confident decisions train the fast offline coders.

A team with a GPU for an afternoon lets a capable model code a few thousand
passages (``chimeqda teach``); the confident answers become training passages
for the ``supervised`` coder, which then runs on a laptop without the model::

    chimeqda teach --input passages.jsonl --output teacher.jsonl \\
        --param endpoint=http://127.0.0.1:8080/v1 --param model=qwen2.5-14b-instruct
    chimeqda classify --coder supervised --train teacher.jsonl --input new.jsonl --output coded.jsonl

Inside a project the human route works too: ``chimeqda code --coder llm``,
review (accept/reject) the suggestions, then ``chimeqda code --coder
supervised`` learns from the accepted and rejected decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chimeqda.coders.llm import LLMCoder
from chimeqda.errors import InvalidInput
from chimeqda.model import Codebook, LabelledText, Segment


def llm_teacher_labels(
    segments: Sequence[Segment],
    coder: LLMCoder,
    *,
    min_agreement: float = 0.5,
    reject_below: float = 0.0,
    min_valid: float = 0.5,
) -> list[LabelledText]:
    """Training passages from a fitted LLM coder's confident answers.

    Parameters
    ----------
    segments:
        Passages to code (``key`` becomes the ``source``).
    coder:
        A fitted :class:`~chimeqda.coders.llm.LLMCoder`.
    min_agreement:
        A code is a label when at least this share of samples gives it.
    reject_below:
        A code is known not to apply when at most this share gives it; codes
        in between stay unknown and the passage is marked ``complete=False``.
    min_valid:
        Passages where fewer than this share of answers were valid JSON with
        known codes are left out.

    Returns
    -------
    list of LabelledText
        One per kept passage, in input order; ``complete`` is true when every
        code was decided with confidence.
    """
    if not 0 <= reject_below < min_agreement <= 1:
        raise ValueError("need 0 <= reject_below < min_agreement <= 1")
    coder._check_fitted()
    out: list[LabelledText] = []
    for segment, sampled in zip(segments, coder.answers(segments)):
        valid = [a for a in sampled if a.valid]
        if not sampled or len(valid) / len(sampled) < min_valid:
            continue
        share = {code: sum(code in a.codes for a in sampled) / len(sampled) for code in coder.codes_}
        labels = frozenset(c for c, s in share.items() if s >= min_agreement)
        rejected = frozenset(c for c, s in share.items() if s <= reject_below)
        complete = len(labels) + len(rejected) == len(coder.codes_)
        out.append(
            LabelledText(
                text=segment.text, labels=labels, lang=segment.lang or "en", complete=complete,
                rejected=frozenset() if complete else rejected, context=segment.context,
                source=str(segment.key if segment.key is not None else segment.index),
            )
        )
    return out


def teach_records(
    records: Sequence[Mapping[str, Any]],
    codebook: Codebook,
    params: Mapping[str, Any] | None = None,
    **options: float,
) -> tuple[list[dict[str, Any]], LLMCoder]:
    """Training-file lines (``chimeqda classify --train`` format) from the LLM's confident answers.

    Returns the lines and the fitted coder (for its ``stats()`` and provenance).
    """
    from chimeqda.classify import to_segments

    segments = to_segments(records)
    coder = LLMCoder(**dict(params or {}))
    coder.fit(codebook)
    docs = {str(r.get("id")): r.get("doc") for r in records}
    lines = []
    for item in llm_teacher_labels(segments, coder, **options):
        line: dict[str, Any] = {"id": item.source, "text": item.text, "lang": item.lang, "labels": sorted(item.labels),
                                "complete": item.complete}
        if not item.complete:
            line["rejected"] = sorted(item.rejected)
        if item.context:
            line["context"] = list(item.context)
        if docs.get(item.source):
            line["doc"] = docs[item.source]
        lines.append(line)
    return lines, coder


def teach_file(input: str | Path, output: str | Path, codebook: Codebook, params: Mapping[str, Any] | None = None,
               **options: float) -> dict[str, Any]:
    """Code ``input`` (JSONL passages) with the LLM and write confident answers to ``output`` as training data."""
    from chimeqda.classify import read_jsonl, write_jsonl

    records = read_jsonl(input)
    unknown = set(params or {}) - set(LLMCoder._param_names())
    if unknown:
        raise InvalidInput(f"the llm coder has no parameter(s) {', '.join(sorted(unknown))}", source="--param")
    lines, coder = teach_records(records, codebook, params, **options)
    write_jsonl(lines, output)
    try:
        return {"passages": len(records), "written": len(lines),
                "complete": sum(1 for line in lines if line["complete"]), **coder.stats()}
    finally:
        coder.close()
