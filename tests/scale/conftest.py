"""Fixtures of the large-corpus tests."""

from __future__ import annotations

import pytest
from corpora import corpus_rows, write_jsonl


@pytest.fixture
def corpus_file(tmp_path):
    return write_jsonl(tmp_path / "posts.jsonl", corpus_rows(60))
