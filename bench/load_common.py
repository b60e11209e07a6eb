"""Pieces shared by the load benches (``load_api.py``, ``ws_fanout.py``, ``soak.py``): starting
and stopping the real server processes, waiting for them, and summarising latencies.

Nothing here imports Django or the project: the benches run the project in child processes
(``manage.py``, daphne, celery) so that what is measured is the real server, and so that the
bench's own process (a locust or websocket client) shares nothing with it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_var_dir(name: str) -> Path:
    """A new var directory under the checkout's ``var/`` (the project's convention for isolated
    runs: database, embedded Redis, media and logs of this run only)."""
    path = ROOT / "var" / f"{name}-{os.getpid()}-{int(time.time())}"
    path.mkdir(parents=True)
    return path


def latency_summary(values_ms: Sequence[float]) -> dict[str, float | int]:
    """count, p50, p99, max and mean of latencies in milliseconds (exact quantiles over all
    samples, the "inclusive" method: p99 of 100 samples is between the two largest)."""
    if not values_ms:
        return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}
    if len(values_ms) == 1:
        only = float(values_ms[0])
        return {"count": 1, "p50": only, "p99": only, "max": only, "mean": only}
    cuts = statistics.quantiles(values_ms, n=100, method="inclusive")
    return {
        "count": len(values_ms),
        "p50": round(cuts[49], 2),
        "p99": round(cuts[98], 2),
        "max": round(float(max(values_ms)), 2),
        "mean": round(statistics.fmean(values_ms), 2),
    }


def wait_until(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status < 500
    except OSError:
        return False


def manage(args: list[str], env: dict[str, str], *, check: bool = True, timeout: float = 900):
    """``manage.py <args>`` in a child process with ``env``; returns the CompletedProcess."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result


def ledger_audit(env: dict[str, str]) -> tuple[bool, dict]:
    """``manage.py ledger_audit --json``: (clean, report). Its exit status is 1 when a check
    fails."""
    result = manage(["ledger_audit", "--json"], env, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        report = {"error": (result.stdout + result.stderr)[-2000:]}
    return result.returncode == 0, report


def start(cmd: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """A child in its own session (so stopping it reaches its own children, e.g. Celery's pool),
    its output in ``log_path``."""
    handle = open(log_path, "ab")  # noqa: SIM115 - closed with the process in stop()
    process = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    process.log_handle = handle  # type: ignore[attr-defined]
    return process


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM to the child's process group (warm shutdown for Celery), SIGKILL after
    ``timeout``."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)
    handle = getattr(process, "log_handle", None)
    if handle is not None:
        handle.close()


def daphne_cmd(port: int) -> list[str]:
    """The web process exactly as ``manage.py serve`` starts it."""
    return [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "arena.asgi:application"]


def worker_cmd(schedule: Path, concurrency: int = 2) -> list[str]:
    """The worker (all queues, with beat) exactly as ``manage.py serve`` starts it."""
    return [
        PYTHON,
        "-m",
        "celery",
        "-A",
        "arena",
        "worker",
        "--beat",
        "--schedule",
        str(schedule),
        "-Q",
        "default,rollout,judge,train",
        "--loglevel",
        "INFO",
        "-c",
        str(concurrency),
    ]


def worker_ready(log_path: Path) -> bool:
    return log_path.exists() and "ready." in log_path.read_text(errors="replace")


def stop_embedded_redis(var_dir: Path) -> None:
    """Stop the embedded Redis a ``manage.py`` of this run started in ``var_dir`` (what
    ``arena.embedded.stop_redis`` does; read from its pid file so the bench needs no Django)."""
    pid_file = var_dir / "redis.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


def recreate_postgres_database(server_url: str, name: str) -> str:
    """Drop and create database ``name`` on the PostgreSQL server at ``server_url`` (a URL with
    or without a database); returns the new database's URL. For a bench's own database only."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    def with_db(db: str) -> str:
        return urlunsplit(urlsplit(server_url)._replace(path=f"/{db}"))

    with psycopg.connect(with_db("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_db(name)


def run_phase(script: Path, args: list[str], env: dict[str, str], timeout: float = 1200) -> dict:
    """``python <script> <args>`` in a child process with ``env`` (a bench's own phase, e.g.
    ``--phase setup``); returns the JSON object its last line of output prints."""
    result = subprocess.run(
        [PYTHON, str(script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args[:2])} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
