"""The space editor (creator's studio): real fields that store exactly what the JSON held, errors
that name the field in words, and the economics refusal as before."""

from __future__ import annotations

import pytest
from django.forms import modelform_factory

from spaces.forms import SpaceAdminForm
from spaces.models import Space
from spaces.services import space_set_status
from tests.spaces.conftest import make_space
from tests.spaces.studio import editor_data

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.spaces.urls")]


def change_url(space: Space) -> str:
    return f"/admin/spaces/space/{space.pk}/change/"


def stored(space: Space) -> tuple:
    space.refresh_from_db()
    return (
        space.rules,
        space.payout_shares,
        space.creator_rake_bps,
        space.platform_rake_bps,
        space.subsidy,
        space.judge_panel,
    )


def errors_of(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form was expected to be refused"
    return response.context["adminform"].form.errors


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # the math space of the fixtures: numeric verifier, number answers
        {
            "task_kind": "open",
            "rules": {
                "answer_format": "single_line",
                "max_chars": 280,
                "banned_substrings": ["As an AI", " spaced "],
                "injection_policy": "disqualify",
            },
            "judge_panel": [
                {"kind": "pairwise-llm", "tie_margin": 0.25, "weight": 2},
                {"kind": "score-llm", "rubric": "Be brief.\nBe right.", "shadow": True},
            ],
            "payout_shares": ["0.60", "0.25", "0.15"],
            "creator_rake_bps": 275,
            "subsidy": 40,
        },
    ],
)
def test_saving_the_editor_unchanged_stores_exactly_what_the_json_held(client, carol, overrides):
    space = make_space(carol, "round-trip", **overrides)
    before = stored(space)
    client.force_login(carol)
    page = client.get(change_url(space))
    assert page.status_code == 200
    assert "Judge 1" in page.text and "1st place (%)" in page.text
    response = client.post(change_url(space), editor_data(space))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert stored(space) == before  # "0.60" stays "0.60", key for key, type for type


def test_unchanged_economics_save_in_an_open_space(client, carol, math_space):
    math_space.prompts.create(text="What is 6 * 7?", reference="42")
    space_set_status(space=math_space, status="open")
    client.force_login(carol)
    response = client.post(change_url(math_space), editor_data(math_space, title="Sums"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    math_space.refresh_from_db()
    assert math_space.title == "Sums"


def test_changed_fields_become_the_stored_values(client, carol, math_space):
    client.force_login(carol)
    data = editor_data(
        math_space,
        answer_format="free",
        max_chars="300",
        banned_substrings="lol\r\n\r\nAs an AI\r\n",
        payout_share_1="50",
        payout_share_2="50",
        payout_share_3="",
        creator_rake="2.5",
        subsidy="12",
    )
    response = client.post(change_url(math_space), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    math_space.refresh_from_db()
    assert math_space.rules == {
        "answer_format": "free",
        "max_new_tokens_cap": 64,
        "max_chars": 300,
        "banned_substrings": ["lol", "As an AI"],
        "injection_policy": "penalty",
    }
    assert math_space.payout_shares == ["0.5", "0.5"]
    assert (math_space.creator_rake_bps, math_space.subsidy) == (250, 12)


def test_errors_name_the_field_in_words_and_nothing_is_saved(client, carol, math_space):
    before = stored(math_space)
    client.force_login(carol)
    response = client.post(
        change_url(math_space),
        editor_data(math_space, payout_share_1="60", payout_share_2="20", max_chars="0"),
    )
    errors = errors_of(response)
    assert errors["payout_share_1"] == [
        "Payout shares add up to 90%; they must add up to exactly 100%"
    ]
    assert errors["max_chars"] == ["Longest answer kept (characters) must be at least 1"]

    increasing = editor_data(math_space, payout_share_1="30", payout_share_2="60")
    [message] = errors_of(client.post(change_url(math_space), increasing))["payout_share_2"]
    assert message.startswith("2nd place (60%) would win more than 1st place (30%)")

    too_much = editor_data(math_space, creator_rake="46")
    [message] = errors_of(client.post(change_url(math_space), too_much))["creator_rake"]
    assert "creator and platform rakes together are 51%" in message and "bps" not in message

    fine_grained = editor_data(math_space, creator_rake="1.234")
    assert errors_of(client.post(change_url(math_space), fine_grained))["creator_rake"] == [
        "Creator rake (%): at most 2 decimal places (0.01%)"
    ]
    assert stored(math_space) == before


def test_a_rule_the_panel_cannot_judge_shows_on_the_rule(client, carol, code_space):
    client.force_login(carol)
    response = client.post(change_url(code_space), editor_data(code_space, answer_format="number"))
    [message] = errors_of(response)["answer_format"]
    assert "run the answer as Python code" in message and "judge 1" in message
    assert "judge_panel[" not in message


def test_a_judge_row_with_a_bad_option_is_named_by_its_number(client, carol, writing_space):
    client.force_login(carol)
    data = editor_data(
        writing_space,
        **{
            "judge_panel-1-kind": "pairwise-llm",
            "judge_panel-1-weight": "0",
            "judge_panel-1-pairwise-llm-tie_margin": "9",
        },
    )
    messages = errors_of(client.post(change_url(writing_space), data))["judge_panel"]
    assert any(m.startswith("judge 2: weight must be an integer from 1 to 100") for m in messages)
    assert any("tie_margin must be a number of nats from 0 to 5.0" in m for m in messages)


def test_a_judge_added_as_a_row_is_stored_as_its_canonical_config(client, carol, writing_space):
    client.force_login(carol)
    data = editor_data(
        writing_space,
        **{
            "judge_panel-1-kind": "score-llm",
            "judge_panel-1-shadow": "true",
            "judge_panel-1-score-llm-rubric": "Short and right.",
            # options of another kind in the same row are not this judge's: ignored
            "judge_panel-1-verifier-mode": "exact",
        },
    )
    response = client.post(change_url(writing_space), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    writing_space.refresh_from_db()
    assert writing_space.judge_panel == [
        {"kind": "pairwise-llm"},
        {"kind": "score-llm", "shadow": True, "rubric": "Short and right."},
    ]


def test_the_economics_refusal_shows_on_the_editors_fields(carol, math_space):
    # A form that (unlike the admin's for a creator) offers the platform rake: the economics
    # check still refuses it for a creator, on the field, in words, before anything is saved.
    Form = modelform_factory(
        Space, form=SpaceAdminForm, fields=["title", "platform_rake", "creator_rake"]
    )
    Form.actor = carol
    data = {**editor_data(math_space), "platform_rake": "1"}
    form = Form(data, instance=Space.objects.get(pk=math_space.pk))
    assert not form.is_valid()
    assert form.errors["platform_rake"] == ["only platform staff set the platform rake"]
    math_space.refresh_from_db()
    assert math_space.platform_rake_bps == 500


def test_a_creator_cannot_set_the_platform_rake(client, carol, staff, math_space):
    client.force_login(carol)
    page = client.get(change_url(math_space))
    assert "5% of the pot (set by platform staff)" in page.text
    response = client.post(change_url(math_space), editor_data(math_space, platform_rake="1"))
    assert response.status_code == 302
    math_space.refresh_from_db()
    assert math_space.platform_rake_bps == 500  # the field is not hers: ignored
    client.force_login(staff)
    response = client.post(change_url(math_space), editor_data(math_space, platform_rake="1"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    math_space.refresh_from_db()
    assert math_space.platform_rake_bps == 100
