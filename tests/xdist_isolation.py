"""Each pytest-xdist worker gets its own var directory (SQLite database, embedded Redis, media)
and its own Redis database, before Django reads its settings.

Loaded as a plugin (``-p tests.xdist_isolation`` in pyproject's addopts), so this module runs
while pytest reads its options: xdist has set ``PYTEST_XDIST_WORKER`` ("gw0", "gw1", ...) by then
and Django has not loaded the settings yet. PostgreSQL needs nothing here: pytest-django already
gives each worker its own test database (``test_<name>_gw<N>``). Without xdist this does nothing.

Why separate Redis databases: tests with real Celery workers purge and consume the broker's
queues, and the channel-layer tests listen on groups; two test processes sharing one Redis
database would take each other's messages.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def _redis_url_for(url: str, index: int) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return url  # a unix socket URL names no database here; the embedded one is per var dir
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + index}"))


def isolate(environ: dict[str, str] = os.environ) -> None:
    worker = environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    index = int(worker.removeprefix("gw"))
    var = environ.get("ARENA_VAR_DIR") or str(ROOT / "var")
    environ["ARENA_VAR_DIR"] = f"{var.rstrip('/')}-{worker}"
    if environ.get("REDIS_URL"):
        environ["REDIS_URL"] = _redis_url_for(environ["REDIS_URL"], index)


isolate()
