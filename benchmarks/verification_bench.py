"""Time and peak memory of drawing a verification sample (`review --sample`) on a large project.

    python benchmarks/verification_bench.py --project /tmp/scale-bench/corpus-1000000-coded --per-code 100

Draws the sample (stores its definition in the project's settings) and computes its estimate,
in this process; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--per-code", type=int, default=100)
    args = parser.parse_args()
    from chimeqda.services import open_project
    from chimeqda.services.verification import define_sample, verification_sample

    ws = open_project(args.project)
    start = time.perf_counter()
    define_sample(ws, args.per_code)
    sample = verification_sample(ws)
    seconds = time.perf_counter() - start
    print(json.dumps({"suggestions": sum(c.suggestions for c in sample.codes),
                      "sampled": sum(c.sampled for c in sample.codes), "seconds": round(seconds, 1),
                      "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "load": os.getloadavg()}))


if __name__ == "__main__":
    main()
