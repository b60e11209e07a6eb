"""Hostile answers against the answer-code sandbox: each attack found on main, tried for real.

The answers below are what a player steering a model could submit to a coding space. Each test
checks from outside the sandbox that the attack got nowhere (the secret is not in anything the
answer can show, the file is not on the host, the listener saw no connection, the process
outside is still alive...) and that no trick turns a failing test into a pass. CI runs these as
root, as a judge worker in a container would run.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings

from judges.kinds.code_tests import CAPTURE_CHARS, run_jobs, run_tests
from judges.sandbox import bwrap
from judges.sandbox.bwrap import SandboxUnavailable
from tests.conftest import SERVICE_SKIP

pytestmark = pytest.mark.skipif(
    bwrap.bwrap_path() is None, reason=f"{SERVICE_SKIP} bubblewrap (apt-get install bubblewrap)"
)

SECRET = "arena-test-secret-3f9c1e"


def run_one(code: str, test: str = "pass", timeout_s: int = 2):
    (result,) = run_tests(code, [test], timeout_s=timeout_s)
    return result


def everything_shown(result) -> str:
    return "\n".join([result.stdout, result.stderr, result.message, result.reason])


def descendants(root: int) -> set[int]:
    """Live processes whose parent chain leads to ``root``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":  # zombies are dead already
                parents[int(entry)] = int(fields[1])
    found = set()
    for pid in parents:
        seen, at = set(), pid
        while at in parents and at not in seen:
            seen.add(at)
            at = parents[at]
            if at == root:
                found.add(pid)
                break
    return found


@pytest.fixture
def no_strays():
    """Nothing of a run outlives it (setsid, double fork, a sleeping child). This process is
    made a child subreaper for the test, so anything that escaped its parent would be
    re-parented to us and found among our descendants (other test runs on the machine are not)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_child_subreaper = 36
    assert libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0
    before = descendants(os.getpid())
    try:
        yield
        deadline = time.monotonic() + 2
        while (left := descendants(os.getpid()) - before) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, f"processes left behind: {left}"
    finally:
        libc.prctl(pr_set_child_subreaper, 0, 0, 0, 0)


# --- secrets ----------------------------------------------------------------------------------

READ_SECRETS = """
import os
found = []
for pid in ["self", "1", "2", str(os.getppid())] + os.listdir("/proc"):
    for name in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as handle:
                found.append(handle.read().decode("latin-1"))
        except Exception as exc:
            found.append(repr(exc))
found.append(repr(dict(os.environ)))
for path in ("/etc/passwd", "/root/.bash_history", %(base)r + "/arena/settings.py", %(var)r):
    try:
        found.append(open(path).read() if not os.path.isdir(path) else repr(os.listdir(path)))
    except Exception as exc:
        found.append(repr(exc))
def loot():
    return "\\n".join(found)
raise_it = lambda: exec("raise RuntimeError(loot())")
"""

# Runs in the test's process: it gets all the loot and fails unless none of it is a secret.
CHECK_LOOT = f"""
data = loot()
assert {SECRET!r} not in data
for word in ("SECRET_KEY", "DATABASE_URL", "ETH_PLATFORM", "root:x:0:0", "INSTALLED_APPS"):
    assert word not in data, word
assert "FileNotFoundError" in data  # it tried, and the paths do not exist inside
"""


def test_it_keeps_the_workers_secrets_out_of_reach(monkeypatch):
    monkeypatch.setenv("ARENA_HOSTILE_SECRET", SECRET)
    code = READ_SECRETS % {"base": str(settings.BASE_DIR), "var": str(settings.VAR_DIR)}
    looted, raised = run_tests(code, [CHECK_LOOT, "raise_it()"])
    assert looted.passed, looted
    assert raised.where == "answer" and SECRET not in everything_shown(raised)


def test_it_shows_the_code_only_its_own_processes():
    code = "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    result = run_one(code)
    assert result.passed
    assert result.stdout.strip() in ("[1, 2]", "[1]")  # bubblewrap's init and the answer


# --- network ----------------------------------------------------------------------------------


def test_it_has_no_network_not_even_loopback_services():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    code = f"""
import socket
for host, port in [("127.0.0.1", {port}), ("127.0.0.1", 5432), ("127.0.0.1", 6379),
                   ("::1", 6379), ("8.8.8.8", 53)]:
    try:
        socket.create_connection((host, port), timeout=1).sendall(b"PING\\r\\n")
        print("connected", host, port)
    except OSError as exc:
        print("refused", host, port, type(exc).__name__)
try:
    socket.getaddrinfo("pypi.org", 443)
    print("resolved")
except OSError:
    print("no dns")
"""
    result = run_one(code, timeout_s=5)
    assert result.passed, result
    assert "connected" not in result.stdout and "resolved" not in result.stdout
    assert result.stdout.count("refused") == 5
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing reached the host's loopback
    listener.close()


# --- files ------------------------------------------------------------------------------------


def test_it_cannot_write_outside_its_throw_away_directory(tmp_path):
    target = settings.BASE_DIR / "pwned-by-answer.txt"
    code = f"""
import os
for path in [{str(target)!r}, {str(settings.VAR_DIR / "pwned")!r}, "/usr/pwned", "/pwned",
             "/proc/sys/kernel/hostname", {str(tmp_path / "pwned")!r}]:
    try:
        with open(path, "w") as handle:
            handle.write("x")
        print("wrote", path)
    except OSError as exc:
        print("refused", path, type(exc).__name__)
with open("here.txt", "w") as handle:
    handle.write("fine")
print(open("here.txt").read())
"""
    result = run_one(code)
    assert result.passed, result
    assert "wrote" not in result.stdout and result.stdout.strip().endswith("fine")
    assert not target.exists() and not (settings.VAR_DIR / "pwned").exists()
    assert not (tmp_path / "pwned").exists()


def test_it_caps_the_throw_away_directory():
    code = """
total = 0
try:
    for i in range(1000):
        with open(f"f{i}", "wb") as handle:
            handle.write(b"x" * 512 * 1024)
        total += 1
except OSError as exc:
    print(type(exc).__name__, exc.errno)
print(total)
"""
    result = run_one(code, timeout_s=5)
    assert result.passed, result
    error, written = result.stdout.split("\n")[:2]
    assert error == "OSError 28"  # no space left on device
    assert int(written) <= bwrap.WORKDIR_BYTES // (512 * 1024)


def test_it_has_no_uncapped_place_to_write_memory():
    """tmpfs and memfd pages are not in the address-space limit: /dev, /dev/shm and the hidden
    site-packages are read-only, and a memfd is capped like any file, with few files open."""
    code = """
import os, sys, sysconfig
for folder in ["/dev", "/dev/shm", "/", "/proc", sysconfig.get_paths()["purelib"], "/usr"]:
    try:
        with open(os.path.join(folder, "fill"), "wb") as handle:
            handle.write(b"x" * 4096)
        print("wrote", folder)
    except OSError as exc:
        print("refused", folder, exc.errno)
total = 0
fds = []
try:
    for _ in range(10_000):
        fd = os.memfd_create("fill")
        fds.append(fd)
        for _ in range(64):
            total += os.write(fd, b"x" * 65536)
except OSError as exc:
    print("memfd stopped", exc.errno)
print("memfd bytes", total)
"""
    result = run_one(code, timeout_s=5)
    assert result.passed, result
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.startswith("wrote")], lines
    assert int(lines[-1].split()[-1]) <= bwrap.OPEN_FILES * 1024 * 1024


# --- processes --------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_strays")
def test_it_refuses_new_processes_and_threads():
    code = """
import os, subprocess, threading
for attempt in (os.fork, lambda: subprocess.Popen(["/bin/sh", "-c", "sleep 30"]),
                lambda: threading.Thread(target=lambda: None).start()):
    try:
        attempt()
        print("started")
    except Exception as exc:
        print("refused", type(exc).__name__)
"""
    result = run_one(code)
    assert result.passed, result
    assert result.stdout.split("\n")[:3] == ["refused BlockingIOError"] * 2 + [
        "refused RuntimeError"
    ]


@pytest.mark.usefixtures("no_strays")
def test_it_kills_a_detached_spinning_answer_at_the_timeout():
    code = "import os\nos.setsid()\nwhile True:\n    pass\n"
    started = time.monotonic()
    result = run_one(code, "assert True", timeout_s=1)
    assert (result.passed, result.reason) == (False, "timeout")
    assert time.monotonic() - started < 5


def test_it_cannot_kill_anything_outside_even_of_its_own_user():
    """A process running as the sandbox's user outside it, and the judge itself, survive an
    answer that signals every pid it can name."""
    preexec = bwrap.drop_privileges if os.geteuid() == 0 else None
    sentinel = subprocess.Popen(["sleep", "30"], preexec_fn=preexec)
    try:
        code = f"""
import os, signal
for pid in [-1, 0, 1, {os.getpid()}, {sentinel.pid}, os.getppid()] + list(range(2, 5000)):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""
        result = run_one(code, "assert False", timeout_s=5)
        assert sentinel.poll() is None, "the process outside was killed"
        # The answer may kill itself (pid 2 is its own); never the test's verdict.
        assert not result.passed
        assert result.reason in ("AssertionError", "answer exited", "killed by SIGKILL")
    finally:
        sentinel.kill()
        sentinel.wait()


# --- forged passes ----------------------------------------------------------------------------

FORGERIES = {
    "writes ok to every descriptor": (
        "import os\nfor fd in range(64):\n    try:\n        os.write(fd, b'ok\\n')\n"
        "    except OSError:\n        pass\n"
    ),
    "os._exit(0)": "import os\nos._exit(0)",
    "sys.exit(0)": "import sys\nsys.exit(0)",
    "atexit hook": (
        "import atexit, os\natexit.register(lambda: [os.write(fd, b'ok\\n') for fd in (1, 3, 4)])"
    ),
    "thread that outlives the call": (
        "import threading, os\n"
        "threading.Thread(target=lambda: os.write(3, b'ok\\n'), daemon=True).start()"
    ),
    "patched AssertionError": (
        "import builtins\nclass Quiet(Exception):\n    pass\nbuiltins.AssertionError = Quiet\n"
    ),
    "patched builtins": (
        "import builtins\nbuiltins.exec = lambda *a, **k: None\nbuiltins.compile = None\n"
        "builtins.__import__ = None\n"
    ),
    "fake result markers": "print('ok')\nimport sys\nprint('ok', file=sys.stderr)\n",
    "kills its parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
    "kills everything": "import os, signal\nos.kill(-1, signal.SIGKILL)\n",
    "object equal to everything": (
        "class Yes:\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\nanswer = lambda: Yes()\n"
    ),
    "int subclass equal to everything": (
        "class Yes(int):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\ndef answer():\n    return Yes(1)\n"
    ),
    "shadows the test's builtins": (
        "abs = lambda x: 0\nisinstance = lambda *a: True\nlen = lambda x: 42\n"
        "AssertionError = None\nsorted = lambda x: [41]\n"
    ),
    "raises StopIteration into map": (
        "def is_even(n):\n    raise StopIteration\ndouble = is_even\n"
    ),
    "garbage on the reply pipe": (
        "import os\nfor fd in range(3, 16):\n    try:\n"
        '        os.write(fd, b\'{"ok": 42}\\n{"ready": {}}\\nnonsense\\n\')\n'
        "    except OSError:\n        pass\n"
    ),
}


@pytest.mark.parametrize("trick", sorted(FORGERIES))
def test_a_trick_never_turns_a_failing_test_into_a_pass(trick):
    code = FORGERIES[trick] + "\ndef answer():\n    return 41\n"
    code += "import os\ndef quit_now():\n    os._exit(0)\n"
    code += "def is_even(n):\n    return n % 2 == 0\ndef double(n):\n    return 2 * n\n" * (
        "StopIteration" not in trick
    )
    if trick.startswith(("object", "int")):
        code = FORGERIES[trick] + "import os\ndef quit_now():\n    os._exit(0)\n"
        code += "def is_even(n):\n    return n % 2 == 0\ndef double(n):\n    return 2 * n\n"
    failing = [
        "assert False",
        "assert answer() == 42",
        "from solution import answer\nassert 0",
        "assert abs(answer() - 42) < 0.5",
        "assert isinstance(answer(), str)",
        "assert len([answer()]) == 42",
        "assert sorted([answer()]) == [42]",
        "from solution import *\nassert all([answer() == 42])",
        "assert all(map(is_even, [1, 2, 3])) and answer() == 42",
        "assert sum(map(double, [1, 2, 3])) == 0 and answer() == 42",
        # A crash is not a raise, even where the test catches every Exception.
        "try:\n    answer(); quit_now()\nexcept Exception:\n    pass\nelse:\n    assert False",
    ]
    results = run_tests(code, failing, timeout_s=3)
    for test, result in zip(failing, results, strict=True):
        assert not result.passed, (trick, test, result)


# An answer that takes over its reply pipe before the real greeting: it greets the test itself,
# offering a __builtins__ whose every entry is its own, then answers whatever it is asked.
FORGED_GREETING = """
import json, os, sys
reply = int(sys.argv[2])
requests = os.fdopen(int(sys.argv[1]), "rb")
def say(message):
    os.write(reply, (json.dumps(message) + "\\n").encode())
names = ["all", "any", "isinstance", "abs", "len", "sorted", "sum", "AssertionError", "bool"]
say({"ready": {
    "__builtins__": {"$": "dict", "v": [[n, {"$": "ref", "v": 0}] for n in names]},
    "add": {"$": "ref", "v": 0},
    "__name__": "__main__",
    "ok": True,
}})
for line in requests:
    say({"ok": True})
"""


def test_a_forged_greeting_cannot_replace_the_tests_builtins():
    tests = [
        "assert all([add(1, 2) == 3, add(2, 2) == 5])",
        "assert isinstance(add(1, 2), str)",
        "assert __name__ == '__main__'",
        "assert ok and add(1, 1) == 3",
    ]
    for result in run_tests(FORGED_GREETING, tests):
        assert not result.passed, result


def test_the_publics_reason_is_never_text_the_answer_chose():
    code = "Leak = type('PUBLIC_LEAK <b>hi</b>', (Exception,), {})\ndef f():\n    raise Leak('x')\n"
    (result,) = run_tests(code, ["f()"])
    assert (result.reason, result.where) == ("exception", "answer")
    assert result.message.startswith("PUBLIC_LEAK <b>hi</b>: x")  # private, for those with a stake
    (result,) = run_tests("raise type('BOOT_LEAK', (Exception,), {})()", ["pass"])
    assert result.reason == "exception" and "BOOT_LEAK" in result.message


def test_control_characters_from_the_answer_are_cleaned():
    code = (
        "def f():\n    raise ValueError('x' + chr(0) + 'y' + chr(27) + '[2J')\nprint('a' + chr(0))"
    )
    (result,) = run_tests(code, ["f()"])
    assert result.reason == "ValueError" and result.message == "x y [2J"
    assert "\x00" not in result.stdout


def test_the_same_answer_still_passes_an_honest_test():
    """The forgeries above fail because the verdict is out of their reach, not because
    everything fails: an answer with a class and a generator is usable from a test."""
    code = """
class Stack:
    def __init__(self):
        self.items = []
    def push(self, item):
        self.items.append(item)
    def pop(self):
        return self.items.pop()
    def __len__(self):
        return len(self.items)
def evens(n):
    yield from range(0, n, 2)
def fail(kind):
    raise {"value": ValueError, "key": KeyError}[kind]("bad")
LIMIT = 3
"""
    tests = [
        "s = Stack()\ns.push(1)\ns.push((2, 'b'))\nassert len(s) == 2\nassert s.pop() == (2, 'b')",
        "assert list(evens(7)) == [0, 2, 4, 6] and LIMIT == 3",
        "try:\n    fail('value')\nexcept ValueError as exc:\n    assert str(exc) == 'bad'\n"
        "else:\n    raise AssertionError('no error')",
        "from solution import Stack\nassert Stack().items == []",
        "fail('key')",
    ]
    results = run_tests(code, tests, timeout_s=5)  # passes expected: room for a loaded machine
    assert [r.passed for r in results] == [True, True, True, True, False]
    assert (results[4].reason, results[4].where) == ("KeyError", "answer")


# --- memory, time, output ---------------------------------------------------------------------


def test_it_refuses_a_memory_bomb_at_once():
    started = time.monotonic()
    result = run_one("hog = bytearray(4 * 1024 ** 3)", timeout_s=5)
    assert (result.passed, result.reason, result.where) == (False, "MemoryError", "answer")
    assert time.monotonic() - started < 5


def test_it_stops_an_answer_that_sleeps_inside_a_call_at_the_deadline():
    code = "import time\ndef slow():\n    time.sleep(60)\n"
    started = time.monotonic()
    result = run_one(code, "slow()", timeout_s=1)
    assert (result.passed, result.reason) == (False, "timeout")
    assert time.monotonic() - started < 5


def test_it_caps_an_output_flood():
    code = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"
    result = run_one(code, timeout_s=5)
    # Python ignores SIGXFSZ, so the write past the limit fails with EFBIG instead.
    assert (result.passed, result.reason, result.where) == (False, "OSError", "answer")
    assert "File too large" in result.message
    assert len(result.stdout) <= CAPTURE_CHARS


def test_a_big_global_table_is_still_usable():
    code = (
        "PRIMES = [p for p in range(2, 300_000) if all(p % d for d in range(2, int(p**0.5) + 1))]"
    )
    result = run_one(code, "assert len(PRIMES) == 25997 and 299993 in PRIMES and PRIMES[0] == 2")
    assert result.passed, result


def test_it_caps_a_huge_reply():
    code = "def big():\n    return 'x' * (64 * 1024 * 1024)\n"
    result = run_one(code, "big()", timeout_s=5)
    assert not result.passed and result.where == "answer"


# --- no sandbox, no run -----------------------------------------------------------------------


@pytest.fixture
def reprobe():
    bwrap.forget()
    yield
    bwrap.forget()


@pytest.mark.usefixtures("reprobe")
def test_it_refuses_to_run_code_without_bubblewrap(settings, tmp_path):
    settings.ARENA_SANDBOX_BWRAP = str(tmp_path / "no-such-bwrap")
    marker = tmp_path / "ran"
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        run_jobs([(f"open({str(marker)!r}, 'w')", "pass")])
    assert not marker.exists()


@pytest.mark.usefixtures("reprobe")
def test_it_refuses_when_bubblewrap_cannot_make_namespaces(settings):
    # Somewhere the sandbox's unprivileged user may run it from (pytest's tmp_path is private).
    folder = Path(tempfile.mkdtemp(prefix="arena-fake-bwrap-"))
    folder.chmod(0o755)
    fake = folder / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    settings.ARENA_SANDBOX_BWRAP = str(fake)
    try:
        with pytest.raises(SandboxUnavailable, match="No permissions to create new namespace"):
            run_jobs([("x = 1", "pass")])
    finally:
        shutil.rmtree(folder)


def test_it_hides_the_projects_files_that_lie_inside_a_bound_folder(settings, monkeypatch):
    """A project deployed under /usr (Docker's /usr/src/app, say): its folders and secret files
    are covered inside the sandbox."""
    settings.MEDIA_ROOT = "/usr/share/doc"  # stands for a project folder under /usr
    monkeypatch.setenv("ARENA_EXAMPLE_SECRET_FILE", "/usr/bin/env")
    code = """
import os
print(os.listdir("/usr/share/doc"))
try:
    print(len(open("/usr/bin/env", "rb").read()))
except PermissionError:
    print("refused")
"""
    result = run_one(code)
    assert result.passed, result
    assert result.stdout.split()[0] == "[]" and result.stdout.split()[1] in ("0", "refused")
    assert os.listdir("/usr/share/doc") and os.path.getsize("/usr/bin/env") > 0


@pytest.fixture
def flaky_bwrap(settings):
    """A bubblewrap that works for the probe but fails to make one kind of sandbox, as a real
    one does when the machine runs out of namespaces or memory mid-run."""
    folder = Path(tempfile.mkdtemp(prefix="arena-flaky-bwrap-"))
    folder.chmod(0o755)
    fake = folder / "bwrap"
    real = bwrap.bwrap_path()

    def make(marker: str):
        fake.write_text(
            "#!/bin/sh\n"
            f'case "$*" in *"{marker}"*) '
            "echo 'bwrap: Creating new namespace failed: Resource temporarily unavailable' >&2; "
            "exit 1;; esac\n"
            f'exec {real} "$@"\n'
        )
        fake.chmod(0o755)
        settings.ARENA_SANDBOX_BWRAP = str(fake)
        bwrap.forget()

    yield make
    bwrap.forget()
    shutil.rmtree(folder)


@pytest.mark.parametrize(
    "marker", ["executes one of the prompt's tests", "executes an answer's code"]
)
def test_a_sandbox_that_fails_to_start_mid_run_refunds_instead_of_failing_the_answer(
    flaky_bwrap, marker
):
    flaky_bwrap(marker)
    with pytest.raises(SandboxUnavailable, match="Resource temporarily unavailable"):
        run_tests("def add(a, b):\n    return a + b\n", ["assert add(1, 2) == 3"])


def test_an_answer_that_exits_at_once_is_still_its_own_failure():
    (result,) = run_tests("import os\nos._exit(1)", ["pass"])
    assert (result.passed, result.reason, result.where) == (False, "answer exited", "answer")


def test_it_leaves_the_judge_thread_usable_after_many_runs():
    """Descriptors do not leak: a hundred pairs later the judge has as many open as before."""
    before = len(os.listdir("/proc/self/fd"))
    run_jobs([("x = 1", "assert x == 1")] * 100, timeout_s=2)
    assert len(os.listdir("/proc/self/fd")) == before
