"""Benchmark: what the answer-code sandbox costs, side by side in one run.

Three ways to run the same (code, test) pairs, each timed over the same jobs:

1. **bare**: one plain ``python -I -S`` process per pair that runs the code and the test in one
   namespace (what main did before the sandbox, minus its rlimits): the floor.
2. **sandboxed**: ``judges.kinds.code_tests.run_jobs``, the real thing: two bubblewrap sandboxes
   per pair, answer and test apart, every name a proxy over a pipe.
3. **calls**: inside the sandbox, a test that calls the answer's function in a loop: round trips
   per second across the two sandboxes.

    python bench/sandbox_bench.py [--jobs 40] [--parallel 1 4] [--calls 20000] [--json]

Prints ms per pair for bare and sandboxed, their ratio, and calls per second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")

CODE = "def add(a, b):\n    return a + b\n"
TEST = "assert add(2, 3) == 5"


def bare(jobs: int, parallel: int) -> float:
    program = f"exec({CODE!r}, g := {{}})\nexec({TEST!r}, g)\n"
    started = time.monotonic()
    running: list[subprocess.Popen] = []
    for _ in range(jobs):
        if len(running) >= parallel:
            running.pop(0).wait()
        running.append(subprocess.Popen([sys.executable, "-I", "-S", "-c", program], env={}))
    for proc in running:
        proc.wait()
    return (time.monotonic() - started) / jobs


def sandboxed(jobs: int, parallel: int) -> float:
    from judges.kinds.code_tests import run_jobs

    started = time.monotonic()
    results = run_jobs([(CODE, TEST)] * jobs, timeout_s=10, parallel=parallel)
    assert all(r.passed for r in results), results[0]
    return (time.monotonic() - started) / jobs


def calls_per_second(calls: int) -> float:
    from judges.kinds.code_tests import run_tests

    test = f"for i in range({calls}):\n    assert add(i, 1) == i + 1\n"
    started = time.monotonic()
    (result,) = run_tests(CODE, [test], timeout_s=10)
    assert result.passed, result
    return calls / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    sandboxed(2, 1)  # the probe, once
    rows = []
    for parallel in args.parallel:
        b, s = bare(args.jobs, parallel), sandboxed(args.jobs, parallel)
        rows.append(
            {"parallel": parallel, "bare_ms": b * 1000, "sandboxed_ms": s * 1000, "ratio": s / b}
        )
    out = {"jobs": args.jobs, "rows": rows, "calls_per_s": calls_per_second(args.calls)}
    if args.json:
        print(json.dumps(out))
        return
    for row in rows:
        print(
            f"parallel {row['parallel']}: bare {row['bare_ms']:.0f} ms/pair, sandboxed "
            f"{row['sandboxed_ms']:.0f} ms/pair, ratio {row['ratio']:.2f}"
        )
    print(f"answer calls across the sandboxes: {out['calls_per_s']:.0f}/s")


if __name__ == "__main__":
    main()
