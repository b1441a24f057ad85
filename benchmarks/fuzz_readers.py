"""Benchmark: the readers' property tests (issue 17's standing guard) with many more examples.

Runs ``tests/ingest/test_ingest_properties.py`` and
``tests/interop/test_roundtrip_properties.py`` under the hypothesis profile
``deep`` (``--examples`` per test; CI runs the small ``ci`` profile) and
reports, per test, how many examples ran, how many imported and how many were
refused with an ``InvalidInput`` naming the file, and any failure (a lost
text or another exception; hypothesis prints the shrunk example). Exit
status 1 if any test failed. Not a test.

    .venv/bin/python benchmarks/fuzz_readers.py [--examples 1000] [-k EXPRESSION]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["tests/ingest/test_ingest_properties.py", "tests/interop/test_roundtrip_properties.py"]
_HEADER = re.compile(r"^(tests/\S+::\S+):$")
_COUNTS = re.compile(r"- (\d+) passing, (\d+) failing, and (\d+) invalid")
_EVENT = re.compile(r"\* ([\d.]+)%, (\w+)")


def parse(output: str) -> dict[str, dict[str, float]]:
    """Per test: examples (passing + failing, over all phases), failing, and event percentages."""
    tests: dict[str, dict[str, float]] = {}
    current: dict[str, float] | None = None
    for line in output.splitlines():
        header = _HEADER.match(line.strip())
        if header:
            current = tests.setdefault(header.group(1), {"examples": 0, "failing": 0})
            continue
        if current is None:
            continue
        counts = _COUNTS.search(line)
        if counts:
            current["examples"] += int(counts.group(1)) + int(counts.group(2))
            current["failing"] += int(counts.group(2))
        event = _EVENT.search(line)
        if event:
            current[event.group(2)] = float(event.group(1))
    return tests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples per test (default 1000)")
    parser.add_argument("-k", default="", help="pytest -k expression to run some tests only")
    args = parser.parse_args()
    env = {**os.environ, "HYPOTHESIS_PROFILE": "deep", "HYPOTHESIS_DEEP_EXAMPLES": str(args.examples),
           "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics",
               *TESTS, *(["-k", args.k] if args.k else [])]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    tests = parse(result.stdout)
    print(f"{'test':72} {'examples':>8} {'imported':>9} {'refused':>8} {'failing':>7}")
    total = 0.0
    for name, row in tests.items():
        total += row["examples"]
        imported = f"{row['imported']:.0f}%" if "imported" in row else "-"
        refused = f"{row['refused']:.0f}%" if "refused" in row else "-"
        print(f"{name.split('::', 1)[1][:72]:72} {row['examples']:>8.0f} {imported:>9} {refused:>8} "
              f"{row['failing']:>7.0f}")
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "no output"
    print(f"\n{total:.0f} examples in {seconds:.0f} s; pytest: {summary}")
    if result.returncode != 0:
        print(result.stdout[-20000:], result.stderr[-5000:], sep="\n")
    return 0 if result.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
