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


def test_it_shows_the_row_and_column_in_the_admin_and_saves_nothing(client, carol, math_space):
    client.force_login(carol)
    response = client.post(
        f"/admin/spaces/space/{math_space.pk}/prompt-bank/",
        {"file": SimpleUploadedFile("bank.csv", MERGING)},
    )
    assert response.status_code == 200
    assert "nothing was saved" in response.text
    assert "row 3, column 1" in response.text
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
    content = b'prompt,reference\n"What is\n1 + 1, in words?",2\n"Say ""6 * 7"" as a number",42\n'
    result = prompt_bank_import(space=math_space, file_name="bank.csv", content=content)
    assert result.created == 2
    assert set(Prompt.objects.values_list("text", "reference")) == {
        ("What is\n1 + 1, in words?", "2"),
        ('Say "6 * 7" as a number', "42"),
    }
