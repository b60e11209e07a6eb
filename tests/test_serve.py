"""The run command's server: ``manage.py serve`` brings up the ASGI server and a Celery worker on
embedded defaults (no external service), and Ctrl-C stops both, and the embedded Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
from django.conf import settings

from tests.conftest import free_port


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_serve_runs_web_and_worker_and_ctrl_c_stops_both(tmp_path):
    from arena.embedded import _answers

    port, chain_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DATABASE_NAME", "REDIS_URL", "ETH_RPC_URL")
    }
    env |= {"ARENA_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        serve = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "serve",
                "--no-model",
                "--no-seed",
                "--port",
                str(port),
                "--chain-port",
                str(chain_port),
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
        try:
            wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/"), 180, "the home page")
            wait_for(lambda: log_path.read_text().count("ready.") >= 2, 120, "both workers")
            children = psutil.Process(serve.pid).children(recursive=True)
            names = " ".join(" ".join(c.cmdline()) for c in children)
            assert "daphne" in names
            # Bookkeeping (with beat) apart from the model queues, so it never waits on them.
            assert "--beat --schedule" in names and "-Q default -n bookkeeping@" in names
            assert "-Q rollout,judge,train -n models@" in names
            assert _answers(tmp_path / "var" / "redis.sock")

            os.killpg(serve.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
            assert serve.wait(timeout=60) == 0, log_path.read_text()[-3000:]
        finally:
            if serve.poll() is None:
                os.killpg(serve.pid, signal.SIGKILL)
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [c.pid for c in alive]
    assert not _answers(tmp_path / "var" / "redis.sock")
    assert not http_ok(f"http://127.0.0.1:{port}/")
