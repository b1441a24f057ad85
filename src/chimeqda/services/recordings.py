"""Importing recorded interviews: transcribe each recording and store it with its times.

Every recording is checked first (bad input stops the import before anything
is stored). Then each is transcribed and stored in its own transaction, its
recording kept as ``<project>/media/<sha256>.<ext>``: an interrupted batch keeps
the recordings it finished, and importing the same files again skips them
(same name and same sha256 of the recording), so the batch resumes where it
stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, select

from chimeqda.audio import RECORDING_SUFFIXES
from chimeqda.audio.probe import RecordingInfo, file_sha256, probe
from chimeqda.errors import InvalidInput
from chimeqda.ingest import expand_inputs
from chimeqda.ingest.readers import SUPPORTED_SUFFIXES
from chimeqda.services.importing import (
    LINKED,
    ImportOutcome,
    _participant,
    _participant_for,
    link_unchanged,
    read_participants_csv,
    store_document,
    upsert_participants,
)
from chimeqda.services.media import keep_recording
from chimeqda.services.project import Workspace
from chimeqda.services.speakers import set_speaker
from chimeqda.store import tables as t

ASR_MODEL_SETTING = "asr_model"


def split_recordings(inputs: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """Files, folders and globs expanded into (transcripts, recordings)."""
    paths = expand_inputs(inputs, SUPPORTED_SUFFIXES | RECORDING_SUFFIXES)
    recordings = [path for path in paths if path.suffix.lower() in RECORDING_SUFFIXES]
    return [path for path in paths if path not in recordings], recordings


def project_asr_model(ws: Workspace, model_dir: str | None = None) -> str | None:
    """The speech model folder to use: ``model_dir`` (then kept as the project's setting), else the setting.

    ``model_dir="default"`` goes back to the shipped Whisper base model.
    """
    with ws.session() as session:
        project = session.get(t.Project, ws.project_id)
        settings = dict(project.settings or {})
        if model_dir is not None:
            if model_dir == "default":
                settings.pop(ASR_MODEL_SETTING, None)
            else:
                from chimeqda.audio.model import check_model_dir

                settings[ASR_MODEL_SETTING] = str(check_model_dir(model_dir).resolve())
            project.settings = settings
        return settings.get(ASR_MODEL_SETTING)


def check_recordings(
    ws: Workspace, paths: Iterable[Path], status: Callable[[str], None] | None = None
) -> dict[Path, RecordingInfo | None]:
    """Check every recording before anything is stored: its description, or None if imported unchanged.

    A bad recording raises :class:`InvalidInput` naming it.
    """
    if ws.directory is None:
        raise InvalidInput("recordings can only be imported into a project folder (its media/ keeps them)")
    paths = list(paths)
    names = [path.name for path in paths]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidInput(f"two files share the name {twice[0]!r}; documents are identified by file name, "
                           "rename one")
    checked: dict[Path, RecordingInfo | None] = {}
    for path in paths:
        if _current(ws, path.name, file_sha256(path)) is not None:
            checked[path] = None
            continue
        if status:
            status(f"checking {path.name}")
        checked[path] = probe(path)
    return checked


def import_recordings(
    ws: Workspace,
    paths: Iterable[Path],
    *,
    participant: str | None = None,
    participants_csv: Path | str | None = None,
    interviewer_labels: Iterable[str] = (),
    language: str | None = None,
    asr_model: str | None = None,
    diarise: bool | None = None,
    speakers: int = 2,
    checked: dict[Path, RecordingInfo | None] | None = None,
    progress: Callable[[str, float, float], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> list[ImportOutcome]:
    """Transcribe and store recordings, one transaction each; unchanged ones are skipped.

    ``checked`` is what :func:`check_recordings` returned for ``paths`` (checked here when not given).
    Mono recordings are diarised into ``speakers`` voices when Resemblyzer is installed
    (``diarise=None``), always (``True``: an error if it is not) or never (``False``).
    """
    from chimeqda.audio.transcribe import AsrSettings, transcribe_file

    paths = list(paths)
    directory = ws.directory
    if directory is None:
        raise InvalidInput("recordings can only be imported into a project folder (its media/ keeps them)")
    people = read_participants_csv(participants_csv) if participants_csv else []
    if checked is None:
        checked = check_recordings(ws, paths, status)
    labels = tuple(interviewer_labels)
    file_owner = {name: row.label for row in people for name in row.files}
    settings = AsrSettings(model_dir=project_asr_model(ws, asr_model), language=language, diarise=diarise,
                           speakers=speakers)
    if people:
        with ws.session(lock=True) as session:
            upsert_participants(session, ws.project_id, people)
    outcomes: dict[Path, ImportOutcome] = {}
    for path in paths:
        info = checked[path]
        if info is None:
            outcomes[path] = _unchanged(ws, path.name, labels, participant, file_owner)
            continue
        if status:
            status(f"transcribing {path.name} ({_clock(info.duration)})")
        report = (lambda done, total, name=path.name: progress(name, done, total)) if progress else None
        transcript = transcribe_file(path, settings, info=info, progress=report)
        doc = transcript.document(interviewer_labels=labels)
        with ws.session(lock=True) as session:  # a second import started at once waits, then skips it
            meta = {**doc.metadata, "media": keep_recording(directory, path, info)}
            row = _owner(session, ws.project_id, doc.name, participant, file_owner)
            outcomes[path] = store_document(session, ws.project_id, replace(doc, metadata=meta), row)
    return [outcomes[path] for path in paths]


def _owner(session, project_id: int, name: str, participant: str | None,
           file_owner: dict[str, str]) -> t.Participant | None:
    """The participant of the recording ``name``: ``participant``, the CSV's file column, or a label in the name."""
    label = participant or _participant_for(name, file_owner, _participants(session, project_id))
    if not label:
        return None
    row = session.scalar(select(t.Participant).where(t.Participant.project_id == project_id,
                                                     t.Participant.label == label))
    return row or _participant(session, project_id, label)


def _participants(session, project_id: int) -> dict[str, t.Participant]:
    return {p.label: p for p in session.scalars(select(t.Participant).where(t.Participant.project_id == project_id))}


def _current(ws: Workspace, name: str, sha: str) -> int | None:
    """The id of the current document ``name`` if it was imported from this very recording."""
    with ws.session() as session:
        doc = session.scalar(select(t.Document).where(
            t.Document.project_id == ws.project_id, t.Document.name == name, t.Document.is_current.is_(True)))
        return doc.id if doc is not None and doc.sha256 == sha else None


def _unchanged(ws: Workspace, name: str, labels: tuple[str, ...], participant: str | None = None,
               file_owner: dict[str, str] | None = None) -> ImportOutcome:
    """The outcome for a recording already imported unchanged; the turns of ``labels`` become the interviewer's.

    An unlinked recording is linked to the participant this import names (``participant``, the CSV, the name).
    """
    with ws.session(lock=True) as session:
        doc = session.scalars(select(t.Document).where(
            t.Document.project_id == ws.project_id, t.Document.name == name, t.Document.is_current.is_(True))).one()
        segments = session.scalar(select(func.count()).select_from(t.Segment).where(t.Segment.document_id == doc.id))
        speakers = {turn.index: turn.speaker for turn in session.scalars(select(t.Turn).where(
            t.Turn.document_id == doc.id, t.Turn.role != "interviewer"))}
        owner = _owner(session, ws.project_id, name, participant, file_owner or {})
        note = link_unchanged(session, doc, owner) if owner is not None else ""
        label = session.get(t.Participant, doc.participant_id).label if doc.participant_id else None
        status = "linked" if note.startswith(LINKED) else "unchanged"
        outcome = ImportOutcome(name, status, doc.id, int(segments or 0), doc.language, label, note)
    keys = {" ".join(label.split()).casefold() for label in labels}
    changed = 0
    for index, speaker in sorted(speakers.items()):
        if speaker and speaker.casefold() in keys:
            changed += set_speaker(ws, doc.id, index, role="interviewer")
    if changed:
        roles = f"same recording; {changed} turn(s) of {', '.join(labels)} are now the interviewer's"
        return replace(outcome, status="roles updated", note="; ".join(n for n in (outcome.note, roles) if n))
    return outcome


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{rest:02d}" if minutes >= 60 else f"{minutes}:{rest:02d}"
