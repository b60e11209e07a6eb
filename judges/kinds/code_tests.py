"""Running an answer's Python code against a prompt's tests, one test per fresh process.

Used by the verifier in mode ``tests``. For each (code, test) pair a new interpreter
(``sys.executable -I -S -X utf8``) runs a small runner (``RUNNER`` below) that executes the
answer's code, then the test, in one fresh namespace (``__name__`` is ``"solution"``, so an
``if __name__ == "__main__":`` block of the answer does not run). The test passes when the process
exits 0 after the runner has recorded that the test ran to its end without an exception.

What it guards against (a buggy or greedy answer must not hurt the judge worker):
- endless loops and sleeps: a CPU-seconds limit (``RLIMIT_CPU``) and a wall-clock deadline after
  which the whole process group is killed (``SIGKILL``);
- memory bombs: the address space is capped (``RLIMIT_AS``, 512 MiB), so a huge allocation raises
  ``MemoryError`` inside the sandbox instead of swapping the machine;
- output floods: stdout and stderr go to files capped by ``RLIMIT_FSIZE`` (the process dies past
  the cap) and only their first bytes are read back, so the judge's memory stays bounded;
- core dumps (``RLIMIT_CORE`` 0) and fork bombs: ``RLIMIT_NPROC`` is 0, so a non-root sandbox
  cannot start processes or threads; whatever is left in the process group is killed at the end;
- leaking the worker's settings: the environment is empty (secrets, ``DATABASE_URL``...), ``-I``
  ignores ``PYTHON*`` variables and the user's site, ``-S`` leaves site-packages out (only the
  standard library imports: not Django, not the project), stdin is ``/dev/null``, and the working
  directory is a fresh temporary directory, removed afterwards;
- the common reward hacks of code RL: ``sys.exit(0)``/``exit()`` is caught and fails the test,
  and an exit with status 0 that skipped the test (``os._exit(0)``, ``os.execv`` of another
  program) fails too, because the runner's record of a finished test is missing. The runner holds
  its own references to ``exec``, ``os.write`` and ``os._exit``, taken before the answer runs.

What it does NOT guard against (run the judge queue in a locked-down container for that):
- the network: nothing here isolates it; production should run the ``judge`` queue in a
  container (or network namespace) without network access;
- the file system: the code runs as the worker's user and can read (and, where that user may,
  write) any file that user can; the size cap is per file, not a disk quota;
- a process running as root: root ignores ``RLIMIT_NPROC``, and a descendant that leaves the
  process group (``setsid``) outlives the kill;
- deliberate cheating by code that knows this runner (it runs in the same process as the test,
  so it can fake the runner's record, or make ``==`` always true on the values it returns): write
  tests that check types as well as values where it matters, and keep the tests private.
"""

from __future__ import annotations

import functools
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

MEMORY_BYTES = 512 * 1024 * 1024  # address space of one test process
OUTPUT_BYTES = 1024 * 1024  # largest file (stdout, stderr, any file the code writes)
CAPTURE_CHARS = 2000  # how much of stdout / stderr is kept
MESSAGE_CHARS = 200  # how much of an exception's message is kept
MAX_PARALLEL = 4  # test processes at a time
POLL_S = 0.005

# The runner, run with ``python -I -S -X utf8 -c RUNNER INPUT_PATH RESULT_FD``. It reads the code
# and the test from INPUT_PATH (a JSON object), deletes the file, compiles both, runs the code
# then the test, and writes one line to RESULT_FD: "ok" or "fail<TAB>phase<TAB>error<TAB>message".
# Everything it needs after the answer has run is bound to a local name first, so an answer that
# rebinds builtins.exec or os._exit does not change what the runner does.
RUNNER = r"""
import builtins, json, os, sys


def _main():
    _exec, _write, _exit, _str, _type = builtins.exec, os.write, os._exit, str, type
    _base = BaseException
    path, fd = sys.argv[1], int(sys.argv[2])
    with open(path, encoding="utf-8") as handle:
        job = json.load(handle)
    os.unlink(path)
    sys.argv = ["solution"]
    os.environ.clear()  # the interpreter may have set LC_CTYPE while coercing the C locale

    def finish(code, phase="", exc=None):
        line = "ok"
        if exc is not None:
            try:
                message = _str(exc)
            except _base:
                message = ""
            try:
                name = _str(_type(exc).__name__)
            except _base:
                name = "Exception"
            clean = lambda s: s.replace("\t", " ").replace("\n", " ")[:300]
            line = "fail\t" + phase + "\t" + clean(name) + "\t" + clean(message)
        for stream in (sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except _base:
                pass
        try:
            _write(fd, (line + "\n").encode("utf-8", "replace"))
        finally:
            _exit(code)

    try:
        test = compile(job["test"], "<test>", "exec", dont_inherit=True)
    except _base as exc:
        finish(4, "test", exc)
    try:
        code = compile(job["code"], "<answer>", "exec", dont_inherit=True)
    except _base as exc:
        finish(2, "answer", exc)
    namespace = {"__name__": "solution", "__builtins__": builtins}
    del job
    try:
        _exec(code, namespace)
    except _base as exc:
        finish(3, "answer", exc)
    try:
        _exec(test, namespace)
    except _base as exc:
        finish(1, "test", exc)
    finish(0)


_main()
"""

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


def _apply_limits(timeout_s: int) -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_CPU, (timeout_s, timeout_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_BYTES, OUTPUT_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


@dataclass
class _Running:
    index: int
    proc: subprocess.Popen
    private: str  # holds the input, the captured output and the result record
    workdir: str  # the code's working directory
    started: float
    deadline: float


def _start(index: int, code: str, test: str, timeout_s: int) -> _Running:
    private = tempfile.mkdtemp(prefix="arena-judge-")
    try:
        workdir = tempfile.mkdtemp(prefix="arena-test-")
    except BaseException:
        shutil.rmtree(private, ignore_errors=True)
        raise
    try:
        job_path = os.path.join(private, "job.json")
        with open(job_path, "w", encoding="utf-8") as handle:
            json.dump({"code": code, "test": test}, handle)
        result_fd = os.open(os.path.join(private, "result"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            with (
                open(os.path.join(private, "stdout"), "wb") as out,
                open(os.path.join(private, "stderr"), "wb") as err,
            ):
                started = time.monotonic()
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-I",
                        "-S",
                        "-X",
                        "utf8",
                        "-c",
                        RUNNER,
                        job_path,
                        str(result_fd),
                    ],
                    cwd=workdir,
                    env={},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    pass_fds=(result_fd,),
                    close_fds=True,
                    start_new_session=True,  # its own process group, killed as a whole
                    preexec_fn=functools.partial(_apply_limits, timeout_s),
                )
        finally:
            os.close(result_fd)
    except BaseException:
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return _Running(index, proc, private, workdir, started, started + timeout_s)


def _exited(proc: subprocess.Popen) -> bool:
    """Whether the process ended, without reaping it: while it is an unreaped zombie its id (and
    so its process group's id) cannot be reused, so killing the group afterwards is safe."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(proc: subprocess.Popen) -> None:
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


def _finish(run: _Running, *, timed_out: bool, timeout_s: int) -> TestRun:
    try:
        rc = run.proc.returncode
        duration_ms = int((time.monotonic() - run.started) * 1000)
        record = _read(os.path.join(run.private, "result"), 1000).split("\n", 1)[0]
        fields = record.split("\t")
        where = message = ""
        if timed_out:
            reason = "timeout"
            message = f"still running after {timeout_s} s"
        elif rc == 0 and record == "ok":
            reason = ""
        elif fields[0] == "fail" and len(fields) == 4:
            _, where, reason, message = fields
            reason = reason or "Exception"
        elif rc is not None and rc < 0:
            reason = {
                signal.SIGXCPU: "timeout",
                signal.SIGXFSZ: "output limit",
            }.get(-rc, f"killed by {_signal_name(-rc)}")
            if reason == "timeout":
                message = f"used more than {timeout_s} s of CPU"
            elif reason == "output limit":
                message = f"wrote more than {OUTPUT_BYTES} bytes to one file"
        elif rc == 0:
            reason = "no result"
            message = "the process exited with status 0 before the test finished"
        else:
            reason = f"exit status {rc}"
        return TestRun(
            passed=not reason,
            reason=reason,
            where=where,
            message=message[:MESSAGE_CHARS],
            returncode=rc,
            duration_ms=duration_ms,
            stdout=_read(os.path.join(run.private, "stdout"), CAPTURE_CHARS),
            stderr=_read(os.path.join(run.private, "stderr"), CAPTURE_CHARS),
        )
    finally:
        shutil.rmtree(run.private, ignore_errors=True)
        shutil.rmtree(run.workdir, ignore_errors=True)


def run_jobs(
    jobs: Sequence[tuple[str, str]], *, timeout_s: int = 2, parallel: int | None = None
) -> list[TestRun]:
    """Run each (code, test) pair in its own sandboxed process, up to ``parallel`` at a time
    (default: up to MAX_PARALLEL, no more than the CPUs), and return one TestRun per pair, in
    order. Processes are started and watched from this thread alone (no thread pool: a
    ``preexec_fn`` is only safe to run after fork when no other thread of ours is busy)."""
    if not isinstance(timeout_s, int) or isinstance(timeout_s, bool) or timeout_s < 1:
        raise ValueError(f"timeout_s must be a whole number of seconds >= 1, not {timeout_s!r}")
    if parallel is None:
        parallel = max(1, min(MAX_PARALLEL, os.cpu_count() or 1))
    results: list[TestRun | None] = [None] * len(jobs)
    pending = list(enumerate(jobs))[::-1]
    running: list[_Running] = []
    try:
        while pending or running:
            while pending and len(running) < parallel:
                index, (code, test) = pending.pop()
                running.append(_start(index, code, test, timeout_s))
            still = []
            for run in running:
                if _exited(run.proc):
                    _kill_group(run.proc)  # strays left in its group; then reap the leader
                    results[run.index] = _finish(run, timed_out=False, timeout_s=timeout_s)
                elif time.monotonic() >= run.deadline:
                    _kill_group(run.proc)
                    results[run.index] = _finish(run, timed_out=True, timeout_s=timeout_s)
                else:
                    still.append(run)
            running = still
            if running:
                nearest = min(run.deadline for run in running) - time.monotonic()
                time.sleep(max(0.0, min(POLL_S, nearest)))
    finally:
        for run in running:  # only when interrupted: leave nothing behind
            _kill_group(run.proc)
            shutil.rmtree(run.private, ignore_errors=True)
            shutil.rmtree(run.workdir, ignore_errors=True)
    done = [r for r in results if r is not None]
    if len(done) != len(jobs):  # pragma: no cover - every job either finished or raised
        raise RuntimeError("a test run went missing")
    return done


def run_tests(code: str, tests: Sequence[str], *, timeout_s: int = 2) -> list[TestRun]:
    """Every test of ``tests`` against one piece of code."""
    return run_jobs([(code, test) for test in tests], timeout_s=timeout_s)
