"""Library side of ``chimeqda classify``: code JSONL passages without a project.

Input lines are JSON objects ``{"id": ..., "text": ...}``, optionally with
``lang`` (``en``/``nl``; guessed when absent), ``role`` and ``context`` (a list
of neighbouring sentences of the same speaker turn). A passage of several
sentences is scored sentence by sentence and gets a code when one of its
sentences does (``by_sentence=False`` / ``--whole-passages`` scores it whole). Output lines are
``{"id": ..., "labels": [code ids], "scores": {code id: probability}}`` over the
coder's codes (the codebook's top-level codes by default): the built-in
coders' scores are calibrated probabilities (:mod:`chimeqda.coders.calibration`),
and ``labels`` are the codes at or above the coder's decision point for the
passage's language.

A training file (``--train``) has the same lines plus ``labels`` (code ids;
sub-codes roll up) and optionally ``doc`` (the story, used to group
cross-validation), ``complete`` (default true) and ``rejected``.

Example::

    records = read_jsonl("passages.jsonl")
    rows = classify_records(records, builtin_codebook("chime-d"), "ensemble")
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from chimeqda.coders import get_coder
from chimeqda.coders.base import Coder
from chimeqda.coders.cache import fit_cached
from chimeqda.coders.lexicon import guess_language
from chimeqda.coders.passages import sentence_units
from chimeqda.errors import InvalidInput
from chimeqda.model import ROLES, Codebook, LabelledText, Segment

Record = Mapping[str, Any]


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSONL file; each must be an object with a non-empty string ``text``.

    Raises :class:`~chimeqda.errors.InvalidInput` naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInput("no such file", source=str(path))
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", source=path.name) from None
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"not valid JSON ({exc.msg}, column {exc.colno})", source=path.name, location=f"line {number}") from None
        _check_record(record, path.name, f"line {number}")
        record.setdefault("id", number)
        record["_line"] = number
        records.append(record)
    if not records:
        raise InvalidInput("the file holds no passages (one JSON object per line expected)", source=path.name)
    return records


def _check_record(record: Any, source: str, location: str) -> None:
    if not isinstance(record, dict):
        raise InvalidInput('expected a JSON object like {"id": 1, "text": "..."}', source=source, location=location)
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput('missing or empty "text"', source=source, location=location)
    lang = record.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise InvalidInput('"lang" must be a language code such as "en" or "nl"', source=source, location=location)
    context = record.get("context")
    if context is not None and (not isinstance(context, list) or not all(isinstance(c, str) for c in context)):
        raise InvalidInput('"context" must be a list of sentences', source=source, location=location)
    role = record.get("role")
    if role is not None and role not in ROLES:
        raise InvalidInput(f'"role" must be one of {", ".join(ROLES)}', source=source, location=location)
    for key in ("labels", "rejected"):
        value = record.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise InvalidInput(f'"{key}" must be a list of code ids', source=source, location=location)


def _where(record: Record, index: int) -> str:
    return f"line {record.get('_line', index + 1)}"


def to_segments(records: Sequence[Record], source: str = "input") -> list[Segment]:
    """Segments for coders (``key`` = the record's ``id``; language guessed when absent)."""
    segments = []
    for i, record in enumerate(records):
        _check_record(record, source, _where(record, i))
        text = record["text"]
        segments.append(
            Segment(
                text=text,
                index=i,
                lang=record.get("lang") or guess_language(text),
                role=record.get("role") or "participant",
                context=tuple(record.get("context") or ()),
                key=record.get("id", i),
            )
        )
    return segments


def to_labelled(records: Sequence[Record], codebook: Codebook, source: str = "training data") -> list[LabelledText]:
    """Training passages from labelled records; unknown codes are an error naming the line."""
    out = []
    for i, record in enumerate(records):
        where = _where(record, i)
        _check_record(record, source, where)
        if "labels" not in record:
            raise InvalidInput('a training passage needs "labels" (an empty list when no code applies)', source=source, location=where)
        labels = frozenset(record["labels"])
        rejected = frozenset(record.get("rejected") or ())
        unknown = sorted((labels | rejected) - {c.id for c in codebook.codes})
        if unknown:
            raise InvalidInput(
                f"unknown code(s) {', '.join(unknown)}; the codebook has {', '.join(c.id for c in codebook.top_level)} and their sub-codes",
                source=source,
                location=where,
            )
        out.append(
            LabelledText(
                text=record["text"],
                labels=labels,
                lang=record.get("lang") or guess_language(record["text"]),
                complete=bool(record.get("complete", True)),
                rejected=rejected,
                context=tuple(record.get("context") or ()),
                source=str(record.get("doc") or record.get("source") or f"{source}:{record.get('_line', i + 1)}"),
            )
        )
    return out


def make_coder(coder_name: str | None, *, encoder: str | None = None, params: Mapping[str, Any] | None = None) -> Coder:
    """A coder from the registry; ``encoder`` sets its ``encoder`` parameter when it has one."""
    params = dict(params or {})
    coder = get_coder(coder_name, **params)
    if encoder:
        if "encoder" not in coder.get_params():
            raise InvalidInput(f"the {coder.coder_id} coder does not use an encoder", source="--encoder")
        coder.set_params(encoder=encoder)
        if "nl_encoder" in coder.get_params() and "nl_encoder" not in params:
            # A chosen model applies to every language unless Dutch gets its own.
            coder.set_params(nl_encoder=None if encoder != "e5" else "e5")
    return coder


def passage_scores(coder: Coder, segments: Sequence[Segment], *, by_sentence: bool = True) -> list[dict[str, float]]:
    """Per-code scores of passages; by sentence, a code's score is its highest over the passage's sentences.

    Coders are calibrated on sentences (their example bank, the segments of a
    transcript), so a passage is coded the way a person codes a transcript:
    a code applies when one of its sentences expresses it. Coders that read
    passages whole (``reads_whole_passages``) always get them whole.
    """
    if not by_sentence or coder.reads_whole_passages:
        units, owner = list(segments), list(range(len(segments)))
    else:
        units, owner = sentence_units(segments)
    out: list[dict[str, float]] = [{} for _ in segments]
    for begin in range(0, len(units), max(1, coder.batch_size)):
        batch = units[begin : begin + coder.batch_size]
        for i, scores in zip(owner[begin : begin + coder.batch_size], coder.predict_proba(batch)):
            best = out[i]
            for code, score in scores.items():
                best[code] = max(float(score), best.get(code, float("-inf")))
    return out


def classify_records(
    records: Sequence[Record],
    codebook: Codebook,
    coder_name: str | None,
    *,
    train: str | Path | Sequence[Record] | Sequence[LabelledText] | None = None,
    encoder: str | None = None,
    params: Mapping[str, Any] | None = None,
    coder: Coder | None = None,
    by_sentence: bool = True,
) -> list[dict[str, Any]]:
    """Fit ``coder_name`` on the codebook (plus ``train``) and code every record.

    Returns one ``{"id", "labels", "scores"}`` dict per record, in order.
    Pass an already fitted ``coder`` to skip fitting. With ``by_sentence``
    (the default) a record of several sentences is scored sentence by
    sentence (see :func:`passage_scores`).
    """
    if coder is None:
        coder = make_coder(coder_name, encoder=encoder, params=params)
        coder = fit_cached(coder, codebook, _training(train, codebook))
    segments = to_segments(records)
    out = []
    scored = passage_scores(coder, segments, by_sentence=by_sentence)
    for segment, scores, limits in zip(segments, scored, coder.segment_thresholds(segments)):
        out.append(
            {
                "id": segment.key,
                "labels": [c for c, s in scores.items() if s >= limits.get(c, coder.default_threshold)],
                "scores": {c: round(float(s), 4) for c, s in scores.items()},
            }
        )
    return out


def _training(train: Any, codebook: Codebook) -> list[LabelledText]:
    if train is None:
        return []
    if isinstance(train, (str, Path)):
        return to_labelled(read_jsonl(train), codebook, source=Path(train).name)
    items = list(train)
    if all(isinstance(item, LabelledText) for item in items):
        return items
    return to_labelled(items, codebook)


def write_jsonl(rows: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def classify_file(
    input: str | Path,
    output: str | Path,
    codebook: Codebook,
    coder_name: str | None,
    train: str | Path | None = None,
    encoder: str | None = None,
    params: Mapping[str, Any] | None = None,
    by_sentence: bool = True,
) -> int:
    """Code the passages of ``input`` into ``output`` (JSONL); returns the number of lines written."""
    records = read_jsonl(input)
    rows = classify_records(
        records, codebook, coder_name, train=train, encoder=encoder, params=params, by_sentence=by_sentence
    )
    write_jsonl(rows, output)
    return len(rows)
