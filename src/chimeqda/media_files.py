"""Where a document's recording lives, read safely from ``documents.meta["media"]``.

A recorded document keeps its recording in the project folder as
``media/<sha256>.<ext>`` and describes it in ``meta["media"]`` (``file``,
``sha256``, ``duration``, ``mime``, …). The file name is never taken from a
browser or an archive as is: only a name of that exact form, inside the
project's ``media/`` folder, is ever opened. :func:`media_path` is the one
place that turns a document's ``meta`` into a file (services, web and exchange
formats all go through it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from chimeqda.errors import InvalidInput, ProjectError

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


def media_path(directory: Path | str | None, meta: dict[str, Any] | None, *, strict: bool = False) -> Path | None:
    """The recording of a document in the project folder ``directory``, or None when there is none.

    None for a document without ``meta["media"]``. A recording that cannot be opened (the
    folder is unknown, the name is not ``media/<sha256>.<ext>``, the file is missing or lies,
    through a link, outside ``<directory>/media``) is None too, or with ``strict`` an error
    saying what to do: :class:`InvalidInput` for a bad name, :class:`ProjectError` otherwise.
    """
    media = (meta or {}).get("media")
    if not isinstance(media, dict):
        return None

    def refuse(error: Exception) -> None:
        if strict:
            raise error
        return None

    name = repr(media.get("original_name") or media.get("file"))
    if media_info(meta) is None:
        return refuse(InvalidInput(f"the recording's file {media.get('file')!r} is not media/<sha256>.<ext> "
                                   "in the project's media folder; import the recording again"))
    if directory is None:
        return refuse(ProjectError(f"the recording {name} is kept in the project folder's media/, which is not "
                                   "known here; open the project by its folder: `chimeqda serve -p FOLDER` (or -p FOLDER "
                                   "with other commands)"))
    folder = (Path(directory) / MEDIA_DIR).resolve()
    path = (Path(directory) / media["file"]).resolve()
    if not path.is_relative_to(folder):
        return refuse(InvalidInput(f"the recording's file {media['file']!r} leads outside the project's media "
                                   f"folder {folder}; import the recording again"))
    if not path.is_file():
        return refuse(ProjectError(f"the recording {name} is missing: expected {path}; "
                                   "import the recording again to restore it"))
    return path


def media_name(sha256: str, suffix: str) -> str:
    """The ``file`` value of a recording with this content hash and suffix (``media/<sha256>.<ext>``)."""
    name = f"{MEDIA_DIR}/{sha256.lower()}{suffix.lower()}"
    if not _FILE.match(name) or suffix.lower() not in MEDIA_TYPES:
        raise ValueError(f"not a recording file name: {name}")
    return name
