"""Frames for the report tests: a small CHIME-D codebook and three participants."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from chimeqda.model import Code, Codebook

EVIL = '<script>alert("x")</script>'


def _code(id: str, name: str, parent: str | None = None) -> Code:
    return Code(id=id, name=name, definition=f"{name}.", inclusion="", exclusion="", parent=parent)


@pytest.fixture
def codebook() -> Codebook:
    return Codebook(
        id="chime-mini",
        name="CHIME-D mini",
        version="1",
        codes=(
            _code("connectedness", "Connectedness"),
            _code("connectedness.peer", "Peer support", "connectedness"),
            _code("hope", "Hope"),
            _code("identity", "Identity"),
            _code("meaning", "Meaning"),
            _code("empowerment", "Empowerment"),
            _code("difficulties", "Difficulties"),
        ),
    )


def _rows(rows):
    records = []
    for doc, who, index, code, status, score, text in rows:
        records.append(
            {
                "document_id": doc,
                "document": f"interview-{who}" if doc != 3 else f"{EVIL}.docx",
                "participant": who,
                "segment_id": doc * 100 + index,
                "segment_index": index,
                "turn": index,
                "text": text,
                "code": code,
                "status": status,
                "score": score,
                "coder": "human" if math.isnan(score) else "lexicon",
            }
        )
    return pd.DataFrame.from_records(records)


NAN = math.nan


@pytest.fixture
def codings() -> pd.DataFrame:
    return _rows(
        [
            (1, "P01", 0, "connectedness", "accepted", NAN,
             "When I walked into my first meeting nobody judged me and I felt at home for once"),
            (1, "P01", 0, "hope", "accepted", NAN,
             "When I walked into my first meeting nobody judged me and I felt at home for once"),
            (1, "P01", 1, "connectedness.peer", "accepted", NAN,
             "My sponsor picks up the phone at any hour and that has kept me clean more than once"),
            (1, "P01", 2, "identity", "accepted", NAN,
             "I am not just an addict anymore, I am a father and a colleague again these days"),
            (2, "P02", 0, "connectedness", "accepted", NAN,
             f"The group is my safety net {EVIL} and I share what I cannot say anywhere else"),
            (2, "P02", 1, "difficulties", "accepted", NAN,
             "Sometimes the meetings feel like a church and that puts me off from going at all"),
            (3, "P03", 0, "connectedness", "suggested", 0.7,
             "I went to a meeting last week and talked with some people after the sharing round"),
            (3, "P03", 1, "meaning", "suggested", 0.6,
             "Doing service gives my days a purpose, setting out the chairs and making the coffee"),
        ]
    )


@pytest.fixture
def participants() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant": ["P01", "P02", "P03", "P04"],
            "gender": ["man", "woman", "woman", "man"],
            "years_in_recovery": [0.5, 3, 8, 15],
            "note": ["a", "b", "c", "d"],
        }
    )
