"""Machine coding on a Dask cluster (``chimeqda code --engine dask``).

Only this client touches the project database; workers only compute. The
client fits the coder as :func:`~chimeqda.services.coding.run_coder` does,
puts it on every worker once (a worker plugin, ``coders.remote``), reads the
segments in partitions of whole documents, keeps a few partitions in flight,
and writes each partition's suggestions with its ``coder_runs`` coverage in
one transaction, in bulk (``COPY`` on PostgreSQL, executemany elsewhere). The
rows are those ``run_coder`` writes for the same coder and data (same
provenance, same skipping of segments already suggested or decided, the same
review flags on segments left without a suggestion although a code is fairly
likely: ``services.review.flag_rows`` on the probabilities the workers send back).
With ``precision`` (``--precision``) the workers suggest on ``run_coder``'s selective
thresholds (``coders.calibration.selective_limits``) and count the segments they leave
for the researcher; the client checks the precision as ``run_coder`` does.

A run that stops (a crash, a killed client, Ctrl-C) is resumed by the same
command: the unfinished run's id is kept in the project's settings, and the
documents that run already covered are not coded again. A killed worker is
Dask's business: its partitions are recomputed elsewhere.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from chimeqda.coders.base import params_hash
from chimeqda.coders.calibration import check_precision, check_target
from chimeqda.coders.remote import CoderPlugin, code_partition
from chimeqda.errors import InvalidInput
from chimeqda.services.coding import (
    CodingRun,
    coverage_rows,
    document_partitions,
    fit_project_coder,
    project_segments,
    run_info,
    suggestion_rows,
)
from chimeqda.services.project import Workspace, code_ids, coder_row
from chimeqda.services.review import flag_level, flag_rows
from chimeqda.store import tables as t

ENGINES = ("local", "dask")
UNFINISHED = "unfinished_coding_runs"
"""Key of ``projects.settings`` holding unfinished distributed runs: resume key -> run id."""


def dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def dask_client(scheduler: str | None = None, workers: int = 2) -> Iterator[Any]:
    """A client of the cluster at ``scheduler``, else of a new ``LocalCluster`` of ``workers`` processes."""
    if not dask_available():
        raise InvalidInput("--engine dask needs Dask: pip install 'chimeqda[scale]'")
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InvalidInput(f"cannot reach the Dask scheduler ({exc}); is `dask scheduler` running there?",
                               source=scheduler) from None
        with client:
            yield client
        return
    if workers < 1:
        raise InvalidInput("--workers must be 1 or more")
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


def run_coder_dask(
    ws: Workspace,
    coder_name: str | None = None,
    *,
    params: dict | None = None,
    documents: Sequence[str] | None = None,
    include_interviewer: bool = False,
    learn_from_decisions: bool = True,
    scheduler: str | None = None,
    workers: int = 2,
    client: Any = None,
    partition_segments: int = 5000,
    progress: Callable[[str], None] | None = None,
    advance: Callable[[int, int], None] | None = None,
    precision: float | None = None,
) -> CodingRun:
    """:func:`~chimeqda.services.coding.run_coder` on a Dask cluster, resumable (see module docstring).

    ``client`` uses an open ``distributed.Client`` (else one is made from
    ``scheduler``/``workers``). ``advance(segments_done, segments_total)`` is
    called after each stored partition. ``precision``: as ``run_coder``'s (the
    workers apply the same selective thresholds); ``left_for_review`` counts the
    segments coded by this call (a resumed run's earlier part is not scored again).
    """
    if precision is not None:
        check_target(precision)
    with ws.kept_vectors():
        coder, codebook_id = fit_project_coder(ws, coder_name, params=params,
                                               learn_from_decisions=learn_from_decisions, progress=progress)
    info = run_info(coder, precision)
    with ws.session() as session:
        coder_id = coder_row(session, info).id
        code_id_of = code_ids(session, codebook_id)
        partitions = document_partitions(session, ws.project_id, documents, partition_segments)
        total = sum(n for _, _, n in partitions)
    resume_key = params_hash({"coder": coder_id, "codebook": codebook_id, "documents": sorted(documents or []),
                              "interviewer": include_interviewer})
    run_id = _start_run(ws, resume_key)
    if client is None:
        with dask_client(scheduler, workers) as own:
            run = run_coder_dask_on(own, ws, coder, info, coder_id, code_id_of, partitions, total, run_id,
                                    resume_key, documents, include_interviewer, progress, advance, precision)
    else:
        run = run_coder_dask_on(client, ws, coder, info, coder_id, code_id_of, partitions, total, run_id,
                                resume_key, documents, include_interviewer, progress, advance, precision)
    if precision is None:
        return run
    return dataclasses.replace(run, precision=precision, precision_check=check_precision(coder, precision))


def run_coder_dask_on(client, ws, coder, info, coder_id, code_id_of, partitions, total, run_id, resume_key,
                      documents, include_interviewer, progress, advance, precision=None) -> CodingRun:
    from distributed import as_completed

    plugin = CoderPlugin(run_id, coder)
    client.register_plugin(plugin, name=plugin.name)
    in_flight = max(2, 2 * len(client.scheduler_info().get("workers", {})))
    if progress:
        progress(f"coding {total} segments in {len(partitions)} partitions on {client.scheduler.address}")
    done = coded = suggested = skipped = flagged = left = 0
    level = flag_level(precision)
    pending = iter(partitions)
    futures = as_completed()
    pieces: dict[Any, _Piece] = {}

    def submit(piece: _Piece) -> None:
        # The segments go to a worker as scattered data, not inside the task: the scheduler
        # then holds only keys, and its memory stays flat however many partitions pass.
        for attempt in range(MAX_ATTEMPTS):
            try:
                [data] = client.scatter([piece.segments], hash=False)
                break
            except OSError:  # the worker chosen for it died just now: another one takes it
                if attempt + 1 == MAX_ATTEMPTS:
                    raise
                time.sleep(0.5)
        future = client.submit(code_partition, run_id, data, level, precision, pure=False)
        piece.data = data
        pieces[future] = piece
        futures.add(future)

    def submit_next() -> bool:
        nonlocal done
        for first, last, count in pending:
            with ws.session() as session:
                segments = _missing_segments(session, ws.project_id, run_id, documents, include_interviewer,
                                             (first, last))
            if not segments:
                done += count
                continue
            submit(_Piece((first, last), segments, count))
            return True
        return False

    try:
        for _ in range(in_flight):
            if not submit_next():
                break
        if advance:
            advance(done, total)
        for future in futures:
            piece = pieces.pop(future)
            try:
                suggestions, unsure, unsettled = future.result()
            except _lost_work_errors() as exc:  # a worker died with the partition's data: send it again
                piece.attempts += 1
                if piece.attempts > MAX_ATTEMPTS:
                    raise InvalidInput(f"the cluster lost documents {piece.ids[0]}–{piece.ids[1]} "
                                       f"{piece.attempts} times ({exc!r}); run the command again to resume") from exc
                if progress:
                    progress(f"a worker was lost; sending documents {piece.ids[0]}–{piece.ids[1]} again")
                submit(piece)
                continue
            finally:
                future.release()
                piece.data.release()
            with ws.session() as session:
                rows, skip, flags = _store_partition(session, ws.project_id, coder_id, code_id_of, run_id,
                                                     piece.ids, piece.segments, suggestions, unsure, level)
            suggested, skipped, flagged = suggested + rows, skipped + skip, flagged + flags
            left += unsettled
            coded, done = coded + len(piece.segments), done + piece.count
            if advance:
                advance(done, total)
            submit_next()
    finally:
        try:
            client.unregister_worker_plugin(plugin.name)
        except Exception:  # noqa: BLE001 - a cluster that is gone holds no plugin
            pass
    _finish_run(ws, resume_key)
    return CodingRun(run_id, info, coded, suggested, skipped, flagged=flagged,
                     left_for_review=left if precision is not None else None)


@dataclass
class _Piece:
    """A partition on its way through the cluster."""

    ids: tuple[int, int]
    segments: list
    count: int
    attempts: int = 0
    data: Any = None


@functools.cache
def _lost_work_errors() -> tuple[type[BaseException], ...]:
    """What a future raises when the workers holding its task or data died (cancelled, killed worker)."""
    from distributed.scheduler import KilledWorker

    return (CancelledError, KilledWorker)


MAX_ATTEMPTS = 5
"""How often one partition may be sent again after workers died with it."""


def _missing_segments(session: Session, project_id: int, run_id: str, documents: Sequence[str] | None,
                      include_interviewer: bool, ids: tuple[int, int]):
    """The partition's segments, less those of documents this run already covered."""
    covered = set(session.scalars(select(t.CoderRun.document_id).where(
        t.CoderRun.run_id == run_id, t.CoderRun.document_id.between(*ids))))
    segments = project_segments(session, project_id, documents=documents, include_interviewer=include_interviewer,
                                document_ids=ids)
    if not covered:
        return segments
    document_of: dict[object, int] = {seg: doc for seg, doc in session.execute(
        select(t.Segment.id, t.Segment.document_id).where(t.Segment.document_id.between(*ids)))}
    return [s for s in segments if document_of[s.key] not in covered]


def _store_partition(session: Session, project_id: int, coder_id: int, code_id_of: dict[str, int], run_id: str,
                     ids: tuple[int, int], segments: list, suggestions: list, unsure: dict,
                     level: float) -> tuple[int, int, int]:
    """Write one partition's suggestions, review flags and coverage (the caller's one transaction).

    Returns (suggestions written, skipped as already there, segments flagged). The flags are
    ``run_coder``'s: :func:`~chimeqda.services.review.flag_rows` on the partition's segments, with
    the probabilities the worker sent for those left without a suggestion (``unsure``).
    """
    keys = {s.key for s in segments}
    document_of = {seg: doc for seg, doc in session.execute(
        select(t.Segment.id, t.Segment.document_id).where(t.Segment.document_id.between(*ids))) if seg in keys}
    existing = set(session.execute(
        select(t.CodingEvent.segment_id, t.CodingEvent.code_id).where(
            t.CodingEvent.project_id == project_id, t.CodingEvent.document_id.between(*ids),
            t.CodingEvent.segment_id.is_not(None))).all())
    occupied = {segment_id for segment_id, _ in existing}
    rows, skipped = suggestion_rows(suggestions, segments, document_of, code_id_of, existing,
                                    project_id=project_id, coder_id=coder_id, run_id=run_id)
    flags = flag_rows(segments, [unsure.get(s.key, {}) for s in segments], {s.segment_key for s in suggestions},
                      occupied, document_of, code_id_of, level=level, project_id=project_id, coder_id=coder_id,
                      run_id=run_id)
    now = t.utcnow()
    for row in rows:
        row["created_at"] = now
        row.setdefault("decides_id", None)
    bulk_insert(session, t.table(t.CodingEvent), rows)
    for row in flags:
        row["created_at"] = now
    bulk_insert(session, t.table(t.ReviewFlag), flags)
    covered = sorted(set(document_of.values()))
    coverage = coverage_rows(covered, project_id=project_id, coder_id=coder_id, run_id=run_id)
    for row in coverage:
        row["created_at"] = now
    bulk_insert(session, t.table(t.CoderRun), coverage)
    return len(rows), skipped, len(flags)


def bulk_insert(session: Session, table, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys): ``COPY`` on PostgreSQL (psycopg), executemany elsewhere."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        columns = list(rows[0])
        json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
        names = ", ".join(f'"{c}"' for c in columns)
        raw = connection.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])
        return
    session.execute(insert(table), rows)


# -- the unfinished-run marker ------------------------------------------------------
def _start_run(ws: Workspace, key: str) -> str:
    """The id of the unfinished run with this key, or a new run id recorded as unfinished."""
    with ws.session() as session:
        project = session.get(t.Project, ws.project_id, with_for_update=True)
        settings = dict(project.settings or {})
        unfinished = dict(settings.get(UNFINISHED, {}))
        if key not in unfinished:
            unfinished[key] = uuid.uuid4().hex
            settings[UNFINISHED] = unfinished
            project.settings = settings
        return unfinished[key]


def _finish_run(ws: Workspace, key: str) -> None:
    with ws.session() as session:
        project = session.get(t.Project, ws.project_id, with_for_update=True)
        settings = dict(project.settings or {})
        unfinished = dict(settings.get(UNFINISHED, {}))
        unfinished.pop(key, None)
        settings[UNFINISHED] = unfinished
        project.settings = settings


def unfinished_runs(ws: Workspace) -> dict[str, str]:
    """Unfinished distributed runs of the project (resume key -> run id)."""
    with ws.session() as session:
        project = session.get(t.Project, ws.project_id)
        return dict((project.settings or {}).get(UNFINISHED, {}))
