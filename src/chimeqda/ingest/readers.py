"""Reading transcript files: input expansion and one reader per format."""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ImportRejected, InvalidInput
from ..model import ParsedDocument
from .build import build_document, parse_transcript_text
from .normalise import decode_bytes, normalise_text, rejected_empty
from .office import docx_text, odt_text
from .timed import Utterance, apply_label_prefixes, assemble, cue_utterances, json_utterances

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".md", ".docx", ".odt", ".vtt", ".srt", ".json"}
)
_GLOB_CHARS = set("*?[")
# Unpacked text parts of .docx/.odt may be this many times larger than max_bytes.
UNPACK_FACTOR = 4


def _supported(path: Path, suffixes: frozenset[str] = SUPPORTED_SUFFIXES) -> bool:
    return (
        path.suffix.lower() in suffixes
        and not path.name.startswith((".", "~$"))
        and path.is_file()
    )


def _in_folder(folder: Path, suffixes: frozenset[str] = SUPPORTED_SUFFIXES) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).parts
        if any(part.startswith(".") for part in relative[:-1]):
            continue
        if _supported(path, suffixes):
            found.append(path)
    return sorted(found)


_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini"})


def passed_over(inputs: Iterable[str | Path], suffixes: frozenset[str] = SUPPORTED_SUFFIXES) -> list[Path]:
    """Files in the named folders (and folders a glob matches) that no reader takes, by path.

    Hidden files, hidden folders, Word lock files (``~$...``) and ``Thumbs.db``/``desktop.ini``
    are left out; so the list is what a researcher may have meant to import (an old ``.doc``,
    a ``.pdf``) and should be told about.
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    folders: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            folders.append(path)
        elif not path.exists() and _GLOB_CHARS & set(str(item)):
            folders += [Path(hit) for hit in sorted(glob.glob(str(path), recursive=True)) if Path(hit).is_dir()]
    found: set[Path] = set()
    for folder in folders:
        for path in folder.rglob("*"):
            relative = path.relative_to(folder).parts
            if (path.is_file() and path.suffix.lower() not in suffixes
                    and not any(part.startswith(".") for part in relative)
                    and not path.name.startswith("~$") and path.name.lower() not in _SYSTEM_FILES):
                found.add(path)
    return sorted(found)


def expand_inputs(
    inputs: Iterable[str | Path], suffixes: frozenset[str] = SUPPORTED_SUFFIXES
) -> list[Path]:
    """Expand files, folders and glob patterns into a list of transcript files.

    ``suffixes`` are the file types looked for (transcripts by default; the
    import command adds recordings).

    Folders are searched recursively for supported files (hidden files and
    Word lock files ``~$...`` skipped), sorted by path. A named file must have
    a supported suffix. Duplicates are dropped, first occurrence kept. A
    missing path, or a folder or glob without transcripts, raises
    :class:`InvalidInput` naming it.
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    result: list[Path] = []
    seen: set[Path] = set()

    def add(paths: Iterable[Path]) -> None:
        for path in paths:
            if path not in seen:
                seen.add(path)
                result.append(path)

    supported = ", ".join(sorted(suffixes))
    for item in inputs:
        name = str(item)
        path = Path(item).expanduser()
        if path.is_dir():
            found = _in_folder(path, suffixes)
            if not found:
                raise InvalidInput(f"no transcript files ({supported}) in this folder", source=name)
            add(found)
        elif path.is_file():
            if path.suffix.lower() not in suffixes:
                raise InvalidInput(
                    f"unsupported file type {path.suffix or '(none)'!r}; supported: {supported}",
                    source=name,
                )
            add([path])
        elif _GLOB_CHARS & set(name):
            matched: list[Path] = []
            for hit in sorted(glob.glob(str(path), recursive=True)):
                hit_path = Path(hit)
                if hit_path.is_dir():
                    matched.extend(_in_folder(hit_path, suffixes))
                elif _supported(hit_path, suffixes):
                    matched.append(hit_path)
            if not matched:
                raise InvalidInput(
                    f"the pattern matches no transcript files ({supported})", source=name
                )
            add(matched)
        else:
            raise InvalidInput("no such file or folder", source=name)
    return result


def _read_bytes(path: Path, source: str, max_bytes: int) -> bytes:
    too_big = (
        "the file is {size:,} bytes, more than the limit of {limit:,} bytes; "
        "split the transcript, or raise the limit with --max-size"
    )
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ImportRejected(too_big.format(size=size, limit=max_bytes), source=source)
        with path.open("rb") as stream:
            data = stream.read(max_bytes + 1)
    except FileNotFoundError:
        raise ImportRejected("file not found", source=source) from None
    except IsADirectoryError:
        raise ImportRejected("this is a folder, not a file", source=source) from None
    except OSError as exc:
        reason = exc.strerror or exc
        raise ImportRejected(f"cannot read the file ({reason})", source=source) from None
    if len(data) > max_bytes:
        raise ImportRejected(too_big.format(size=len(data), limit=max_bytes), source=source)
    return data


def _decode(data: bytes, source: str) -> tuple[str, str]:
    text, encoding = decode_bytes(data, source)
    if not text.replace("\ufeff", "").strip():
        raise rejected_empty(source)
    return text, encoding


@dataclass(frozen=True)
class _Job:
    """What every reader gets: the file's bytes, its name and the options."""

    data: bytes
    name: str
    fmt: str
    sha256: str
    labels: Iterable[str]
    language: str | None
    max_bytes: int


def _read_plain(job: _Job) -> ParsedDocument:
    text, encoding = _decode(job.data, job.name)
    doc = parse_transcript_text(
        text,
        job.name,
        interviewer_labels=job.labels,
        language=job.language,
        source_format=job.fmt,
        sha256=job.sha256,
    )
    return replace(doc, metadata={**doc.metadata, "encoding": encoding})


def _read_office(job: _Job) -> ParsedDocument:
    extract = docx_text if job.fmt == "docx" else odt_text
    try:
        text, headings, warnings = extract(job.data, job.name, job.max_bytes * UNPACK_FACTOR)
    except RecursionError:
        kind = "Word document" if job.fmt == "docx" else "OpenDocument text document"
        raise ImportRejected(
            f"not a valid {kind} (its XML is nested too deeply)", source=job.name
        ) from None
    if not text.strip():
        raise ImportRejected("the document contains no text", source=job.name)
    doc = parse_transcript_text(
        text,
        job.name,
        interviewer_labels=job.labels,
        language=job.language,
        source_format=job.fmt,
        sha256=job.sha256,
        heading_lines=headings,
    )
    return replace(doc, warnings=tuple(warnings))


def _read_cues(job: _Job) -> ParsedDocument:
    raw, encoding = _decode(job.data, job.name)
    kind = "WebVTT" if job.fmt == "vtt" else "SubRip (.srt)"
    utterances, warnings = cue_utterances(normalise_text(raw), job.name, kind)
    apply_label_prefixes(utterances)
    doc = _timed_document(job, utterances, encoding, guess_roles=True)
    return replace(doc, warnings=tuple(warnings))


def _read_json(job: _Job) -> ParsedDocument:
    raw, encoding = _decode(job.data, job.name)
    utterances, hint, warnings = json_utterances(raw, job.name)
    if not utterances:
        raise ImportRejected("the JSON has no segments with text", source=job.name)
    doc = _timed_document(job, utterances, encoding, hint=hint, guess_roles=True)
    return replace(doc, warnings=tuple(warnings))


def _timed_document(
    job: _Job, utterances: list[Utterance], encoding: str, hint: object = None, guess_roles=False
) -> ParsedDocument:
    text, turns, timed = assemble(utterances)
    return build_document(
        job.name,
        text,
        turns,
        source_format=job.fmt,
        sha256=job.sha256,
        interviewer_labels=job.labels,
        language=job.language,
        language_hint=hint,
        guess_roles=guess_roles,
        metadata={"encoding": encoding, "cues": len(utterances)},
        timed=timed,
    )


_READERS: dict[str, Callable[[_Job], ParsedDocument]] = {
    ".txt": _read_plain,
    ".md": _read_plain,
    ".docx": _read_office,
    ".odt": _read_office,
    ".vtt": _read_cues,
    ".srt": _read_cues,
    ".json": _read_json,
}


def read_document(
    path: Path,
    *,
    interviewer_labels: Iterable[str] = (),
    language: str | None = None,
    max_bytes: int = 25_000_000,
) -> ParsedDocument:
    """Read one transcript file into a :class:`ParsedDocument`.

    The format follows the suffix (see ``SUPPORTED_SUFFIXES``). ``name`` is
    the file name, ``sha256`` the hash of the file's bytes. Files over
    ``max_bytes`` are refused; the text part of a .docx/.odt may unpack to
    ``4 * max_bytes``. Any problem with the file raises
    :class:`ImportRejected` naming it.

    Roles: known interviewer labels (``I``, ``Q``, ``Int``, ``Interviewer``,
    ``Onderzoeker``, ``Interviewster``, ``Moderator``, ``Facilitator``, with an
    optional number) and ``interviewer_labels`` (case-insensitive) are
    ``interviewer``; other speakers are ``participant``; text before the first
    label, markdown headings and the headings of .docx/.odt files are
    ``other``. For WebVTT, SubRip and Whisper JSON without
    ``interviewer_labels``, without a known interviewer label and with exactly
    two speakers, the one who speaks first is the interviewer if they end at
    least one turn with ``?`` and no fewer turns than the other speaker does;
    otherwise both are participants.
    """
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise ImportRejected(
            f"unsupported file type {suffix or '(none)'!r}; supported: "
            + ", ".join(sorted(SUPPORTED_SUFFIXES)),
            source=name,
        )
    data = _read_bytes(path, name, max_bytes)
    if not data:
        raise rejected_empty(name)
    sha = hashlib.sha256(data).hexdigest()
    if isinstance(interviewer_labels, str):
        interviewer_labels = [interviewer_labels]
    labels = tuple(interviewer_labels)
    return reader(_Job(data, name, suffix[1:], sha, labels, language, max_bytes))
