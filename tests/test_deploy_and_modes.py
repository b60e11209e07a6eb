import os
import subprocess
import sys
from pathlib import Path

import redis
from django.conf import settings

from arena.embedded import ensure_redis


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        # Each run with its own ARENA_VAR_DIR starts an embedded Redis daemon there.
        if "REDIS_URL" not in env and "ARENA_VAR_DIR" in env:
            from arena.embedded import stop_redis

            stop_redis(Path(env["ARENA_VAR_DIR"]))


def test_it_passes_check_deploy_with_production_variables(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"} | {
        "DEBUG": "false",
        "SECRET_KEY": "k3y-" + "x9Q!" * 16,
        "ALLOWED_HOSTS": "arena.example.org",
        "ARENA_VAR_DIR": str(tmp_path),
    }
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_it_refuses_to_start_without_a_secret_in_production(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SECRET_KEY_FILE")}
    env |= {"DEBUG": "false", "ARENA_VAR_DIR": str(tmp_path)}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set" in result.stderr


def test_it_refuses_a_malformed_boolean_at_start(tmp_path):
    result = _manage("check", env=os.environ | {"DEBUG": "perhaps", "ARENA_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DEBUG='perhaps' is not a boolean" in result.stderr


def test_it_starts_one_embedded_redis_per_var_dir_and_reuses_it(tmp_path):
    first = ensure_redis(tmp_path)
    second = ensure_redis(tmp_path)
    assert first == second == f"unix://{tmp_path / 'redis.sock'}"
    client = redis.Redis(unix_socket_path=str(tmp_path / "redis.sock"))
    client.set("arena-test", "1")
    assert client.get("arena-test") == b"1"
    from arena.embedded import stop_redis

    stop_redis(tmp_path)


def test_the_cache_and_the_database_are_the_ones_the_environment_names():
    """Without REDIS_URL / DATABASE_URL the embedded server and SQLite hold the data; with them,
    the named services do."""
    from django.core.cache import cache
    from django.db import connection

    cache.set("arena-mode-probe", "here", 30)
    redis_url = os.environ.get("REDIS_URL") or f"unix://{settings.VAR_DIR / 'redis.sock'}"
    server = redis.Redis.from_url(redis_url)
    assert any(server.scan_iter("*arena-mode-probe*"))
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    assert connection.vendor == ("postgresql" if on_postgres else "sqlite")


def test_importing_the_settings_starts_no_redis_and_manage_py_does(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= {"ARENA_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "arena.settings"}
    named = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.REDIS_URL)"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert named.returncode == 0, named.stderr
    assert named.stdout.strip() == f"unix://{tmp_path / 'redis.sock'}"
    assert not (tmp_path / "redis.pid").exists() and not (tmp_path / "redis.sock").exists()
    # A management command is a process that uses Redis: it brings the server up.
    result = _manage("check", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "redis.pid").exists()
