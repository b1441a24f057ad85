"""Benchmark the browser workspace (not a test).

On a synthetic 300,000-character transcript with 2,000 codings, on SQLite and
(with ``--pg``) PostgreSQL, through real HTTP to uvicorn on 127.0.0.1:

* applying a coding (``POST /api/documents/{id}/codings``): server time, median and p95;
* opening the document view (the page plus its JSON payload): server time, and
  the time until the page is usable in chromium (transcript rendered, codings drawn);
* concurrency (PostgreSQL): N simulated coders, each with their own login,
  apply M codings each at the same time; every acknowledged coding must be
  in the database afterwards.

Server time is measured by an ASGI wrapper around the app, from the request
arriving to the last byte of the response leaving (thread-pool waits included).

    .venv/bin/python benchmarks/web_bench.py --pg "$(bash scripts/postgres.sh start /tmp/pgbench)" \\
        --output docs/benchmarks-web.md
"""

from __future__ import annotations

import argparse
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "web"))
from live_server import chromium, free_port, have_chromium  # noqa: E402

from chimeqda.model import CoderInfo  # noqa: E402
from chimeqda.services import accounts, init_project  # noqa: E402
from chimeqda.services.importing import import_files  # noqa: E402
from chimeqda.services.project import coder_row, human  # noqa: E402
from chimeqda.store import tables as t  # noqa: E402
from chimeqda.web import create_app  # noqa: E402
from chimeqda.web.security import SESSION_COOKIE  # noqa: E402

WORDS = (
    "meeting sponsor family work hope future craving group day week friends trust home clean sober "
    "time help talk life job child mother father sister brother doctor therapy clinic relapse step "
    "believe feel think know want start stop try remember learn change story people together alone"
).split()


class ServerTimer:
    """ASGI wrapper adding ``Server-Timing: app;dur=<ms>`` (request in → response headers out;
    the body is rendered before the headers are sent, thread-pool waits included)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message):
            if message["type"] == "http.response.start":
                duration = (time.perf_counter() - started) * 1000
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"server-timing", f"app;dur={duration:.3f}".encode())]
            await send(message)

        await self.app(scope, receive, timed_send)


def server_ms(response) -> float:
    return float(response.headers["server-timing"].split("dur=")[1]) / 1000


@contextmanager
def server_process(url: str):
    """Run the app in its own process (so the load generator does not share its GIL)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", url, "--port", str(port)])
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the benchmark server did not start") from None
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def serve(url: str, port: int) -> None:
    import uvicorn

    uvicorn.run(ServerTimer(create_app(url, secure_cookies=False)), host="127.0.0.1", port=port, log_level="warning")


def _kind(method: str, path: str) -> str:
    if path.startswith("/api/documents/") and path.endswith("/codings"):
        return "apply"
    if path.startswith("/api/documents/") and path.count("/") == 3:
        return "payload"
    if "/documents/" in path and path.startswith("/projects/"):
        return "page"
    return "other"


def synthetic_transcript(chars: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    lines, size, turn = ["SYNTHETIC BENCHMARK TRANSCRIPT (no real participant)", ""], 0, 0
    while size < chars:
        speaker = "I" if turn % 2 == 0 else "R"
        sentences = []
        for _ in range(rng.randint(1, 2) if speaker == "I" else rng.randint(2, 6)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
            sentences.append(" ".join(words).capitalize() + rng.choice([".", ".", "?", "!"]))
        line = f"{speaker}: " + " ".join(sentences)
        lines.append(line)
        size += len(line) + 1
        turn += 1
    return "\n".join(lines)[:chars].rsplit(" ", 1)[0] + ".\n"


def _fresh_pg(base: str) -> tuple[str, callable]:
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"chimeqda_bench_{int(time.time())}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def build_project(folder: Path, db: str | None, chars: int, codings: int, coders: int):
    ws = init_project(folder / "project", name="Web benchmark", db=db)
    source = folder / "P01-benchmark.txt"
    source.write_text(synthetic_transcript(chars), encoding="utf-8")
    started = time.perf_counter()
    import_files(ws, [source])
    imported = time.perf_counter() - started
    rng = random.Random(11)
    with ws.session() as session:
        doc = session.scalars(select(t.Document)).one()
        segments = session.execute(select(t.Segment.id, t.Segment.start, t.Segment.end)
                                   .where(t.Segment.document_id == doc.id)).all()
        code_ids = session.scalars(select(t.Code.id)).all()
        people = {}
        for i in range(max(coders, 2)):
            name = f"coder{i + 1:02d}"
            user = accounts.add_user(session, name)
            accounts.grant(session, ws.project_id, user.id, "owner" if i == 0 else "coder")
            people[name] = (user.id, coder_row(session, human(name)).id)
        machine = coder_row(session, CoderInfo(kind="machine", name="bench-machine", version="1")).id
        rows = []
        for i in range(codings):
            a, b = sorted(rng.sample(range(len(segments)), 1) * 2)
            seg = segments[a]
            span_end = segments[min(b + rng.randint(0, 2), len(segments) - 1)].end
            suggested = i % 4 == 3
            rows.append({
                "project_id": ws.project_id, "document_id": doc.id, "segment_id": seg.id if suggested else None,
                "start": seg.start, "end": seg.end if suggested else span_end, "code_id": rng.choice(code_ids),
                "coder_id": machine if suggested else people[f"coder{rng.randint(1, 2):02d}"][1],
                "action": "suggested" if suggested else "accepted", "score": 0.5 if suggested else None,
                "evidence": "benchmark" if suggested else "",
            })
        session.execute(t.CodingEvent.__table__.insert(), rows)
        doc_id, length = doc.id, len(doc.text)
        n_segments = len(segments)
    return ws, doc_id, people, {"import_s": imported, "characters": length, "segments": n_segments}


def _login(ws, user_id: int) -> tuple[str, str]:
    with ws.session() as session:
        return accounts.start_session(session, user_id)


def _client(base: str, token: str, csrf: str) -> httpx.Client:
    return httpx.Client(base_url=base, cookies={SESSION_COOKIE: token}, headers={"X-CSRF-Token": csrf}, timeout=60)


def _stats(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    return {"median": statistics.median(ms), "p95": ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))],
            "n": len(ms)}


def bench_backend(label: str, db: str | None, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ws, doc_id, people, info = build_project(Path(tmp), db, args.chars, args.codings, args.coders)
        url = ws.engine.url.render_as_string(hide_password=False)
        result = {"label": label, **info}
        with server_process(url) as base:
            token, csrf = _login(ws, people["coder01"][0])
            client = _client(base, token, csrf)
            with ws.session() as session:
                segments = session.execute(select(t.Segment.start, t.Segment.end)
                                           .where(t.Segment.document_id == doc_id)).all()
                keys = session.scalars(select(t.Code.key)).all()
            rng = random.Random(3)
            applied, applied_rt = [], []
            for _ in range(args.apply_n + 20):
                seg = rng.choice(segments)
                started = time.perf_counter()
                response = client.post(f"/api/documents/{doc_id}/codings",
                                       json={"start": seg.start, "end": seg.end, "codes": [rng.choice(keys)]})
                applied_rt.append(time.perf_counter() - started)
                response.raise_for_status()
                applied.append(server_ms(response))
            result["apply"] = _stats(applied[20:])  # the first requests warm caches
            result["apply_rt"] = _stats(applied_rt[20:])
            opened, payloads, opened_rt = [], [], []
            for _ in range(args.open_n + 3):
                started = time.perf_counter()
                page = client.get(f"/projects/{ws.project_id}/documents/{doc_id}")
                page.raise_for_status()
                payload = client.get(f"/api/documents/{doc_id}")
                payload.raise_for_status()
                opened_rt.append(time.perf_counter() - started)
                opened.append(server_ms(page) + server_ms(payload))
                payloads.append(server_ms(payload))
            result["open_rt"] = _stats(opened_rt[3:])
            result["payload_kb"] = len(payload.content) / 1024
            result["events"] = len(payload.json()["events"])
            result["open"] = _stats(opened[3:])
            result["payload"] = _stats(payloads[3:])
            if have_chromium() and not args.no_browser:
                result["browser"] = _browser_ready(base, token, ws.project_id, doc_id, args.browser_n)
            if args.concurrent and label.startswith("PostgreSQL"):
                result["concurrent"] = _concurrent(ws, base, doc_id, people, segments, keys, args)
        ws.engine.dispose()
    return result


def _browser_ready(base: str, token: str, project_id: int, doc_id: int, repeats: int) -> dict[str, float]:
    times = []
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base}])
        page = context.new_page()
        for _ in range(repeats + 1):
            page.goto(f"{base}/projects/{project_id}/documents/{doc_id}")
            page.wait_for_selector("#docview[data-loaded='1']", timeout=60_000)
            times.append(float(page.get_attribute("#docview", "data-ready-at")) / 1000)
    return _stats(times[1:])


def _concurrent(ws, base, doc_id, people, segments, keys, args) -> dict:
    names = [f"coder{i + 1:02d}" for i in range(args.coders)]
    with ws.session() as session:
        before = session.scalar(select(func.count()).select_from(t.CodingEvent))
        last_id = session.scalar(select(func.max(t.CodingEvent.id))) or 0

    acknowledged: list[list[int]] = [[] for _ in names]
    errors: list[str] = []

    def work(index: int):
        token, csrf = _login(ws, people[names[index]][0])
        rng = random.Random(100 + index)
        with _client(base, token, csrf) as client:
            for _ in range(args.per_coder):
                seg = rng.choice(segments)
                try:
                    response = client.post(f"/api/documents/{doc_id}/codings",
                                           json={"start": seg.start, "end": seg.end, "codes": [rng.choice(keys)]})
                    response.raise_for_status()
                    acknowledged[index].append(response.json()["events"][0][0])
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors.append(repr(exc)[:200])

    started = time.perf_counter()
    with ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(work, range(len(names))))
    seconds = time.perf_counter() - started
    ids = [i for chunk in acknowledged for i in chunk]
    with ws.session() as session:
        after = session.scalar(select(func.count()).select_from(t.CodingEvent))
        stored = 0
        for start in range(0, len(ids), 5000):
            stored += session.scalar(select(func.count()).select_from(t.CodingEvent)
                                     .where(t.CodingEvent.id.in_(ids[start:start + 5000])))
        per_coder = dict(session.execute(
            select(t.Coder.name, func.count()).join(t.CodingEvent, t.CodingEvent.coder_id == t.Coder.id)
            .where(t.CodingEvent.id > last_id, t.Coder.name.in_(names))
            .group_by(t.Coder.name)).all())
    return {"coders": len(names), "per_coder": args.per_coder, "attempted": len(names) * args.per_coder,
            "acknowledged": len(ids), "stored": stored, "new_rows": after - before, "errors": len(errors),
            "first_error": errors[0] if errors else "", "seconds": seconds,
            "per_coder_min": min(per_coder.values()) if per_coder else 0}



TAGUETTE_PROJECT = r"""
import json, sys, random
from taguette import database
from taguette.convert import get_html_body
from taguette.extract import extract
spec = json.load(open(sys.argv[1], encoding="utf-8"))
db = database.connect("sqlite:///" + sys.argv[2])()
user = database.User(login="admin")
db.add(user)
project = database.Project(name="Web benchmark", description="")
db.add(project)
db.flush()
db.add(database.ProjectMember(project=project, user=user, privileges=database.Privileges.ADMIN))
tags = [database.Tag(project=project, path=path, description="") for path in spec["tags"]]
db.add_all(tags)
html = get_html_body(spec["html"])
doc = database.Document(name="P01-benchmark.txt", description="", filename="P01-benchmark.txt", project=project,
                        contents=html, text_direction=database.TextDirection.LEFT_TO_RIGHT)
db.add(doc)
db.flush()
rng = random.Random(11)
for start, end in spec["spans"]:  # UTF-8 byte offsets into the tag-stripped text (ASCII here)
    db.add(database.Highlight(document=doc, start_offset=start, end_offset=end, snippet="",
                              tags=[rng.choice(tags)]))
db.commit()
print(json.dumps({"project": project.id, "document": doc.id, "tags": [t.id for t in tags]}))
"""


def bench_taguette(args) -> dict | None:
    """The same document and number of highlights in Taguette (single-user mode, SQLite).

    Taguette exposes no server timing, so both tools are compared by client round trip."""
    import html as html_lib
    import json
    import re

    root = Path(__file__).resolve().parents[1]
    python, taguette = root / ".venv-taguette" / "bin" / "python", root / ".venv-taguette" / "bin" / "taguette"
    if not taguette.exists():
        return None
    text = synthetic_transcript(args.chars)
    lines = text.split("\n")
    html = "".join(f"<p>{html_lib.escape(line)}</p>" for line in lines)
    stripped = "".join(lines)  # Taguette offsets run over the text without the tags
    rng = random.Random(11)
    spans = []
    for _ in range(args.codings):
        start = rng.randrange(0, len(stripped) - 400)
        spans.append([start, start + rng.randint(40, 350)])
    with tempfile.TemporaryDirectory() as tmp:
        spec, db = Path(tmp) / "spec.json", Path(tmp) / "taguette.sqlite3"
        spec.write_text(json.dumps({"html": html, "spans": spans,
                                    "tags": ["connectedness", "hope", "identity", "meaning", "empowerment",
                                             "difficulties"]}), encoding="utf-8")
        made = json.loads(subprocess.run([str(python), "-c", TAGUETTE_PROJECT, str(spec), str(db)], check=True,
                                         capture_output=True, text=True).stdout.strip().splitlines()[-1])
        port = free_port()
        process = subprocess.Popen([str(taguette), "--no-browser", "-p", str(port), "-b", "127.0.0.1",
                                    "--database", str(db)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, env={**__import__("os").environ, "PYTHONUNBUFFERED": "1"})
        try:
            token = None
            deadline = time.time() + 60
            while token is None and time.time() < deadline:
                match = re.search(r"token=([0-9a-f]+)", process.stdout.readline())
                token = match.group(1) if match else None
            base = f"http://127.0.0.1:{port}"
            client = httpx.Client(base_url=base, timeout=60, follow_redirects=True)
            for _ in range(100):
                try:
                    client.get(f"/?token={token}")
                    break
                except httpx.ConnectError:
                    time.sleep(0.2)
            client.get(f"/project/{made['project']}")
            xsrf = client.cookies.get("_xsrf")
            project, document = made["project"], made["document"]
            applied, opened = [], []
            for _ in range(args.apply_n + 20):
                start = rng.randrange(0, len(stripped) - 400)
                started = time.perf_counter()
                response = client.post(
                    f"/api/project/{project}/document/{document}/highlight/new",
                    json={"start_offset": start, "end_offset": start + 120, "tags": [rng.choice(made["tags"])]},
                    headers={"X-XSRFToken": xsrf},
                )
                applied.append(time.perf_counter() - started)
                response.raise_for_status()
            for _ in range(args.open_n + 3):
                started = time.perf_counter()
                client.get(f"/project/{project}/document/{document}").raise_for_status()
                contents = client.get(f"/api/project/{project}/document/{document}/contents")
                contents.raise_for_status()
                highlights = client.get(f"/api/project/{project}/document/{document}")  # what the page loads
                highlights.raise_for_status()
                opened.append(time.perf_counter() - started)
            return {"apply_rt": _stats(applied[20:]), "open_rt": _stats(opened[3:]),
                    "payload_kb": (len(contents.content) + len(highlights.content)) / 1024,
                    "highlights": len(highlights.json().get("highlights", []))}
        finally:
            process.terminate()
            process.wait(timeout=20)


def markdown(results: list[dict], command: str, taguette: dict | None = None) -> str:
    lines = [
        "# Web workspace benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{__import__('os').cpu_count()} CPU cores shared with other jobs (load average "
        f"{__import__('os').getloadavg()[0]:.1f} at the end of the run), {time.strftime('%Y-%m-%d')}. "
        "Medians are stable from run to run; p95 values follow the machine's load.",
        "",
        "Synthetic transcript imported through the normal importer, plus existing codings "
        "(three quarters by two human coders on spans of one to three sentences, one quarter machine "
        "suggestions). Requests go over real HTTP to uvicorn on 127.0.0.1; server time is measured "
        "inside the server process (an ASGI wrapper: request in → response headers out, thread-pool waits included); the load generator runs in another process.",
        "",
        "| | " + " | ".join(r["label"] for r in results) + " | target |",
        "|---|" + "---|" * len(results) + "---|",
    ]

    def row(title, values, target=""):
        lines.append(f"| {title} | " + " | ".join(values) + f" | {target} |")

    row("transcript characters / segments", [f"{r['characters']:,} / {r['segments']:,}" for r in results])
    row("coding events sent to the browser", [f"{r['events']:,}" for r in results])
    row("apply a coding, server median", [f"{r['apply']['median']:.1f} ms" for r in results], "< 20 ms")
    row("apply a coding, server p95", [f"{r['apply']['p95']:.1f} ms" for r in results], "< 40 ms")
    row("open the document view, server median (page + JSON)", [f"{r['open']['median']:.1f} ms" for r in results],
        "< 100 ms")
    row("open the document view, server p95", [f"{r['open']['p95']:.1f} ms" for r in results])
    row("document JSON size", [f"{r['payload_kb']:.0f} KiB" for r in results])
    row("usable in chromium (navigation → rendered), median",
        [f"{r['browser']['median']:.0f} ms" if "browser" in r else "—" for r in results], "< 1 s")
    for r in results:
        c = r.get("concurrent")
        if not c:
            continue
        lines += [
            "",
            f"## Concurrent coders ({r['label']})",
            "",
            f"{c['coders']} simulated coders, each logged in with their own session, applied {c['per_coder']:,} "
            f"codings each at the same time ({c['attempted']:,} requests in {c['seconds']:.0f} s, "
            f"{c['attempted'] / c['seconds']:.0f} codings/s).",
            "",
            f"- acknowledged by the server: {c['acknowledged']:,}; errors: {c['errors']}",
            f"- found in the database afterwards: {c['stored']:,} (new rows: {c['new_rows']:,})",
            f"- lost: **{c['acknowledged'] - c['stored']}**; fewest stored for one coder: {c['per_coder_min']:,}",
        ]
        if c["first_error"]:
            lines.append(f"- first error: `{c['first_error']}`")
    if taguette:
        lines += [
            "",
            "## Side by side with Taguette 1.5.2",
            "",
            "The same synthetic transcript (one paragraph per line) and the same number of highlights, in "
            "Taguette's single-user mode on SQLite (`.venv-taguette`, made by `scripts/setup-taguette.sh`). "
            "Taguette reports no server time, so both are measured as client round trips over HTTP on 127.0.0.1.",
            "",
            "| round trip, median (p95) | " + " | ".join(f"chimeqda, {r['label']}" for r in results)
            + " | Taguette, SQLite |",
            "|---|" + "---|" * (len(results) + 1),
            "| apply a coding / highlight | " + " | ".join(
                f"{r['apply_rt']['median']:.1f} ms ({r['apply_rt']['p95']:.1f})" for r in results)
            + f" | {taguette['apply_rt']['median']:.1f} ms ({taguette['apply_rt']['p95']:.1f}) |",
            "| open the document (page + text + codings) | " + " | ".join(
                f"{r['open_rt']['median']:.1f} ms ({r['open_rt']['p95']:.1f})" for r in results)
            + f" | {taguette['open_rt']['median']:.1f} ms ({taguette['open_rt']['p95']:.1f}) |",
            "| data sent for the document | " + " | ".join(f"{r['payload_kb']:.0f} KiB" for r in results)
            + f" | {taguette['payload_kb']:.0f} KiB ({taguette['highlights']:,} highlights) |",
        ]
    else:
        lines += ["", "Taguette side by side: not run (no `.venv-taguette`; see `scripts/setup-taguette.sh`)."]
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="PostgreSQL server URL (a throwaway database is created on it)")
    parser.add_argument("--chars", type=int, default=300_000)
    parser.add_argument("--codings", type=int, default=2_000)
    parser.add_argument("--coders", type=int, default=20)
    parser.add_argument("--per-coder", type=int, default=1_000)
    parser.add_argument("--apply-n", type=int, default=300)
    parser.add_argument("--open-n", type=int, default=20)
    parser.add_argument("--browser-n", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-concurrent", dest="concurrent", action="store_false")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--no-taguette", dest="taguette", action="store_false",
                        help="Skip the side-by-side with Taguette (run when .venv-taguette exists).")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # internal: run the server process
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    results = []
    if not args.skip_sqlite:
        results.append(bench_backend("SQLite", None, args))
        print(results[-1], flush=True)
    if args.pg:
        url, drop = _fresh_pg(args.pg)
        try:
            results.append(bench_backend("PostgreSQL 15", url, args))
            print(results[-1], flush=True)
        finally:
            drop()
    taguette = bench_taguette(args) if args.taguette else None
    if taguette:
        print({"taguette": taguette}, flush=True)
    report = markdown(results, "python benchmarks/web_bench.py " + " ".join(
        a if not a.startswith("postgresql") else "$PG_URL" for a in sys.argv[1:]), taguette)
    if args.output:
        args.output.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    threading.current_thread().name = "web-bench"
    main()
