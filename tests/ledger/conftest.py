"""Races between real OS processes on PostgreSQL, each with its own connection: both sides of it.

A test starts its racers with ``race`` (``python -m tests.ledger.<racer>``); each racer's
``main`` hands its own options and calls to ``racer_main``. Every racer says it is ready by
creating its ``--ready`` file, waits for the shared ``--go`` file (so all of them start
together and really race), and writes one JSON line per call to its ``--out`` file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import django
from django.conf import settings

from tests.conftest import wait_for_other_db_sessions_to_end, worker_env

# A row of a racer's output, and the ledger call whose outcome completes it.
Call = tuple[dict, Callable[[], object]]


def race(
    module: str, args_of: Callable[[int], list[str]], count: int, tmp_path: Path, *, timeout: float
) -> list[dict]:
    """Run ``count`` racers of ``module`` (racer ``i`` with the options ``args_of(i)``) on this
    test's database, release them together once all are ready, and return every row they
    wrote. A racer that does not start within 120 s, fails, or takes longer than ``timeout``
    seconds fails the test."""
    go = tmp_path / "go.flag"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                module,
                *args_of(i),
                "--out",
                str(tmp_path / f"out{i}.jsonl"),
                "--ready",
                str(tmp_path / f"ready{i}.flag"),
                "--go",
                str(go),
            ],
            env=worker_env(),
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(count)
    ]
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready{i}.flag").exists() for i in range(count)):
            assert time.monotonic() < deadline, "racers did not start"
            assert all(p.poll() is None for p in procs), [p.stdout.read() for p in procs]
            time.sleep(0.05)
        go.touch()  # released together, so they really race
        for proc in procs:
            output = proc.communicate(timeout=timeout)[0].decode()
            assert proc.returncode == 0, output
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        wait_for_other_db_sessions_to_end()
    return [
        json.loads(line)
        for i in range(count)
        for line in (tmp_path / f"out{i}.jsonl").read_text().splitlines()
    ]


def racer_main(
    parser: argparse.ArgumentParser, prepare: Callable[[argparse.Namespace], Iterable[Call]]
) -> None:
    """The body of a racer process. ``parser`` holds the racer's own options (--out, --ready
    and --go are added here); ``prepare(args)`` runs once Django is set up, loads what the calls
    need and returns them, lazily, as (row, call) pairs. After the start, each call is made and
    its row written with the id of the transfer it returned, or the name and message of the
    error it raised."""
    for flag in ("--out", "--ready", "--go"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    django.setup()
    calls = prepare(args)

    Path(args.ready).touch()
    while not os.path.exists(args.go):
        time.sleep(0.005)

    with open(args.out, "w") as out:
        for row, call in calls:
            try:
                row["transfer"] = call().pk
            except Exception as exc:  # noqa: BLE001 - every outcome is reported to the test
                row["error"] = type(exc).__name__
                row["detail"] = str(exc)
            out.write(json.dumps(row) + "\n")
