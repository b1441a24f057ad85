"""Bytes sent for the document view (not a test): with and without gzip.

Builds the same synthetic project as ``web_bench.py`` (a 300,000-character
transcript; 2,220 codings by default, a quarter of them machine suggestions)
on SQLite, opens ``/api/documents/{id}`` in process, and counts the bytes of
the response body as sent, once without ``Accept-Encoding`` and once with
``gzip``. Writes a markdown section to stdout (or ``--output``).

    .venv/bin/python benchmarks/payload_bench.py --output /tmp/payload.md
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_bench import build_project  # noqa: E402

from chimeqda.services import accounts  # noqa: E402
from chimeqda.web import create_app  # noqa: E402
from chimeqda.web.security import SESSION_COOKIE  # noqa: E402


def measure(chars: int, codings: int) -> dict:
    from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp:
        ws, doc_id, people, info = build_project(Path(tmp), None, chars, codings, 2)
        with ws.session() as session:
            token, _ = accounts.start_session(session, people["coder01"][0])
        client = TestClient(create_app(ws.engine), base_url="https://testserver")
        client.cookies.set(SESSION_COOKIE, token)
        sizes = {}
        for label, encoding in (("identity", "identity"), ("gzip", "gzip")):
            response = client.get(f"/api/documents/{doc_id}", headers={"Accept-Encoding": encoding})
            response.raise_for_status()
            sizes[label] = response.num_bytes_downloaded
            sizes[f"{label}_encoding"] = response.headers.get("content-encoding", "none")
        payload = response.json()
        parts = {key: len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
                 for key, value in payload.items()}
        ws.engine.dispose()
    return {**info, **sizes, "events": len(payload["events"]), "parts": parts}


def markdown(result: dict, command: str) -> str:
    parts = ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sorted(result["parts"].items(), key=lambda kv: -kv[1])
                      if v >= 1024)
    return "\n".join([
        "## Web: bytes sent for the document view",
        "",
        f"`{command}` — a {result['characters']:,}-character transcript with {result['events']:,} coding events "
        f"(SQLite, in process).",
        "",
        "| response | bytes sent |",
        "|---|---|",
        f"| `/api/documents/{{id}}` without compression | {result['identity'] / 1024:.0f} KiB |",
        f"| the same with `Accept-Encoding: gzip` (every browser) | {result['gzip'] / 1024:.0f} KiB "
        f"(`Content-Encoding: {result['gzip_encoding']}`) |",
        "",
        f"Largest parts of the JSON: {parts}. The transcript text itself is most of it; "
        "events are compact arrays (id, start, end, code, coder, action, decides, score, evidence) "
        "and only suggestions carry evidence (at most 300 characters).",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chars", type=int, default=300_000)
    parser.add_argument("--codings", type=int, default=2_220)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    command = "benchmarks/payload_bench.py" + (f" --chars {args.chars}" if args.chars != 300_000 else "") + (
        f" --codings {args.codings}" if args.codings != 2_220 else "")
    text = markdown(measure(args.chars, args.codings), command)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
