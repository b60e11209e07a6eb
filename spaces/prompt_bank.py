"""Parsing and checking uploaded prompt banks (JSONL or CSV) and the deterministic held-out split.

Everything here is pure: it reads bytes and returns rows or row-level errors. Saving is
``spaces.services.prompt_bank_import``, which refuses a file whole when any row is wrong.

JSONL: one object per line, ``{"prompt": "...", "reference": "...", "split": "train",
"tests": ["assert add(2, 3) == 5"]}`` (reference, split and tests optional; blank lines are
skipped). CSV: a header row naming ``prompt`` and optionally ``reference``, ``split`` and
``tests``; a ``tests`` cell holds a JSON array of strings (``["assert f(1) == 2"]``) or nothing.
Tests are checked by ``spaces.validation.normalize_tests``. Row numbers are the file's line
numbers for JSONL and the spreadsheet row for CSV (the header is row 1). CSV is read strictly: a
quote that never closes, or text after a closing quote, refuses the file whole at the row and
column where the broken value opens (read leniently, such a quote merges the rows that follow
into one prompt, with another row's reference answer). A stray quote can also pair up with a
later one and still be valid CSV: the quoted value then swallows whole rows. So a quoted value
that runs over several lines, one of which, read as CSV on its own, has exactly as many values as
the header, is refused too, as a likely swallowed row (``_swallowed_row``). A multi-line prompt
whose lines hold commas is therefore uploaded as JSONL. Files with a single column, and the
``tests`` cell (JSON, which a swallowed row would break), are not checked this way.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath

from django.core.exceptions import ValidationError

from spaces.errors import RowError
from spaces.validation import normalize_tests

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
MAX_PROMPT_CHARS = 4_000
MAX_REFERENCE_CHARS = 2_000
MAX_ERRORS = 200  # past this many, stop collecting: the file is refused anyway
COLUMNS = ("prompt", "reference", "split", "tests")
SPLITS = ("train", "heldout")
SPLIT_CHOICES = [("train", "train"), ("heldout", "held-out")]
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
NEWLINE = re.compile(r"\r\n|\r|\n")  # the line ends that csv and StringIO(newline="") split on


@dataclass(frozen=True)
class BankRow:
    row: int
    text: str
    reference: str
    split: str | None  # None: decided by assign_split
    tests: tuple[str, ...] = ()


def assign_split(text: str, heldout_fraction: Decimal | float | str) -> str:
    """The split a prompt falls in when its file does not say: the first 8 bytes of the SHA-256
    of its text, read as a fraction of 2**64, below ``heldout_fraction`` means held out. It depends
    only on the text, so re-uploading a bank, or uploading it elsewhere, splits it the same way."""
    fraction = Decimal(str(heldout_fraction))
    point = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    return "heldout" if Decimal(point) < fraction * Decimal(2**64) else "train"


def parse(*, file_name: str, content: bytes) -> tuple[list[BankRow], list[RowError]]:
    """Rows and the problems found in them; the caller refuses the file when errors is non-empty."""
    fmt = FORMATS.get(PurePath(file_name or "").suffix.lower())
    if fmt is None:
        return [], [RowError(0, f"{file_name!r}: upload a .jsonl or .csv file")]
    if len(content) > MAX_FILE_BYTES:
        return [], [RowError(0, f"the file is {len(content)} bytes; at most {MAX_FILE_BYTES}")]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [RowError(0, f"the file is not UTF-8 text (byte {exc.start})")]
    if "\x00" in text:
        return [], [RowError(0, "the file contains NUL bytes")]
    rows, errors = (_parse_jsonl if fmt == "jsonl" else _parse_csv)(text)
    if not rows and not errors:
        errors.append(RowError(0, "the file holds no prompts"))
    if len(rows) > MAX_ROWS:
        errors.insert(0, RowError(0, f"the file holds {len(rows)} prompts; at most {MAX_ROWS}"))
    return rows, errors


def clean_row(
    row: int, prompt, reference, split, errors: list[RowError], tests=None
) -> BankRow | None:
    """Check one row's values (already pulled from the file) and return it cleaned. ``tests``
    is a list of strings, or None for none."""
    problems = []
    if not isinstance(prompt, str):
        problems.append("prompt is missing or not a string")
        prompt = ""
    prompt = prompt.strip()
    if isinstance(prompt, str) and not prompt and not problems:
        problems.append("prompt is empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        problems.append(f"prompt is {len(prompt)} characters; at most {MAX_PROMPT_CHARS}")
    if reference is None:
        reference = ""
    elif isinstance(reference, bool):
        problems.append("reference must be a string or a number, not true/false")
        reference = ""
    elif isinstance(reference, int | Decimal):
        reference = str(reference)
    elif not isinstance(reference, str):
        problems.append("reference must be a string or a number")
        reference = ""
    reference = reference.strip()
    if len(reference) > MAX_REFERENCE_CHARS:
        problems.append(f"reference is {len(reference)} characters; at most {MAX_REFERENCE_CHARS}")
    if split is not None and not isinstance(split, str):
        problems.append("split must be a string")
        split = None
    split = (split or "").strip().lower() or None
    if split is not None and split not in SPLITS:
        problems.append(f"split must be train or heldout (or left empty), not {split!r}")
    try:
        tests = normalize_tests(tests)
    except ValidationError as exc:
        problems.extend(exc.messages)
        tests = []
    errors.extend(RowError(row, p) for p in problems)
    if problems:
        return None
    return BankRow(row=row, text=prompt, reference=reference, split=split, tests=tuple(tests))


def _tests_cell(text: str) -> tuple[object, str | None]:
    """A CSV ``tests`` cell: empty, or a JSON array of strings. Returns (value, problem)."""
    cell = text.strip()
    if not cell:
        return [], None
    try:
        return json.loads(cell, parse_constant=_parse_constant), None
    except ValueError as exc:
        return [], (
            'the tests cell must hold a JSON array of strings such as ["assert f(1) == 2"]; '
            f"it is not valid JSON ({exc})"
        )


def _parse_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def _parse_jsonl(text: str) -> tuple[list[BankRow], list[RowError]]:
    rows: list[BankRow] = []
    errors: list[RowError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if len(errors) >= MAX_ERRORS:
            break
        if not line.strip():
            continue
        try:
            obj = json.loads(line, parse_float=Decimal, parse_constant=_parse_constant)
        except ValueError as exc:
            errors.append(RowError(number, f"not valid JSON: {exc}"))
            continue
        if not isinstance(obj, dict):
            errors.append(RowError(number, "each line must be a JSON object"))
            continue
        unknown = sorted(set(obj) - set(COLUMNS))
        if unknown:
            errors.append(
                RowError(number, f"unknown key(s) {', '.join(unknown)}; use {', '.join(COLUMNS)}")
            )
            continue
        row = clean_row(
            number,
            obj.get("prompt"),
            obj.get("reference"),
            obj.get("split"),
            errors,
            tests=obj.get("tests"),
        )
        if row:
            rows.append(row)
    return rows, errors


def _locate_csv_problem(record: str, first_line: int) -> tuple[int, int, str] | None:
    """Where the CSV record at the start of ``record`` (the file's text from the record's first
    line, ``first_line``, on) breaks, as (line of the file, column, problem), or None when it does
    not. Only quotes break a record: a quoted value must close, and only a comma or the row's end
    may follow its closing quote."""
    column, i, line = 1, 0, first_line
    at_value_start = True
    while i < len(record):
        char = record[i]
        if at_value_start and char == '"':
            opened_col, opened_line = column, line
            i += 1
            while True:
                close = record.find('"', i)
                if close == -1:
                    return (
                        opened_line,
                        opened_col,
                        'this value opens a quote (") that is never closed, so the rest of '
                        'the file would be read into it; close the quote, or double it ("") '
                        "inside a quoted value",
                    )
                line += len(NEWLINE.findall(record, i, close))
                if record.startswith('""', close):  # an escaped quote inside the value
                    i = close + 2
                    continue
                after = record[close + 1 : close + 2]
                if after in ("", ",", "\n", "\r"):
                    i = close + 1
                    break
                where = "" if line == opened_line else f" on line {line} of the file"
                return (
                    opened_line,
                    opened_col,
                    f'the quote (") that opens this value closes{where} and is followed by '
                    f"{after!r} instead of a comma or the end of the row: a quote is missing "
                    "or not doubled, which would merge rows",
                )
            at_value_start = False
            continue
        if char == ",":
            column += 1
            at_value_start = True
        elif char in "\r\n":
            return None  # the record ended well
        else:
            at_value_start = False
        i += 1
    return None


def _csv_error(text_lines: list[str], first_line: int, row: int, exc: csv.Error) -> RowError:
    """The refusal of a record that the strict reader could not read, at its row and column."""
    found = _locate_csv_problem("".join(text_lines[first_line - 1 :]), first_line)
    if found is None:
        return RowError(row, f"unreadable CSV: {exc}")
    line, column, problem = found
    # Rows count records; a quoted value holding line breaks makes them differ from lines.
    at_line = f" (the value starts on line {line} of the file)" if line != row else ""
    return RowError(row, f"{problem}{at_line}", column=column)


def _parse_csv(text: str) -> tuple[list[BankRow], list[RowError]]:
    rows: list[BankRow] = []
    errors: list[RowError] = []
    # The reader's idea of lines, for locating a problem: StringIO(newline="") splits on \n, \r
    # and \r\n exactly as the reader's own source does (str.splitlines splits on more).
    text_lines = io.StringIO(text, newline="").readlines()
    # strict: a quote that never closes, or text after a closing quote, is an error instead of
    # being read on (the lenient reader merged the following rows into one value).
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [_csv_error(text_lines, 1, 1, exc)]
    if header is None:
        return [], []
    header = [h.strip().lower() for h in header]
    unknown = [h for h in header if h not in COLUMNS]
    if "prompt" not in header or unknown or len(set(header)) != len(header):
        return [], [
            RowError(
                1,
                f"the header must name prompt and optionally reference, split, tests (each "
                f"once); found {', '.join(header) or 'nothing'}",
            )
        ]
    number = 1
    while len(errors) < MAX_ERRORS:
        first_line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # Past a broken quote nothing in the file can be trusted: stop here.
            errors.append(_csv_error(text_lines, first_line, number + 1, exc))
            break
        number += 1
        if not any(v.strip() for v in values):
            continue
        # Before the count of values: a swallowed row is the likelier cause of a wrong count.
        swallowed = _swallowed_row(number, first_line, values, header)
        if swallowed:
            errors.append(swallowed)
            continue
        if len(values) != len(header):
            errors.append(_column_count_error(number, values, header))
            continue
        record = dict(zip(header, values, strict=True))
        tests, problem = _tests_cell(record.get("tests", ""))
        if problem:
            errors.append(RowError(number, problem, column=header.index("tests") + 1))
        row = clean_row(
            number,
            record["prompt"],
            record.get("reference"),
            record.get("split"),
            errors,
            tests=tests,
        )
        if row and not problem:
            rows.append(row)
    return rows, errors


def _swallowed_row(
    row: int, first_line: int, values: list[str], header: list[str]
) -> RowError | None:
    """The refusal of a record one of whose quoted values looks as if it swallowed a row: it
    runs over several lines and one of them, read as CSV on its own, has exactly as many values
    as the header. Such a file is valid CSV (a stray quote paired with a later quote), so only
    its shape gives it away: read as it is, rows become part of one prompt, and the reference
    answer of the merged prompt belongs to another question (``first_line``: the file line
    where the record starts)."""
    if len(header) < 2:
        return None  # in a one-column file every line is one value: a row looks like any line
    line = first_line  # the file line where the value being looked at starts
    for index, value in enumerate(values):
        lines = NEWLINE.split(value)
        # A tests cell is JSON: a row swallowed into it breaks the JSON, and is refused as such.
        if len(lines) > 1 and (index >= len(header) or header[index] != "tests"):
            for offset, text in enumerate(lines):
                if len(next(csv.reader([text]), [])) == len(header):
                    last = line + len(lines) - 1
                    shown = text if len(text) <= 60 else text[:59] + "…"
                    return RowError(
                        row,
                        f"this quoted value runs over lines {line} to {last} of the file, and "
                        f"line {line + offset} ({shown!r}) reads as a whole row of "
                        f'{len(header)} values: a stray quote (") has probably swallowed rows '
                        "into this one, which would pair a prompt with another row's answer. "
                        "Check the quotes on those lines; a prompt of several lines whose lines "
                        "hold commas must be uploaded as JSONL",
                        column=index + 1,
                    )
        line += len(lines) - 1
    return None


def _column_count_error(row: int, values: list[str], header: list[str]) -> RowError:
    if len(values) > len(header):
        column = len(header) + 1
        problem = (
            f"{len(values)} values but the header has {len(header)} columns; a value with a "
            'comma must be quoted ("a, b")'
        )
    else:
        column = len(values) + 1
        problem = (
            f"{len(values)} values but the header has {len(header)} columns: "
            f"{header[len(values)]} is missing"
        )
    return RowError(row, problem, column=column)
