"""Benchmark: wall time and peak memory of `chimeqda demo` (model load included).

Runs the demo in a fresh child process, as a user would, N times, and writes
the section `docs/benchmarks-demo.md`. Not a test.

    .venv/bin/python benchmarks/demo_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHIMEQDA = Path(sys.executable).parent / "chimeqda"


def one_run(coder: str | None, cache_dir: str | None = None) -> tuple[float, float]:
    """One demo in a child process; ``cache_dir`` set to an empty folder makes it a first run."""
    out = Path(tempfile.mkdtemp(prefix="chimeqda-demo-bench-")) / "demo"
    env = dict(os.environ, **({"CHIMEQDA_CACHE_DIR": cache_dir} if cache_dir else {}))
    args = [str(CHIMEQDA), "demo", "--out", str(out)] + (["--coder", coder] if coder else [])
    started = time.perf_counter()
    # a fresh interpreter per run, so the RSS of this child is the demo's alone
    wrapper = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", wrapper, *args], check=True, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    shutil.rmtree(out.parent, ignore_errors=True)
    return seconds, int(done.stdout.strip()) / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--coder", default=None, help="coder for the demo (default: the default coder)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-demo.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as empty_cache:
        cold_seconds, cold_peak = one_run(args.coder, empty_cache)  # a machine's first run: nothing cached
    one_run(args.coder)  # make sure the user's cache is warm, as on any later run
    results = [one_run(args.coder) for _ in range(args.runs)]
    times = [r[0] for r in results]
    peaks = [r[1] for r in results]
    command = f".venv/bin/python benchmarks/demo_bench.py --runs {args.runs}" + (f" --coder {args.coder}" if args.coder else "")
    text = f"""## Demo: wall time and peak memory

`{command}` — {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},
{time.strftime('%Y-%m-%d')}. Each run is `chimeqda demo` in a fresh process (model load,
init, import of 10 transcripts, machine coding with the {args.coder or 'default'} coder,
review against the reference, analysis, report).

| run | runs | wall time median (s) | min–max (s) | peak RSS median (MB) | target |
|---|---|---|---|---|---|
| first run on a machine (empty embedding and model cache) | 1 | {cold_seconds:.1f} | | {cold_peak:.0f} | |
| later runs (bank embeddings and codebook-only fit cached) | {args.runs} | {statistics.median(times):.1f} | {min(times):.1f}–{max(times):.1f} | {statistics.median(peaks):.0f} | < 30 s, < 1,500 MB |

The first run embeds the codebook's example bank with MiniLM (the e5 vectors
of the built-in codebook ship with the package) and fits the default coder on
it once; both are cached under `~/.cache/chimeqda` (keyed by encoder, coder
parameters and codebook version), so every later run — of the demo or of
`chimeqda code` on any project with the same codebook — starts from them.
"""
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
