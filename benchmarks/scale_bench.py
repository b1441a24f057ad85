"""Large corpora: corpus import and machine coding on a Dask LocalCluster (docs/benchmarks.md, "Large corpora").

Each measurement runs in its own process so its peak memory (``ru_maxrss``) is its own:

    python benchmarks/scale_bench.py import --rows 1000000 --out /tmp/scale/1m
    python benchmarks/scale_bench.py code --project /tmp/scale/1m --coder lexicon --workers 2
    python benchmarks/scale_bench.py code --project /tmp/scale/5k --coder ensemble --workers 1 --fresh
    python benchmarks/scale_bench.py code --project /tmp/scale/5k --coder ensemble --engine local --fresh
    python benchmarks/scale_bench.py all --sizes 100000,300000,1000000 --default-size 20000 --root /tmp/scale

``import`` writes a synthetic JSONL corpus (one sentence per row, so rows = segments) and
imports it into a new SQLite project; ``code`` codes a project with ``--engine dask`` and
reports wall time, segments/s per worker, the client's and each worker's peak memory and the
load average during the run (progress on stderr); ``--fresh`` codes a copy of the project;
``--engine local`` times ``run_coder`` in one process instead.
``all`` runs the series and prints a Markdown table. Synthetic text only.

Analysis of a large project (``chimeqda analyse`` and ``report`` counted by the database):

    python benchmarks/scale_bench.py seed --project /tmp/scale/1m --out /tmp/scale/1m-coded
    python benchmarks/scale_bench.py analyse --project /tmp/scale/1m-coded --what report
    python benchmarks/scale_bench.py analyses --sizes 100000,300000,1000000 --root /tmp/scale
    python benchmarks/scale_bench.py parts --project /tmp/scale/1m-coded

``seed`` copies an imported project and writes synthetic coding events in bulk (each segment a
machine suggestion, one in ten a second one; a person decides every suggestion of the first
200 documents: about 1.1 events a segment); ``analyse`` runs one ``chimeqda analyse``
table or the report in its own process; ``analyses`` runs them all for each size; ``parts`` times
each part of the large report alone (where the report's time goes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

SENTENCES = [
    "I found hope again after a long winter.", "My friends at the group support me every week.",
    "I feel connected to the people in my meetings.", "Recovery is my own journey and I own it.",
    "I have a purpose now, I volunteer at the shelter.", "The weather was grey and the bus was late.",
    "I was so ashamed and felt hopeless for years.", "Ik voel me weer verbonden met mijn vrienden.",
    "Er is weer hoop voor de toekomst.", "My sister calls me every day.", "I cook dinner on Sundays.",
    "Nobody believed I could change, but I did.",
]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_corpus(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(rows):
            text = f"{rng.choice(SENTENCES)[:-1]}, says post {i}."
            handle.write(json.dumps({"id": f"p{i}", "text": text, "lang": "en", "forum": rng.choice("abc")}) + "\n")


def cmd_import(args: argparse.Namespace) -> dict:
    from chimeqda.services import init_project
    from chimeqda.services.corpus import import_corpus

    out = Path(args.out)
    corpus = out.with_suffix(".jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    if not corpus.exists():
        write_corpus(corpus, args.rows)
    ws = init_project(out)
    start = time.perf_counter()
    result = import_corpus(ws, corpus, chunk_size=args.chunk_size)
    seconds = time.perf_counter() - start
    return {"rows": result.rows, "imported": result.imported, "segments": result.segments, "seconds": seconds,
            "rows_per_s": result.rows / seconds, "peak_mb": peak_mb(), "file_mb": corpus.stat().st_size / 1e6}


def cmd_code(args: argparse.Namespace) -> dict:
    from contextlib import nullcontext

    from distributed import Client, LocalCluster

    from chimeqda.services import open_project
    from chimeqda.services.distributed import run_coder_dask

    ws = open_project(args.project)
    if args.engine == "local":  # the same coder in this process (run_coder), for comparison
        from chimeqda.services.coding import run_coder

        start, load = time.perf_counter(), os.getloadavg()[0]
        run = run_coder(ws, args.coder, learn_from_decisions=False)
        seconds = time.perf_counter() - start
        return {"coder": args.coder, "engine": "local", "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), "segments": run.segments, "suggestions": run.suggestions,
                "seconds": seconds, "per_s": run.segments / seconds, "peak_mb": peak_mb(),
                "load_start_end": [load, os.getloadavg()[0]]}
    cluster = nullcontext(args.scheduler) if args.scheduler else LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster as target, Client(target) as client:
        client.wait_for_workers(args.workers, timeout=120)
        start, loads = time.perf_counter(), [os.getloadavg()[0]]

        def advance(done: int, total: int) -> None:  # progress and the machine's load, to stderr
            loads.append(os.getloadavg()[0])
            print(f"{time.perf_counter() - start:7.1f} s  {done}/{total} segments  load {loads[-1]:.1f}",
                  file=sys.stderr, flush=True)

        run = run_coder_dask(ws, args.coder, client=client, partition_segments=args.partition,
                             learn_from_decisions=False, advance=advance)
        seconds = time.perf_counter() - start
        loads.append(os.getloadavg()[0])
        workers_mb = sorted(v / 1024 for v in client.run(
            lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss).values())
        # CPU seconds the workers spent (model loading included): a figure other jobs on the cores do not change much
        workers_cpu = sorted(client.run(lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])).values())
    return {"coder": args.coder, "workers": args.workers, "segments": run.segments, "suggestions": run.suggestions,
            "seconds": seconds, "per_worker_per_s": run.segments / seconds / args.workers,
            "client_peak_mb": peak_mb(), "worker_peak_mb": workers_mb, "worker_cpu_s": workers_cpu,
            "client_cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
            "load_min_median_max": [min(loads), sorted(loads)[len(loads) // 2], max(loads)]}


def _code_copy(project: Path, *argv: str) -> dict:
    """Code a fresh copy of ``project`` (every run writes all its suggestions)."""
    copy = project.with_name(project.name + "-coding")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(project, copy)
    try:
        return _child("code", "--project", str(copy), *argv)
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def _child(*argv: str) -> dict:
    output = subprocess.run([sys.executable, __file__, *argv], check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def cmd_all(args: argparse.Namespace) -> dict:
    root = Path(args.root)
    results: dict = {"imports": [], "codes": []}
    for size in [int(s) for s in args.sizes.split(",") if s]:
        project = root / f"corpus-{size}"
        if not (project / "chimeqda.sqlite3").exists():
            results["imports"].append(_child("import", "--rows", str(size), "--out", str(project)))
            print(json.dumps(results["imports"][-1]), file=sys.stderr)
        for workers in ([1, 2] if size == min(int(s) for s in args.sizes.split(",")) else [2]):
            results["codes"].append(_code_copy(project, "--coder", "lexicon", "--workers", str(workers)))
            print(json.dumps(results["codes"][-1]), file=sys.stderr)
    if args.default_size:
        project = root / f"corpus-{args.default_size}"
        if not (project / "chimeqda.sqlite3").exists():
            results["imports"].append(_child("import", "--rows", str(args.default_size), "--out", str(project)))
        results["codes"].append(_code_copy(project, "--coder", "ensemble", "--workers", "2", "--partition", "2000"))
        print(json.dumps(results["codes"][-1]), file=sys.stderr)
    return results


REVIEWED = 200
"""Documents whose suggestions the synthetic person decides (the double-coded sample agreement is computed on)."""

ANALYSES = {
    "frequencies": ["analyse", "frequencies"],
    "cooccurrence (window 1)": ["analyse", "cooccurrence", "--window", "1"],
    "by-attribute forum": ["analyse", "by-attribute", "--attribute", "forum"],
    "quotes": ["analyse", "quotes"],
    "matrix": ["analyse", "matrix"],
    "report": ["report", "--include-suggested"],
}


def cmd_seed(args: argparse.Namespace) -> dict:
    """Copy an imported project and write synthetic coding events (see the module docstring)."""
    from sqlalchemy import func, insert, select

    from chimeqda.model import CoderInfo
    from chimeqda.services import open_project
    from chimeqda.services.project import coder_row, human
    from chimeqda.store import tables as t

    source, out = Path(args.project), Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(source, out)
    ws = open_project(out)
    rng = random.Random(3)
    start = time.perf_counter()
    with ws.session() as session:
        codes = session.execute(select(t.Code.key, t.Code.id).join(t.Codebook, t.Codebook.id == t.Code.codebook_id)
                                .where(t.Codebook.project_id == ws.project_id)).all()
        leaves = [code_id for key, code_id in codes if "." in key]
        machine = coder_row(session, CoderInfo(kind="machine", name="bench-coder", version="1", params={})).id
        person = coder_row(session, human("ann")).id
        first_doc = session.scalar(select(func.min(t.Document.id)).where(t.Document.project_id == ws.project_id))
        rows: list[dict] = []
        query = select(t.Segment.id, t.Segment.document_id, t.Segment.start, t.Segment.end).join(
            t.Document, t.Document.id == t.Segment.document_id).where(t.Document.project_id == ws.project_id)
        for segment_id, document_id, begin, end in session.execute(query).yield_per(50_000):
            for code in rng.sample(leaves, 2 if rng.random() < 0.1 else 1):
                rows.append({"project_id": ws.project_id, "document_id": document_id, "segment_id": segment_id,
                             "start": begin, "end": end, "code_id": code, "coder_id": machine,
                             "action": "suggested", "score": round(rng.random(), 3), "evidence": "",
                             "run_id": "bench"})
            if len(rows) >= 50_000:
                session.execute(insert(t.CodingEvent), rows)
                rows = []
        if rows:
            session.execute(insert(t.CodingEvent), rows)
        reviewed = session.execute(select(t.CodingEvent.id, t.CodingEvent.document_id, t.CodingEvent.segment_id,
                                          t.CodingEvent.start, t.CodingEvent.end, t.CodingEvent.code_id)
                                   .where(t.CodingEvent.project_id == ws.project_id,
                                          t.CodingEvent.document_id < first_doc + REVIEWED)).all()
        session.execute(insert(t.CodingEvent), [
            {"project_id": ws.project_id, "document_id": doc, "segment_id": seg, "start": begin, "end": end,
             "code_id": code, "coder_id": person, "action": "accepted" if rng.random() < 0.6 else "rejected",
             "decides_id": event_id, "evidence": ""}
            for event_id, doc, seg, begin, end, code in reviewed])
        events = session.scalar(select(func.count()).select_from(t.CodingEvent)
                                .where(t.CodingEvent.project_id == ws.project_id))
    return {"project": str(out), "events": int(events or 0), "seconds": time.perf_counter() - start,
            "peak_mb": peak_mb()}


def cmd_analyse(args: argparse.Namespace) -> dict:
    """One ``chimeqda analyse`` table or the report of a project, its output thrown away."""
    import contextlib
    import io
    import tempfile

    from chimeqda.cli import main as cli

    os.environ.setdefault("CHIMEQDA_LARGE_PROJECT", "50000")  # the database's path at every size measured
    argv = [*ANALYSES[args.what], "-p", args.project]
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        if args.what == "report":
            argv += ["--out", folder, "--allow-unpseudonymised"]
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(argv, standalone_mode=False)
        seconds = time.perf_counter() - start
    return {"what": args.what, "seconds": seconds, "peak_mb": peak_mb(), "load": load}


def cmd_parts(args: argparse.Namespace) -> dict:
    """Each part of the large report timed alone, in this process (wall time, peak memory so far, load)."""
    os.environ.setdefault("CHIMEQDA_LARGE_PROJECT", "50000")
    from chimeqda.services import framework, open_project, reporting, review
    from chimeqda.services import large_report as lr
    from chimeqda.services import sql_tables as sql
    from chimeqda.services.frames import participants_frame
    from chimeqda.services.project import project_codebook

    ws = open_project(args.project)
    with ws.session() as session:
        _, book = project_codebook(session, ws.project_id)
    people = participants_frame(ws)
    parts = {
        "agreement": lambda: framework.agreement_section(ws, None, level="root", n_boot=500),
        "framework": lambda: lr.large_framework(ws, book, people, include_suggested=True),
        "saturation": lambda: lr._saturation_frames(ws, book, True),
        "attribute comparison": lambda: lr.large_attribute_comparison(ws, book, people, include_suggested=True),
        "calibration (decisions, coverage)": lambda: reporting.calibration_section(ws),
        "coverage only": lambda: review.coverage_summary(ws),
        "frequencies": lambda: sql.sql_code_frequencies(ws, book, include_suggested=True),
        "frequencies, all levels": lambda: sql.sql_code_frequencies(ws, book, level="all", include_suggested=True),
        "cooccurrence": lambda: sql.sql_cooccurrence_counts(ws, book, window=1, level="root", include_suggested=True),
        "pending counts": lambda: lr._pending_counts(ws, True),
        "participant matrix": lambda: sql.sql_participant_matrix(ws, book, include_suggested=True),
        "quotes": lambda: sql.sql_quotes(ws, book, n=3, include_suggested=True),
    }
    for attribute in [c for c in people.columns if c != "participant"] + sql.document_attribute_names(ws):
        parts[f"by-attribute {attribute}"] = (
            lambda a=attribute: sql.sql_frequencies_by_attribute(ws, book, a, include_suggested=True))
    results = []
    for name, part in parts.items():
        load = os.getloadavg()[0]
        start = time.perf_counter()
        part()
        results.append({"part": name, "seconds": round(time.perf_counter() - start, 2), "load": round(load, 1),
                         "peak_mb": round(peak_mb())})
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    return {"parts": results}


def cmd_analyses(args: argparse.Namespace) -> dict:
    root = Path(args.root)
    results: dict = {"seeds": [], "analyses": []}
    for size in [int(s) for s in args.sizes.split(",") if s]:
        project, coded = root / f"corpus-{size}", root / f"corpus-{size}-coded"
        if not (project / "chimeqda.sqlite3").exists():
            _child("import", "--rows", str(size), "--out", str(project))
        if not (coded / "chimeqda.sqlite3").exists():
            results["seeds"].append({"size": size, **_child("seed", "--project", str(project), "--out", str(coded))})
            print(json.dumps(results["seeds"][-1]), file=sys.stderr)
        for what in ANALYSES:
            results["analyses"].append({"size": size, **_child("analyse", "--project", str(coded), "--what", what)})
            print(json.dumps(results["analyses"][-1]), file=sys.stderr)
    return results


def cmd_netns(args: argparse.Namespace) -> dict:
    """Each worker in its own network namespace, joined over a veth pair to a scheduler on the host side.

    Worker i lives in namespace ``cqbench{i}`` with address 10.213.{i}.2; the host side of its
    veth pair is 10.213.{i}.1; the scheduler listens on 10.213.1.1. All addresses exist only
    inside this machine, made and removed by this command.
    """
    def sh(*cmd: str) -> None:
        subprocess.run(cmd, check=True)

    spaces = [f"cqbench{i}" for i in range(1, args.workers + 1)]
    processes: list[subprocess.Popen] = []
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    try:
        for i, ns in enumerate(spaces, start=1):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", f"cqh{i}", "type", "veth", "peer", "name", f"cqw{i}")
            sh("ip", "link", "set", f"cqw{i}", "netns", ns)
            sh("ip", "addr", "add", f"10.213.{i}.1/24", "dev", f"cqh{i}")
            sh("ip", "link", "set", f"cqh{i}", "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"10.213.{i}.2/24", "dev", f"cqw{i}")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", f"cqw{i}", "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            sh("ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", f"10.213.{i}.1")
        address = "tcp://10.213.1.1:8786"
        processes.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                                           "10.213.1.1", "--port", "8786", "--no-dashboard"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(3)
        for i, ns in enumerate(spaces, start=1):
            processes.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, "-m", "distributed.cli.dask_worker", address,
                 "--host", f"10.213.{i}.2", "--nthreads", "1", "--no-dashboard"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        result = _code_copy(Path(args.project), "--scheduler", address, "--workers", str(args.workers))
        result["hosts"] = [f"10.213.{i}.2" for i in range(1, args.workers + 1)]
        return result
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        for i, ns in enumerate(spaces, start=1):
            subprocess.run(["ip", "link", "del", f"cqh{i}"], check=False, capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("import")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--out", required=True)
    p.add_argument("--chunk-size", type=int, default=1000)
    p = sub.add_parser("code")
    p.add_argument("--project", required=True)
    p.add_argument("--coder", default="lexicon")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--partition", type=int, default=5000)
    p.add_argument("--scheduler", help="an existing cluster (see `netns`) instead of a LocalCluster")
    p.add_argument("--engine", choices=["dask", "local"], default="dask")
    p.add_argument("--fresh", action="store_true", help="code a fresh copy of the project (all suggestions written)")
    p = sub.add_parser("netns", help="workers in their own network namespaces (simulated hosts); as root")
    p.add_argument("--project", required=True)
    p.add_argument("--workers", type=int, default=2)
    p = sub.add_parser("seed", help="a copy of an imported project with synthetic coding events")
    p.add_argument("--project", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("analyse", help="one analyse table or the report, in this process")
    p.add_argument("--project", required=True)
    p.add_argument("--what", choices=list(ANALYSES), default="report")
    p = sub.add_parser("parts", help="each part of the large report timed alone, in this process")
    p.add_argument("--project", required=True)
    p = sub.add_parser("analyses", help="seed each size and run every analysis")
    p.add_argument("--sizes", default="100000,300000,1000000")
    p.add_argument("--root", default="/tmp/chimeqda-scale-bench")
    p = sub.add_parser("all")
    p.add_argument("--sizes", default="100000,300000,1000000")
    p.add_argument("--default-size", type=int, default=20_000)
    p.add_argument("--root", default="/tmp/chimeqda-scale-bench")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    commands = {"import": cmd_import, "code": cmd_code, "all": cmd_all, "netns": cmd_netns, "seed": cmd_seed,
                "analyse": cmd_analyse, "analyses": cmd_analyses, "parts": cmd_parts}
    if args.command == "code" and args.fresh:
        result = _code_copy(Path(args.project), "--coder", args.coder, "--workers", str(args.workers),
                            "--partition", str(args.partition), "--engine", args.engine)
    else:
        result = commands[args.command](args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
