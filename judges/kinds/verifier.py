"""``verifier``: checks each answer against the prompt's reference (RLVR). 1 point if right, 0 if
wrong, so every correct answer ties with every other correct answer.

Modes (config ``mode``):
- ``exact``: the answer equals the reference after Unicode NFKC, trimming and collapsing runs of
  whitespace to one space; letter case is ignored unless ``case_sensitive`` is true.
- ``numeric``: the last number in the answer (see ``judges.kinds.numbers``) equals the reference's
  number within ``tolerance`` (absolute, decimal string, default "0") or ``rel_tolerance``
  (relative to the reference, decimal string, default "0"): right when
  ``|answer - reference| <= max(tolerance, rel_tolerance * |reference|)``, boundary included.
  Arithmetic is exact (Decimal parsing, Fraction comparison), so "0.3" is within "0.1" of "0.2".
- ``regex``: the (stripped) answer matches ``pattern`` from the config (where ``{reference}``
  stands for the prompt's reference, regex-escaped), as a whole
  (``match: "fullmatch"``, the default) or anywhere (``match: "search"``). The pattern runs with
  a time limit so a pathological pattern cannot stall the judge worker.
- ``tests``: the answer is Python code, checked by the prompt's tests (``Prompt.tests``, a list
  of snippets such as ``"assert add(2, 3) == 5"``) instead of a reference. The code is the
  answer's first fenced code block (tagged python, or not tagged), else the whole answer. Each
  test runs in its own bubblewrap sandbox, apart from the answer's code, which runs in another
  (``judges.kinds.code_tests`` says how, and what a test can and cannot do with the answer's
  names), with a limit of ``timeout_s`` seconds (integer 1..10, default 2); a test passes when
  its process ran it to the end without an exception. Where no sandbox can be made, nothing runs
  and judging fails (``SandboxUnavailable``), so the match is refunded. Points: the number of tests
  passed, out of the number of tests, so the panel's normalised score is exactly the fraction
  passed (all pass beats half pass beats none). The prompt's tests reach the judge through
  ``run_panel(tests=...)`` (``JudgeContext.tests``).
- ``json_schema``: the answer is JSON that the config's ``schema`` (a JSON Schema, checked against
  its metaschema when the space is saved) accepts; no reference is needed.
  ``judges.kinds.json_answers`` says how the JSON is found in the answer and how it is validated.
"""

from __future__ import annotations

import unicodedata
from fractions import Fraction
from typing import Any

import regex

from judges.config import JSON_SCHEMA_MODE, REFERENCE_SLOT, TESTS_MODE, VerifierConfig
from judges.errors import JudgeRunError
from judges.kinds import code_tests, json_answers, numbers
from judges.kinds.base import Judge, JudgeResult

REGEX_TIMEOUT_S = 1.0


def normalize_text(text: str, *, case_sensitive: bool) -> str:
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    return text if case_sensitive else text.casefold()


class VerifierJudge(Judge):
    Config = VerifierConfig
    config: VerifierConfig

    def judge(self, *, prompt_text: str, reference: str, answers: list[str]) -> JudgeResult:
        if self.config.mode == TESTS_MODE:
            return self._tests(answers)
        check = {
            "exact": self._exact,
            "numeric": self._numeric,
            "regex": self._regex,
            JSON_SCHEMA_MODE: self._json_schema,
        }
        checks = check[self.config.mode](reference, answers)
        return JudgeResult(
            points=[1.0 if c["correct"] else 0.0 for c in checks],
            max_points=1.0,
            details={"mode": self.config.mode, "answers": checks},
        )

    @staticmethod
    def _refuse_unusable_tests(tests: list[str], checks: list[dict[str, Any]]) -> None:
        """A test that asks the sandbox for what it cannot do (a callback, comparing the
        answer's object with a plain value) for every answer that had code would rank the
        answers on the creator's mistake: judging fails instead (the match is refunded), saying
        which test to rewrite."""
        with_code = [c for c in checks if c["tests"][0].get("reason") != "no code"]
        for index, test in enumerate(tests):
            if with_code and all(
                c["tests"][index].get("reason") == "sandbox limit" for c in with_code
            ):
                raise JudgeRunError(
                    f"test {index + 1} ({test[:80]!r}) asks for something the code sandbox "
                    "cannot do for any answer (see docs/sandbox.md): rewrite it"
                )

    # --- modes ---------------------------------------------------------------------------------

    def _exact(self, reference: str, answers: list[str]) -> list[dict[str, Any]]:
        case_sensitive = self.config.case_sensitive
        expected = normalize_text(reference, case_sensitive=case_sensitive)
        if not expected:
            raise JudgeRunError("an exact verifier needs a non-empty reference answer")
        return [
            {"correct": normalize_text(a, case_sensitive=case_sensitive) == expected}
            for a in answers
        ]

    def _numeric(self, reference: str, answers: list[str]) -> list[dict[str, Any]]:
        try:
            expected = numbers.parse_reference(reference)
        except numbers.NotANumber as exc:
            raise JudgeRunError(f"the reference answer is not a usable number: {exc}") from None
        if expected is None:
            raise JudgeRunError(f"the reference answer {reference[:80]!r} has no number")
        allowed = max(
            Fraction(self.config.tolerance),
            Fraction(self.config.rel_tolerance) * abs(expected),
        )
        out = []
        for answer in answers:
            try:
                got = numbers.last_number(answer)
            except numbers.NotANumber as exc:
                out.append({"correct": False, "parsed": None, "reason": str(exc)})
                continue
            if got is None:
                out.append({"correct": False, "parsed": None, "reason": "no number in the answer"})
                continue
            out.append(
                {"correct": abs(got - expected) <= allowed, "parsed": numbers.fraction_text(got)}
            )
        return out

    def _regex(self, reference: str, answers: list[str]) -> list[dict[str, Any]]:
        # "{reference}" in the pattern stands for this prompt's reference, escaped, so one
        # space-wide pattern such as r"(?i).*\b{reference}\b.*" checks every prompt's answer.
        pattern = self.config.pattern.replace(REFERENCE_SLOT, regex.escape(reference.strip()))
        compiled = regex.compile(pattern, regex.VERSION0)
        match = getattr(compiled, self.config.match)
        out = []
        for answer in answers:
            try:
                found = match(answer.strip(), timeout=REGEX_TIMEOUT_S) is not None
            except TimeoutError:
                out.append({"correct": False, "reason": "the pattern timed out on this answer"})
                continue
            out.append({"correct": found})
        return out

    def _json_schema(self, reference: str, answers: list[str]) -> list[dict[str, Any]]:
        return json_answers.check_answers(self.config.json_schema, answers)

    def _tests(self, answers: list[str]) -> JudgeResult:
        tests = list(self.context.tests)
        if not tests:
            raise JudgeRunError("a verifier in mode tests needs the prompt's tests; it has none")
        if not all(isinstance(t, str) and t.strip() for t in tests):
            raise JudgeRunError("the prompt's tests must be non-empty strings of Python")
        codes = [code_tests.extract_code(answer) for answer in answers]
        # Blank code fails every test without starting a process.
        jobs = [(code, test) for code, _ in codes if code.strip() for test in tests]
        runs = iter(code_tests.run_jobs(jobs, timeout_s=self.config.timeout_s))
        points, checks = [], []
        for code, source in codes:
            if code.strip():
                results = [next(runs).summary() for _ in tests]
            else:
                results = [{"passed": False, "reason": "no code"} for _ in tests]
            passed = sum(r["passed"] for r in results)
            points.append(float(passed))
            checks.append(
                {
                    "correct": passed == len(tests),
                    "passed": passed,
                    "code": source,
                    "tests": results,
                }
            )
        self._refuse_unusable_tests(tests, checks)
        return JudgeResult(
            points=points,
            max_points=float(len(tests)),
            details={
                "mode": TESTS_MODE,
                "tests": len(tests),
                "timeout_s": self.config.timeout_s,
                "answers": checks,
            },
        )
