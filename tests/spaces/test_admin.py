"""The creator admin: creators run only their own spaces, staff run all, prompt banks upload."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from spaces.hooks import register_space_summary, unregister_space_summary
from spaces.models import Prompt, Space
from spaces.services import prompt_create
from tests.spaces.conftest import make_space
from tests.spaces.studio import economics_fields, panel_fields, rule_fields

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.spaces.urls")]

LIST = "/admin/spaces/space/"


def change_url(space: Space) -> str:
    return f"/admin/spaces/space/{space.pk}/change/"


def upload_url(space: Space) -> str:
    return f"/admin/spaces/space/{space.pk}/prompt-bank/"


@pytest.fixture
def daves_space(dave) -> Space:
    return make_space(dave, "daves-riddles", title="Dave's riddles")


def space_form(**overrides) -> dict:
    data = {
        "slug": "haiku",
        "title": "Haiku",
        "description": "Seventeen syllables",
        "task_kind": "open",
        **rule_fields({"answer_format": "free", "max_chars": 200}),
        **panel_fields([{"kind": "pairwise-llm"}]),
        "agents_per_match": "3",
        **economics_fields(
            shares=["0.7", "0.3"], creator_rake_bps=300, platform_rake_bps=500, subsidy=0
        ),
        "heldout_fraction": "0.1",
        "fee_tiers-TOTAL_FORMS": "1",
        "fee_tiers-INITIAL_FORMS": "0",
        "fee_tiers-MIN_NUM_FORMS": "0",
        "fee_tiers-MAX_NUM_FORMS": "1000",
        "fee_tiers-0-name": "free",
        "fee_tiers-0-fee": "0",
    }
    data.update(overrides)
    return data


def test_it_shows_a_creator_only_her_spaces(client, carol, math_space, daves_space):
    client.force_login(carol)
    response = client.get(LIST)
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [math_space]
    assert "Dave&#x27;s riddles" not in response.text and "daves-riddles" not in response.text


def test_it_keeps_a_creator_out_of_another_creators_space(client, carol, daves_space):
    client.force_login(carol)
    # The admin answers as if the space did not exist: a redirect to the index, no content.
    response = client.get(change_url(daves_space))
    assert response.status_code == 302
    assert "riddles" not in client.get(response.url).text
    response = client.post(change_url(daves_space), space_form(title="Hijacked"))
    assert response.status_code in (302, 403)
    daves_space.refresh_from_db()
    assert daves_space.title == "Dave's riddles"
    assert client.get(upload_url(daves_space)).status_code == 403
    assert client.get(f"/admin/spaces/space/{daves_space.pk}/delete/").status_code in (302, 403)
    assert Space.objects.filter(pk=daves_space.pk).exists()


def test_it_shows_staff_every_space(client, staff, math_space, daves_space):
    client.force_login(staff)
    response = client.get(LIST)
    assert set(response.context["cl"].queryset) == {math_space, daves_space}
    assert client.get(change_url(daves_space)).status_code == 200


def test_it_keeps_players_out_of_the_admin(client, alice, math_space):
    client.force_login(alice)
    response = client.get(LIST)
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_it_makes_the_creator_owner_of_a_space_she_adds(client, carol, dave):
    client.force_login(carol)
    response = client.post("/admin/spaces/space/add/", space_form(creator=str(dave.pk)))
    assert response.status_code == 302, response.context["adminform"].errors
    space = Space.objects.get(slug="haiku")
    assert space.creator == carol  # the posted creator is ignored: the field is not hers to set
    assert space.status == "draft"
    assert space.rules["max_new_tokens_cap"] == 256  # defaults filled in by the service
    assert list(space.fee_tiers.values_list("name", "fee")) == [("free", 0)]


def test_it_shows_rule_errors_in_the_admin_form_and_saves_nothing(client, carol):
    client.force_login(carol)
    response = client.post(
        "/admin/spaces/space/add/",
        space_form(
            payout_share_2="20",
            answer_format="poem",
            **panel_fields([{"kind": "verifier", "mode": "exact"}]),
            creator_rake="48",
        ),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "must add up to exactly 100%" in str(errors["payout_share_1"])
    assert "poem is not one of the available choices" in str(errors["answer_format"])
    assert "reference answers" in str(errors["judge_panel"])
    assert "at most 50%" in str(errors["creator_rake"])
    assert not Space.objects.exists()


def test_it_lets_a_creator_edit_her_space_but_not_its_owner_or_status(
    client, carol, dave, math_space
):
    client.force_login(carol)
    response = client.get(change_url(math_space))
    assert response.status_code == 200
    assert "Upload prompt bank" in response.text
    data = space_form(
        slug="math",
        title="Arithmetic",
        task_kind="verifiable",
        **panel_fields(math_space.judge_panel),
        **rule_fields(math_space.rules),
        **economics_fields(
            shares=math_space.payout_shares,
            creator_rake_bps=math_space.creator_rake_bps,
            platform_rake_bps=math_space.platform_rake_bps,
            subsidy=math_space.subsidy,
        ),
        creator=str(dave.pk),
        status="open",
        **{"fee_tiers-TOTAL_FORMS": "0"},
    )
    response = client.post(change_url(math_space), data)
    assert response.status_code == 302, response.context["adminform"].errors
    math_space.refresh_from_db()
    assert (math_space.title, math_space.creator, math_space.status) == (
        "Arithmetic",
        carol,
        "draft",
    )


def test_it_changes_status_through_admin_actions(client, carol, math_space, writing_space):
    prompt_create(space=math_space, text="What is 6 * 7?", reference="42", split="train")
    client.force_login(carol)
    response = client.post(
        LIST,
        {"action": "open_spaces", "_selected_action": [math_space.pk, writing_space.pk]},
        follow=True,
    )
    text = response.text
    assert "Math: now open" in text
    assert "Tweets: upload prompts" in text  # refused: no prompts yet
    math_space.refresh_from_db()
    writing_space.refresh_from_db()
    assert (math_space.status, writing_space.status) == ("open", "draft")


def test_it_uploads_a_prompt_bank_from_the_space_page(client, carol, math_space):
    client.force_login(carol)
    assert client.get(upload_url(math_space)).status_code == 200
    content = b'{"prompt": "What is 6 * 7?", "reference": "42"}\n{"prompt": "2+2?", "reference": 4}'
    response = client.post(
        upload_url(math_space),
        {"file": SimpleUploadedFile("bank.jsonl", content), "heldout_fraction": "0"},
    )
    assert response.status_code == 302
    assert response.url == change_url(math_space)
    assert sorted(math_space.prompts.values_list("text", "split")) == [
        ("2+2?", "train"),
        ("What is 6 * 7?", "train"),
    ]
    page = client.get(response.url).text
    assert "Added 2 prompts (2 train, 0 held out)" in page
    assert "2 train, 0 held out" in page


def test_it_shows_row_errors_of_a_refused_upload_and_saves_nothing(client, carol, math_space):
    client.force_login(carol)
    content = b"prompt,reference\nWhat is 6 * 7?,42\nWhat is 2 + 2?,four\n,1\n"
    response = client.post(upload_url(math_space), {"file": SimpleUploadedFile("b.csv", content)})
    assert response.status_code == 200
    rows = [(e.row, e.message) for e in response.context["row_errors"]]
    assert [r for r, _ in rows] == [3, 4]
    assert "nothing was saved" in response.text
    assert "prompt-bank-errors" in response.text
    assert not Prompt.objects.exists()


def test_it_shows_a_creator_only_her_prompts(client, carol, dave, math_space, daves_space):
    prompt_create(space=math_space, text="Carol's question?", reference="1")
    theirs = prompt_create(space=daves_space, text="Dave's riddle?", reference="2")
    client.force_login(carol)
    response = client.get("/admin/spaces/prompt/")
    assert response.status_code == 200
    assert [p.text for p in response.context["cl"].queryset] == ["Carol's question?"]
    assert "riddle" not in response.text  # not even in the space filter
    assert client.get(f"/admin/spaces/prompt/{theirs.pk}/change/").status_code == 302
    add_form = client.get("/admin/spaces/prompt/add/").context["adminform"].form
    assert list(add_form.fields["space"].queryset) == [math_space]


def test_it_adds_a_prompt_in_the_admin_with_the_space_checks(client, carol, math_space):
    client.force_login(carol)
    url = "/admin/spaces/prompt/add/"
    response = client.post(url, {"space": math_space.pk, "text": "Six sevens?", "reference": "x"})
    assert response.status_code == 200
    assert "not" in str(response.context["adminform"].form.errors["reference"])
    response = client.post(url, {"space": math_space.pk, "text": "Six sevens?", "reference": "42"})
    assert response.status_code == 302
    prompt = math_space.prompts.get()
    assert prompt.split in ("train", "heldout")
    response = client.post(url, {"space": math_space.pk, "text": "Six sevens?", "reference": "42"})
    assert "duplicate" in str(response.context["adminform"].form.errors["text"])


def test_it_shows_what_other_apps_report_about_a_space(client, carol, math_space):
    def provider(space):
        return [("matches settled", "3"), ("creator revenue", f"{space.pk * 10} credits")]

    register_space_summary(provider)
    try:
        client.force_login(carol)
        text = client.get(change_url(math_space)).text
    finally:
        unregister_space_summary(provider)
    assert "matches settled: 3" in text
    assert f"creator revenue: {math_space.pk * 10} credits" in text


def test_it_filters_prompts_by_one_of_her_spaces(client, carol, math_space, writing_space):
    prompt_create(space=math_space, text="What is 6 * 7?", reference="42")
    prompt_create(space=writing_space, text="A tweet about tea")
    client.force_login(carol)
    response = client.get(f"/admin/spaces/prompt/?space={writing_space.pk}")
    assert [p.text for p in response.context["cl"].queryset] == ["A tweet about tea"]


def test_it_adds_a_prompt_with_tests_in_the_admin(client, carol):
    space = make_space(
        carol,
        "code",
        rules={"answer_format": "free"},
        judge_panel=[{"kind": "verifier", "mode": "tests"}],
        payout_shares=["1"],
    )
    client.force_login(carol)
    url = "/admin/spaces/prompt/add/"
    data = {"space": space.pk, "text": "Write add(a, b)."}
    response = client.post(url, {**data, "tests": ""})
    assert "every prompt needs tests" in str(response.context["adminform"].form.errors["tests"])
    response = client.post(url, {**data, "tests": json.dumps(["assert add(2, 3) =="])})
    assert "not valid Python" in str(response.context["adminform"].form.errors["tests"])
    response = client.post(url, {**data, "tests": "[not json"})
    assert "tests" in response.context["adminform"].form.errors
    assert not space.prompts.exists()
    response = client.post(url, {**data, "tests": json.dumps(["assert add(2, 3) == 5"])})
    assert response.status_code == 302
    assert space.prompts.get().tests == ["assert add(2, 3) == 5"]
    assert (
        '<td class="field-test_count">1</td>'
        in client.get(f"/admin/spaces/prompt/?space={space.pk}").text
    )
