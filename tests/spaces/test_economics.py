"""A space's economics (fee tiers, payout shares, rakes, subsidy) in the creator admin and the
services: only platform staff set the platform rake, and a creator changes the economics only
while no player is in the space under the current ones (found: carol, a creator who is not
staff, set an open space's platform rake to 0 and her own rake to 50%)."""

from __future__ import annotations

import json

import pytest
from django.forms import modelform_factory

from spaces.economics import PLATFORM
from spaces.errors import SpaceError
from spaces.forms import SpaceAdminForm
from spaces.hooks import register_space_in_play, unregister_space_in_play
from spaces.models import FeeTier, Space
from spaces.services import (
    fee_tier_create,
    fee_tier_delete,
    fee_tier_update,
    prompt_create,
    space_create,
    space_set_status,
    space_update,
)
from tests.spaces.conftest import MATH_PANEL

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.spaces.urls")]

PAUSE_FIRST = "pause it first"


def change_url(space: Space) -> str:
    return f"/admin/spaces/space/{space.pk}/change/"


def change_form(space: Space, tiers: dict[str, int] | None = None, **overrides) -> dict:
    """The admin change form of ``space`` as the page shows it, with ``overrides`` typed in;
    ``tiers`` maps an existing tier's name to a new fee."""
    existing = list(space.fee_tiers.order_by("pk"))
    data = {
        "title": space.title,
        "description": space.description,
        "task_kind": space.task_kind,
        "rules": json.dumps(space.rules),
        "judge_panel": json.dumps(space.judge_panel),
        "agents_per_match": str(space.agents_per_match),
        "payout_shares": json.dumps(space.payout_shares),
        "creator_rake_bps": str(space.creator_rake_bps),
        "platform_rake_bps": str(space.platform_rake_bps),
        "subsidy": str(space.subsidy),
        "heldout_fraction": str(space.heldout_fraction),
        "fee_tiers-TOTAL_FORMS": str(len(existing)),
        "fee_tiers-INITIAL_FORMS": str(len(existing)),
        "fee_tiers-MIN_NUM_FORMS": "0",
        "fee_tiers-MAX_NUM_FORMS": "1000",
    }
    for i, tier in enumerate(existing):
        data[f"fee_tiers-{i}-id"] = str(tier.pk)
        data[f"fee_tiers-{i}-space"] = str(space.pk)
        data[f"fee_tiers-{i}-name"] = tier.name
        data[f"fee_tiers-{i}-fee"] = str((tiers or {}).get(tier.name, tier.fee))
    data.update(overrides)
    return data


def economics(space: Space) -> tuple:
    space.refresh_from_db()
    tiers = sorted(space.fee_tiers.values_list("name", "fee"))
    return (
        space.payout_shares,
        space.creator_rake_bps,
        space.platform_rake_bps,
        space.subsidy,
        tiers,
    )


@pytest.fixture
def open_space(math_space) -> Space:
    prompt_create(space=math_space, text="What is 6 * 7?", reference="42", split="train")
    return space_set_status(space=math_space, status="open")


@pytest.fixture
def paused_space(open_space) -> Space:
    return space_set_status(space=open_space, status="paused")


# --- through the admin, as carol (a creator, not platform staff) ------------------------------


def test_it_refuses_the_found_rake_change_to_an_open_space(client, carol, open_space):
    before = economics(open_space)
    client.force_login(carol)
    response = client.post(
        change_url(open_space),
        change_form(open_space, platform_rake_bps="0", creator_rake_bps="5000"),
    )
    assert response.status_code == 200  # the form again, with its errors
    assert economics(open_space) == before
    assert open_space.platform_rake_bps == 500 and open_space.creator_rake_bps == 500


def test_it_tells_a_creator_to_pause_an_open_space_before_changing_its_rake(
    client, carol, open_space
):
    before = economics(open_space)
    client.force_login(carol)
    response = client.post(change_url(open_space), change_form(open_space, creator_rake_bps="1000"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["creator_rake_bps"]
    assert PAUSE_FIRST in errors["creator_rake_bps"][0]
    assert "it is open" in errors["creator_rake_bps"][0]
    assert PAUSE_FIRST in response.text
    assert economics(open_space) == before


@pytest.mark.parametrize(
    "change",
    [
        {"payout_shares": json.dumps(["0.5", "0.5"])},
        {"subsidy": "1000"},
    ],
)
def test_it_refuses_other_economics_of_an_open_space(client, carol, open_space, change):
    before = economics(open_space)
    client.force_login(carol)
    response = client.post(change_url(open_space), change_form(open_space, **change))
    assert response.status_code == 200
    [field] = change
    assert PAUSE_FIRST in response.context["adminform"].form.errors[field][0]
    assert economics(open_space) == before


def test_it_refuses_fee_tier_changes_of_an_open_space(client, carol, open_space):
    before = economics(open_space)
    client.force_login(carol)
    response = client.post(change_url(open_space), change_form(open_space, tiers={"pro": 1}))
    assert response.status_code == 200
    assert "Fee tiers: players entered this space" in response.text
    assert economics(open_space) == before

    # A new tier is refused the same way.
    data = change_form(
        open_space,
        **{"fee_tiers-TOTAL_FORMS": "3", "fee_tiers-2-name": "vip", "fee_tiers-2-fee": "1000"},
    )
    response = client.post(change_url(open_space), data)
    assert response.status_code == 200
    assert PAUSE_FIRST in response.text
    assert economics(open_space) == before


def test_it_lets_a_creator_change_an_open_spaces_title_alone(client, carol, open_space):
    before = economics(open_space)
    client.force_login(carol)
    response = client.post(change_url(open_space), change_form(open_space, title="Sums"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert economics(open_space) == before
    assert open_space.title == "Sums"


def test_it_lets_a_creator_change_a_paused_spaces_economics(client, carol, paused_space):
    client.force_login(carol)
    data = change_form(
        paused_space,
        tiers={"pro": 150},
        creator_rake_bps="800",
        subsidy="20",
        **{"fee_tiers-TOTAL_FORMS": "3", "fee_tiers-2-name": "vip", "fee_tiers-2-fee": "900"},
    )
    response = client.post(change_url(paused_space), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert economics(paused_space) == (
        ["0.6", "0.3", "0.1"],
        800,
        500,
        20,
        [("free", 0), ("pro", 150), ("vip", 900)],
    )


def test_it_shows_a_creator_the_platform_rake_but_ignores_what_she_posts(client, carol, math_space):
    client.force_login(carol)
    page = client.get(change_url(math_space)).text
    assert 'name="platform_rake_bps"' not in page  # read-only: shown, not editable
    assert 'name="creator_rake_bps"' in page
    # A draft: she may change her own rake, but the platform's stays.
    response = client.post(
        change_url(math_space),
        change_form(math_space, platform_rake_bps="0", creator_rake_bps="900"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    math_space.refresh_from_db()
    assert (math_space.platform_rake_bps, math_space.creator_rake_bps) == (500, 900)


def test_it_keeps_the_default_platform_rake_on_a_space_a_creator_adds(client, carol):
    client.force_login(carol)
    data = {
        "slug": "haiku",
        "title": "Haiku",
        "task_kind": "open",
        "rules": json.dumps({"answer_format": "free"}),
        "judge_panel": json.dumps([{"kind": "pairwise-llm"}]),
        "agents_per_match": "2",
        "payout_shares": json.dumps(["1"]),
        "creator_rake_bps": "300",
        "platform_rake_bps": "0",
        "subsidy": "0",
        "heldout_fraction": "0.1",
        "fee_tiers-TOTAL_FORMS": "0",
        "fee_tiers-INITIAL_FORMS": "0",
    }
    response = client.post("/admin/spaces/space/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Space.objects.get(slug="haiku").platform_rake_bps == 500


def test_it_lets_staff_set_the_platform_rake(client, staff, paused_space):
    client.force_login(staff)
    assert 'name="platform_rake_bps"' in client.get(change_url(paused_space)).text
    response = client.post(
        change_url(paused_space), change_form(paused_space, platform_rake_bps="200")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    paused_space.refresh_from_db()
    assert paused_space.platform_rake_bps == 200


def test_it_compares_the_economics_as_they_would_be_stored(client, carol, open_space):
    """The form checks after the model has normalized the values: shares typed with spaces are
    the shares stored, not a change refused on an open space."""
    before = economics(open_space)
    client.force_login(carol)
    data = change_form(open_space, title="Sums", payout_shares=json.dumps([" 0.6", "0.3 ", "0.1"]))
    response = client.post(change_url(open_space), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert economics(open_space) == before
    assert open_space.title == "Sums"


def test_it_refuses_to_check_a_space_form_that_names_no_actor(open_space):
    """Used outside the admin, which sets the actor, the form fails instead of acting as the
    platform."""
    fields = ("title", "description", "task_kind", "rules", "judge_panel", "agents_per_match")
    fields += ("payout_shares", "creator_rake_bps", "platform_rake_bps", "subsidy")
    form_class = modelform_factory(Space, form=SpaceAdminForm, fields=(*fields, "heldout_fraction"))
    form = form_class(change_form(open_space, platform_rake_bps="0"), instance=open_space)
    with pytest.raises(TypeError, match="PLATFORM"):
        form.is_valid()
    form = form_class(change_form(open_space, platform_rake_bps="0"), instance=open_space)
    form.actor = PLATFORM
    assert form.is_valid(), form.errors


# --- the services, whoever calls them ----------------------------------------------------------


def test_it_refuses_a_creator_the_platform_rake_in_the_service(carol, staff, math_space):
    with pytest.raises(SpaceError) as refused:
        space_update(space=math_space, actor=carol, platform_rake_bps=0)
    assert "only platform staff" in refused.value.field_errors["platform_rake_bps"][0]
    math_space.refresh_from_db()
    assert math_space.platform_rake_bps == 500

    with pytest.raises(SpaceError, match="only platform staff"):
        space_create(
            creator=carol,
            actor=carol,
            slug="cheap",
            title="Cheap",
            task_kind="verifiable",
            judge_panel=MATH_PANEL,
            payout_shares=["1"],
            platform_rake_bps=0,
        )
    assert not Space.objects.filter(slug="cheap").exists()

    assert (
        space_update(space=math_space, actor=staff, platform_rake_bps=100).platform_rake_bps == 100
    )
    assert (
        space_update(space=math_space, actor=PLATFORM, platform_rake_bps=200).platform_rake_bps
        == 200
    )


def test_it_refuses_a_creator_economics_of_an_open_space_in_the_service(carol, staff, open_space):
    before = economics(open_space)
    pro = open_space.fee_tiers.get(name="pro")
    refusals = [
        lambda: space_update(space=open_space, actor=carol, creator_rake_bps=1000),
        lambda: space_update(space=open_space, actor=carol, payout_shares=["1"]),
        lambda: space_update(space=open_space, actor=carol, subsidy=5),
        lambda: fee_tier_create(space=open_space, name="vip", fee=1000, actor=carol),
        lambda: fee_tier_update(tier=pro, name="pro", fee=1, actor=carol),
        lambda: fee_tier_delete(tier=pro, actor=carol),
    ]
    for refused in refusals:
        with pytest.raises(SpaceError, match=PAUSE_FIRST):
            refused()
    assert economics(open_space) == before

    # The same values again, and fields that are not economics, are fine.
    space_update(
        space=open_space,
        actor=carol,
        title="Sums",
        creator_rake_bps=500,
        payout_shares=["0.6", "0.3", "0.1"],
    )
    # Platform staff may (an emergency fix must not wait for a pause).
    space_update(space=open_space, actor=staff, subsidy=5)
    assert open_space.__class__.objects.get(pk=open_space.pk).subsidy == 5


def test_it_refuses_a_creator_economics_while_players_are_in_a_paused_space(carol, paused_space):
    in_play: list[str] = ["2 entries waiting"]

    def provider(space):
        return list(in_play) if space.pk == paused_space.pk else []

    register_space_in_play(provider)
    try:
        with pytest.raises(SpaceError) as refused:
            space_update(space=paused_space, actor=carol, creator_rake_bps=1000)
        assert "2 entries waiting" in str(refused.value)
        assert PAUSE_FIRST in str(refused.value)
        with pytest.raises(SpaceError, match="2 entries waiting"):
            fee_tier_update(
                tier=paused_space.fee_tiers.get(name="pro"), name="pro", fee=1, actor=carol
            )
        in_play.clear()  # the entries left and the matches finished
        space_update(space=paused_space, actor=carol, creator_rake_bps=1000)
        fee_tier_update(tier=paused_space.fee_tiers.get(name="pro"), name="pro", fee=1, actor=carol)
    finally:
        unregister_space_in_play(provider)
    assert economics(paused_space)[1] == 1000
    assert FeeTier.objects.get(space=paused_space, name="pro").fee == 1


# --- the actor is always named (found: actor=None, the default, meant the platform) -----------


@pytest.mark.parametrize("actor", [None, "carol", 1], ids=["None", "a name", "an id"])
def test_it_refuses_a_write_that_does_not_name_its_actor(carol, open_space, actor):
    """Forgetting the actor, or passing something that is not a user, never acts as the
    platform: the write fails as a bug before anything changes (it used to pass, as staff)."""
    before = economics(open_space)
    pro = open_space.fee_tiers.get(name="pro")
    writes = [
        lambda **kw: space_update(space=open_space, platform_rake_bps=0, **kw),
        lambda **kw: fee_tier_create(space=open_space, name="vip", fee=1000, **kw),
        lambda **kw: fee_tier_update(tier=pro, name="pro", fee=1, **kw),
        lambda **kw: fee_tier_delete(tier=pro, **kw),
        lambda **kw: space_create(
            creator=carol,
            slug="cheap",
            title="Cheap",
            judge_panel=[{"kind": "pairwise-llm"}],
            payout_shares=["1"],
            platform_rake_bps=0,
            **kw,
        ),
    ]
    for write in writes:
        with pytest.raises(TypeError, match="actor"):
            write()  # no actor at all
        with pytest.raises(TypeError, match="PLATFORM"):
            write(actor=actor)
    assert economics(open_space) == before
    assert not Space.objects.filter(slug="cheap").exists()


def test_it_gives_the_platform_powers_only_to_platform_by_name(carol, open_space):
    space_update(space=open_space, actor=PLATFORM, platform_rake_bps=100, subsidy=5)
    fee_tier_create(space=open_space, name="vip", fee=1000, actor=PLATFORM)
    assert economics(open_space)[2:] == (
        100,
        5,
        [("free", 0), ("pro", 100), ("vip", 1000)],
    )
    with pytest.raises(SpaceError, match=PAUSE_FIRST):
        space_update(space=open_space, actor=carol, subsidy=6)
