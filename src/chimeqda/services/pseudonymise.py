"""Pseudonymising a project: detect identifiers, review them, apply consistent pseudonyms.

1. ``detect_identifiers`` runs the identifier detector (``privacy/detect.py``)
   over the current documents, fed with the project's own lists — names the
   researcher added, participants' names and aliases (from the participants
   file, kept only in the key file), and every value confirmed anywhere in
   the project — and stores each finding as a *proposal* with its evidence.
   Speaker labels that are names (``Mieke:``) are proposed too.
2. The researcher confirms, rejects or adds spans (``decide_proposals``,
   ``add_proposal``); a confirmed value is proposed in every other document
   where it occurs.
3. ``apply_pseudonyms`` gives each confirmed real value one pseudonym for the
   whole project (``[Person 3]``, ``[Town 1]``, ``[Street 2]`` … or a substitute first name),
   writes real value → pseudonym into the encrypted key file, and makes a
   new version of each document through ``revise_document`` (turn speakers
   renamed too), all in one transaction per run. In the same transaction the
   confirmed values are masked (``█``, same length) in every earlier version
   of the project's documents (``privacy_scrub.py``); ``purge_originals`` does
   that for projects pseudonymised before chimeqda masked earlier versions.

The database holds only keyed hashes of real values (``pseudonyms``); the
values themselves live in the key file, outside the project.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.ingest.speakers import is_known_label
from chimeqda.privacy.keyfile import (
    KeyRing,
    create_key,
    default_key_path,
    normalise_value,
    open_key,
)
from chimeqda.services.privacy_audit import (
    enable_privacy,
    privacy_settings,
    pseudonymised_ids,
    record,
)
from chimeqda.services.privacy_scrub import MASK, ScrubResult, compact_database, scrub_superseded
from chimeqda.services.project import Workspace
from chimeqda.services.revisions import revise_document
from chimeqda.store import tables as t
from chimeqda.store.privacy import IdentifierProposal, Pseudonym
from chimeqda.tabular import read_csv_table

LABELS = ("PERSON", "PLACE", "ORG", "DATE", "CONTACT", "AGE")
LABEL_WORDS = {"PERSON": "Person", "PLACE": "Place", "ORG": "Organisation", "DATE": "Date",
               "CONTACT": "Contact", "AGE": "Age"}
DECIDED = ("confirmed", "rejected", "added")
# Kinds whose confirmed values identify wherever they occur; a date or an age ("one", "twenty") recurs
# with other meanings, so those are neither proposed elsewhere nor searched for again.
FOLLOWED_KINDS = ("PERSON", "PLACE", "ORG", "CONTACT")
SUBSTITUTE_NAMES = {
    "en": ("Alex", "Sam", "Jamie", "Robin", "Chris", "Taylor", "Jordan", "Casey", "Morgan", "Riley", "Avery",
           "Quinn", "Charlie", "Dana", "Frankie", "Jesse", "Kim", "Lee", "Max", "Nico"),
    "nl": ("Noor", "Sam", "Lotte", "Daan", "Fenna", "Bram", "Iris", "Joris", "Mila", "Ruben", "Sanne", "Thijs",
           "Eva", "Milan", "Lieke", "Teun", "Roos", "Sem", "Anouk", "Wout"),
}
# --confirm-all confirms only proposals with this much evidence (or from a name list, a pattern, a researcher's
# earlier confirmation); weaker ones — a capitalised word, a proper-noun guess — are left for review.
CONFIRM_ALL_MIN_SCORE = 0.7
_STRONG_SOURCES = ("name list", "confirmed elsewhere", "pattern:")
_ROLE_WORDS = frozenset("partner nurse doctor mother father sister brother friend sponsor moderator".split())
_CODE_LABEL = re.compile(r"[A-Za-z]{1,4}[ _-]?\d{1,4}")


@dataclass(frozen=True)
class DetectionSummary:
    document: str
    document_id: int
    proposed: int
    decided: int
    labels: dict[str, int]


@dataclass(frozen=True)
class ProposalView:
    id: int
    document: str
    document_id: int
    start: int
    end: int
    label: str
    text: str
    source: str
    score: float | None
    status: str
    before: str
    after: str


@dataclass(frozen=True)
class ApplyOutcome:
    document: str
    previous_id: int
    document_id: int
    version: int
    replacements: int


class Applied(list[ApplyOutcome]):
    """The outcome per document, and what masking the earlier versions did (``scrub``, ``database``)."""

    scrub: ScrubResult | None = None
    database: str = ""


# ------------------------------------------------------------------ the key


def key_location(ws: Workspace, key_file: Path | str | None = None) -> Path:
    """The project's key file: ``key_file`` or the default in the user's config folder; never in the project."""
    with ws.session() as session:
        settings = enable_privacy(session, ws.project_id)
    path = Path(key_file).expanduser() if key_file else default_key_path(settings["key_id"])
    if ws.directory is not None:
        project = ws.directory.resolve()
        if path.resolve() == project or project in path.resolve().parents:
            raise InvalidInput(
                f"the key file must be kept outside the project folder ({project}); choose another --key-file",
                source=str(path),
            )
    return path


def unlock_key(ws: Workspace, passphrase: str, key_file: Path | str | None = None, *, create: bool = True) -> KeyRing:
    """Open the project's key file, or (``create``) make it when the project has none yet."""
    path = key_location(ws, key_file)
    with ws.session() as session:
        key_id = privacy_settings(session, ws.project_id)["key_id"]
        used = session.scalar(select(func.count()).select_from(Pseudonym).where(Pseudonym.project_id == ws.project_id))
    if path.exists():
        return open_key(path, passphrase, key_id)
    if used or not create:
        raise InvalidInput(
            f"no key file at {path}" + (f", but the project already has {used} pseudonyms: pass the key file it "
                                        "was made with (--key-file)" if used else
                                        "; make it with `chimeqda pseudonymise -p PROJECT` first"),
            source=str(path))
    return create_key(path, passphrase, key_id)


def names_from_participants(key: KeyRing, path: Path | str) -> int:
    """Add the ``name`` and ``aliases`` (separated by ``;``) of a participants file to the key; returns how many."""
    path = Path(path)
    columns, rows = read_csv_table(path)
    header = {c.strip().lower(): c for c in columns}
    if "name" not in header and "aliases" not in header:
        raise InvalidInput("the participants file has no 'name' or 'aliases' column", source=path.name,
                           location="row 1")
    added = 0
    for row in rows:
        label = (row.get(header.get("participant", ""), "") or "").strip()
        values = [(row.get(header["name"]) or "") if "name" in header else ""]
        if "aliases" in header:
            values += (row.get(header["aliases"]) or "").split(";")
        for value in values:
            if value.strip() and key.add_name(value, "PERSON", origin=f"participant {label}".strip()):
                added += 1
    return added


# ------------------------------------------------------------------ detection


def _document(session: Session, document_id: int) -> t.Document:
    doc = session.get(t.Document, document_id)
    if doc is None:
        raise UnknownObject(f"no document {document_id} in this project")
    return doc


def _documents(session: Session, project_id: int, names: Sequence[str] | None) -> list[t.Document]:
    query = select(t.Document).where(t.Document.project_id == project_id, t.Document.is_current.is_(True))
    if names:
        query = query.where(t.Document.name.in_(list(names)))
    docs = list(session.scalars(query.order_by(t.Document.name)))
    if names:
        missing = sorted(set(names) - {d.name for d in docs})
        if missing:
            raise UnknownObject(f"no document named {missing[0]!r} in this project (see `chimeqda status`)")
    return docs


def confirmed_values(session: Session, project_id: int) -> dict[str, str]:
    """Normalised value → label of every name, place, organisation or contact confirmed or added in the project."""
    values: dict[str, str] = {}
    rows = session.execute(
        select(IdentifierProposal.start, IdentifierProposal.end, IdentifierProposal.label, t.Document.text)
        .join(t.Document, t.Document.id == IdentifierProposal.document_id)
        .where(IdentifierProposal.project_id == project_id, IdentifierProposal.status.in_(("confirmed", "added")),
               IdentifierProposal.label.in_(FOLLOWED_KINDS))
    )
    for start, end, label, text in rows:
        if MASK not in text[start:end]:  # an earlier version, masked: the value lives in the key file only
            values.setdefault(normalise_value(text[start:end]), label)
    return values


def _project_names(session: Session, project_id: int, key: KeyRing | None) -> dict[str, tuple[str, str]]:
    """Normalised → (value, label) of every name the project knows."""
    names = {normalise_value(v): (v, label) for v, label in (key.known_values() if key else [])
             if label in FOLLOWED_KINDS}
    for value, label in confirmed_values(session, project_id).items():
        names.setdefault(value, (value, label))
    return names


def _speaker_spans(session: Session, doc: t.Document) -> list[tuple[int, int, str]]:
    """Speaker labels in the text that look like names (not ``I``, ``Interviewer``, ``P03``)."""
    spans = []
    for turn in session.scalars(select(t.Turn).where(t.Turn.document_id == doc.id).order_by(t.Turn.index)):
        speaker = (turn.speaker or "").strip()
        if (not speaker or turn.role == "other" or is_known_label(speaker) or _CODE_LABEL.fullmatch(speaker)
                or speaker.casefold() in _ROLE_WORDS):
            continue
        at = doc.text.find(speaker, turn.start, min(turn.end, turn.start + len(speaker) + 40))
        if at >= 0:
            spans.append((at, at + len(speaker), speaker))
    return spans


def _without_overlaps(spans: list[tuple[int, int, str, str, float | None]]) -> list[tuple[int, int, str, str, float | None]]:
    """Longest (then highest-scoring) span wins where spans overlap."""
    kept: list[tuple[int, int, str, str, float | None]] = []
    for span in sorted(spans, key=lambda s: (-(s[1] - s[0]), -(s[4] or 0.0), s[0])):
        if all(span[1] <= k[0] or k[1] <= span[0] for k in kept):
            kept.append(span)
    return sorted(kept)


def detect_identifiers(
    ws: Workspace, key: KeyRing | None, documents: Sequence[str] | None = None, *, user: str, detector=None,
) -> list[DetectionSummary]:
    """Propose identifiers in the current, not yet pseudonymised documents; decisions already made are kept."""
    from chimeqda.privacy.detect import IdentifierDetector

    with ws.session() as session:
        enable_privacy(session, ws.project_id)
        names = _project_names(session, ws.project_id, key)
        done = pseudonymised_ids(session, ws.project_id)
        docs = [d for d in _documents(session, ws.project_id, documents) if d.id not in done]
        work = [(d.id, d.name, d.text, d.language, _speaker_spans(session, d)) for d in docs]
    if detector is None:
        detector = _detector(IdentifierDetector, names)
    found: dict[int, list[tuple[int, int, str, str, float | None]]] = {}
    for doc_id, _, text, language, speakers in work:
        spans = []
        for d in detector.detect(text, language):
            known = names.get(normalise_value(d.text))
            spans.append((d.start, d.end, known[1] if known else d.label, d.source, d.score))
        for start, end, speaker in speakers:
            known = names.get(normalise_value(speaker))
            spans.append((start, end, known[1] if known else "PERSON", "speaker label", 1.0 if known else 0.5))
        found[doc_id] = _without_overlaps(spans)
    summaries = []
    with ws.session() as session:
        for doc_id, name, _, _, _ in work:
            doc = session.get(t.Document, doc_id)
            proposed, decided = _store_proposals(session, ws.project_id, doc_id, found[doc_id])
            labels = dict(Counter(span[2] for span in found[doc_id]))
            record(session, ws.project_id, "detected", user=user, document=doc,
                   detail={"proposed": proposed, "kept_decisions": decided, "labels": labels})
            summaries.append(DetectionSummary(name, doc_id, proposed, decided, labels))
    return summaries


def _detector(factory, names: dict[str, tuple[str, str]]):
    """The detector over the project's names, told each name's kind when it accepts ``labels``."""
    import inspect

    values = tuple(value for value, _ in names.values())
    if "labels" in inspect.signature(factory).parameters:
        return factory(names=values, labels={value: label for value, label in names.values()})
    return factory(names=values)


def _store_proposals(session: Session, project_id: int, document_id: int,
                     spans: Iterable[tuple[int, int, str, str, float | None]]) -> tuple[int, int]:
    existing = list(session.scalars(select(IdentifierProposal).where(IdentifierProposal.document_id == document_id)))
    for row in existing:
        if row.status == "proposed":
            session.delete(row)
    decided = [row for row in existing if row.status in DECIDED]
    added = 0
    for start, end, label, source, score in spans:
        if any(row.start < end and start < row.end for row in decided):
            continue  # the researcher decided here already
        session.add(IdentifierProposal(project_id=project_id, document_id=document_id, start=start, end=end,
                                       label=label, source=source[:100], score=score, status="proposed"))
        added += 1
    session.flush()
    return added, len(decided)


# ------------------------------------------------------------------ review


def list_proposals(ws: Workspace, documents: Sequence[str] | None = None, *, status: str | None = None,
                   context: int = 40) -> list[ProposalView]:
    """Proposals of the current documents, in reading order, with a little text around each."""
    with ws.session() as session:
        docs = {d.id: d for d in _documents(session, ws.project_id, documents)}
        query = select(IdentifierProposal).where(IdentifierProposal.document_id.in_(list(docs)))
        if status:
            query = query.where(IdentifierProposal.status == status)
        rows = session.scalars(query.order_by(IdentifierProposal.document_id, IdentifierProposal.start)).all()
        result = []
        for row in rows:
            text = docs[row.document_id].text
            result.append(ProposalView(
                row.id, docs[row.document_id].name, row.document_id, row.start, row.end, row.label,
                text[row.start:row.end], row.source, row.score, row.status,
                text[max(0, row.start - context):row.start], text[row.end:row.end + context]))
        return sorted(result, key=lambda p: (p.document, p.start))


def decide_proposals(ws: Workspace, ids: Iterable[int], status: str, *, user: str,
                     label: str | None = None) -> int:
    """Confirm or reject proposals (``label`` corrects the kind); a confirmed value is proposed elsewhere too."""
    if status not in ("confirmed", "rejected"):
        raise ValueError("status must be 'confirmed' or 'rejected'")
    if label is not None and label not in LABELS:
        raise InvalidInput(f"unknown identifier kind {label!r}; use one of {', '.join(LABELS)}")
    wanted = sorted(set(ids))
    now = datetime.now(UTC)
    with ws.session() as session:
        rows = list(session.scalars(select(IdentifierProposal).where(
            IdentifierProposal.id.in_(wanted), IdentifierProposal.project_id == ws.project_id)))
        missing = sorted(set(wanted) - {r.id for r in rows})
        if missing:
            raise UnknownObject(f"no identifier proposal {missing[0]} in this project")
        done = pseudonymised_ids(session, ws.project_id)
        per_document: dict[int, Counter[str]] = {}
        for row in rows:
            if row.document_id in done:
                raise InvalidInput(f"proposal {row.id} is on a document version already pseudonymised")
            row.status, row.decided_by, row.decided_at = status, user, now
            if label:
                row.label = label
            per_document.setdefault(row.document_id, Counter())[row.label] += 1
        session.flush()
        for document_id, labels in per_document.items():
            record(session, ws.project_id, status, user=user, document=session.get(t.Document, document_id),
                   detail={"count": sum(labels.values()), "labels": dict(labels)})
        if status == "confirmed":
            _propose_everywhere(session, ws.project_id, rows)
    return len(rows)


def is_strong(source: str, score: float | None) -> bool:
    """Evidence strong enough for ``confirm_strong``: a name list, a pattern, a value confirmed elsewhere, or a
    score of at least ``CONFIRM_ALL_MIN_SCORE``."""
    return source.startswith(_STRONG_SOURCES) or (score is not None and score >= CONFIRM_ALL_MIN_SCORE)


def confirm_strong(ws: Workspace, documents: Sequence[str] | None = None, *, user: str) -> tuple[int, int]:
    """Confirm every undecided proposal with strong evidence (``is_strong``), also those that confirming
    proposes elsewhere; returns (confirmed, left for review)."""
    confirmed = 0
    for _ in range(5):  # a confirmed value is proposed where else it occurs: confirm those too
        ids = [p.id for p in list_proposals(ws, documents, status="proposed", context=0) if is_strong(p.source, p.score)]
        if not ids:
            break
        decide_proposals(ws, ids, "confirmed", user=user)
        confirmed += len(ids)
    return confirmed, len(list_proposals(ws, documents, status="proposed", context=0))


def add_proposal(ws: Workspace, document_id: int, start: int, end: int, label: str, *, user: str) -> int:
    """The researcher marks a span the detectors missed; returns the proposal id."""
    if label not in LABELS:
        raise InvalidInput(f"unknown identifier kind {label!r}; use one of {', '.join(LABELS)}")
    with ws.session() as session:
        doc = session.get(t.Document, document_id)
        if doc is None or doc.project_id != ws.project_id or not doc.is_current:
            raise UnknownObject(f"no current document {document_id} in this project")
        if document_id in pseudonymised_ids(session, ws.project_id):
            raise InvalidInput(f"{doc.name} is pseudonymised already; its identifiers were replaced")
        if not 0 <= start < end <= len(doc.text) or not doc.text[start:end].strip():
            raise InvalidInput(f"span {start}–{end} is empty or outside the document ({len(doc.text)} characters)",
                               source=doc.name)
        for row in session.scalars(select(IdentifierProposal).where(
                IdentifierProposal.document_id == document_id, IdentifierProposal.start < end,
                IdentifierProposal.end > start)):
            if row.status == "proposed":
                session.delete(row)
            else:
                raise InvalidInput(f"{doc.name}: {start}–{end} overlaps a span already {row.status} "
                                   f"({row.start}–{row.end})", source=doc.name)
        row = IdentifierProposal(project_id=ws.project_id, document_id=document_id, start=start, end=end,
                                 label=label, source="researcher", score=None, status="added", decided_by=user,
                                 decided_at=datetime.now(UTC))
        session.add(row)
        session.flush()
        record(session, ws.project_id, "added", user=user, document=doc, detail={"count": 1, "labels": {label: 1}})
        _propose_everywhere(session, ws.project_id, [row])
        return row.id


def _propose_everywhere(session: Session, project_id: int, rows: Sequence[IdentifierProposal]) -> None:
    """Propose each confirmed value wherever else it occurs in the project's unpseudonymised documents."""
    texts = {r.document_id: _document(session, r.document_id).text for r in rows}
    values = {texts[r.document_id][r.start:r.end].strip(): r.label for r in rows if r.label in FOLLOWED_KINDS}
    values = {v: label for v, label in values.items() if v}
    if not values:
        return
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(v)}(?!\w)" for v in sorted(values, key=len, reverse=True)),
                         re.IGNORECASE)
    by_value = {normalise_value(v): label for v, label in values.items()}
    done = pseudonymised_ids(session, project_id)
    for doc in session.scalars(select(t.Document).where(t.Document.project_id == project_id,
                                                        t.Document.is_current.is_(True))):
        if doc.id in done:
            continue
        existing = [(r.start, r.end) for r in session.scalars(
            select(IdentifierProposal).where(IdentifierProposal.document_id == doc.id))]
        for match in pattern.finditer(doc.text):
            if any(a < match.end() and match.start() < b for a, b in existing):
                continue
            session.add(IdentifierProposal(project_id=project_id, document_id=doc.id, start=match.start(),
                                           end=match.end(), label=by_value[normalise_value(match.group())],
                                           source="confirmed elsewhere", score=1.0, status="proposed"))
            existing.append((match.start(), match.end()))
    session.flush()


# ------------------------------------------------------------------ apply and reveal


def _pseudonym_for(session: Session, project_id: int, key: KeyRing, value: str, label: str, style: str,
                   language: str) -> str:
    digest = key.value_hash(value)
    row = session.scalar(select(Pseudonym).where(Pseudonym.project_id == project_id, Pseudonym.value_hash == digest))
    if row is not None:
        key.remember(value, row.label, row.pseudonym)
        return row.pseudonym
    number = (session.scalar(select(func.max(Pseudonym.number)).where(
        Pseudonym.project_id == project_id, Pseudonym.label == label)) or 0) + 1
    word = _place_word(value) if label == "PLACE" else LABEL_WORDS.get(label, label.title())
    same_word = session.scalar(select(func.count()).select_from(Pseudonym).where(
        Pseudonym.project_id == project_id, Pseudonym.label == label, Pseudonym.pseudonym.like(f"[{word} %")))
    pseudonym = f"[{word} {(same_word or 0) + 1}]"
    if style == "names" and label == "PERSON":
        names = SUBSTITUTE_NAMES.get(language, SUBSTITUTE_NAMES["en"])
        if number <= len(names):
            pseudonym = names[number - 1]
    session.add(Pseudonym(project_id=project_id, label=label, number=number, pseudonym=pseudonym,
                          value_hash=digest))
    session.flush()
    key.remember(value, label, pseudonym)
    return pseudonym


_STREET_WORDS = re.compile(
    r"(?i)(?:\b(?:road|rd|street|st|avenue|ave|lane|drive|boulevard|way|square|court|crescent|terrace|close|"
    r"gardens|row|parkway|highway)\.?|(?:straat|laan|weg|plein|markt|dreef|steenweg|kaai|singel|gracht|dijk|kade|"
    r"pad|steeg|vest|lei))$")
_BUILDING_WORDS = re.compile(
    r"(?i)(?:\b(?:hall|building|tower|station|bridge|park|church|chapel|cathedral|centre|center|house|hotel|"
    r"library|stadium|prison)|(?:huis|kerk|toren|gebouw|station|gevangenis|zaal))$")


def _place_word(value: str) -> str:
    """What a researcher calls a place: an Address (it has a number), a Street, a Building, else a Town."""
    value = value.strip()
    if any(c.isdigit() for c in value):
        return "Address"
    if _STREET_WORDS.search(value):
        return "Street"
    if _BUILDING_WORDS.search(value):
        return "Building"
    return "Town"


def apply_pseudonyms(ws: Workspace, key: KeyRing, documents: Sequence[str] | None = None, *,
                     user: str) -> Applied:
    """Replace every confirmed identifier with its pseudonym: one new version per document, one transaction.

    Refuses while a selected document still has proposals nobody decided. The
    confirmed values are masked in every earlier version (``scrub_superseded``)
    in the same transaction. The key file is written before the transaction
    commits; if writing it fails, nothing is changed. Then the database file is
    compacted (SQLite) so no old bytes are left.
    """
    outcomes = Applied()
    with ws.session() as session:
        settings = enable_privacy(session, ws.project_id)
        done = pseudonymised_ids(session, ws.project_id)
        docs = [d for d in _documents(session, ws.project_id, documents) if d.id not in done]
        pending = {d.name: n for d in docs if (n := session.scalar(select(func.count()).select_from(
            IdentifierProposal).where(IdentifierProposal.document_id == d.id,
                                      IdentifierProposal.status == "proposed")))}
        if pending:
            name, count = next(iter(pending.items()))
            raise InvalidInput(
                f"{count} identifier proposal(s) in {name} are not reviewed yet (and {len(pending) - 1} other "
                "document(s)); run `chimeqda pseudonymise -p PROJECT --review` first", source=name)
        unchecked = [d.name for d in docs if not session.scalar(select(func.count()).select_from(
            IdentifierProposal).where(IdentifierProposal.document_id == d.id)) and not _was_checked(session, d)]
        if unchecked:
            raise InvalidInput(f"{unchecked[0]} was never checked for identifiers; run `chimeqda pseudonymise "
                               "-p PROJECT` first", source=unchecked[0])
        for doc in docs:
            outcomes.append(_apply_one(session, ws.project_id, key, doc, settings.get("substitute", "labels"), user))
        if any(o.document_id != o.previous_id for o in outcomes):
            outcomes.scrub = scrub_superseded(session, ws.project_id, _followed_values(key), user=user,
                                              trigger="pseudonymise --apply")
        key.save()  # before commit: a key that cannot be written leaves the database unchanged
    if outcomes.scrub is not None and outcomes.scrub.versions:
        outcomes.database = compact_database(ws.engine)
    return outcomes


def _followed_values(key: KeyRing) -> list[str]:
    """The confirmed names, places, organisations and contacts of the key (masked wherever they occur)."""
    return [e["value"] for e in key.entries.values() if e.get("label") in FOLLOWED_KINDS]


def purge_originals(ws: Workspace, key: KeyRing, *, user: str) -> tuple[ScrubResult, str]:
    """Mask the confirmed values in every earlier version (one transaction, audited), then compact the database.

    For projects pseudonymised before ``--apply`` masked earlier versions; running it again changes nothing.
    """
    with ws.session() as session:
        registry = set(session.scalars(select(Pseudonym.value_hash).where(Pseudonym.project_id == ws.project_id)))
        if not registry:
            raise InvalidInput("no document of this project is pseudonymised yet; there is nothing to purge "
                               "(run `chimeqda pseudonymise -p PROJECT --apply` first)")
        if not registry & set(key.entries):
            raise InvalidInput("this key file holds none of the project's pseudonyms; pass the key file it was "
                               "made with (--key-file)", source=str(key.path))
        result = scrub_superseded(session, ws.project_id, _followed_values(key), user=user,
                                  trigger="pseudonymise --purge-originals")
    return result, compact_database(ws.engine)


def _was_checked(session: Session, doc: t.Document) -> bool:
    from chimeqda.store.privacy import PrivacyAudit

    return bool(session.scalar(select(func.count()).select_from(PrivacyAudit).where(
        PrivacyAudit.document_id == doc.id, PrivacyAudit.action == "detected")))


def _apply_one(session: Session, project_id: int, key: KeyRing, doc: t.Document, style: str,
               user: str) -> ApplyOutcome:
    rows = list(session.scalars(select(IdentifierProposal).where(
        IdentifierProposal.document_id == doc.id, IdentifierProposal.status.in_(("confirmed", "added")))
        .order_by(IdentifierProposal.start)))
    edits = []
    for row in rows:
        row.pseudonym = _pseudonym_for(session, project_id, key, doc.text[row.start:row.end], row.label, style,
                                       doc.language)
        edits.append((row.start, row.end, row.pseudonym))
    speakers = {}
    for speaker in set(session.scalars(select(t.Turn.speaker).where(t.Turn.document_id == doc.id))):
        if speaker:
            found = session.scalar(select(Pseudonym.pseudonym).where(
                Pseudonym.project_id == project_id, Pseudonym.value_hash == key.value_hash(speaker)))
            if found:
                speakers[speaker] = found
    labels = dict(Counter(row.label for row in rows))
    if not edits and not speakers:
        record(session, project_id, "pseudonymised", user=user, document=doc,
               detail={"replacements": 0, "labels": {}, "note": "no identifiers confirmed; text unchanged"})
        return ApplyOutcome(doc.name, doc.id, doc.id, doc.version, 0)
    replaced = {doc.text[row.start:row.end].strip(): row.pseudonym or "" for row in rows}
    revision = revise_document(session, doc.id, edits, reason="pseudonymisation", user=user, speakers=speakers,
                               rewrite=_replacer({**replaced, **speakers}))
    new = _document(session, revision.document_id)
    record(session, project_id, "pseudonymised", user=user, document=new,
           detail={"replacements": len(edits), "labels": labels, "previous_version": doc.version,
                   "speakers_renamed": len(speakers)})
    return ApplyOutcome(doc.name, doc.id, new.id, new.version, len(edits))


def _replacer(values: dict[str, str]):
    """Replace each value (whole words, any case) by its pseudonym in a free text."""
    values = {v: p for v, p in values.items() if v and p}
    if not values:
        return lambda text: text
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(v)}(?!\w)" for v in sorted(values, key=len, reverse=True)),
                         re.IGNORECASE)
    by_value = {normalise_value(v): p for v, p in values.items()}
    return lambda text: pattern.sub(lambda m: by_value.get(normalise_value(m.group()), m.group()), text)


def reveal(ws: Workspace, key: KeyRing, pseudonyms: Sequence[str] = (), *, reason: str,
           user: str) -> list[tuple[str, str, str]]:
    """(pseudonym, kind, real value) for the named pseudonyms (all when none named); logged with ``reason``."""
    if not reason.strip():
        raise InvalidInput("say why the real values are revealed (--reason); the reason is logged")
    wanted = {p.strip() for p in pseudonyms if p.strip()}
    with ws.session() as session:
        registry = {row.value_hash: row for row in session.scalars(
            select(Pseudonym).where(Pseudonym.project_id == ws.project_id))}
        result = sorted(
            (entry["pseudonym"], entry["label"], entry["value"]) for digest, entry in key.entries.items()
            if digest in registry and (not wanted or entry["pseudonym"] in wanted))
        unknown = sorted(wanted - {p for p, _, _ in result})
        if unknown:
            raise UnknownObject(f"no pseudonym {unknown[0]!r} in this project's key")
        record(session, ws.project_id, "revealed", user=user, reason=reason,
               detail={"pseudonyms": [p for p, _, _ in result]})
    return result


def document_identifiers(ws: Workspace, document_id: int) -> dict:
    """What the web document view shows: whether the project pseudonymises, the status, the proposals."""
    from chimeqda.services.privacy_audit import document_statuses

    with ws.session() as session:
        doc = _document(session, document_id)
        if doc.project_id != ws.project_id:
            raise UnknownObject(f"no document {document_id} in this project")
        settings = privacy_settings(session, ws.project_id)
        status = document_statuses(session, ws.project_id).get(doc.name, "not checked") if doc.is_current else "old"
        if doc.is_current and doc.id in pseudonymised_ids(session, ws.project_id):
            status = "pseudonymised"
        rows = session.scalars(select(IdentifierProposal).where(IdentifierProposal.document_id == document_id)
                               .order_by(IdentifierProposal.start)).all()
        proposals = [{"id": r.id, "start": r.start, "end": r.end, "text": doc.text[r.start:r.end], "label": r.label,
                      "status": r.status, "source": r.source, "score": r.score} for r in rows]
    return {"enabled": bool(settings.get("required")), "status": status, "proposals": proposals}


def proposal_document(ws: Workspace, proposal_id: int) -> int:
    """The document a proposal belongs to (for access checks)."""
    with ws.session() as session:
        row = session.get(IdentifierProposal, proposal_id)
        if row is None or row.project_id != ws.project_id:
            raise UnknownObject(f"no identifier proposal {proposal_id} in this project")
        return row.document_id


def document_name(ws: Workspace, document_id: int) -> str:
    """The name of a current document of the project."""
    with ws.session() as session:
        doc = _document(session, document_id)
        if doc.project_id != ws.project_id or not doc.is_current:
            raise UnknownObject(f"no current document {document_id} in this project")
        return doc.name
