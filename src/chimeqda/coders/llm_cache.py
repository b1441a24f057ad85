"""An on-disk cache of language-model answers, so a rerun is reproducible and free.

One SQLite file holds one row per request: the key is a SHA-256 of everything
that determines the answer (model, messages, decoding settings, sample number);
the value is the server's answer as JSON. Nothing else is stored: no API keys,
no endpoint credentials.

The default file is ``$CHIMEQDA_LLM_CACHE`` or
``$XDG_CACHE_HOME/chimeqda/llm-cache.sqlite3`` (``~/.cache/...``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

OFF = ("", "off", "none", "no", "false")


def default_cache_path() -> Path:
    """Where answers are cached unless the coder's ``cache`` parameter says otherwise."""
    if os.environ.get("CHIMEQDA_LLM_CACHE"):
        return Path(os.environ["CHIMEQDA_LLM_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "chimeqda" / "llm-cache.sqlite3"


def request_key(request: Mapping[str, Any]) -> str:
    """A stable SHA-256 of a request (JSON with sorted keys)."""
    blob = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class AnswerCache:
    """A thread-safe key → JSON store in one SQLite file (``path=None``: in memory only)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._memory: dict[str, dict[str, Any]] = {}
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            with self._db:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS answers ("
                    " key TEXT PRIMARY KEY, model TEXT NOT NULL, answer TEXT NOT NULL, created REAL NOT NULL)"
                )

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            if key in self._memory:
                return self._memory[key]
            if self._db is None:
                return None
            row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, model: str, answer: Mapping[str, Any]) -> None:
        with self._lock:
            self._memory[key] = dict(answer)
            if self._db is not None:
                with self._db:
                    self._db.execute(
                        "INSERT OR REPLACE INTO answers (key, model, answer, created) VALUES (?, ?, ?, ?)",
                        (key, model, json.dumps(answer, ensure_ascii=False), time.time()),
                    )

    def __len__(self) -> int:
        with self._lock:
            if self._db is None:
                return len(self._memory)
            return int(self._db.execute("SELECT count(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def open_cache(setting: str | os.PathLike[str] | None) -> AnswerCache:
    """The cache for a coder's ``cache`` parameter: None → default file, "off" → memory only, else a path."""
    if setting is None:
        return AnswerCache(default_cache_path())
    if isinstance(setting, str) and setting.strip().lower() in OFF:
        return AnswerCache(None)
    return AnswerCache(Path(setting).expanduser())
