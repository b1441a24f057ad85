"""A tiny codebook and hand-built frames with known answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from chimeqda.model import Code, Codebook


def _code(id: str, name: str, parent: str | None = None) -> Code:
    return Code(id=id, name=name, definition=f"{name}.", inclusion="", exclusion="", parent=parent)


def tiny_codebook() -> Codebook:
    return Codebook(
        id="tiny",
        name="Tiny CHIME",
        version="1",
        codes=(
            _code("connectedness", "Connectedness"),
            _code("connectedness.support", "Peer support", "connectedness"),
            _code("connectedness.support.sponsor", "Sponsor", "connectedness.support"),
            _code("hope", "Hope"),
            _code("identity", "Identity"),
            _code("difficulties", "Difficulties"),
            _code("difficulties.stigma", "Stigma", "difficulties"),
        ),
    )


def _make_codings(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (document_id, participant, segment_index, code[, status[, score[, text]]])."""
    records = []
    for row in rows:
        doc, who, index, code, *rest = row
        status = rest[0] if len(rest) > 0 else "accepted"
        score = rest[1] if len(rest) > 1 else math.nan
        text = rest[2] if len(rest) > 2 else f"segment {index} of document {doc} says a few words"
        records.append(
            {
                "document_id": doc,
                "document": f"doc{doc}",
                "participant": who,
                "segment_id": doc * 1000 + index,
                "segment_index": index,
                "turn": index // 2,
                "text": text,
                "code": code,
                "status": status,
                "score": score,
                "coder": "human" if status == "accepted" else "lexicon",
            }
        )
    return pd.DataFrame.from_records(records)


@pytest.fixture
def make_codings():
    """The frame builder, as a fixture (tests/ has no package to import from)."""
    return _make_codings


@pytest.fixture
def codebook() -> Codebook:
    return tiny_codebook()


@pytest.fixture
def codings() -> pd.DataFrame:
    # P1 (doc 1): seg 0 connectedness+hope, seg 1 sponsor, seg 3 identity
    # P2 (doc 2): seg 0 support+stigma, seg 2 hope (suggested only)
    # P3: no codings at all
    return _make_codings(
        [
            (1, "P1", 0, "connectedness"),
            (1, "P1", 0, "hope"),
            (1, "P1", 1, "connectedness.support.sponsor"),
            (1, "P1", 3, "identity"),
            (2, "P2", 0, "connectedness.support"),
            (2, "P2", 0, "difficulties.stigma"),
            (2, "P2", 2, "hope", "suggested", 0.8),
            (2, "P2", 4, "identity", "rejected", 0.3),
        ]
    )


@pytest.fixture
def participants() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant": ["P1", "P2", "P3"],
            "gender": ["woman", "man", "woman"],
            "years_in_recovery": [0.5, 7.0, 12.0],
        }
    )
