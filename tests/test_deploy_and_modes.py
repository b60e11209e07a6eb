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


def test_it_uses_the_configured_mode():
    if os.environ.get("REDIS_URL"):
        assert not settings.REDIS_EMBEDDED
        assert settings.CELERY_BROKER_URL == os.environ["REDIS_URL"]
    else:
        assert settings.REDIS_EMBEDDED
        assert settings.CELERY_BROKER_URL.startswith("redis+socket://")
    assert settings.DB_IS_POSTGRES == os.environ.get("DATABASE_URL", "").startswith("postgres")
