"""On-disk cache of fitted coders.

Fitting the default coder on the codebook's example bank takes seconds to tens
of seconds on a laptop; its result depends only on the coder's class, version,
parameters and code (the source of the ``coders`` package, so a changed fitting
method never reuses an old fit), the codebook (codes and bank) and the labelled
passages. Fitted
coders fitted on the codebook alone are pickled under
``$CHIMEQDA_CACHE_DIR/models`` (default ``~/.cache/chimeqda/models``) keyed by a
hash of all of these, so a second run loads instead of refitting. ``CHIMEQDA_CACHE_DIR=""``
turns caching off. The cache holds only what the user's own runs produced.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path

from chimeqda.coders.base import Coder
from chimeqda.model import Codebook, LabelledText


def cache_root() -> Path | None:
    """The base cache folder, or None when caching is turned off."""
    value = os.environ.get("CHIMEQDA_CACHE_DIR")
    if value == "":
        return None
    if value:
        return Path(value)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chimeqda"


@functools.cache
def coders_source_digest() -> str:
    """A hash of the ``chimeqda.coders`` package's source files (how every coder fits)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fit_key(coder: Coder, codebook: Codebook, labelled: Sequence[LabelledText]) -> str:
    """A hash of everything a fit depends on."""
    digest = hashlib.sha256()
    digest.update(coders_source_digest().encode())
    digest.update(json.dumps([type(coder).__module__, type(coder).__qualname__, coder.version,
                              coder.get_params()], sort_keys=True, default=repr).encode())
    digest.update(_canonical(codebook).encode())
    digest.update(_canonical(list(labelled)).encode())
    return digest.hexdigest()


def _canonical(value: object) -> str:
    """JSON of dataclasses with sets sorted: equal inputs hash equally in every process."""

    def convert(item: object) -> object:
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            return {f.name: convert(getattr(item, f.name)) for f in dataclasses.fields(item)}
        if isinstance(item, (set, frozenset)):
            return sorted((convert(x) for x in item), key=repr)
        if isinstance(item, dict):
            return {str(k): convert(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [convert(x) for x in item]
        return item

    return json.dumps(convert(value), sort_keys=True, default=repr)


def fit_cached(coder: Coder, codebook: Codebook, labelled: Sequence[LabelledText] = ()) -> Coder:
    """``coder.fit(codebook, labelled)``, or the same fitted coder from the cache.

    Only codebook-only fits (no labelled passages) are cached: they repeat on
    every run, while fits on a project's decisions change with each decision.
    """
    root = cache_root()
    if root is None or labelled or not getattr(coder, "cacheable", True):
        return coder.fit(codebook, labelled)
    path = root / "models" / f"{coder.coder_id}-{fit_key(coder, codebook, labelled)[:32]}.pickle"
    if path.exists():
        try:
            with path.open("rb") as handle:
                cached = pickle.load(handle)
            if type(cached) is type(coder) and cached.is_fitted:
                return cached
        except Exception:  # noqa: BLE001 - a damaged cache entry is refitted and replaced
            pass
    coder.fit(codebook, labelled)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as temporary:
            pickle.dump(coder, temporary, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary.name, path)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass  # an unwritable cache only costs time
    return coder
