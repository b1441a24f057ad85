"""Synthetic corpora for the large-corpus tests and benchmarks (made here; no real posts)."""

from __future__ import annotations

import json
import random
from pathlib import Path

SENTENCES = [
    "I found hope again after a long winter.", "My friends at the group support me every week.",
    "I feel connected to the people in my meetings.", "Recovery is my own journey and I own it.",
    "I have a purpose now, I volunteer at the shelter.", "The weather was grey and the bus was late.",
    "I was so ashamed and felt hopeless for years.", "Ik voel me weer verbonden met mijn vrienden.",
    "Er is weer hoop voor de toekomst.", "My sister calls me every day.",
]


def corpus_rows(n: int, seed: int = 7) -> list[dict]:
    """``n`` synthetic forum posts: id, text (2-4 sentences), lang, forum, year."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        text = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 4)))
        rows.append({"id": f"post-{i:05d}", "text": text, "lang": "nl" if "Ik " in text[:3] else "en",
                     "forum": rng.choice(["peers", "family", "work"]), "year": 2015 + i % 8})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
