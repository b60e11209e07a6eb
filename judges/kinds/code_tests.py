"""Running an answer's Python code against a prompt's tests, in bubblewrap sandboxes.

Used by the verifier in mode ``tests``. For each (code, test) pair two fresh interpreters start,
each under its own bubblewrap sandbox (``judges.sandbox.bwrap``: new user, PID, network, IPC and
mount namespaces, a cleared environment, a read-only view of the interpreter only, a small
throw-away working directory, and an unprivileged user outside the namespaces):

- the *answer's process* runs the answer's code (``__name__`` is ``"solution"``, so an
  ``if __name__ == "__main__":`` block does not run), then serves the names it defined;
- the *test's process* runs the test, where each of those names is a proxy to the answer's
  process over a pipe, and writes the verdict to a descriptor only it holds.

Only plain data (numbers, strings, bytes, lists, tuples, dicts, sets) crosses between them
(``judges.sandbox.wire``); other objects cross as references that can be called but never
compared. So the verdict is decided outside the answer's reach: code that exits early, patches
builtins or ``AssertionError``, leaves threads behind, writes to the descriptors it was given,
prints fake result lines or kills whatever it can see, changes only its own process, and the
test fails. A test can call the answer's functions, make instances of its classes and call their
methods, and import them (``from solution import f``); it cannot hand the answer a function (a
callback), and values are copied, not shared (a list the answer mutates is not the test's list).

Limits per process: CPU seconds (``RLIMIT_CPU``) plus a wall-clock deadline after which both
sandboxes are killed with everything in them (their PID namespaces die with them, so ``setsid``
or a double fork escapes nothing); address space (``RLIMIT_AS``, 512 MiB), so a huge allocation
raises ``MemoryError``; file size (``RLIMIT_FSIZE``) for output and files, and an 8 MiB working
directory; no core dumps; no new process or thread (``RLIMIT_NPROC`` 0, which holds because the
user outside the sandbox is never root). Only the first ``CAPTURE_CHARS`` of the answer's output
and ``MESSAGE_CHARS`` of an exception's message are kept: that text came from the answer, so it is
shown to the match's participants, its space's creator and staff only (``judges.redaction``).

Where bubblewrap is missing or cannot make its namespaces, nothing runs: ``run_jobs`` raises
``SandboxUnavailable`` (a ``JudgeRunError``), and the match is refunded.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from judges.sandbox import bwrap
from judges.sandbox.bwrap import SandboxUnavailable

__all__ = ["SandboxUnavailable", "TestRun", "extract_code", "run_jobs", "run_tests"]

MEMORY_BYTES = 512 * 1024 * 1024  # address space of one sandboxed process
OUTPUT_BYTES = 1024 * 1024  # largest file (stdout, stderr, any file the code writes)
CAPTURE_CHARS = 2000  # how much of stdout / stderr is kept
MESSAGE_CHARS = 200  # how much of an exception's message is kept
MAX_PARALLEL = 4  # (answer, test) pairs at a time
STARTUP_GRACE_S = 1.0  # two sandboxes to start before the wall-clock deadline counts
POLL_S = 0.005

_HERE = Path(__file__).resolve().parent.parent / "sandbox"


@functools.cache
def _program(runner: str) -> str:
    """A runner's source with the wire format's source before it: ``-c`` takes one string, and
    the sandbox sees no file of the project."""
    return (_HERE / "wire.py").read_text() + "\n" + (_HERE / runner).read_text()


_FENCE = re.compile(r"^[ \t]*```[ \t]*(?P<lang>[\w+-]*)[^\n]*\n", re.MULTILINE)
_CLOSE = re.compile(r"^[ \t]*```[ \t]*$", re.MULTILINE)
PYTHON_TAGS = {"", "python", "python3", "py", "py3"}


def extract_code(answer: str) -> tuple[str, str]:
    """The code to run and where it came from: the first fenced code block tagged python (or not
    tagged at all), up to its closing fence or the end of the answer when the fence is never
    closed (a model that ran out of tokens), else the whole answer."""
    position = 0
    while fence := _FENCE.search(answer, position):
        close = _CLOSE.search(answer, fence.end())
        if fence["lang"].lower() in PYTHON_TAGS:
            return answer[fence.end() : close.start() if close else len(answer)], "fenced block"
        if close is None:
            break
        position = close.end()  # skip the whole block of another language
    return answer, "whole answer"


@dataclass(frozen=True)
class TestRun:
    passed: bool
    reason: str  # "" when passed; else e.g. "timeout", "AssertionError", "SyntaxError"
    where: str  # "answer" or "test" when an exception names the culprit, else ""
    message: str  # the exception's message, cut short
    returncode: int | None
    duration_ms: int
    stdout: str  # the first CAPTURE_CHARS characters
    stderr: str

    def summary(self) -> dict:
        """The short, JSON-ready form kept in a verdict."""
        if self.passed:
            return {"passed": True}
        out = {"passed": False, "reason": self.reason}
        if self.where:
            out["where"] = self.where
        if self.message:
            out["message"] = self.message
        return out


@dataclass
class _Running:
    index: int
    answer: subprocess.Popen
    test: subprocess.Popen
    private: str  # holds the inputs, the captured output and the result record (judge only)
    started: float
    deadline: float


def _launch(command, program, args, *, stdin, stdout, stderr, fds, timeout_s):
    options, python = command
    return subprocess.Popen(
        [
            *options,
            "--",
            python,
            *("-I", "-S", "-X", "utf8", "-c", program),
            *map(str, args),
        ],
        env={},
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        pass_fds=fds,
        close_fds=True,
        start_new_session=True,  # its own process group, killed as a whole
        preexec_fn=functools.partial(bwrap.set_limits, timeout_s, MEMORY_BYTES, OUTPUT_BYTES),
    )


def _start(index: int, code: str, test: str, timeout_s: int, prefix) -> _Running:
    private = tempfile.mkdtemp(prefix="arena-judge-")
    opened: list[int] = []
    answer = None
    try:
        files = {}
        for name, job in (("answer.json", {"code": code}), ("test.json", {"test": test})):
            with open(os.path.join(private, name), "w", encoding="utf-8") as handle:
                json.dump(job, handle)
            files[name] = os.open(os.path.join(private, name), os.O_RDONLY)
            opened.append(files[name])
        for name in ("answer.out", "answer.err", "test.out", "test.err", "result"):
            files[name] = os.open(os.path.join(private, name), os.O_WRONLY | os.O_CREAT, 0o600)
            opened.append(files[name])
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        opened += [request_r, request_w, reply_r, reply_w]
        started = time.monotonic()
        common = {"timeout_s": timeout_s}
        answer = _launch(
            prefix,
            _program("answer_server.py"),
            (request_r, reply_w),
            stdin=files["answer.json"],
            stdout=files["answer.out"],
            stderr=files["answer.err"],
            fds=(request_r, reply_w),
            **common,
        )
        test_proc = _launch(
            prefix,
            _program("test_runner.py"),
            (request_w, reply_r, files["result"]),
            stdin=files["test.json"],
            stdout=files["test.out"],
            stderr=files["test.err"],
            fds=(request_w, reply_r, files["result"]),
            **common,
        )
    except BaseException:
        if answer is not None:
            _kill_group(answer)
        shutil.rmtree(private, ignore_errors=True)
        raise
    finally:
        for fd in opened:  # the children hold their own copies; the pipes close with them
            os.close(fd)
    # CPU time is limited to timeout_s by RLIMIT_CPU; the wall clock, which only catches code
    # that sleeps or blocks, allows for a loaded machine sharing its cores.
    deadline = started + 2 * timeout_s + STARTUP_GRACE_S
    return _Running(index, answer, test_proc, private, started, deadline)


def _exited(proc: subprocess.Popen) -> bool:
    """Whether the process ended, without reaping it: while it is an unreaped zombie its id (and
    so its process group's id) cannot be reused, so killing the group afterwards is safe."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill bubblewrap's process group and reap it. Everything inside the sandbox goes with it:
    bubblewrap's init holds the PID namespace and dies with its parent (``--die-with-parent``),
    and the kernel kills every process of a PID namespace whose init dies."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _read(path: str, limit: int) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit * 4)
    except OSError:
        return ""
    return data.decode("utf-8", "replace")[:limit]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _killed_by(returncode: int | None) -> int | None:
    """The signal that ended a sandboxed interpreter: bubblewrap exits with 128 + its number."""
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    if 128 < returncode < 128 + 65:
        return returncode - 128
    return None


def _limit_reason(sig: int | None, timeout_s: int) -> tuple[str, str] | None:
    if sig == signal.SIGXCPU:
        return "timeout", f"used more than {timeout_s} s of CPU"
    if sig == signal.SIGXFSZ:
        return "output limit", f"wrote more than {OUTPUT_BYTES} bytes to one file"
    if sig is not None:
        return f"killed by {_signal_name(sig)}", ""
    return None


def _sandbox_failed(run: _Running, who: str) -> SandboxUnavailable:
    # Before a runner starts, its stderr is bubblewrap's own (no answer code has run).
    said = _read(os.path.join(run.private, f"{who}.err"), 300).strip()
    return SandboxUnavailable(
        f"answer code is not run: a sandbox did not start ({said or 'no reason given'})"
    )


# Reasons a verdict may give, beyond the names of Python's built-in exceptions: the public sees
# the reason (the message, which answer code writes, it does not), so it is never free text.
REASONS = frozenset(
    {"timeout", "output limit", "answer exited", "no result", "no code", "sandbox limit"}
)
_C0 = dict.fromkeys(range(32), " ")  # control characters (NUL breaks PostgreSQL's jsonb)


def _clean(text: str, *, keep_lines: bool = False) -> str:
    table = _C0 if not keep_lines else {k: v for k, v in _C0.items() if k not in (9, 10)}
    return text.translate(table)


def known_reason(reason: str) -> bool:
    """Whether ``reason`` is one of the fixed words, a signal, or a built-in exception's name."""
    if reason in REASONS or reason == "":
        return True
    if reason.startswith("killed by "):
        return reason[len("killed by ") :] in {s.name for s in signal.Signals}
    kind = getattr(builtins, reason, None)
    return isinstance(kind, type) and issubclass(kind, BaseException)


def _verdict(run: _Running, *, timed_out: bool, timeout_s: int) -> tuple[str, str, str]:
    """(reason, where, message) of a finished pair; raises SandboxUnavailable where a sandbox
    never started, since then nothing of the answer's was judged."""
    rc = run.test.returncode
    # The test's runner writes "started" first thing, then its verdict: no line at all means
    # its sandbox never started. (The answer's runner likewise greets the test's before any
    # answer code runs: "answer did not start" means the same for the answer's sandbox.)
    lines = _read(os.path.join(run.private, "result"), 1000).split("\n")
    started, record = lines[0] == "started", lines[1] if len(lines) > 1 else ""
    fields = record.split("\t")
    if timed_out:
        return "timeout", "", f"still running after {timeout_s} s"
    if not started:
        raise _sandbox_failed(run, "test")
    if rc == 0 and record == "ok":
        return "", "", ""
    if fields[0] == "fail" and len(fields) == 4:
        _, where, reason, message = fields
        if reason == "answer did not start":
            raise _sandbox_failed(run, "answer")
        if reason == "answer exited":
            # Say why, where the answer's sandbox was stopped by one of its limits.
            why = _limit_reason(_killed_by(run.answer.returncode), timeout_s)
            if why is not None:
                return why[0], where, why[1]
        return reason or "exception", where, message
    if (why := _limit_reason(_killed_by(rc), timeout_s)) is not None:
        return why[0], "test", why[1]
    return "no result", "", f"the test's process ended with status {rc} before a verdict"


def _finish(run: _Running, *, timed_out: bool, timeout_s: int) -> TestRun:
    try:
        duration_ms = int((time.monotonic() - run.started) * 1000)
        reason, where, message = _verdict(run, timed_out=timed_out, timeout_s=timeout_s)
        reason, message = _clean(reason)[:100], _clean(message)
        if not known_reason(reason):
            # The answer's own exception class: its name is its text, so it goes private.
            reason, message = "exception", f"{reason}: {message}"
        return TestRun(
            passed=not reason,
            reason=reason,
            where=where if where in ("answer", "test") else "",
            message=message[:MESSAGE_CHARS],
            returncode=run.test.returncode,
            duration_ms=duration_ms,
            stdout=_clean(
                _read(os.path.join(run.private, "answer.out"), CAPTURE_CHARS), keep_lines=True
            ),
            stderr=_clean(
                _read(os.path.join(run.private, "answer.err"), CAPTURE_CHARS), keep_lines=True
            ),
        )
    finally:
        shutil.rmtree(run.private, ignore_errors=True)


def _answer_settled(run: _Running) -> None:
    """Once the test's verdict is in: let an answer's process that is already on its way out
    finish (so its exit status can say which limit stopped it), then kill what is left."""
    try:
        run.answer.wait(timeout=0.2)
    except subprocess.TimeoutExpired:
        pass
    _kill_group(run.answer)


def run_jobs(
    jobs: Sequence[tuple[str, str]], *, timeout_s: int = 2, parallel: int | None = None
) -> list[TestRun]:
    """Run each (code, test) pair in its own pair of sandboxes, up to ``parallel`` pairs at a
    time (default: up to MAX_PARALLEL, no more than the CPUs), and return one TestRun per pair,
    in order. Raises SandboxUnavailable, running nothing, where no sandbox can be made.
    Processes are started and watched from this thread alone (no thread pool: a
    ``preexec_fn`` is only safe to run after fork when no other thread of ours is busy)."""
    if not isinstance(timeout_s, int) or isinstance(timeout_s, bool) or timeout_s < 1:
        raise ValueError(f"timeout_s must be a whole number of seconds >= 1, not {timeout_s!r}")
    if not jobs:
        return []
    options, interpreter = bwrap.sandbox_command()
    prefix = (options, interpreter.executable)
    if parallel is None:
        parallel = max(1, min(MAX_PARALLEL, os.cpu_count() or 1))
    results: list[TestRun | None] = [None] * len(jobs)
    pending = list(enumerate(jobs))[::-1]
    running: list[_Running] = []
    try:
        while pending or running:
            while pending and len(running) < parallel:
                index, (code, test) = pending.pop()
                running.append(_start(index, code, test, timeout_s, prefix))
            still = []
            for run in running:
                if _exited(run.test):
                    _kill_group(run.test)
                    _answer_settled(run)
                    results[run.index] = _finish(run, timed_out=False, timeout_s=timeout_s)
                elif time.monotonic() >= run.deadline:
                    _kill_group(run.test)
                    _kill_group(run.answer)
                    results[run.index] = _finish(run, timed_out=True, timeout_s=timeout_s)
                else:
                    still.append(run)
            running = still
            if running:
                nearest = min(run.deadline for run in running) - time.monotonic()
                time.sleep(max(0.0, min(POLL_S, nearest)))
    finally:
        for run in running:  # only when interrupted: leave nothing behind
            _kill_group(run.test)
            _kill_group(run.answer)
            shutil.rmtree(run.private, ignore_errors=True)
    done = [r for r in results if r is not None]
    if len(done) != len(jobs):  # pragma: no cover - every job either finished or raised
        raise RuntimeError("a test run went missing")
    return done


def run_tests(code: str, tests: Sequence[str], *, timeout_s: int = 2) -> list[TestRun]:
    """Every test of ``tests`` against one piece of code."""
    return run_jobs([(code, test) for test in tests], timeout_s=timeout_s)
