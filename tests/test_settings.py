import pytest
from django.core.exceptions import ImproperlyConfigured

from arena.env import env_bool, env_int, env_list, env_secret, env_url


def test_it_reads_booleans_and_refuses_garbage(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "off")
    assert env_bool("X_FLAG", True) is False
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe' is not a boolean"):
        env_bool("X_FLAG")


def test_it_reads_integers_with_minimum(monkeypatch):
    monkeypatch.setenv("X_N", "12")
    assert env_int("X_N", 1) == 12
    monkeypatch.setenv("X_N", "twelve")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_N", 1)
    monkeypatch.setenv("X_N", "-3")
    with pytest.raises(ImproperlyConfigured, match="below the minimum 0"):
        env_int("X_N", 1, minimum=0)


def test_it_reads_lists_and_secret_files(monkeypatch, tmp_path):
    monkeypatch.setenv("X_HOSTS", "a.example, b.example,,")
    assert env_list("X_HOSTS", []) == ["a.example", "b.example"]
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    monkeypatch.setenv("X_KEY_FILE", str(secret))
    assert env_secret("X_KEY") == "s3cr3t"
    monkeypatch.setenv("X_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_secret("X_KEY")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("localhost:6379", "scheme must be one of redis, rediss, unix"),
        ("redis://", "names no host"),
        ("redis://cache:63x9/0", "port is not a number"),
        ("http://cache:6379/0", "scheme must be one of"),
    ],
)
def test_it_refuses_a_bad_url_naming_the_variable(monkeypatch, raw, message):
    monkeypatch.setenv("X_REDIS_URL", raw)
    with pytest.raises(ImproperlyConfigured, match=message) as exc:
        env_url("X_REDIS_URL", ("redis", "rediss", "unix"))
    assert "X_REDIS_URL=" in str(exc.value)


def test_it_reads_good_urls_and_leaves_an_unset_one_empty(monkeypatch):
    schemes = ("redis", "unix", "sqlite")
    monkeypatch.delenv("X_URL", raising=False)
    assert env_url("X_URL", schemes) == ""
    for raw in ("redis://cache:6379/0", "unix:///run/redis.sock", "sqlite:////tmp/a.db"):
        monkeypatch.setenv("X_URL", raw)
        assert env_url("X_URL", schemes) == raw


def test_a_bad_setting_stops_the_process_at_start(tmp_path):
    """The whole settings module, in a fresh process: a typo fails at start with its name."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = os.environ | {"REDIS_URL": "localhost:6379", "ARENA_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "REDIS_URL='localhost:6379'" in result.stderr
