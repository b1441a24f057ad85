"""Reading untrusted exchange files: zip archives and XML, safely.

Nothing here opens a file for writing. Archives are read member by member into memory
with limits on the number of members, the declared and the actual
uncompressed size, and the compression ratio, so a zip bomb is refused before
it expands. Recordings (members named like ``.wav`` ``.m4a`` …) have their own,
larger budget and a stricter ratio (sound hardly compresses), and are streamed
to a caller's sink in chunks rather than held in memory. Member names that would escape a folder (``../``, absolute
paths, drive letters) are refused, so that no caller can be tricked into
writing outside the project (zip-slip). XML is parsed by ``defusedxml`` with
DTDs forbidden: no entity is expanded (billion laughs) and no external entity
or DTD is ever fetched.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element

from chimeqda.errors import ImportRejected
from chimeqda.media_files import MEDIA_TYPES

MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 512 * 1024 * 1024  # uncompressed, all members together
MAX_RATIO = 200  # uncompressed / compressed, for members larger than RATIO_FLOOR
RATIO_FLOOR = 8 * 1024 * 1024
MAX_XML_BYTES = 256 * 1024 * 1024
MAX_MEDIA_BYTES = 4 * 1024 * 1024 * 1024  # recordings, all together
MEDIA_RATIO = 20
CHUNK = 1024 * 1024


def is_recording(name: str) -> bool:
    """Whether an archive member is a recording by its name (counted against the recordings' budget)."""
    return posixpath.splitext(name.lower())[1] in MEDIA_TYPES


def _reject(message: str, source: str, location: str | None = None) -> ImportRejected:
    return ImportRejected(f"{message}; nothing was imported", source=source, location=location)


def _unsafe_name(name: str) -> bool:
    if "\x00" in name:
        return True
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return True
    parts = [p for p in normalised.split("/") if p not in ("", ".")]
    return any(p == ".." for p in parts)


@dataclass
class SafeZip:
    """The members of a checked archive, read lazily with limits.

    ``names`` keeps the archive's spelling; :meth:`find` looks names up
    case-insensitively with ``\\`` read as ``/``.
    """

    source: str
    archive: zipfile.ZipFile
    max_total: int = MAX_TOTAL_BYTES
    _read_so_far: int = 0
    max_media: int = MAX_MEDIA_BYTES
    _streamed: int = 0

    @property
    def names(self) -> list[str]:
        return [info.filename for info in self.archive.infolist() if not info.is_dir()]

    def find(self, name: str) -> str | None:
        wanted = posixpath.normpath(name.replace("\\", "/").lstrip("/")).lower()
        for actual in self.names:
            if posixpath.normpath(actual.replace("\\", "/")).lower() == wanted:
                return actual
        return None

    def read(self, name: str) -> bytes:
        """The bytes of one member, refusing more than its declared size."""
        info = self.archive.getinfo(name)
        budget = self.max_total - self._read_so_far
        limit = min(info.file_size, budget)
        try:
            with self.archive.open(info) as handle:
                data = handle.read(limit + 1)
        except zipfile.BadZipFile as exc:
            raise _reject(f"the archive is damaged ({exc})", self.source, name) from None
        except (EOFError, OSError, ValueError) as exc:  # zlib errors, truncated data
            raise _reject(f"the archive is truncated or damaged ({exc})", self.source, name) from None
        if len(data) > limit:
            raise _reject(
                "a member expands beyond its declared size or the import limit (a zip bomb?)", self.source, name
            )
        self._read_so_far += len(data)
        return data

    def stream(self, name: str, write) -> int:
        """Pass one member to ``write`` in chunks, refusing more than its declared size; returns the byte count."""
        info = self.archive.getinfo(name)
        limit = min(info.file_size, self.max_media - self._streamed)
        count = 0
        try:
            with self.archive.open(info) as handle:
                while chunk := handle.read(min(CHUNK, limit + 1 - count)):
                    count += len(chunk)
                    if count > limit:
                        raise _reject("a recording expands beyond its declared size or the import limit "
                                      "(a zip bomb?)", self.source, name)
                    write(chunk)
        except zipfile.BadZipFile as exc:
            raise _reject(f"the archive is damaged ({exc})", self.source, name) from None
        except (EOFError, OSError, ValueError) as exc:
            raise _reject(f"the archive is truncated or damaged ({exc})", self.source, name) from None
        self._streamed += count
        return count

    def close(self) -> None:
        self.archive.close()


def open_zip(path: Path, *, max_total: int = MAX_TOTAL_BYTES, max_members: int = MAX_MEMBERS,
             max_media: int = MAX_MEDIA_BYTES) -> SafeZip:
    """Open and check an archive; raises :class:`ImportRejected` with the reason."""
    source = path.name
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise _reject(
            "this is not a readable zip archive (it may be truncated or damaged; export it again)", source
        ) from None
    except OSError as exc:
        raise _reject(f"cannot read the file ({exc.strerror or exc})", source) from None
    infos = archive.infolist()
    if len(infos) > max_members:
        archive.close()
        raise _reject(f"the archive holds {len(infos)} files, more than the limit of {max_members}", source)
    total = media = 0
    for info in infos:
        if _unsafe_name(info.filename):
            archive.close()
            raise _reject(
                f"the archive contains the unsafe path {info.filename!r}, which points outside its folder "
                "(a zip-slip attack?)",
                source,
            )
        if is_recording(info.filename):
            media += info.file_size
            ratio_bad = info.file_size > RATIO_FLOOR and info.file_size > MEDIA_RATIO * max(info.compress_size, 1)
            if ratio_bad or media > max_media:
                archive.close()
                raise _reject(
                    f"the recordings would expand to more than {max_media // (1024 * 1024)} MB, or "
                    f"{info.filename!r} claims {info.file_size:,} bytes from {info.compress_size:,} (sound "
                    "hardly compresses); refused as a possible zip bomb",
                    source,
                )
            continue
        total += info.file_size
        ratio_bad = info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1)
        if ratio_bad or info.file_size > max_total or total > max_total:
            archive.close()
            raise _reject(
                f"the archive would expand to more than {max_total // (1024 * 1024)} MB "
                f"({info.filename!r} claims {info.file_size:,} bytes from {info.compress_size:,}); "
                "refused as a possible zip bomb",
                source,
            )
    return SafeZip(source=source, archive=archive, max_total=max_total, max_media=max_media)


def parse_xml(data: bytes, source: str) -> Element:
    """Parse XML with DTDs, entities and external references forbidden."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    if len(data) > MAX_XML_BYTES:
        raise _reject(f"the XML is larger than {MAX_XML_BYTES // (1024 * 1024)} MB", source)
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise _reject(
            "the XML declares a DTD or entities (<!DOCTYPE …>), which REFI-QDA files never need; refused "
            f"because such files can expand without bound or read other files ({type(exc).__name__})",
            source,
        ) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        where = f"line {line}, column {column}" if line else None
        raise _reject(f"not well-formed XML ({exc})", source, where) from None


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of a plain file, refusing one larger than ``limit``."""
    size = path.stat().st_size
    if size > limit:
        raise _reject(f"the file is larger than {limit // (1024 * 1024)} MB", path.name)
    return path.read_bytes()


