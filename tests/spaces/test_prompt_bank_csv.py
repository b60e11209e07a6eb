"""CSV prompt banks are read strictly: a file whose quotes do not pair up is refused whole with
the row and column that broke, nothing saved (found: one unclosed quote was accepted, "Added 1
prompts", merging two rows into one live prompt whose reference answer was the other
question's)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from spaces.errors import PromptBankError
from spaces.models import Prompt
from spaces.services import prompt_bank_import

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.spaces.urls")]

# Row 3 opens a quote it never closes; the stray quote in row 4 closes it. Read leniently, rows 3
# and 4 become one prompt, "What is 2 + 2?,4\nName a prime" + '"', with row 4's answer 7.
MERGING = b'prompt,reference\nWhat is 1 + 1?,2\n"What is 2 + 2?,4\nName a "prime",7\n'

# Found in review: accepted as one prompt "What is 2 + 2?,4\nName a prime" with reference 7. The
# quote opening row 3 closes on line 4, so the file is valid CSV; only its shape gives it away
# (tests below "a stray quote that pairs with a later one").
SWALLOWING = b'prompt,reference\nWhat is 1+1?,2\n"What is 2 + 2?,4\nName a prime",7\n'


def refusal(space, content: bytes) -> list:
    with pytest.raises(PromptBankError) as caught:
        prompt_bank_import(space=space, file_name="bank.csv", content=content)
    assert not Prompt.objects.filter(space=space).exists(), "a refused file saves nothing"
    return caught.value.errors


def test_it_refuses_a_csv_whose_unclosed_quote_would_merge_rows(math_space):
    [error] = refusal(math_space, MERGING)
    assert (error.row, error.column) == (3, 1)
    assert str(error).startswith("row 3, column 1: ")
    assert "closes on line 4" in error.message and "merge rows" in error.message


@pytest.mark.parametrize(
    ("content", "explanation"),
    [(MERGING, ["merge rows"]), (SWALLOWING, ["swallowed rows", "uploaded as JSONL"])],
    ids=["a quote that would merge rows", "a quoted value that swallowed a row"],
)
def test_it_shows_the_row_and_column_in_the_admin_and_saves_nothing(
    client, carol, math_space, content, explanation
):
    client.force_login(carol)
    response = client.post(
        f"/admin/spaces/space/{math_space.pk}/prompt-bank/",
        {"file": SimpleUploadedFile("bank.csv", content)},
    )
    assert response.status_code == 200
    assert "nothing was saved" in response.text
    assert "row 3, column 1" in response.text
    assert all(words in response.text for words in explanation), explanation
    assert [(e.row, e.column) for e in response.context["row_errors"]] == [(3, 1)]
    assert "Added" not in response.text and "added" not in response.text
    assert not Prompt.objects.exists()


@pytest.mark.parametrize(
    ("content", "row", "column", "message"),
    [
        # A quote opened and never closed: the rest of the file would be one value.
        (b'prompt,reference\nWhat is 1 + 1?,2\nWhat is 2 + 2?,"4\n', 3, 2, "never closed"),
        (b'prompt,reference\n"What is 1 + 1?,2\nWhat is 2 + 2?,4\n', 2, 1, "never closed"),
        # Text after a closing quote.
        (b'prompt,reference\n"What is 1 + 1?"?,2\n', 2, 1, "followed by '?'"),
        # One value too many or too few.
        (b"prompt,reference\nWhat is 1 + 1?,2,3\n", 2, 3, "header has 2 columns"),
        (b"prompt,reference\nWhat is 1 + 1?\n", 2, 2, "reference is missing"),
        # The header row itself.
        (b'"prompt,reference\nWhat is 1 + 1?,2\n', 1, 1, "never closed"),
    ],
)
def test_it_names_the_row_and_column_of_a_malformed_csv(math_space, content, row, column, message):
    errors = refusal(math_space, content)
    assert (errors[0].row, errors[0].column) == (row, column)
    assert message in errors[0].message
    assert str(errors[0]).startswith(f"row {row}, column {column}: ")


def test_it_counts_rows_not_lines_after_a_quoted_line_break(math_space):
    content = b'prompt,reference\n"What is\n1 + 1?",2\nWhat is 2 + 2?,"4\n'
    [error] = refusal(math_space, content)
    assert (error.row, error.column) == (3, 2)
    assert "starts on line 4 of the file" in error.message


def test_it_still_reads_well_formed_quotes(math_space):
    content = (
        b'prompt,reference\n"What is 1 + 1, in words?",2\n"What is\n1 + 2?",3\n'
        b'"Say ""6 * 7"" as a number",42\n'
    )
    result = prompt_bank_import(space=math_space, file_name="bank.csv", content=content)
    assert result.created == 3
    assert set(Prompt.objects.values_list("text", "reference")) == {
        ("What is 1 + 1, in words?", "2"),
        ("What is\n1 + 2?", "3"),
        ('Say "6 * 7" as a number', "42"),
    }


# --- a stray quote that pairs with a later one: valid CSV, but a row swallowed -----------------


def test_it_refuses_a_quoted_value_that_swallowed_a_row(math_space):
    [error] = refusal(math_space, SWALLOWING)
    assert (error.row, error.column) == (3, 1)
    assert str(error).startswith("row 3, column 1: ")
    assert "lines 3 to 4 of the file" in error.message
    assert "line 3 ('What is 2 + 2?,4') reads as a whole row of 2 values" in error.message
    assert "swallowed rows" in error.message and "uploaded as JSONL" in error.message


@pytest.mark.parametrize(
    ("content", "row", "column", "line"),
    [
        # The stray quote opens a prompt: rows 5 and 6 of the file are swallowed into row 4's.
        (
            b"prompt,reference\nWhat is 1 + 1?,2\nWhat is 2 + 2?,4\n"
            b'"What is 3 + 3?,6\nWhat is 4 + 4?,8\nWhat is 5 + 5?",10\n'
            b"What is 6 + 6?,12\nWhat is 7 + 7?,14\n",
            4,
            1,
            4,
        ),
        # The stray quote opens a reference: its next lines are whole rows (CRLF line ends).
        (
            b'prompt,reference\r\nWhat is 1 + 1?,2\r\nWhat is 2 + 2?,"4\r\n'
            b'What is 3 + 3?,6\r\nWhat is 4 + 4?",8\r\nWhat is 5 + 5?,10\r\n',
            3,
            2,
            4,
        ),
    ],
    ids=["in a prompt", "in a reference"],
)
def test_it_refuses_a_row_swallowed_in_the_middle_of_a_longer_file(
    math_space, content, row, column, line
):
    [error] = refusal(math_space, content)  # the rows around it are fine, and not saved either
    assert (error.row, error.column) == (row, column)
    assert f"line {line} (" in error.message and "swallowed rows" in error.message


def test_it_refuses_a_multi_line_prompt_whose_line_reads_as_a_row_and_takes_it_as_jsonl(
    math_space,
):
    """The price of the check: a comma on a line of a multi-line prompt can make that line look
    like a row. The message says to upload such a prompt as JSONL, which has no such doubt."""
    [error] = refusal(math_space, b'prompt,reference\n"What is\n1 + 1, in words?",2\n')
    assert (error.row, error.column) == (2, 1)
    assert "line 3 ('1 + 1, in words?')" in error.message and "JSONL" in error.message
    result = prompt_bank_import(
        space=math_space,
        file_name="bank.jsonl",
        content=b'{"prompt": "What is\\n1 + 1, in words?", "reference": "2"}\n',
    )
    assert result.created == 1
    assert Prompt.objects.get().text == "What is\n1 + 1, in words?"


def test_it_imports_legitimate_multi_line_prompts(writing_space):
    content = (
        b"prompt,split\n"
        b'"Write a function\nthat adds two numbers",train\n'
        b'"Write a haiku\r\nabout rain\r\n\r\nin three lines",heldout\n'
        # More commas than the header has columns: not a row of this file.
        b'"Add them up:\n1, 2, 3",train\n'
    )
    result = prompt_bank_import(space=writing_space, file_name="bank.csv", content=content)
    assert (result.created, result.train, result.heldout) == (3, 2, 1)
    assert set(Prompt.objects.values_list("text", flat=True)) == {
        "Write a function\nthat adds two numbers",
        "Write a haiku\r\nabout rain\r\n\r\nin three lines",
        "Add them up:\n1, 2, 3",
    }


def test_it_imports_multi_line_prompts_of_a_one_column_file(writing_space):
    """With one column every line is one value, a row no different from a line: not refused."""
    content = b'prompt\n"Write a tweet about rain,\nwith a pun"\n"Write a limerick\nabout tea"\n'
    result = prompt_bank_import(space=writing_space, file_name="bank.csv", content=content)
    assert result.created == 2


def test_it_still_reads_a_tests_column_of_json_lists(code_space):
    """A tests cell is a JSON list, on one line or pretty-printed over several; its lines may
    read as two values (the header's count) without a row being swallowed: JSON would break."""
    content = (
        b"prompt,tests\n"
        b'Write add(a b).,"[""assert add(2, 3) == 5"", ""assert add(1, 1) == 2""]"\n'
        b'Write neg(x).,"[\n  ""assert neg(1) == -1"",\n  ""assert neg(0) == 0""\n]"\n'
    )
    result = prompt_bank_import(space=code_space, file_name="code.csv", content=content)
    assert result.created == 2
    assert Prompt.objects.get(text="Write neg(x).").tests == [
        "assert neg(1) == -1",
        "assert neg(0) == 0",
    ]


def test_it_refuses_a_row_swallowed_into_a_tests_cell_as_bad_json(code_space):
    """Not by its shape (the tests cell is not checked that way) but by its JSON, at the cell."""
    swallowed = b'prompt,tests\nWrite add.,"[""assert add(1, 1) == 2""]\nWrite neg.,[]"\n'
    [error] = refusal(code_space, swallowed)
    assert (error.row, error.column) == (2, 2) and "not valid JSON" in error.message
