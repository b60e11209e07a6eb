"""The sandbox that runs an answer's code against a prompt's tests: real processes, real limits."""

from __future__ import annotations

import os
import time

import pytest

from judges.kinds.code_tests import CAPTURE_CHARS, extract_code, run_jobs, run_tests

ADD = "def add(a, b):\n    return a + b\n"


def run_one(code: str, test: str, timeout_s: int = 2):
    (result,) = run_tests(code, [test], timeout_s=timeout_s)
    return result


def test_it_passes_a_test_the_code_satisfies():
    result = run_one(ADD, "assert add(2, 3) == 5")
    assert result.passed and result.reason == "" and result.returncode == 0
    assert result.summary() == {"passed": True}


def test_it_fails_a_failing_assert_and_names_the_exception():
    result = run_one(ADD, "assert add(2, 3) == 6, 'wrong sum'")
    assert not result.passed
    assert (result.reason, result.where, result.message) == ("AssertionError", "test", "wrong sum")
    assert result.summary() == {
        "passed": False,
        "reason": "AssertionError",
        "where": "test",
        "message": "wrong sum",
    }


def test_it_fails_code_that_does_not_compile():
    result = run_one("def add(a, b) return a + b", "assert add(1, 1) == 2")
    assert not result.passed
    assert (result.reason, result.where) == ("SyntaxError", "answer")


def test_it_fails_code_that_raises_before_the_test_runs():
    result = run_one("raise ValueError('nope')", "assert True")
    assert (result.passed, result.reason, result.where) == (False, "ValueError", "answer")
    result = run_one(ADD, "assert sub(1, 1) == 0")
    assert (result.passed, result.reason, result.where) == (False, "NameError", "test")


def test_it_kills_an_infinite_loop_at_the_timeout():
    started = time.monotonic()
    results = run_jobs(
        [("while True:\n    pass\n", "pass"), ("import time\ntime.sleep(60)\n", "pass")],
        timeout_s=1,
    )
    assert time.monotonic() - started < 10
    for result in results:
        assert not result.passed and result.reason == "timeout"
        assert result.duration_ms < 5000


def test_it_refuses_a_memory_bomb_inside_the_sandbox():
    started = time.monotonic()
    result = run_one("hog = bytearray(4 * 1024 ** 3)", "pass", timeout_s=5)
    assert not result.passed
    assert (result.reason, result.where) == ("MemoryError", "answer")
    assert time.monotonic() - started < 5  # refused at once, not stopped by the timeout


def test_it_runs_with_an_empty_environment_in_a_fresh_directory(monkeypatch):
    monkeypatch.setenv("ARENA_SECRET_FOR_THE_TEST", "hunter2")
    code = "import os\nprint(os.getcwd())\nprint(sorted(os.listdir('.')))\n"
    result = run_one(code, "import os\nassert dict(os.environ) == {}, dict(os.environ)")
    assert result.passed, result
    cwd, listing = result.stdout.splitlines()
    assert listing == "[]"
    assert cwd == "/sandbox" != os.getcwd()


def test_it_gives_each_test_a_fresh_process_and_namespace():
    code = "import sys\ncounter = getattr(sys, 'seen', 0) + 1\nsys.seen = counter\n"
    results = run_tests(code, ["assert counter == 1", "assert counter == 1"])
    assert [r.passed for r in results] == [True, True]
    results = run_tests(ADD, ["x = 1", "assert 'x' not in globals()"])
    assert [r.passed for r in results] == [True, True]


def test_it_does_not_let_an_early_exit_pass_the_test():
    for code in ("import sys\nsys.exit(0)", "raise SystemExit", "import sys\nsys.exit()"):
        result = run_one(code, "assert False")
        assert not result.passed and result.reason == "SystemExit", code
    for code in ("import os\nos._exit(0)", "import os\nos.execv('/bin/true', ['true'])"):
        result = run_one(code, "assert False")
        assert not result.passed and (result.reason, result.where) == ("answer exited", "answer")


def test_it_runs_the_test_even_when_the_code_replaces_exec():
    code = "import builtins\nbuiltins.exec = lambda *args, **kwargs: None\n"
    assert run_one(code, "assert False").reason == "AssertionError"


def test_it_captures_output_cut_short_and_only_the_standard_library_imports():
    result = run_one("print('x' * 100_000)\nimport sys\nprint('oops', file=sys.stderr)", "pass")
    assert result.passed and result.stdout == "x" * CAPTURE_CHARS
    assert result.stderr == "oops\n"
    result = run_one("import django", "pass")
    assert (result.reason, result.where) == ("ModuleNotFoundError", "answer")


def test_it_closes_stdin_and_skips_a_main_block():
    code = "def add(a, b):\n    return a + b\nif __name__ == '__main__':\n    input()\n"
    assert run_one(code, "assert add(1, 2) == 3").passed
    assert run_one("input()", "pass").reason == "EOFError"


def test_it_runs_the_code_of_a_fenced_block():
    answer = "Here you go:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nIt adds."
    code, source = extract_code(answer)
    assert (code, source) == (ADD, "fenced block")
    assert run_one(code, "assert add(2, 3) == 5").passed
    assert not run_one(answer, "assert add(2, 3) == 5").passed  # the prose is not Python


@pytest.mark.parametrize(
    ("answer", "code", "source"),
    [
        ("```\nx = 1\n```", "x = 1\n", "fenced block"),
        ("```py\nx = 1\n```\n```python\nx = 2\n```", "x = 1\n", "fenced block"),
        ("```bash\npip install x\n```\nthen\n```python\nx = 2\n```", "x = 2\n", "fenced block"),
        ("```Python3\nx = 1\n", "x = 1\n", "fenced block"),  # never closed: to the end
        ("x = 1\n", "x = 1\n", "whole answer"),
        ("```js\nlet x = 1\n```", "```js\nlet x = 1\n```", "whole answer"),
    ],
)
def test_it_finds_the_code_in_an_answer(answer, code, source):
    assert extract_code(answer) == (code, source)


def test_it_runs_many_tests_in_parallel_within_the_timeout():
    started = time.monotonic()
    results = run_jobs([("import time\ntime.sleep(0.5)", "pass")] * 4, timeout_s=2, parallel=4)
    assert all(r.passed for r in results)
    assert time.monotonic() - started < 1.9  # not one after the other


def test_it_refuses_a_bad_timeout():
    with pytest.raises(ValueError, match="timeout_s"):
        run_jobs([(ADD, "pass")], timeout_s=0)
