"""Identifier detection on the PII development set: recall/precision per language, and speed.

Run from the repository root:

    PYTHONPATH=src python benchmarks/pii_bench.py [--gold ../shared/eval/pii/pii_dev.jsonl] [--out DIR]

(a) detectors alone; (b) with the project's name lists as a study would have them: for each
passage, the PERSON strings marked anywhere in the passage's own source document (``doc``) are
given as the participants'/confirmed names (what a researcher lists for the study: participants,
aliases and the people they name). Labels, other spans and the text itself are never given.
Scores come from ``../shared/eval/pii/score_pii.py``; speed is words per second on one core
(models already loaded), measured on the whole set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # one core


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", default="../shared/eval/pii/pii_dev.jsonl")
    parser.add_argument("--scorer", default="../shared/eval/pii/score_pii.py")
    parser.add_argument("--out", default="/tmp/pii_bench")
    args = parser.parse_args()
    from chimeqda.privacy.detect import IdentifierDetector, detect_jsonl

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gold = [json.loads(line) for line in Path(args.gold).read_text(encoding="utf-8").splitlines() if line.strip()]
    names_by_doc: dict[str, set[str]] = defaultdict(set)
    for g in gold:
        for s in g["spans"]:
            if s["label"] == "PERSON":
                names_by_doc[g.get("doc", g["id"])].add(g["text"][s["start"]:s["end"]])
    plain = out / "input.jsonl"
    with_names = out / "input_names.jsonl"
    plain.write_text("".join(json.dumps({"id": g["id"], "text": g["text"], "lang": g["lang"]}) + "\n"
                             for g in gold), encoding="utf-8")
    with_names.write_text("".join(json.dumps({"id": g["id"], "text": g["text"], "lang": g["lang"],
                                              "names": sorted(names_by_doc[g.get("doc", g["id"])])}) + "\n"
                                  for g in gold), encoding="utf-8")
    # warm up: load both models once, outside the timing
    warm = IdentifierDetector()
    warm.detect("Warm up in Leeds.", "en")
    warm.detect("Opwarmen in Gent.", "nl")
    results = {}
    for tag, path in (("a_detectors", plain), ("b_name_lists", with_names)):
        pred = out / f"pred_{tag}.jsonl"
        t0 = time.process_time()
        detect_jsonl(path, pred)
        cpu = time.process_time() - t0
        words = sum(len(g["text"].split()) for g in gold)
        report = subprocess.run([sys.executable, args.scorer, args.gold, str(pred)],
                                capture_output=True, text=True, check=True).stdout
        results[tag] = report
        print(f"== {tag}: {words} words in {cpu:.2f} s CPU = {words / cpu:,.0f} words/s/core")
        print(report)
    given = sum(len(v) for v in names_by_doc.values())
    print(f"(b) gave {given} distinct PERSON strings over {len(names_by_doc)} source documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
