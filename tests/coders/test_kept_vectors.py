"""A project keeps its segments' vectors in its own folder between runs."""

from __future__ import annotations

import numpy as np

from chimeqda.coders.encoders import get_encoder, kept_vectors

TEXTS = ["My sponsor picked up at three in the morning.", "I was alone for years.", "My sponsor picked up at three in the morning."]


def _forget(encoder):
    with encoder._cache_lock:
        encoder._cache.clear()


def test_vectors_are_kept_in_the_folder_and_reused_without_encoding(tmp_path, monkeypatch):
    encoder = get_encoder("minilm")
    _forget(encoder)
    with kept_vectors(tmp_path / "cache"):
        first = encoder.encode(TEXTS)
    files = list((tmp_path / "cache").glob("vectors-*.npz"))
    assert len(files) == 1
    with np.load(files[0]) as data:
        assert data["vectors"].shape == (2, encoder.dim)  # one row per distinct text

    _forget(encoder)
    monkeypatch.setattr(encoder, "_encode", lambda texts: (_ for _ in ()).throw(AssertionError(f"re-encoded {texts}")))
    with kept_vectors(tmp_path / "cache"):
        again = encoder.encode(TEXTS)
    np.testing.assert_array_equal(first, again)


def test_a_damaged_file_is_re_made_and_nothing_is_kept_outside_a_block(tmp_path):
    encoder = get_encoder("minilm")
    _forget(encoder)
    with kept_vectors(tmp_path / "cache"):
        expected = encoder.encode(TEXTS[:1])
    path = next((tmp_path / "cache").glob("vectors-*.npz"))
    path.write_bytes(b"not a numpy file")
    _forget(encoder)
    with kept_vectors(tmp_path / "cache"):
        np.testing.assert_allclose(encoder.encode(TEXTS[:1]), expected, atol=1e-6)
    with np.load(path) as data:
        assert data["vectors"].shape == (1, encoder.dim)

    _forget(encoder)
    encoder.encode(["Nobody keeps this one."])
    with np.load(path) as data:
        assert data["vectors"].shape == (1, encoder.dim)
    with kept_vectors(None):
        encoder.encode(["Nor this one."])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [path.name]
