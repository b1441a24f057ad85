"""Reading untrusted exchange files: zip archives and XML, safely.

Nothing here opens a file for writing. Archives are read member by member into memory
with limits on the number of members, the declared and the actual
uncompressed size of each member and of all together, and the compression
ratio of each member and of the archive as a whole (so neither one huge member
nor many members just under a size floor get through), so a zip bomb is
refused before it expands; the message names the rule that fired. Recordings (members named like ``.wav`` ``.m4a`` …) have their own,
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
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element

from chimeqda.errors import ImportRejected
from chimeqda.media_files import MEDIA_TYPES

MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 512 * 1024 * 1024  # uncompressed, all members together
MAX_MEMBER_BYTES = 256 * 1024 * 1024  # uncompressed, one member (as MAX_XML_BYTES)
MAX_RATIO = 200  # uncompressed / compressed, per member and for the whole archive
RATIO_FLOOR = 1024 * 1024  # tiny members and archives are exempt from the ratio (a page of spaces compresses well)
MEDIA_RATIO_FLOOR = 8 * 1024 * 1024
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
        except (EOFError, OSError, ValueError, zlib.error) as exc:  # truncated or damaged data
            raise _reject(f"the archive is truncated or damaged ({exc})", self.source, name) from None
        except (NotImplementedError, RuntimeError) as exc:  # an unknown compression method, encryption
            raise _reject(f"a member cannot be unpacked ({exc}); export the project again without a password",
                          self.source, name) from None
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
        except ImportRejected:  # a ValueError too: must not become "damaged"
            raise
        except zipfile.BadZipFile as exc:
            raise _reject(f"the archive is damaged ({exc})", self.source, name) from None
        except (EOFError, OSError, ValueError, zlib.error) as exc:
            raise _reject(f"the archive is truncated or damaged ({exc})", self.source, name) from None
        except (NotImplementedError, RuntimeError) as exc:  # an unknown compression method, encryption
            raise _reject(f"a member cannot be unpacked ({exc}); export the project again without a password",
                          self.source, name) from None
        self._streamed += count
        return count

    def close(self) -> None:
        self.archive.close()


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):,.0f} MB"


def _ratio_rule(what: str, size: int, compressed: int, limit: int, rule: str, source: str) -> ImportRejected:
    return _reject(
        f"{what} would expand {size / max(compressed, 1):,.0f}-fold ({size:,} bytes from {compressed:,}), more than "
        f"the {limit}-fold limit of the {rule}; refused as a possible zip bomb", source)


def _check_members(infos: list[zipfile.ZipInfo], source: str, *, archive_bytes: int, max_total: int,
                   max_members: int, max_media: int) -> None:
    """Refuse an archive by its directory before anything is unpacked, naming the rule that fired.

    The rules, in order: the member-count limit; per member, a safe name, the
    member-size limit and the per-member compression-ratio limit; all members
    together, the total-size limit and the whole-archive compression-ratio
    limit. Recordings have their own total and ratio (sound hardly compresses).
    The whole-archive ratio divides by the archive's real size when that is
    smaller than the members' declared compressed sizes (members that overlap).
    """
    if len(infos) > max_members:
        raise _reject(f"the archive holds {len(infos):,} files, more than the member-count limit of "
                      f"{max_members:,}", source)
    total = packed = media = media_packed = 0
    for info in infos:
        name, size, compressed = info.filename, info.file_size, info.compress_size
        if _unsafe_name(name):
            raise _reject(
                f"the archive contains the unsafe path {name!r}, which points outside its folder "
                "(a zip-slip attack?)",
                source,
            )
        if is_recording(name):
            media, media_packed = media + size, media_packed + compressed
            if size > MEDIA_RATIO_FLOOR and size > MEDIA_RATIO * max(compressed, 1):
                raise _ratio_rule(f"the recording {name!r}", size, compressed, MEDIA_RATIO,
                                  "compression-ratio rule for recordings (sound hardly compresses)", source)
            if media > max_media:
                raise _reject(f"the recordings would expand to {media:,} bytes, more than the recordings' "
                              f"total-size limit of {_mb(max_media)} (at {name!r})", source)
            continue
        total, packed = total + size, packed + compressed
        member_limit = min(MAX_MEMBER_BYTES, max_total)
        if size > member_limit:
            raise _reject(f"{name!r} would expand to {size:,} bytes, more than the member-size limit of "
                          f"{_mb(member_limit)} for one file; refused as a possible zip bomb", source)
        if size > RATIO_FLOOR and size > MAX_RATIO * max(compressed, 1):
            raise _ratio_rule(f"{name!r}", size, compressed, MAX_RATIO, "compression-ratio rule per file", source)
        if total > max_total:
            raise _reject(f"the archive's files would expand to {total:,} bytes together (at {name!r}), more than "
                          f"the total-size limit of {_mb(max_total)}; refused as a possible zip bomb", source)
    packed = min(packed, archive_bytes)
    if total > RATIO_FLOOR and total > MAX_RATIO * max(packed, 1):
        raise _ratio_rule(f"the archive's {len(infos):,} files together", total, packed, MAX_RATIO,
                          "compression-ratio rule for the whole archive", source)
    media_packed = min(media_packed, archive_bytes)
    if media > MEDIA_RATIO_FLOOR and media > MEDIA_RATIO * max(media_packed, 1):
        raise _ratio_rule("the archive's recordings together", media, media_packed, MEDIA_RATIO,
                          "compression-ratio rule for recordings (sound hardly compresses)", source)


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
    try:
        _check_members(infos, source, archive_bytes=path.stat().st_size, max_total=max_total,
                       max_members=max_members, max_media=max_media)
    except ImportRejected:
        archive.close()
        raise
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
    except (LookupError, ValueError) as exc:  # <?xml encoding="…"?> names no known encoding
        raise _reject(f"not readable XML ({exc}); save it again as UTF-8", source) from None


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of a plain file, refusing one larger than ``limit``."""
    size = path.stat().st_size
    if size > limit:
        raise _reject(f"the file is larger than {limit // (1024 * 1024)} MB", path.name)
    return path.read_bytes()


