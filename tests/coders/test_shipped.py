"""The built-in codebook's e5 reference embeddings ship with the package and match what e5 computes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chimeqda.codebook.loader import builtin_codebook
from chimeqda.coders import shipped
from chimeqda.coders.encoders import get_encoder
from chimeqda.coders.shipped import load_shipped, text_digest
from chimeqda.coders.similarity import reference_texts


@pytest.fixture(scope="module")
def texts():
    return reference_texts(builtin_codebook())


def test_shipped_embeddings_cover_the_builtin_codebook(texts):
    vectors = load_shipped("e5", text_digest(texts), len(texts))
    assert vectors is not None, "the built-in codebook changed: run `make embeddings` and commit the result"
    assert vectors.shape == (len(texts), get_encoder("e5").dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_shipped_vectors_equal_freshly_computed_ones(texts):
    vectors = load_shipped("e5", text_digest(texts), len(texts))
    rows = np.linspace(0, len(texts) - 1, 12).astype(int)
    fresh = get_encoder("e5").encode([texts[i] for i in rows])
    cosines = np.sum(vectors[rows] * fresh, axis=1)
    assert cosines.min() > 0.999


def test_only_exact_matches_are_served(texts, tmp_path, monkeypatch):
    digest = text_digest(texts)
    assert load_shipped("e5", text_digest(texts[:-1]), len(texts) - 1) is None  # other texts
    assert load_shipped("e5", digest, len(texts) + 1) is None  # wrong count
    assert load_shipped("minilm", digest, len(texts)) is None  # not a shipped encoder
    manifest = json.loads(shipped.MANIFEST.read_text(encoding="utf-8"))
    for entry in manifest.values():
        entry["version"] = "0.0.0-another-release"
    other = tmp_path / "manifest.json"
    other.write_text(json.dumps(manifest), encoding="utf-8")
    monkeypatch.setattr(shipped, "MANIFEST", other)
    assert load_shipped("e5", digest, len(texts)) is None  # another version of the model package


def test_reference_embedding_uses_them_without_encoding(texts, tmp_path, monkeypatch):
    from chimeqda.coders import similarity

    monkeypatch.setenv("CHIMEQDA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(similarity, "_MEMO", {})
    vectors = similarity.embed_texts("e5", texts, persist=True)
    assert np.array_equal(vectors, load_shipped("e5", text_digest(texts), len(texts)))
    assert not list(tmp_path.rglob("*.npy"))  # nothing encoded, nothing written to the user's cache
