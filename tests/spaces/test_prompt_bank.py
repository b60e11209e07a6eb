"""Prompt bank uploads: JSONL and CSV, refused whole with row-level errors, nothing saved."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from spaces import prompt_bank
from spaces.errors import PromptBankError
from spaces.models import Prompt
from spaces.prompt_bank import assign_split
from spaces.services import prompt_bank_import, prompt_create
from tests.spaces.conftest import LLM_PANEL, make_space

pytestmark = pytest.mark.django_db


def jsonl(*rows) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


def refused(space, name: str, content: bytes, **kwargs) -> list[tuple[int, str]]:
    before = Prompt.objects.count()
    with pytest.raises(PromptBankError) as caught:
        prompt_bank_import(space=space, file_name=name, content=content, **kwargs)
    assert Prompt.objects.count() == before, "a refused file must save nothing"
    assert "nothing saved" in str(caught.value)
    return [(e.row, e.message) for e in caught.value.errors]


def test_it_imports_jsonl(math_space):
    content = jsonl(
        {"prompt": "What is 6 * 7?", "reference": "42"},
        "",  # blank lines are skipped
        {"prompt": "What is 0.1 + 0.2?", "reference": 0.3},
        {"prompt": "What is 2 ** 10?", "reference": 1024, "split": "heldout"},
        {"prompt": "  What is 9 - 10?  ", "reference": " -1 ", "split": "train"},
    )
    result = prompt_bank_import(space=math_space, file_name="bank.jsonl", content=content)
    assert result.created == 4
    assert result.train + result.heldout == 4
    prompts = {p.text: p for p in math_space.prompts.all()}
    assert prompts["What is 0.1 + 0.2?"].reference == "0.3"  # read as a decimal, not a float
    assert prompts["What is 2 ** 10?"].split == "heldout"
    assert prompts["What is 9 - 10?"].reference == "-1"
    assert prompts["What is 9 - 10?"].split == "train"


def test_it_imports_csv_with_a_bom_and_quoted_newlines(writing_space):
    content = (
        "\ufeffprompt,reference,split\r\n"
        '"Write a tweet about rain,\nwith a pun",,train\r\n'
        "Write a tweet about coffee,,heldout\r\n"
        "Write a tweet about cats,,\r\n"
    ).encode()
    result = prompt_bank_import(space=writing_space, file_name="Bank.CSV", content=content)
    cats = assign_split("Write a tweet about cats", writing_space.heldout_fraction)
    assert (result.created, result.heldout) == (3, 1 + (cats == "heldout"))
    texts = set(writing_space.prompts.values_list("text", flat=True))
    assert "Write a tweet about rain,\nwith a pun" in texts
    assert writing_space.prompts.get(text="Write a tweet about coffee").split == "heldout"


def test_it_imports_csv_without_a_reference_column(writing_space):
    result = prompt_bank_import(
        space=writing_space, file_name="b.csv", content=b"prompt\nA tweet about tea\n"
    )
    assert result.created == 1


def test_it_refuses_a_bad_jsonl_file_whole_with_row_numbers(math_space):
    content = jsonl(
        {"prompt": "What is 6 * 7?", "reference": "42"},  # 1: fine
        "{not json",  # 2
        ["a list"],  # 3
        {"prompt": "", "reference": "1"},  # 4
        {"prompt": "x" * (prompt_bank.MAX_PROMPT_CHARS + 1), "reference": "1"},  # 5
        {"prompt": "What is 1 + 1?", "reference": "2", "split": "test"},  # 6
        {"prompt": "What is 6 * 7?", "reference": "42"},  # 7: duplicate of 1
        {"prompt": "What is 3 + 3?"},  # 8: verifiable needs a reference
        {"prompt": "What is 4 + 4?", "reference": "eight"},  # 9: number format
        {"prompt": "What is 5 + 5?", "reference": "10", "answer": "10"},  # 10: unknown key
        {"prompt": 7, "reference": "7"},  # 11
        {"prompt": "What is NaN?", "reference": "NaN"},  # 12
        {"prompt": "Truth?", "reference": True},  # 13
    )
    errors = dict(refused(math_space, "bank.jsonl", content))
    assert set(errors) == set(range(2, 14))
    assert "not valid JSON" in errors[2]
    assert "JSON object" in errors[3]
    assert "empty" in errors[4]
    assert "at most" in errors[5]
    assert "split" in errors[6]
    assert "same as row 1" in errors[7]
    assert "reference answer" in errors[8]
    assert "number" in errors[9]
    assert "unknown key" in errors[10]
    assert "string" in errors[11]
    assert "finite" in errors[12]
    assert "true/false" in errors[13]


def test_it_refuses_a_bad_csv_file_whole_with_row_numbers(math_space):
    content = (
        b"prompt,reference\n"  # row 1
        b"What is 6 * 7?,42\n"  # row 2 fine
        b"What is 1 + 1?,2,extra\n"  # row 3
        b",5\n"  # row 4
        b"What is 2 + 2?,four\n"  # row 5
    )
    errors = refused(math_space, "bank.csv", content)
    assert [row for row, _ in errors] == [3, 4, 5]
    assert "columns" in errors[0][1]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bank.txt", b'{"prompt": "a"}', ".jsonl or .csv"),
        ("bank.jsonl", b"", "no prompts"),
        ("bank.jsonl", b"\n\n", "no prompts"),
        ("bank.jsonl", b"\xff\xfe\x00", "UTF-8"),
        ("bank.csv", b"prompt\nab\x00c\n", "NUL"),
        ("bank.csv", b"question,answer\nq,a\n", "header"),
        ("bank.csv", b"prompt,prompt\nq,a\n", "header"),
        ("bank.jsonl", b" " * (prompt_bank.MAX_FILE_BYTES + 1), "bytes"),
    ],
)
def test_it_refuses_an_unusable_file(writing_space, name, content, message):
    errors = refused(writing_space, name, content)
    assert message in errors[0][1]


def test_it_refuses_too_many_rows(writing_space, monkeypatch):
    monkeypatch.setattr(prompt_bank, "MAX_ROWS", 3)
    content = jsonl(*({"prompt": f"Tweet number {i}"} for i in range(4)))
    errors = refused(writing_space, "bank.jsonl", content)
    assert errors[0] == (0, "the file holds 4 prompts; at most 3")


def test_it_refuses_prompts_the_space_already_has(math_space):
    prompt_create(space=math_space, text="What is 6 * 7?", reference="42")
    content = jsonl(
        {"prompt": "What is 6 * 7?", "reference": "42"}, {"prompt": "New?", "reference": "1"}
    )
    assert refused(math_space, "b.jsonl", content) == [
        (1, "duplicate prompt: the space already has it")
    ]
    assert math_space.prompts.count() == 1


def test_it_refuses_multi_line_references_in_a_single_line_space(carol):
    space = make_space(
        carol,
        "oneliners",
        task_kind="open",
        judge_panel=LLM_PANEL,
        rules={"answer_format": "single_line"},
    )
    content = jsonl({"prompt": "A slogan", "reference": "line one\nline two"})
    assert "line breaks" in refused(space, "b.jsonl", content)[0][1]


def test_it_splits_held_out_prompts_deterministically(carol):
    texts = [f"Write a tweet about topic {i}" for i in range(400)]
    content = jsonl(*({"prompt": t} for t in texts))
    splits = []
    for slug in ("first", "second"):
        space = make_space(carol, slug, task_kind="open", judge_panel=LLM_PANEL)
        prompt_bank_import(
            space=space, file_name="b.jsonl", content=content, heldout_fraction=Decimal("0.25")
        )
        splits.append(dict(space.prompts.values_list("text", "split")))
    assert splits[0] == splits[1]  # same text, same split, whatever the space or the order
    heldout = sum(s == "heldout" for s in splits[0].values())
    assert 60 <= heldout <= 140  # about a quarter of 400
    assert all(splits[0][t] == assign_split(t, "0.25") for t in texts)
    assert assign_split("anything", 0) == "train"
    assert assign_split("anything", "0.5") in {"train", "heldout"}


def test_it_uses_the_space_held_out_fraction_by_default(writing_space):
    writing_space.heldout_fraction = Decimal("0")
    writing_space.save()
    content = jsonl(*({"prompt": f"Tweet {i}"} for i in range(50)))
    result = prompt_bank_import(space=writing_space, file_name="b.jsonl", content=content)
    assert (result.train, result.heldout) == (50, 0)


def test_it_refuses_a_bad_held_out_fraction(writing_space):
    errors = refused(writing_space, "b.jsonl", jsonl({"prompt": "a"}), heldout_fraction="0.9")
    assert "heldout_fraction" in errors[0][1]


# --- tests (for a verifier in mode tests) -------------------------------------------------------


def test_it_imports_jsonl_rows_with_tests(code_space):
    content = jsonl(
        {"prompt": "Write add(a, b).", "tests": ["assert add(2, 3) == 5", "assert add(0, 0) == 0"]},
        {"prompt": "Write neg(x).", "tests": ["assert neg(1) == -1"], "reference": "-x"},
    )
    result = prompt_bank_import(space=code_space, file_name="code.jsonl", content=content)
    assert result.created == 2
    prompts = {p.text: p for p in code_space.prompts.all()}
    assert prompts["Write add(a, b)."].tests == ["assert add(2, 3) == 5", "assert add(0, 0) == 0"]
    assert prompts["Write add(a, b)."].reference == ""
    assert prompts["Write neg(x)."].tests == ["assert neg(1) == -1"]


def test_it_imports_a_csv_tests_column_holding_a_json_array(code_space):
    content = (
        b"prompt,tests,split\n"
        b'Write add(a b).,"[""assert add(2, 3) == 5"", ""assert add(1, 1) == 2""]",train\n'
        b'Write double(x).,"[""assert double(4) == 8""]",heldout\n'
    )
    result = prompt_bank_import(space=code_space, file_name="code.csv", content=content)
    assert (result.created, result.train, result.heldout) == (2, 1, 1)
    assert code_space.prompts.get(text="Write add(a b).").tests == [
        "assert add(2, 3) == 5",
        "assert add(1, 1) == 2",
    ]


def test_it_refuses_a_jsonl_file_with_bad_tests_whole(code_space):
    content = jsonl(
        {"prompt": "Fine one", "tests": ["assert True"]},  # 1: fine
        {"prompt": "No tests"},  # 2: the space runs tests
        {"prompt": "Empty list", "tests": []},  # 3
        {"prompt": "Not a list", "tests": "assert True"},  # 4
        {"prompt": "Not strings", "tests": [1, 2]},  # 5
        {"prompt": "Bad Python", "tests": ["assert f(1) =="]},  # 6
        {"prompt": "Too many", "tests": ["assert True"] * 21},  # 7
        {"prompt": "Too long", "tests": ["assert True  # " + "x" * 2000]},  # 8
        {"prompt": "Blank test", "tests": [" "]},  # 9
    )
    errors = dict(refused(code_space, "code.jsonl", content))
    assert set(errors) == set(range(2, 10))
    assert "every prompt needs tests" in errors[2]
    assert "every prompt needs tests" in errors[3]
    assert "tests must be a list" in errors[4]
    assert "tests[0] must be a string" in errors[5]
    assert "tests[0] is not valid Python" in errors[6]
    assert "at most 20" in errors[7]
    assert "at most 2000" in errors[8]
    assert "tests[0] is empty" in errors[9]


def test_it_refuses_a_csv_file_with_bad_tests_whole(code_space):
    content = (
        b"prompt,tests\n"  # row 1
        b'Fine,"[""assert True""]"\n'  # row 2
        b"Not JSON,assert True\n"  # row 3
        b'An object,"{""a"": 1}"\n'  # row 4
        b"Empty cell,\n"  # row 5: the space runs tests
        b'Bad Python,"[""def (""]"\n'  # row 6
    )
    errors = refused(code_space, "code.csv", content)
    assert [row for row, _ in errors] == [3, 4, 5, 6]
    messages = dict(errors)
    assert "must hold a JSON array" in messages[3]
    assert "tests must be a list" in messages[4]
    assert "every prompt needs tests" in messages[5]
    assert "not valid Python" in messages[6]


def test_it_takes_tests_without_a_reference_only_where_the_panel_runs_them(math_space):
    content = jsonl({"prompt": "What is 2 + 2?", "tests": ["assert True"]})
    [(row, message)] = refused(math_space, "b.jsonl", content)
    assert row == 1 and "needs a reference answer" in message


def test_it_names_tests_in_the_csv_header_error(writing_space):
    errors = refused(writing_space, "b.csv", b"prompt,checks\nq,a\n")
    assert "reference, split, tests" in errors[0][1]
