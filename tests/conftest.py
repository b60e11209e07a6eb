"""Shared fixtures: personas (healthchecks style), service detection, a real Celery worker.

Personas: ``alice`` a player, ``bob`` a second player, ``carol`` a space creator, ``mallory`` an
outsider who must see nothing of the others'. ``tiny_base`` a default base model that is only a
tiny config, for tests that build adapters but never generate.

Service-dependent tests skip with a reason starting with ``needs service:``; ``.ci/run`` fails
when any such skip appears, because CI must run everything.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password

# Rate limits: raised for every test (autouse), as configured for tests of the limits.
from tests.throttle_fixtures import production_rate_limits, relaxed_rate_limits  # noqa: F401

SERVICE_SKIP = "needs service:"


@functools.cache
def password_hash(password: str) -> str:
    """One real PBKDF2 hash per persona password per test session: hashing costs about half a
    second by design, and the personas are made for most tests (the hash still checks as the
    password, in this process and in the servers the browser tests start)."""
    return make_password(password)


def persona(user_model, username: str, email: str, password: str, **extra):
    return user_model.objects.create(
        username=username, email=email, password=password_hash(password), **extra
    )


@pytest.fixture
def alice(django_user_model):
    return persona(django_user_model, "alice", "alice@example.com", "alice-pass-123")


@pytest.fixture
def bob(django_user_model):
    return persona(django_user_model, "bob", "bob@example.com", "bob-pass-123")


@pytest.fixture
def carol(django_user_model):
    from arena.services.accounts import user_make_creator

    user = persona(django_user_model, "carol", "carol@example.com", "carol-pass-123")
    user_make_creator(user=user)
    return user


@pytest.fixture
def mallory(django_user_model):
    return persona(django_user_model, "mallory", "m@example.com", "mallory-pass-123")


@pytest.fixture
def staff(django_user_model):
    return persona(
        django_user_model,
        "root",
        "root@example.com",
        "root-pass-123",
        is_staff=True,
        is_superuser=True,
    )


@pytest.fixture
def tiny_base(db, tmp_path):
    """A registered default base model that is only a tiny llama config: enough to build LoRA
    adapters (shapes only) in milliseconds without the real model, for tests that never
    generate."""
    from transformers import LlamaConfig

    from agents.models import BaseModel

    directory = tmp_path / "tiny-llama"
    LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=128,
    ).save_pretrained(directory)
    return BaseModel.objects.create(name="tiny", path=str(directory), is_default=True)


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(
        reason=f"{SERVICE_SKIP} PostgreSQL (set DATABASE_URL=postgres://...)"
    )
    skip_redis = pytest.mark.skip(reason=f"{SERVICE_SKIP} a Redis server (set REDIS_URL)")
    for item in items:
        if "postgres" in item.keywords and not settings.DB_IS_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and settings.REDIS_EMBEDDED:
            item.add_marker(skip_redis)


def pytest_sessionstart(session):
    # Settings only name the embedded Redis; this test session is a process that uses it.
    from arena.embedded import start_if_embedded

    start_if_embedded()


def pytest_sessionfinish(session, exitstatus):
    # The embedded Redis is a daemon (so web, worker and commands share it); a test session
    # started it for its own var dir, so it stops it too.
    if settings.REDIS_EMBEDDED:
        from arena.embedded import stop_redis

        stop_redis(settings.VAR_DIR)


def worker_env() -> dict[str, str]:
    """Environment for a process that must share this test session's database and Redis."""
    from django.db import connection

    env = os.environ.copy()
    env["DATABASE_NAME"] = str(connection.settings_dict["NAME"])
    env["REDIS_URL"] = settings.REDIS_URL
    env["ARENA_VAR_DIR"] = str(settings.VAR_DIR)
    env["PYTHONPATH"] = str(settings.BASE_DIR)
    return env


class WorkerProcess:
    """A real ``celery worker`` OS process, consuming every queue."""

    def __init__(self, log_path: Path, queues: str = "default,rollout,judge,train"):
        self.log_path = log_path
        self.queues = queues
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> WorkerProcess:

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "arena",
                "worker",
                "-Q",
                self.queues,
                "-c",
                "1",
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{uuid.uuid4().hex[:8]}@%h",
                "--loglevel",
                "INFO",
            ],
            env=worker_env(),
            cwd=settings.BASE_DIR,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()}")
            if " ready." in self.log_path.read_text():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"worker not ready in {timeout}s:\n{self.log_path.read_text()}")

    def kill(self, sig: int = 9) -> None:
        """Kill the worker *and its pool children* (a SIGKILLed machine takes both)."""
        import psutil

        if self.proc is None:
            return
        parent = psutil.Process(self.proc.pid)
        for child in parent.children(recursive=True):
            child.send_signal(sig)
        parent.send_signal(sig)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text()


def wait_for_other_db_sessions_to_end(timeout: float = 10.0) -> None:
    """After a subprocess exits, PostgreSQL ends its backend a moment later; until then the test
    database cannot be dropped at the end of the session. Wait for those backends to go."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """Start a real worker against this test's database (transactional_db: the worker is another
    connection, so data must be committed to be seen). Queues are purged first."""
    from arena.celery import app

    app.control.purge()
    worker = WorkerProcess(tmp_path / "worker.log").start()
    yield worker
    worker.stop()
    wait_for_other_db_sessions_to_end()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AsgiServer:
    def __init__(self, port: int):
        self.port = port
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"


@pytest.fixture
def asgi_server(transactional_db, tmp_path):
    """The real ASGI server (daphne) in its own process, on this test's database and Redis."""
    port = free_port()
    log_path = tmp_path / "daphne.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "arena.asgi:application",
        ],
        env=worker_env() | {"DEBUG": "true"},
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # Startup only (importing Django, channels and the apps): generous, since a loaded machine
    # running the suite on every core can take well over 30 s to bring a process up.
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(log_path.read_text()) from None
            time.sleep(0.1)
    yield AsgiServer(port)
    proc.terminate()
    proc.wait(timeout=20)
    log.close()
    wait_for_other_db_sessions_to_end()


# --- browser journeys: Debian's chromium driven by Playwright against the real ASGI server ------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def page(asgi_server, monkeypatch):
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs browser: chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API refuses to run inside a running event loop; pytest-django's async
    # guard checks for one too, so allow ORM calls from the test body meanwhile.
    # (monkeypatch: the variable must not leak into later tests' subprocesses).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(base_url=asgi_server.http)
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        context.close()
        browser.close()
