"""Time and peak memory of `chimeqda db copy` (a project database into a new, empty one).

    python benchmarks/copy_bench.py --project /tmp/scale-bench/corpus-100000-coded --to postgresql://…/newdb

Without ``--to`` it starts a PostgreSQL cluster of its own (scripts/postgres.sh) in a temporary
folder, copies into a new database there, and stops it. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def new_database(base: str) -> str:
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"copy_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def copy(project: Path, target: str) -> dict:
    from chimeqda.store.copy import copy_database
    from chimeqda.store.db import open_database, project_url

    source = open_database(project_url(project))
    start = time.perf_counter()
    result = copy_database(source, target)
    seconds = time.perf_counter() - start
    return {"rows": result.total, "tables": result.rows, "seconds": round(seconds, 1),
            "rows_per_s": round(result.total / seconds), "peak_mb": round(peak_mb()),
            "load": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--to", help="empty target database URL (default: a new database on a PostgreSQL "
                                     "cluster this script starts)")
    args = parser.parse_args()
    if args.to:
        print(json.dumps(copy(args.project, args.to)))
        return
    with tempfile.TemporaryDirectory(prefix="copy-bench-pg-") as folder:
        script = str(ROOT / "scripts" / "postgres.sh")
        base = subprocess.run(["bash", script, "start", folder], check=True, capture_output=True,
                              text=True).stdout.strip().splitlines()[-1]
        try:
            print(json.dumps(copy(args.project, new_database(base))))
        finally:
            subprocess.run(["bash", script, "stop", folder], check=False, capture_output=True)


if __name__ == "__main__":
    main()
