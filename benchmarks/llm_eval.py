"""Measure the ``llm`` coder on a labelled JSONL file (not a test; see docs/llm.md).

Codes each passage with the model behind an OpenAI-compatible endpoint, with
the previous passage of the same story as context (as the annotation
guidelines allow), and reports per-code precision, recall, F1 and Cohen's κ,
macro averages per language, a story-bootstrap 95% interval of macro κ, the
share of invalid answers and the time per passage. Answers are cached, so a
rerun (or a larger subset after a smaller one) only pays for new passages.

    .venv/bin/python benchmarks/llm_eval.py --endpoint http://127.0.0.1:8080/v1 \\
        --every 3 --param max_tokens=96

The labelled file (default ``../shared/eval/chime_dev.jsonl``, relative to the
repository) is only read, never copied: the output holds numbers only.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from chimeqda.codebook.loader import load_codebook
from chimeqda.coders.llm import LLMCoder
from chimeqda.evaluation import evaluate, markdown_table
from chimeqda.model import Segment

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "eval" / "chime_dev.jsonl"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def segments_with_context(records: list[dict]) -> list[Segment]:
    """Segments keyed by id; context = the previous passage of the same story."""
    by_place = {(r.get("doc"), r.get("position")): r for r in records}
    out = []
    for i, r in enumerate(records):
        previous = by_place.get((r.get("doc"), (r.get("position") or 0) - 1)) if r.get("position") is not None else None
        out.append(Segment(text=r["text"], index=i, lang=r.get("lang"), key=r["id"],
                           context=(previous["text"],) if previous else ()))
    return out


def parse_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--codebook", default="chime-d")
    parser.add_argument("--endpoint", default="http://127.0.0.1:8080/v1")
    parser.add_argument("--model", default="")
    parser.add_argument("--every", type=int, default=1, help="Only every k-th passage (a systematic subset).")
    parser.add_argument("--limit", type=int, default=0, help="At most this many passages (after --every).")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="llm coder parameter.")
    parser.add_argument("--bootstrap", type=int, default=500)
    parser.add_argument("--output", type=Path, help="Append the markdown table to this file.")
    parser.add_argument("--json", type=Path, help="Write the full result as JSON here.")
    args = parser.parse_args(argv)

    records = load(args.data)
    all_segments = segments_with_context(records)
    picked = list(range(0, len(records), max(1, args.every)))
    if args.limit:
        picked = picked[: args.limit]
    records = [records[i] for i in picked]
    segments = [all_segments[i] for i in picked]

    params = {"endpoint": args.endpoint, "model": args.model, **parse_params(args.param)}
    coder = LLMCoder(**params).fit(load_codebook(args.codebook))
    started = time.perf_counter()
    predicted: list[list[str]] = []
    for begin in range(0, len(segments), coder.batch_size):
        batch = segments[begin : begin + coder.batch_size]
        predicted.extend(coder.predict(batch))
        print(f"{begin + len(batch)}/{len(segments)} passages, {coder.stats()}", file=sys.stderr)
    seconds = time.perf_counter() - started
    stats = coder.stats()
    answers = [a for sampled in coder.answers_.values() for a in sampled]
    truth = [r.get("labels") or [] for r in records]
    result = evaluate(truth, predicted, list(coder.codes_), langs=[r.get("lang") or "en" for r in records],
                      bootstrap=args.bootstrap, groups=[str(r.get("doc")) for r in records])
    none_truth = sum(1 for t in truth if not t)
    none_right = sum(1 for t, p in zip(truth, predicted) if not t and not p)
    result["llm"] = {
        "model": coder.model_, "provenance": coder.provenance_, "params": coder.get_params(), "stats": stats,
        "answers": len(answers), "invalid_share": (sum(not a.valid for a in answers) / len(answers)) if answers else 0,
        "quote_located_share": (sum(1 for a in answers if a.valid and a.quote and a.span) /
                                max(1, sum(1 for a in answers if a.valid and a.quote))),
        "seconds": seconds, "seconds_per_passage_uncached": seconds / max(1, stats["requests"]) if stats["requests"] else None,
        "none_specificity": none_right / none_truth if none_truth else None,
        "passages": len(records), "every": args.every, "machine": platform.machine(),
    }
    title = (f"llm coder, model {Path(coder.model_).name}, {len(records)} passages (every {args.every}), "
             f"{stats['requests']} requests")
    table = markdown_table(result, title=title)
    summary = (f"\ninvalid answers: {result['llm']['invalid_share']:.0%}; quotes located: "
               f"{result['llm']['quote_located_share']:.0%}; passages with no label left uncoded: "
               f"{result['llm']['none_specificity'] or 0:.0%}; {seconds:.0f} s in all")
    print(table + summary)
    if args.output:
        with args.output.open("a", encoding="utf-8") as handle:
            handle.write(table + summary + "\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    coder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
