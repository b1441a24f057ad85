"""Recordings kept in a project folder: ``<project>/media/<sha256>.<ext>``.

A recorded document's ``meta["media"]`` describes its copy (see
:meth:`chimeqda.audio.probe.RecordingInfo.as_meta`). :func:`keep_recording`
stores the copy; :func:`document_recording` finds a document's recording for
the web player, through :func:`chimeqda.media_files.media_path`, the one
function that turns ``meta`` into a file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from chimeqda.audio.probe import RecordingInfo
from chimeqda.errors import InvalidInput, ProjectError, UnknownObject
from chimeqda.media_files import MEDIA_DIR, media_name, media_path, media_type
from chimeqda.services.project import Workspace
from chimeqda.store import tables as t


def keep_recording(project_dir: Path, source: Path, info: RecordingInfo) -> dict[str, object]:
    """Copy ``source`` into the project's media folder (once) and return its ``meta["media"]``.

    The copy is named by its sha256, so importing the same recording twice keeps one
    file; it is written to a temporary name and renamed, so an interruption never
    leaves a partial file under the final name.
    """
    folder = Path(project_dir) / MEDIA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    suffix = source.suffix.lower()
    relative = media_name(info.sha256, suffix)
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


@dataclass(frozen=True)
class RecordingFile:
    """A document's kept recording: the file, its ``meta["media"]`` and the type it is served as."""

    path: Path
    media: dict[str, Any]
    mime: str


def document_recording(ws: Workspace, document_id: int) -> RecordingFile:
    """The recording of a document of the project, from ``ws.directory``/media.

    :class:`UnknownObject` (not found) when the document or its recording is not there,
    saying why and what to do.
    """
    with ws.session() as session:
        meta = session.scalar(select(t.Document.meta).where(
            t.Document.id == document_id, t.Document.project_id == ws.project_id))
    if not isinstance((meta or {}).get("media"), dict):
        raise UnknownObject(f"document {document_id} has no recording")
    try:
        path = media_path(ws.directory, meta, strict=True)
    except (InvalidInput, ProjectError) as exc:
        raise UnknownObject(f"the recording of document {document_id} cannot be opened: {exc}") from None
    assert path is not None and meta is not None
    return RecordingFile(path, meta["media"], media_type(meta["media"]))
