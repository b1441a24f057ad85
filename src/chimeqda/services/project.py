"""Creating and opening projects; storing codebooks and coders."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from chimeqda.codebook import load_codebook
from chimeqda.coders.base import params_hash
from chimeqda.errors import Conflict, ProjectError, UnknownObject
from chimeqda.model import Code as CodeModel
from chimeqda.model import Codebook as CodebookModel
from chimeqda.model import CoderInfo, Example, LabelledText
from chimeqda.store import tables as t
from chimeqda.store.db import DB_FILE, open_database, project_url, transaction
from chimeqda.store.queries import first_codebook_id

CONFIG_FILE = "chimeqda.toml"


@dataclass
class Workspace:
    """An open project: the database engine and the project's row id."""

    engine: Engine
    project_id: int
    directory: Path | None = None

    def session(self, *, lock: bool = False):
        """A transaction: committed when the block ends, rolled back on error.

        ``lock``: hold the project's write lock for the whole transaction, so
        that writers of the same things (two imports started at once) run one
        after the other (see :func:`chimeqda.store.db.transaction`).
        """
        return transaction(self.engine, lock=self.project_id if lock else None)

    def kept_vectors(self):
        """A block in which encoders keep this project's segment vectors in ``<project>/cache``.

        Safe to delete (it is re-made on the next run); nothing is kept for a
        workspace without a folder.
        """
        from chimeqda.coders.encoders import kept_vectors

        return kept_vectors(self.directory / "cache" if self.directory else None)


def init_project(
    directory: Path | str,
    *,
    name: str | None = None,
    db: str | None = None,
    codebook: str = "chime-d",
    research_question: str = "",
) -> Workspace:
    """Create a project folder (and database) with a codebook; refuses an existing project."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ProjectError(f"{directory} exists and is not a folder")
    _refuse_existing_folder(directory, db)
    directory.mkdir(parents=True, exist_ok=True)
    url = project_url(directory, db)
    name = name or directory.resolve().name
    engine = open_database(url, create=True)
    with transaction(engine) as session:
        if session.scalar(select(t.Project).where(t.Project.name == name)) is not None:
            raise ProjectError(
                f"a project named {name!r} already exists in {directory}; open it, or choose another name"
            )
        book = load_codebook(codebook)
        project = t.Project(name=name, research_question=research_question or _question(book))
        session.add(project)
        session.flush()
        store_codebook(session, project.id, book, source=str(codebook))
        project_id = project.id
    if not (directory / CONFIG_FILE).exists():
        (directory / CONFIG_FILE).write_text(
            f'# chimeqda project folder\nproject = "{_toml_escape(name)}"\n', encoding="utf-8"
        )
    return Workspace(engine=engine, project_id=project_id, directory=directory)


def _refuse_existing_folder(directory: Path, db: str | None) -> None:
    """A folder that already holds a project (its chimeqda.toml, or its database) gets no second one."""
    config = directory / CONFIG_FILE
    if config.is_file():
        match = re.search(r'^project\s*=\s*"(.*)"\s*$', config.read_text("utf-8", errors="replace"), re.M)
        named = f"project {_unescape(match.group(1))!r}" if match else "a project"
        raise ProjectError(f"{directory} already holds {named} ({config}); open it with `-p {directory}`, "
                           "or create the new project in another folder")
    database = directory / DB_FILE
    if database.exists() and db is None and not os.environ.get("CHIMEQDA_DATABASE_URL"):
        raise ProjectError(f"{directory} already holds a project database ({database}); open it with "
                           f"`-p {directory}`, or create the new project in another folder")


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\")


def _question(book: CodebookModel) -> str:
    """The codebook's research question, the default for a new project's."""
    return book.research_question


def _toml_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def open_project(
    directory: Path | str | None = None, *, db: str | None = None, project: str | None = None
) -> Workspace:
    """Open the project in ``directory`` (or at ``db``); ``project`` picks one of several by name."""
    directory = Path(directory) if directory is not None else None
    if directory is not None and db is None and not (directory / DB_FILE).exists():
        if not os.environ.get("CHIMEQDA_DATABASE_URL"):
            raise ProjectError(
                f"{directory} is not a chimeqda project folder (no {DB_FILE}); "
                f"create one with `chimeqda init {directory}`"
            )
    engine = open_database(project_url(directory, db))
    if project is None and directory is not None and (directory / CONFIG_FILE).exists():
        match = re.search(r'^project\s*=\s*"(.*)"\s*$', (directory / CONFIG_FILE).read_text("utf-8"), re.M)
        if match:
            project = _unescape(match.group(1))
    with transaction(engine) as session:
        query = select(t.Project)
        if project is not None:
            query = query.where(t.Project.name == project)
        rows = session.scalars(query.order_by(t.Project.id)).all()
        if not rows:
            raise ProjectError(f"no project named {project!r} in this database" if project else "no project in this database")
        if len(rows) > 1:
            names = ", ".join(r.name for r in rows)
            raise ProjectError(f"this database holds several projects ({names}); choose one with --project")
        return Workspace(engine=engine, project_id=rows[0].id, directory=directory)


def refuse_superseded(session: Session, document_ids: Iterable[int]) -> None:
    """Refuse to change the codings of a document version that a newer version replaced.

    A superseded version and its coding events are kept unchanged (a page opened
    before a re-import would otherwise code the old text without notice). Paths
    that deliberately carry codings over to the new version (revisions) do not
    come through here.
    """
    ids = sorted(set(document_ids))
    if not ids:
        return
    old = session.execute(
        select(t.Document.project_id, t.Document.name, t.Document.version)
        .where(t.Document.id.in_(ids), t.Document.is_current.is_(False)).order_by(t.Document.id)
    ).first()
    if old is None:
        return
    newest = session.scalar(select(func.max(t.Document.version)).where(
        t.Document.project_id == old.project_id, t.Document.name == old.name))
    raise Conflict(f"{old.name} version {old.version}: this document has a newer version (version {newest}); "
                   "reload to code it")


# ---------------------------------------------------------------- codebooks


def store_codebook(session: Session, project_id: int, book: CodebookModel, source: str = "") -> t.Codebook:
    """Add a codebook to a project; a codebook with the same id is replaced only if unused."""
    existing = session.scalar(
        select(t.Codebook).where(t.Codebook.project_id == project_id, t.Codebook.key == book.id)
    )
    if existing is not None:
        raise ProjectError(f"the project already has a codebook {book.id!r}")
    row = t.Codebook(
        project_id=project_id,
        key=book.id,
        name=book.name,
        version=book.version,
        description=book.description,
        languages=list(book.languages),
        source=source,
    )
    session.add(row)
    session.flush()
    for position, code in enumerate(book.codes):
        session.add(
            t.Code(
                codebook_id=row.id,
                key=code.id,
                parent_key=code.parent,
                position=position,
                name=code.name,
                definition=code.definition,
                inclusion=code.inclusion,
                exclusion=code.exclusion,
                color=code.color,
                data={
                    "examples": [[e.text, e.lang] for e in code.examples],
                    "counter_examples": [[e.text, e.lang] for e in code.counter_examples],
                    "keywords": {k: list(v) for k, v in code.keywords.items()},
                    "translations": {k: dict(v) for k, v in code.translations.items()},
                },
            )
        )
    session.flush()
    return row


def project_codebook(session: Session, project_id: int, key: str | None = None) -> tuple[t.Codebook, CodebookModel]:
    """The project's codebook (the first one unless ``key`` names another) as row and model.

    The model carries the built-in example bank when the codebook is a built-in one
    of the same version.
    """
    if key:
        row = session.scalars(
            select(t.Codebook).where(t.Codebook.project_id == project_id, t.Codebook.key == key).order_by(t.Codebook.id)
        ).first()
        if row is None:
            raise UnknownObject(f"the project has no codebook {key!r}")
    else:
        row = session.get_one(t.Codebook, first_codebook_id(session, project_id))
    codes = session.scalars(select(t.Code).where(t.Code.codebook_id == row.id).order_by(t.Code.position)).all()
    bank: tuple[LabelledText, ...] = ()
    try:
        from chimeqda.codebook import BUILTIN, builtin_codebook

        if row.key in BUILTIN:
            shipped = builtin_codebook(row.key)
            if shipped.version == row.version:
                bank = shipped.bank
    except Exception:  # noqa: BLE001 - the bank is optional knowledge
        bank = ()
    model = CodebookModel(
        id=row.key,
        name=row.name,
        version=row.version,
        description=row.description,
        languages=tuple(row.languages or ("en",)),
        bank=bank,
        codes=tuple(
            CodeModel(
                id=c.key,
                name=c.name,
                definition=c.definition,
                inclusion=c.inclusion,
                exclusion=c.exclusion,
                parent=c.parent_key,
                color=c.color,
                examples=tuple(Example(x, lang) for x, lang in c.data.get("examples", [])),
                counter_examples=tuple(Example(x, lang) for x, lang in c.data.get("counter_examples", [])),
                keywords={k: tuple(v) for k, v in c.data.get("keywords", {}).items()},
                translations=c.data.get("translations", {}),
            )
            for c in codes
        ),
    )
    return row, model


def code_ids(session: Session, codebook_id: int) -> dict[str, int]:
    """Map code key → row id for a codebook."""
    return dict(session.execute(select(t.Code.key, t.Code.id).where(t.Code.codebook_id == codebook_id)).all())


def coder_row(session: Session, info: CoderInfo) -> t.Coder:
    """The coders row for ``info``, created on first use."""
    digest = params_hash(dict(info.params))
    row = session.scalar(
        select(t.Coder).where(
            t.Coder.kind == info.kind,
            t.Coder.name == info.name,
            t.Coder.version == info.version,
            t.Coder.params_hash == digest,
        )
    )
    if row is None:
        row = t.Coder(kind=info.kind, name=info.name, version=info.version, params=dict(info.params), params_hash=digest)
        session.add(row)
        session.flush()
    return row


def human(name: str) -> CoderInfo:
    return CoderInfo(kind="human", name=name)
