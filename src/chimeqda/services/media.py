"""Recordings kept in a project folder: ``<project>/media/<sha256>.<ext>``.

A recorded document's ``meta["media"]`` describes its copy (see
:meth:`chimeqda.audio.probe.RecordingInfo.as_meta`); the web player and the
exchange formats find the file with :func:`recording_path`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from chimeqda.audio.probe import RecordingInfo
from chimeqda.errors import InvalidInput, ProjectError

MEDIA_FOLDER = "media"


def keep_recording(project_dir: Path, source: Path, info: RecordingInfo) -> dict[str, object]:
    """Copy ``source`` into the project's media folder (once) and return its ``meta["media"]``.

    The copy is named by its sha256, so importing the same recording twice keeps one
    file; it is written to a temporary name and renamed, so an interruption never
    leaves a partial file under the final name.
    """
    folder = Path(project_dir) / MEDIA_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    suffix = source.suffix.lower()
    relative = f"{MEDIA_FOLDER}/{info.sha256}{suffix}"
    target = Path(project_dir) / relative
    if not target.exists():
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".partial-", suffix=suffix)
        try:
            with os.fdopen(handle, "wb") as out, source.open("rb") as stream:
                shutil.copyfileobj(stream, out, 1 << 20)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return info.as_meta(relative)


def recording_path(project_dir: Path | None, meta: Mapping[str, object] | None) -> Path | None:
    """The kept recording of a document (its ``meta``), or None for a document without one.

    Refuses a ``meta["media"]["file"]`` outside the project's media folder;
    a missing file raises :class:`ProjectError` saying where it was expected.
    """
    media = (meta or {}).get("media")
    if not isinstance(media, Mapping) or project_dir is None:
        return None
    file = media.get("file")
    folder = (Path(project_dir) / MEDIA_FOLDER).resolve()
    path = (Path(project_dir) / str(file)).resolve()
    if not isinstance(file, str) or path.parent != folder:
        raise InvalidInput(f"the recording's file {file!r} is not in the project's media folder")
    if not path.is_file():
        raise ProjectError(f"the recording {media.get('original_name')!r} is missing: expected {path}; "
                           "import the recording again to restore it")
    return path
