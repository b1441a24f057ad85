"""Where a document's recording lives, read safely from ``documents.meta["media"]``.

A recorded document keeps its recording in the project folder as
``media/<sha256>.<ext>`` and describes it in ``meta["media"]`` (``file``,
``sha256``, ``duration``, ``mime``, …). The file name is never taken from a
browser or an archive as is: only a name of that exact form, inside the
project's ``media/`` folder, is ever opened.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

MEDIA_DIR = "media"
MEDIA_TYPES = {
    ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".flac": "audio/flac", ".ogg": "audio/ogg",
    ".oga": "audio/ogg", ".opus": "audio/ogg", ".webm": "audio/webm", ".mp4": "video/mp4", ".aac": "audio/aac",
}
"""Suffixes a recording may have, with the type it is served as (never anything a browser would run)."""
_FILE = re.compile(r"^media/([0-9a-f]{64})(\.[a-z0-9]{1,5})$")


def media_info(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``media`` description of a document's ``meta``, if it names a well-formed file."""
    media = (meta or {}).get("media")
    if not isinstance(media, dict) or not isinstance(media.get("file"), str):
        return None
    match = _FILE.match(media["file"])
    if match is None or match.group(2) not in MEDIA_TYPES:
        return None
    return media


def media_type(media: dict[str, Any]) -> str:
    """The content type a recording is served and exported as, chosen by its suffix."""
    return MEDIA_TYPES[Path(media["file"]).suffix]


def media_path(directory: Path | str | None, meta: dict[str, Any] | None) -> Path | None:
    """The recording of a document in the project folder ``directory``, or None when there is none.

    None too when the folder is unknown, the name is not ``media/<sha256>.<ext>``, or the
    file is missing or lies (through a link) outside ``<directory>/media``.
    """
    media = media_info(meta)
    if directory is None or media is None:
        return None
    folder = (Path(directory) / MEDIA_DIR).resolve()
    path = (Path(directory) / media["file"]).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        return None
    return path


def media_name(sha256: str, suffix: str) -> str:
    """The ``file`` value of a recording with this content hash and suffix (``media/<sha256>.<ext>``)."""
    name = f"{MEDIA_DIR}/{sha256.lower()}{suffix.lower()}"
    if not _FILE.match(name) or suffix.lower() not in MEDIA_TYPES:
        raise ValueError(f"not a recording file name: {name}")
    return name
