"""A random verification sample of machine suggestions: how many of them are right, per code.

On a corpus too large to review (a million forum posts), a researcher checks
the machine on a sample. The review queue (``chimeqda next``) serves the
suggestions a decision is worth most on — the uncertain ones — so the share
accepted there says little about all suggestions. A *random* sample does:
``chimeqda review --sample N`` draws N suggestions of each top-level code of one
machine coder, uniformly at random, and the decisions on them estimate that
coder's precision per code, with a 95 % Clopper–Pearson interval, and how many
of the code's suggestions are right.

The draw is reproducible and stable: each suggestion gets a pseudo-random key
from its id and the seed (splitmix64), and a code's sample is its N suggestions
with the smallest keys. Deciding suggestions, or adding new ones, never
reshuffles the others, and a suggestion already decided (in the queue, by
hand) that falls in the sample counts with its decision — membership depends on
the key only, never on the decision, so the estimate stays unbiased. The
sample's definition (seed, size, coder) is kept in the project's settings; the
report shows its estimate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from chimeqda.errors import InvalidInput
from chimeqda.services.project import Workspace, project_codebook
from chimeqda.store import tables as t

SETTING = "verification_sample"
"""Key of ``projects.settings`` holding the sample's definition."""
CHUNK = 500


@dataclass(frozen=True)
class SampleDefinition:
    per_code: int
    seed: int
    coder_id: int


@dataclass(frozen=True)
class CodeEstimate:
    """One top-level code: its suggestions, the sample's decisions, the estimated precision and its interval."""

    code: str
    suggestions: int
    sampled: int
    decided: int
    accepted: int

    @property
    def precision(self) -> float | None:
        return self.accepted / self.decided if self.decided else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return clopper_pearson(self.accepted, self.decided) if self.decided else None


@dataclass(frozen=True)
class VerificationSample:
    definition: SampleDefinition
    coder: str
    codes: list[CodeEstimate]
    undecided: list[int]
    """Suggestion ids of the sample nobody has decided yet, in sample order."""

    @property
    def complete(self) -> bool:
        return not self.undecided

    @property
    def precision(self) -> float | None:
        """All suggestions' precision: each code's estimate weighted by its number of suggestions."""
        shown = [c for c in self.codes if c.suggestions]
        if not shown or any(c.precision is None for c in shown):
            return None
        return sum(c.suggestions * (c.precision or 0.0) for c in shown) / sum(c.suggestions for c in shown)


def clopper_pearson(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided exact (Clopper–Pearson) interval of a proportion."""
    from scipy.stats import beta

    tail = (1.0 - confidence) / 2
    low = float(beta.ppf(tail, correct, total - correct + 1)) if correct > 0 else 0.0
    high = float(beta.ppf(1.0 - tail, correct + 1, total - correct)) if correct < total else 1.0
    return low, high


def sample_keys(ids: np.ndarray, seed: int) -> np.ndarray:
    """A pseudo-random 64-bit key per id (splitmix64 of id and seed): the same id and seed, the same key."""
    with np.errstate(over="ignore"):
        z = ids.astype(np.uint64) + np.uint64(seed & 0xFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def define_sample(ws: Workspace, per_code: int, *, seed: int = 1, coder: str | None = None) -> SampleDefinition:
    """Store the project's verification sample: ``per_code`` suggestions of each code of ``coder``.

    ``coder`` defaults to the machine coder that made the newest suggestion.
    """
    if per_code < 1:
        raise InvalidInput("--sample must be 1 or more (suggestions to draw of each code)")
    with ws.session() as session:
        coder_id = _coder_id(session, ws.project_id, coder)
        project = session.get(t.Project, ws.project_id)
        definition = SampleDefinition(per_code, seed, coder_id)
        project.settings = {**(project.settings or {}), SETTING: definition.__dict__}
    return definition


def stored_definition(ws: Workspace) -> SampleDefinition | None:
    with ws.session() as session:
        stored = (session.get(t.Project, ws.project_id).settings or {}).get(SETTING)
    return SampleDefinition(**stored) if stored else None


def verification_sample(ws: Workspace, definition: SampleDefinition | None = None) -> VerificationSample | None:
    """The stored (or given) sample with its decisions and per-code estimates; None when none was drawn."""
    definition = definition or stored_definition(ws)
    if definition is None:
        return None
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
        coder = session.get(t.Coder, definition.coder_id)
        if coder is None:
            return None
        top_of = {row.id: book.root_of(row.key) if row.key in book else row.key
                  for row in session.scalars(select(t.Code).join(t.Codebook)
                                             .where(t.Codebook.project_id == ws.project_id))}
        ids, code_ids = _suggestions(session, ws.project_id, definition.coder_id)
        keys = sample_keys(ids, definition.seed)
        tops = np.array([top_of.get(int(c), "") for c in code_ids], dtype=object)
        chosen: list[tuple[str, list[int], int]] = []
        for code in [c.id for c in book.top_level]:
            rows = np.flatnonzero(tops == code)
            first = rows[np.argsort(keys[rows], kind="stable")[:definition.per_code]]
            chosen.append((code, [int(i) for i in ids[first]], len(rows)))
        verdicts = _verdicts(session, [i for _, members, _ in chosen for i in members])
    codes, undecided = [], []
    for code, members, total in chosen:
        decided = [verdicts[i] for i in members if i in verdicts]
        codes.append(CodeEstimate(code, total, len(members), len(decided), sum(decided)))
        undecided += [i for i in members if i not in verdicts]
    return VerificationSample(definition, coder.name, codes, undecided)


def _coder_id(session: Session, project_id: int, name: str | None) -> int:
    query = (select(t.CodingEvent.coder_id).join(t.Coder, t.Coder.id == t.CodingEvent.coder_id)
             .where(t.CodingEvent.project_id == project_id, t.CodingEvent.action == "suggested",
                    t.Coder.kind == "machine"))
    if name:
        query = query.where(t.Coder.name == name)
    found = session.scalar(query.order_by(t.CodingEvent.id.desc()).limit(1))
    if found is None:
        raise InvalidInput(f"no suggestions of machine coder {name!r} to sample; run `chimeqda code` first" if name
                           else "no machine suggestions to sample; run `chimeqda code` first")
    return found


def _suggestions(session: Session, project_id: int, coder_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and code ids of every suggestion the coder made on the project's current documents."""
    result = session.execute(
        select(t.CodingEvent.id, t.CodingEvent.code_id)
        .join(t.Document, t.Document.id == t.CodingEvent.document_id)
        .where(t.CodingEvent.project_id == project_id, t.CodingEvent.coder_id == coder_id,
               t.CodingEvent.action == "suggested", t.Document.is_current.is_(True))
        .execution_options(yield_per=50_000)
    )
    ids, codes = [], []
    for chunk in result.partitions():
        block = np.array(chunk, dtype=np.int64).reshape(-1, 2)
        ids.append(block[:, 0])
        codes.append(block[:, 1])
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(ids), np.concatenate(codes)


def _verdicts(session: Session, suggestion_ids: Iterable[int]) -> dict[int, bool]:
    """Each decided suggestion's latest verdict: accepted (and not withdrawn since) or not."""
    ids = list(suggestion_ids)
    withdrawal = aliased(t.CodingEvent)
    verdicts: dict[int, bool] = {}
    for at in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(t.CodingEvent.decides_id, t.CodingEvent.action, withdrawal.id)
            .outerjoin(withdrawal, (withdrawal.decides_id == t.CodingEvent.id) & (withdrawal.action == "removed"))
            .where(t.CodingEvent.decides_id.in_(ids[at:at + CHUNK]),
                   t.CodingEvent.action.in_(("accepted", "rejected")))
            .order_by(t.CodingEvent.id)
        ).all()
        for suggestion, action, removed in rows:  # the newest decision wins
            if suggestion is not None:
                verdicts[suggestion] = action == "accepted" and removed is None
    return verdicts
