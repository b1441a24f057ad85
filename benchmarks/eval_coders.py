"""Benchmark every registered coder against a labelled JSONL file (not a test).

Runs each coder through the same path as ``chimeqda classify``:

* codebook only — fit on the codebook (definitions, examples, bank), code all passages;
* trained (learning coders) — grouped k-fold cross-validation by story (``doc``):
  ``--train`` on the other folds' passages, code the held-out fold;

and reports per-code precision, recall, F1 and Cohen's κ, macro averages, per
language, a story-bootstrap 95% interval of macro κ, and throughput in
segments per second next to the raw encoder's throughput on the same texts.

    PYTHONPATH=src .venv/bin/python benchmarks/eval_coders.py \\
        --data ../shared/eval/chime_dev.jsonl --output docs/benchmarks-coders.md

The labelled file is only read, never copied: the output holds numbers only.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

from chimeqda.classify import classify_records, make_coder, read_jsonl, to_labelled, to_segments
from chimeqda.codebook.loader import builtin_codebook, load_codebook
from chimeqda.coders import CODERS, DEFAULT_CODER, available_coders
from chimeqda.coders.encoders import get_encoder
from chimeqda.coders.passages import sentence_units
from chimeqda.evaluation import evaluate, grouped_folds, markdown_table

LEARNING = {"supervised", "similarity", "ensemble"}
BUILTIN = "lexicon,similarity,supervised,ensemble"  # plugin coders (e.g. an LLM) only when named


def _prefill(cache_dir: Path | None, texts: list[str], names: list[str]) -> None:
    """Load (or compute and store) embeddings of ``texts`` to speed up repeated runs."""
    if cache_dir is None:
        return
    import hashlib

    cache_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:16]
    for name in names:
        encoder = get_encoder(name)
        path = cache_dir / f"{hashlib.sha256(name.encode()).hexdigest()[:8]}-{digest}.npy"
        if path.exists():
            vectors = np.load(path)
            with encoder._cache_lock:
                for text, vector in zip(texts, vectors):
                    encoder._cache[hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()] = vector
        else:
            np.save(path, encoder.encode(texts))


def _inputs(records: list[dict]) -> list[dict]:
    return [{"id": r["id"], "text": r["text"], "lang": r.get("lang")} for r in records]


def _labels(rows: list[dict]) -> list[list[str]]:
    return [list(r["labels"]) for r in rows]


def run_codebook_only(name, records, codebook, params):
    out = classify_records(_inputs(records), codebook, name, params=params)
    return _labels(out)


def run_cv(name, records, codebook, params, folds, seed):
    predicted: list[list[str]] = [[] for _ in records]
    groups = [r["doc"] for r in records]
    fit_times = []
    for train_idx, test_idx in grouped_folds(groups, folds, seed):
        train = [records[i] for i in train_idx]
        coder = make_coder(name, params=params)
        t0 = time.perf_counter()
        coder.fit(codebook, to_labelled(train, codebook, source="train"))
        fit_times.append(time.perf_counter() - t0)
        rows = classify_records(_inputs([records[i] for i in test_idx]), codebook, name, coder=coder)
        for i, row in zip(test_idx, rows):
            predicted[i] = list(row["labels"])
    return predicted, float(np.mean(fit_times))


def throughput(name, texts, langs, codebook, params, repeats=1):
    """Sentences per second of a fitted coder on cold encoder caches, and of its raw encoders.

    The passages are first split into sentences (each with its passage's other
    sentences as context), the unit a transcript is coded in, and everything
    is timed on those same sentences.
    """
    coder = make_coder(name, params=params).fit(codebook)
    units, _ = sentence_units(to_segments([{"id": i, "text": t, "lang": l} for i, (t, l) in enumerate(zip(texts, langs))]))
    records = [{"id": i, "text": u.text, "lang": u.lang, "context": list(u.context)} for i, u in enumerate(units)]
    texts = [u.text for u in units]
    langs = [u.lang for u in units]
    enc_names = [coder.get_params().get("encoder")] if "encoder" in coder.get_params() else []
    nl_name = coder.get_params().get("nl_encoder") or (enc_names[0] if enc_names else None)

    def clear():
        for loaded in ("minilm", "e5", *[n for n in enc_names if n]):
            enc = get_encoder(loaded)
            with enc._cache_lock:
                enc._cache.clear()

    best_coder = best_raw = best_minilm = float("inf")
    for _ in range(repeats):
        clear()
        fresh = copy.deepcopy(coder)  # no memo of earlier runs (the lexicon remembers its matches)
        t0 = time.perf_counter()
        classify_records(records, codebook, name, coder=fresh)
        best_coder = min(best_coder, time.perf_counter() - t0)
        if enc_names:
            clear()
            t0 = time.perf_counter()
            en = [t for t, l in zip(texts, langs) if l != "nl"]
            nl = [t for t, l in zip(texts, langs) if l == "nl"]
            get_encoder(enc_names[0]).encode(en)
            if nl:
                get_encoder(nl_name).encode(nl)
            best_raw = min(best_raw, time.perf_counter() - t0)
        clear()
        t0 = time.perf_counter()
        get_encoder("minilm").encode(texts)
        best_minilm = min(best_minilm, time.perf_counter() - t0)
    n = len(texts)
    return {
        "coder": n / best_coder,
        "raw_encoders": (n / best_raw) if enc_names else None,
        "raw_minilm": n / best_minilm,
    }


MIN_SUPPORT = 5
"""A language's macro κ is also given over the codes with at least this many positives there: with
fewer, one stray suggestion moves a code's κ from 1 to 0 (Dutch meaning has none in the dev set)."""


def _supported_macro(by_lang: dict) -> str:
    """Macro κ over the codes with at least MIN_SUPPORT positives, with their names."""
    codes = {c: m for c, m in by_lang.get("codes", {}).items() if m["support"] >= MIN_SUPPORT}
    if not codes:
        return "—"
    return f"{np.mean([m['kappa'] for m in codes.values()]):.2f} ({', '.join(codes)})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/eval/chime_dev.jsonl")
    parser.add_argument("--codebook", default="chime-d")
    parser.add_argument("--coders", default=BUILTIN, help=f"comma-separated; registered: {', '.join(available_coders())}")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--params", default="{}", help='JSON of coder parameters, e.g. {"C": 0.5}')
    parser.add_argument("--no-cv", action="store_true", help="codebook-only runs only")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="throughput: best of this many timed runs")
    parser.add_argument("--bootstrap", type=int, default=500)
    parser.add_argument("--embedding-cache", type=Path, default=None, help="folder to cache the data's embeddings")
    parser.add_argument("--output", type=Path, default=None, help="write the markdown section here")
    parser.add_argument("--calibration", default=DEFAULT_CODER,
                        help="comma-separated coders whose calibration, selective coding and review effort to "
                             "measure ('' for none)")
    parser.add_argument("--calibration-only", action="store_true", help="skip the κ tables and throughput")
    parser.add_argument("--probabilities", type=Path, default=None,
                        help="JSON file keeping each calibration setting's held-out probabilities: read when it "
                             "has the setting, written after computing it (metrics can then change without re-running "
                             "the coders; delete it after changing a coder)")
    parser.add_argument("--reliability-svg", type=Path, default=None,
                        help="write the first --calibration coder's reliability diagram (trained) here")
    args = parser.parse_args(argv)
    if args.calibration_only:
        args.coders, args.no_throughput = "", True

    records = read_jsonl(args.data)
    codebook = builtin_codebook(args.codebook) if args.codebook == "chime-d" else load_codebook(args.codebook)
    codes = [c.id for c in codebook.top_level]
    truth = [r.get("labels") or [] for r in records]
    langs = [r.get("lang") or "en" for r in records]
    groups = [r.get("doc", str(i)) for i, r in enumerate(records)]
    params = json.loads(args.params)
    names = [n for n in args.coders.split(",") if n]
    _prefill(args.embedding_cache, [r["text"] for r in records], ["minilm", "e5"])

    sections = []
    summary = []
    for name in names:
        coder_params = {k: v for k, v in params.items() if k in CODERS[name]._param_names()}
        runs = [("codebook only", None)]
        if name in LEARNING and not args.no_cv:
            runs.append((f"trained, grouped {args.folds}-fold CV by doc", "cv"))
        for label, mode in runs:
            t0 = time.perf_counter()
            if mode is None:
                predicted, fit_time = run_codebook_only(name, records, codebook, coder_params), None
            else:
                predicted, fit_time = run_cv(name, records, codebook, coder_params, args.folds, args.seed)
            elapsed = time.perf_counter() - t0
            result = evaluate(truth, predicted, codes, langs=langs, bootstrap=args.bootstrap, groups=groups, seed=args.seed)
            title = f"{name} — {label}"
            sections.append(markdown_table(result, title))
            by = result.get("by_lang", {})
            summary.append(
                (
                    name,
                    label,
                    result["macro"]["kappa"],
                    by.get("en", {}).get("macro", {}).get("kappa", float("nan")),
                    by.get("nl", {}).get("macro", {}).get("kappa", float("nan")),
                    _supported_macro(by.get("nl", {})),
                    min(m["kappa"] for m in result["codes"].values()),
                    result.get("macro_kappa_ci"),
                    fit_time,
                )
            )
            print(f"{title}: macro κ {result['macro']['kappa']:.3f} ({elapsed:.0f}s)", file=sys.stderr)

    calibration_lines: list[str] = []
    calibrated = [n for n in args.calibration.split(",") if n]
    if calibrated:
        from calibration_metrics import held_out_probabilities, markdown, measure, reliability_svg

        results = {}
        kept = json.loads(args.probabilities.read_text()) if args.probabilities and args.probabilities.exists() else {}
        for name in calibrated:
            coder_params = {k: v for k, v in params.items() if k in CODERS[name]._param_names()}
            settings = [("codebook only", False)]
            if name in LEARNING and not args.no_cv:
                settings.append((f"trained, grouped {args.folds}-fold CV by doc", True))
            for label, trained in settings:
                t0 = time.perf_counter()
                key = f"{name}|{label}|{Path(args.data).name}|{json.dumps(coder_params, sort_keys=True)}"
                if key in kept:
                    probs, labels, fold_of = kept[key]["probs"], kept[key]["labels"], np.array(kept[key]["folds"])
                else:
                    probs, labels, fold_of = held_out_probabilities(
                        name, records, codebook, coder_params, args.folds, args.seed, trained=trained)
                    if args.probabilities:
                        kept[key] = {"probs": probs, "labels": labels, "folds": [int(f) for f in fold_of]}
                        args.probabilities.write_text(json.dumps(kept), encoding="utf-8")
                results[(name, label)] = measure(probs, labels, records, codes, fold_of)
                r = results[(name, label)]
                print(f"calibration {name} — {label}: ECE {r['ece']} precision@0.9 "
                      f"{r['selective'][0.9]['precision']:.3f} ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
        calibration_lines = markdown(results, codes, {"en": sum(l == "en" for l in langs),
                                                      "nl": sum(l == "nl" for l in langs)})
        if args.reliability_svg:
            name = calibrated[0]
            key = next(k for k in reversed(list(results)) if k[0] == name)
            args.reliability_svg.write_text(
                reliability_svg(results[key]["reliability"], codes, f"{name}, {key[1]}, held-out stories") + "\n",
                encoding="utf-8")

    speed_lines = []
    if not args.no_throughput:
        texts = [r["text"] for r in records]
        for name in names:
            coder_params = {k: v for k, v in params.items() if k in CODERS[name]._param_names()}
            speed = throughput(name, texts, langs, codebook, coder_params, repeats=args.repeats)
            raw = f"{speed['raw_encoders']:.0f}" if speed["raw_encoders"] else "—"
            ratio = f"{speed['coder'] / speed['raw_encoders']:.2f}" if speed["raw_encoders"] else "—"
            speed_lines.append(
                f"| {name} | {speed['coder']:.0f} | {raw} | {ratio} | {speed['raw_minilm']:.0f} | {speed['coder'] / speed['raw_minilm']:.2f} |"
            )
            print(f"throughput {name}: {speed}", file=sys.stderr)

    command = "PYTHONPATH=src .venv/bin/python benchmarks/eval_coders.py " + " ".join(
        a if " " not in a else repr(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    n_en = sum(l == "en" for l in langs)
    n_nl = sum(l == "nl" for l in langs)
    out = [
        "# Coder benchmark",
        "",
        f"Data: `{Path(args.data).name}` ({len(records)} passages: {n_en} en, {n_nl} nl; "
        f"{len(set(groups))} stories). Codebook: `{codebook.id}` {codebook.version} "
        f"(bank {len(codebook.bank)} sentences). Default coder: `{DEFAULT_CODER}`.",
        "",
        "Produced by:",
        "",
        "```",
        command,
        "```",
        "",
        "## Summary (Cohen's κ, macro over the six categories)",
        "",
        f"| coder | setting | macro κ [95% CI, story bootstrap] | en | nl | nl, codes with ≥ {MIN_SUPPORT} positives "
        "| lowest code | mean fit time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label, k, ken, knl, knl_supported, kmin, ci, fit_time in summary:
        ci_text = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        ft = f"{fit_time:.1f}" if fit_time is not None else "—"
        out.append(f"| {name} | {label} | {k:.2f}{ci_text} | {ken:.2f} | {knl:.2f} | {knl_supported} | {kmin:.2f} | {ft} |")
    if speed_lines:
        out += [
            "",
            "## Throughput (sentences/s, cold encoder cache, best of --repeats runs, this machine)",
            "",
            "| coder | coder | raw encoders it uses | ratio | raw MiniLM on all texts | ratio to MiniLM |",
            "|---|---|---|---|---|---|",
            *speed_lines,
        ]
    if calibration_lines:
        out += ["", *calibration_lines]
    out += ["", "## Per code", ""]
    for section in sections:
        out += [section, ""]
    text = "\n".join(out)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
