"""Machine coding on a real Dask cluster: same rows as the local engine, resumable, workers never touch the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpora import corpus_rows, write_jsonl
from sqlalchemy import select

from chimeqda.services import init_project, run_coder
from chimeqda.services.corpus import import_corpus
from chimeqda.services.distributed import run_coder_dask, unfinished_runs
from chimeqda.store import tables as t

distributed = pytest.importorskip("distributed")

SRC = Path(__file__).resolve().parents[2] / "src"
ENV = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


@pytest.fixture(scope="module")
def client():
    """A real two-worker LocalCluster (worker processes with nannies)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


def _project(tmp_path, name, db_url, rows):
    db = db_url if name == "dask" else f"sqlite:///{tmp_path / (name + '.sqlite3')}"
    ws = init_project(tmp_path / name, db=db)
    import_corpus(ws, write_jsonl(tmp_path / f"{name}.jsonl", rows))
    return ws


def _suggestions(ws):
    """The stored suggestions without their run ids and times: what the two engines must agree on."""
    with ws.session() as session:
        return sorted(session.execute(
            select(t.Document.name, t.Segment.index, t.CodingEvent.start, t.CodingEvent.end, t.Code.key,
                   t.Coder.name, t.Coder.params_hash, t.CodingEvent.score, t.CodingEvent.evidence,
                   t.CodingEvent.action)
            .join(t.Document, t.Document.id == t.CodingEvent.document_id)
            .join(t.Segment, t.Segment.id == t.CodingEvent.segment_id)
            .join(t.Code, t.Code.id == t.CodingEvent.code_id)
            .join(t.Coder, t.Coder.id == t.CodingEvent.coder_id)).all())


def _flags(ws):
    """The stored review flags without run ids and times ("empty means unsure": services.review)."""
    with ws.session() as session:
        return sorted((name, index, key, coder, score, level, sorted(scores.items()))
                      for name, index, key, coder, score, level, scores in session.execute(
            select(t.Document.name, t.Segment.index, t.Code.key, t.Coder.name, t.ReviewFlag.score,
                   t.ReviewFlag.level, t.ReviewFlag.scores)
            .join(t.Document, t.Document.id == t.ReviewFlag.document_id)
            .join(t.Segment, t.Segment.id == t.ReviewFlag.segment_id)
            .join(t.Code, t.Code.id == t.ReviewFlag.code_id)
            .join(t.Coder, t.Coder.id == t.ReviewFlag.coder_id)).all())


def _coverage(ws):
    with ws.session() as session:
        return sorted(session.execute(select(t.Document.name, t.CoderRun.run_id)
                                      .join(t.Document, t.Document.id == t.CoderRun.document_id)).all())


def _no_duplicates(ws):
    with ws.session() as session:
        pairs = session.execute(select(t.CodingEvent.segment_id, t.CodingEvent.code_id)).all()
        assert len(pairs) == len(set(pairs))
        runs = session.execute(select(t.CoderRun.run_id, t.CoderRun.document_id)).all()
        assert len(runs) == len(set(runs))


def _same_as_local(local, dask, run, *, score_tolerance=0.0):
    expected, found = _suggestions(local), _suggestions(dask)
    assert expected
    if score_tolerance:  # embeddings of other batches differ in the last float32 bits
        assert [row[:7] + row[8:] for row in found] == [row[:7] + row[8:] for row in expected]
        assert max(abs(a[7] - b[7]) for a, b in zip(found, expected)) <= score_tolerance
        flags, local_flags = _flags(dask), _flags(local)
        assert [f[:4] for f in flags] == [f[:4] for f in local_flags]
        assert all(abs(a[4] - b[4]) <= score_tolerance for a, b in zip(flags, local_flags))
    else:
        assert found == expected
        assert _flags(dask) == _flags(local)
    assert [name for name, _ in _coverage(dask)] == [name for name, _ in _coverage(local)]
    assert {run_id for _, run_id in _coverage(dask)} == {run.run_id}
    with dask.session() as session:
        assert set(session.scalars(select(t.CodingEvent.run_id))) == {run.run_id}
        assert set(session.scalars(select(t.ReviewFlag.run_id))) <= {run.run_id}
    _no_duplicates(dask)
    assert unfinished_runs(dask) == {}


def test_dask_engine_writes_what_the_local_engine_writes(client, tmp_path, db_url):
    rows = corpus_rows(80)
    local, dask = _project(tmp_path, "local", db_url, rows), _project(tmp_path, "dask", db_url, rows)
    strict = {"min_hits": 2}  # one term is not enough: such sentences get no suggestion, but a review flag
    expected = run_coder(local, "lexicon", params=strict)
    seen = []
    run = run_coder_dask(dask, "lexicon", params=strict, client=client, partition_segments=40,
                         advance=lambda done, total: seen.append((done, total)))
    assert (run.segments, run.suggestions, run.skipped_existing) == (expected.segments, expected.suggestions, 0)
    assert run.coder == expected.coder
    assert run.flagged == expected.flagged > 0  # segments left empty although a code is fairly likely
    assert seen[-1][0] == seen[-1][1] and len(seen) > 3
    _same_as_local(local, dask, run)
    again = run_coder_dask(dask, "lexicon", params=strict, client=client, partition_segments=40)
    assert again.suggestions == 0 and again.skipped_existing == run.suggestions  # as run_coder does
    local_again = run_coder(local, "lexicon", params=strict)
    assert again.flagged == local_again.flagged == run.flagged  # a new run flags the still-empty segments again
    assert _flags(dask) == _flags(local)


def test_a_stopped_run_resumes_with_its_run_id_and_codes_only_what_is_missing(client, tmp_path, db_url):
    rows = corpus_rows(80, seed=3)
    local, dask = _project(tmp_path, "local", db_url, rows), _project(tmp_path, "dask", db_url, rows)
    expected = run_coder(local, "lexicon")

    def crash(done, total):
        if done >= total // 3:
            raise KeyboardInterrupt  # the researcher pressed Ctrl-C, or the laptop went to sleep

    with pytest.raises(KeyboardInterrupt):
        run_coder_dask(dask, "lexicon", client=client, partition_segments=30, advance=crash)
    stopped = _coverage(dask)
    assert stopped and len(unfinished_runs(dask)) == 1
    run = run_coder_dask(dask, "lexicon", client=client, partition_segments=30)
    assert run.run_id == stopped[0][1]
    assert 0 < run.segments < expected.segments  # only the missing part was coded
    _same_as_local(local, dask, run)


def test_a_worker_killed_mid_run_loses_nothing(client, tmp_path, db_url):
    rows = corpus_rows(120, seed=5)
    local, dask = _project(tmp_path, "local", db_url, rows), _project(tmp_path, "dask", db_url, rows)
    run_coder(local, "lexicon")
    killed = []

    def kill_a_worker(done, total):
        if done and not killed:
            pids = client.run(os.getpid)
            address, pid = sorted(pids.items())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(address)

    messages = []
    run = run_coder_dask(dask, "lexicon", client=client, partition_segments=20, advance=kill_a_worker,
                         progress=messages.append)
    assert killed
    _same_as_local(local, dask, run)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_a_cluster_of_dask_scheduler_and_dask_worker_processes(tmp_path, db_url):
    dask_cli = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler_file = tmp_path / "scheduler.json"
    processes = [subprocess.Popen(dask_cli + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                              "--scheduler-file", str(scheduler_file)], env=ENV,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        for _ in range(2):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file),
                 "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"], env=ENV,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        import json

        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        with distributed.Client(address, timeout="30s") as probe:
            probe.wait_for_workers(2, timeout=60)
        rows = corpus_rows(50, seed=11)
        local, dask = _project(tmp_path, "local", db_url, rows), _project(tmp_path, "dask", db_url, rows)
        run_coder(local, "lexicon")
        run = run_coder_dask(dask, "lexicon", scheduler=address, partition_segments=25)
        _same_as_local(local, dask, run)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_an_unreachable_scheduler_is_named(tmp_path, workspace):
    from chimeqda.errors import InvalidInput

    with pytest.raises(InvalidInput, match="tcp://127.0.0.1:9.*dask scheduler"):
        run_coder_dask(workspace, "lexicon", scheduler="tcp://127.0.0.1:9")


@pytest.mark.slow
def test_the_default_coder_on_dask_equals_the_local_engine(client, tmp_path, db_url):
    rows = corpus_rows(15, seed=2)
    local, dask = _project(tmp_path, "local", db_url, rows), _project(tmp_path, "dask", db_url, rows)
    expected = run_coder(local)
    run = run_coder_dask(dask, client=client, partition_segments=20)
    assert run.coder == expected.coder and run.suggestions == expected.suggestions
    assert run.flagged == expected.flagged
    _same_as_local(local, dask, run, score_tolerance=1e-6)


def test_selective_coding_on_dask_equals_the_local_engine(client, tmp_path, db_url):
    """`code --precision P --engine dask`: the local engine's suggestions, flags, count left and check."""
    from click.testing import CliRunner

    from chimeqda.cli import main

    rows = corpus_rows(80, seed=7)
    local, dask = _project(tmp_path, "local", db_url, rows), _project(tmp_path, "dask", db_url, rows)
    plain = _project(tmp_path, "plain", db_url, rows)
    everything = run_coder(plain, "lexicon")
    expected = run_coder(local, "lexicon", precision=0.7)
    run = run_coder_dask(dask, "lexicon", client=client, partition_segments=40, precision=0.7)
    assert 0 < expected.suggestions < everything.suggestions  # the rule leaves the less sure codes out
    assert (run.segments, run.suggestions, run.flagged) == (expected.segments, expected.suggestions, expected.flagged)
    assert run.left_for_review == expected.left_for_review > 0
    assert run.precision == 0.7 and run.coder == expected.coder and run.coder.params["precision"] == 0.7
    assert run.precision_check == expected.precision_check
    assert all(row[7] >= 0.7 for row in _suggestions(dask))
    _same_as_local(local, dask, run)

    # The command line: no refusal any more, the same report as the local engine.
    other = _project(tmp_path, "cli", db_url, rows)
    args = ["code", "-p", str(tmp_path / "cli"), "--db", f"sqlite:///{tmp_path / 'cli.sqlite3'}", "--coder", "lexicon",
            "--precision", "0.7"]
    said = CliRunner().invoke(main, [*args, "--scheduler", client.scheduler.address])
    assert said.exit_code == 0, said.output
    assert f"{expected.left_for_review} of {expected.segments} segments left for you" in said.output
    assert expected.precision_check.message() in said.output
    assert _suggestions(other) == _suggestions(local) and _flags(other) == _flags(local)


def _worker_threads(dask_worker):
    import sys

    from threadpoolctl import threadpool_info

    torch = sys.modules.get("torch")
    return (dask_worker.state.nthreads, torch.get_num_threads() if torch else None,
            sorted({pool["num_threads"] for pool in threadpool_info()}))


@pytest.mark.slow
def test_each_worker_encodes_with_its_own_threads_not_every_core(client, tmp_path, db_url):
    """Two workers on one machine each computing with all its cores oversubscribe them: the
    default coder's encoders (torch, BLAS, OpenMP) use the worker's thread count (1 here)."""
    dask = _project(tmp_path, "dask", db_url, corpus_rows(6, seed=4))
    run = run_coder_dask(dask, client=client, partition_segments=3)  # the default coder: MiniLM on the workers
    assert run.segments > 0
    for nthreads, torch_threads, pools in client.run(_worker_threads).values():
        assert nthreads == 1
        assert torch_threads in (None, 1)  # None: a worker that got no partition never loaded torch
        assert pools == [1] or torch_threads is None
    assert any(torch_threads == 1 for _, torch_threads, _ in client.run(_worker_threads).values())
