"""The bubblewrap profile that answer code runs under, and the check that it can be made.

Each sandboxed process gets new user, PID, network, IPC, UTS and mount namespaces
(``--unshare-*``); its root is an empty tmpfs holding a read-only ``/usr`` (the C library and,
where the judge's own interpreter is not reachable, Debian's Python), the interpreter's own prefix
read-only with its ``site-packages`` hidden, a fresh ``/proc`` of its own PID namespace, a minimal
``/dev``, and one small writable tmpfs (``/sandbox``, its working directory). Never the project's
directory, never ``var/``, never ``/etc`` or ``/root``. The environment is cleared, the process
starts a new session (no terminal to push keys into), it dies with its parent, and it may not make
further user namespaces.

When the judge runs as root (CI does, containers often do) it first drops to ``nobody`` before
starting bubblewrap, so the sandbox's user outside its namespace is an unprivileged one: then the
process limit (``RLIMIT_NPROC``, which the kernel does not apply to root) holds, and no root
capability can leak in. Where bubblewrap is missing or cannot make the namespaces,
``sandbox_command`` raises :class:`SandboxUnavailable` and the code does not run at all.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from judges.errors import JudgeRunError

NOBODY = 65534
WORKDIR = "/sandbox"
WORKDIR_BYTES = 8 * 1024 * 1024  # the writable tmpfs: files the code writes count here
PROBE_TIMEOUT_S = 20
OPEN_FILES = 64  # RLIMIT_NOFILE of a sandboxed process


class SandboxUnavailable(JudgeRunError):
    """No sandbox can be made here, so answer code is not run (the match is refunded)."""


@dataclass(frozen=True)
class Interpreter:
    executable: str  # real path of a python3 binary
    prefix: str  # its sys.prefix
    hidden: tuple[str, ...]  # its site-packages folders, covered by empty tmpfs


def drops_privileges() -> bool:
    return os.geteuid() == 0


def bwrap_path() -> str | None:
    configured = getattr(settings, "ARENA_SANDBOX_BWRAP", "") or "bwrap"
    return shutil.which(configured)


def _system_dirs() -> list[str]:
    """``/bin``, ``/lib``... as symlinks into ``/usr`` where the host has merged ``/usr`` (as
    Debian does), else bound read-only."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _private_paths() -> list[Path]:
    """What must never be seen from a sandbox: the project, its data, its secrets' files."""
    paths = [settings.BASE_DIR, settings.VAR_DIR, settings.MEDIA_ROOT, settings.ARENA_MODEL_DIR]
    paths += [v for k, v in os.environ.items() if k.endswith("_FILE") and v.startswith("/")]
    return [Path(p).resolve() for p in paths if p]


def _hide_private(bound: list[str]) -> list[str]:
    """Cover the project's paths that lie inside a bound folder (a project in ``/usr/src/app``,
    say): an empty read-only tmpfs over a folder, ``/dev/null`` over a file."""
    args: list[str] = []
    for path in _private_paths():
        if not any(path.is_relative_to(b) for b in bound) or not path.exists():
            continue
        if path.is_dir():
            args += ["--tmpfs", str(path), "--remount-ro", str(path)]
        else:
            args += ["--ro-bind", "/dev/null", str(path)]
    return args


def profile(interpreter: Interpreter, bwrap: str) -> list[str]:
    """The bwrap command line, options only (the caller adds its own, then ``--``)."""
    args = [
        bwrap,
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--disable-userns",
        "--uid",
        str(NOBODY),
        "--gid",
        str(NOBODY),
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--ro-bind",
        "/usr",
        "/usr",
        *_system_dirs(),
        "--proc",
        "/proc",
        # A tmpfs with the usual devices; read-only, or /dev and /dev/shm would be an uncapped
        # place to write (tmpfs memory is not in the address-space limit).
        "--dev",
        "/dev",
        "--remount-ro",
        "/dev",
    ]
    bound = ["/usr"] + [args[i + 1] for i, a in enumerate(args) if a == "--ro-bind"]
    if not Path(interpreter.prefix).is_relative_to("/usr"):
        args += ["--ro-bind", interpreter.prefix, interpreter.prefix]
        bound.append(interpreter.prefix)
    for folder in interpreter.hidden:
        args += ["--tmpfs", folder, "--remount-ro", folder]
    args += _hide_private(bound)
    args += ["--size", str(WORKDIR_BYTES), "--tmpfs", WORKDIR]
    # The root itself is a tmpfs with no size limit: read-only, so the capped working directory
    # is the only place the code can write.
    args += ["--remount-ro", "/", "--chdir", WORKDIR]
    return args


def drop_privileges() -> None:  # pragma: no cover - runs in the child, between fork and exec
    if drops_privileges():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def _describe(python: str) -> Interpreter | None:
    """The interpreter's prefix and site-packages, asked of it (outside any sandbox: it is ours)."""
    try:
        out = subprocess.run(
            [
                python,
                "-I",
                "-S",
                "-c",
                "import sys, sysconfig\n"
                "p = sysconfig.get_paths()\n"
                "print(sys.prefix); print(p['purelib']); print(p['platlib'])",
            ],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            env={},
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    prefix, purelib, platlib = out[0], out[1], out[2]
    hidden = tuple(
        dict.fromkeys(p for p in (purelib, platlib) if p.startswith(prefix) and Path(p).is_dir())
    )
    return Interpreter(executable=python, prefix=prefix, hidden=hidden)


def _exposes_project(interpreter: Interpreter) -> bool:
    bound = Path(interpreter.prefix).resolve()
    private = [Path(settings.BASE_DIR).resolve(), Path(settings.VAR_DIR).resolve()]
    return any(p.is_relative_to(bound) or bound.is_relative_to(p) for p in private)


def _probe(interpreter: Interpreter, bwrap: str) -> str:
    """'' when a sandboxed ``interpreter`` starts, can import the standard library, and has
    no network; else what went wrong."""
    check = (
        "import json, os, socket\n"
        f"assert os.getuid() == {NOBODY} and os.getcwd() == {WORKDIR!r}\n"
        "assert [i[1] for i in socket.if_nameindex()] in ([], ['lo'])\n"
    )
    try:
        run = subprocess.run(
            [*profile(interpreter, bwrap), "--", interpreter.executable, "-I", "-S", "-c", check],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            env={},
            stdin=subprocess.DEVNULL,
            preexec_fn=drop_privileges,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if run.returncode != 0:
        return (run.stderr.strip() or f"exit status {run.returncode}")[-300:]
    return ""


_chosen: tuple[str, Interpreter] | None = None
_lock = threading.Lock()


def _candidates() -> list[str]:
    configured = getattr(settings, "ARENA_SANDBOX_PYTHON", "")
    if configured:
        return [configured]
    # The judge's own interpreter first; when it lives where the sandbox's user cannot reach
    # (a pyenv build under /root, say), the distribution's python3.
    found = [os.path.realpath(sys.executable)]
    for name in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(name):
            found.append(os.path.realpath(name))
    return list(dict.fromkeys(found))


def sandbox_command() -> tuple[list[str], Interpreter]:
    """The bwrap options and the interpreter to run under it. Probes once per process (the
    result is kept only when it works) and raises SandboxUnavailable saying why otherwise."""
    global _chosen
    with _lock:
        if _chosen is not None:
            bwrap, interpreter = _chosen
            return profile(interpreter, bwrap), interpreter
        bwrap = bwrap_path()
        if bwrap is None:
            raise SandboxUnavailable(
                "answer code is not run: bubblewrap (bwrap) is not installed on this judge "
                "(install the package bubblewrap)"
            )
        problems = []
        for python in _candidates():
            interpreter = _describe(python)
            if interpreter is None:
                problems.append(f"{python}: does not start")
                continue
            if _exposes_project(interpreter):
                problems.append(f"{python}: its prefix would expose the project's files")
                continue
            problem = _probe(interpreter, bwrap)
            if not problem:
                _chosen = (bwrap, interpreter)
                return profile(interpreter, bwrap), interpreter
            problems.append(f"{python}: {problem}")
        raise SandboxUnavailable(
            "answer code is not run: no sandbox can be made on this judge ("
            + "; ".join(problems)
            + ")"
        )


def forget() -> None:
    """Probe again next time (tests change the settings)."""
    global _chosen
    with _lock:
        _chosen = None


def set_limits(timeout_s: int, memory_bytes: int, file_bytes: int) -> None:  # pragma: no cover
    """Resource limits of a sandboxed process, set between fork and exec (before the drop to
    nobody, so they are set as hard limits that the code cannot raise). The process limit is
    set by the runner itself, once bubblewrap has made its own two processes."""
    resource.setrlimit(resource.RLIMIT_CPU, (timeout_s, timeout_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Few open files: each memfd or pipe is memory outside the address-space limit (a memfd is
    # still capped at RLIMIT_FSIZE), so the number of them caps that memory too.
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
    drop_privileges()
