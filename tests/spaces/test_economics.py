"""A space's economics (fee tiers, payout shares, rakes, subsidy) in the creator admin and the
services: only platform staff set the platform rake (found: carol, a creator who is not staff, set
an open space's platform rake to 0 and her own rake to 50%); any other change while players are
in the space is saved as a pending change that takes effect after the notice period (the admin
says when), and the space keeps its values until then (tests/spaces/test_economics_changes.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.forms import modelform_factory
from django.utils import timezone

from spaces.economics import PLATFORM
from spaces.errors import SpaceError
from spaces.forms import SpaceAdminForm
from spaces.hooks import register_space_in_play, unregister_space_in_play
from spaces.models import EconomicsChange, FeeTier, Space
from spaces.services import (
    apply_due_changes,
    fee_tier_create,
    fee_tier_delete,
    fee_tier_update,
    prompt_create,
    space_create,
    space_set_status,
    space_update,
)
from tests.spaces.conftest import MATH_PANEL
from tests.spaces.studio import editor_data, share_fields

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.spaces.urls")]

DAY = 86400


@pytest.fixture(autouse=True)
def one_day_notice(settings):
    settings.ARENA_ECONOMICS_NOTICE_S = DAY


def change_url(space: Space) -> str:
    return f"/admin/spaces/space/{space.pk}/change/"


def change_form(space: Space, tiers: dict[str, int] | None = None, **overrides) -> dict:
    """The admin change form (the space editor) of ``space`` as the page shows it, with
    ``overrides`` typed in; ``tiers`` maps an existing tier's name to a new fee."""
    data = editor_data(space)
    for i, tier in enumerate(space.fee_tiers.order_by("pk")):
        if tier.name in (tiers or {}):
            data[f"fee_tiers-{i}-fee"] = str(tiers[tier.name])
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


def shown_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def pending(space: Space) -> list[EconomicsChange]:
    return list(space.economics_changes.filter(status="pending").order_by("pk"))


@pytest.fixture
def open_space(math_space) -> Space:
    prompt_create(space=math_space, text="What is 6 * 7?", reference="42", split="train")
    return space_set_status(space=math_space, status="open")


@pytest.fixture
def paused_space(open_space) -> Space:
    return space_set_status(space=open_space, status="paused")


# --- through the admin, as carol (a creator, not platform staff) ------------------------------


def test_it_refuses_the_found_rake_change_to_an_open_space(client, carol, open_space):
    """The platform rake she posts is ignored (not her field), and her own rake at 50% would
    take the two rakes past half the pot: refused on the form, nothing announced."""
    before = economics(open_space)
    client.force_login(carol)
    response = client.post(
        change_url(open_space),
        change_form(open_space, platform_rake="0", creator_rake="50"),
    )
    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert "rakes together are 55%" in errors["creator_rake"][0], errors
    assert economics(open_space) == before
    assert open_space.platform_rake_bps == 500 and open_space.creator_rake_bps == 500
    assert not open_space.economics_changes.exists()


def test_it_lets_a_creator_change_an_open_spaces_title_alone(client, carol, open_space):
    before = economics(open_space)
    client.force_login(carol)
    response = client.post(change_url(open_space), change_form(open_space, title="Sums"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert economics(open_space) == before
    assert open_space.title == "Sums"
    assert not open_space.economics_changes.exists()  # no economics changed: nothing logged


def test_it_schedules_a_creators_economics_change_to_an_open_space(client, carol, open_space):
    """Not refused any more: saved as a pending change, in effect after the notice period, and
    the admin says when; the space keeps its values until then."""
    before = economics(open_space)
    client.force_login(carol)
    response = client.post(
        change_url(open_space),
        change_form(open_space, creator_rake="10", subsidy="7", **share_fields(["0.7", "0.3"])),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert economics(open_space) == before

    [change] = pending(open_space)
    assert change.author == carol
    assert change.fields == {
        "payout_shares": {"before": ["0.6", "0.3", "0.1"], "after": ["0.7", "0.3"]},
        "creator_rake_bps": {"before": 500, "after": 1000},
        "subsidy": {"before": 0, "after": 7},
    }
    expected = timezone.now() + timedelta(seconds=DAY)
    assert abs(change.effective_at - expected) < timedelta(minutes=1)
    [message] = [m for m in shown_messages(response) if "takes effect" in m]
    assert f"takes effect {change.effective_at:%Y-%m-%d %H:%M} UTC" in message

    # When it falls due, the new values are the space's.
    apply_due_changes(open_space, now=change.effective_at)
    assert economics(open_space)[:4] == (["0.7", "0.3"], 1000, 500, 7)
    change.refresh_from_db()
    assert change.status == "applied"


def test_it_schedules_a_creators_fee_tier_change_to_an_open_space(client, carol, open_space):
    before = economics(open_space)
    client.force_login(carol)
    response = client.post(change_url(open_space), change_form(open_space, tiers={"pro": 150}))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert economics(open_space) == before
    [change] = pending(open_space)
    assert [(op["op"], op["before_fee"], op["fee"]) for op in change.fee_tiers] == [
        ("change", 100, 150)
    ]
    apply_due_changes(open_space, now=change.effective_at)
    assert economics(open_space)[4] == [("free", 0), ("pro", 150)]


def test_it_lets_a_creator_change_a_paused_spaces_economics(client, carol, paused_space):
    """Nobody is in a paused space with no entries waiting: the change applies at once."""
    client.force_login(carol)
    data = change_form(
        paused_space,
        tiers={"pro": 150},
        creator_rake="8",
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
    assert not pending(paused_space)
    assert not [m for m in shown_messages(response) if "takes effect" in m]


def test_it_shows_a_creator_the_platform_rake_but_ignores_what_she_posts(client, carol, math_space):
    client.force_login(carol)
    page = client.get(change_url(math_space)).text
    assert 'name="platform_rake"' not in page  # read-only: shown, not editable
    assert "5% of the pot (set by platform staff)" in page
    assert 'name="creator_rake"' in page
    # A draft: she may change her own rake, but the platform's stays.
    response = client.post(
        change_url(math_space),
        change_form(math_space, platform_rake="0", creator_rake="9"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    math_space.refresh_from_db()
    assert (math_space.platform_rake_bps, math_space.creator_rake_bps) == (500, 900)


def test_it_keeps_the_default_platform_rake_on_a_space_a_creator_adds(client, carol):
    client.force_login(carol)
    draft = Space(
        slug="haiku",
        title="Haiku",
        task_kind="open",
        rules={"answer_format": "free"},
        judge_panel=[{"kind": "pairwise-llm"}],
        agents_per_match=2,
        payout_shares=["1"],
        creator_rake_bps=300,
        platform_rake_bps=0,  # posted, but not her field
        subsidy=0,
        heldout_fraction=Decimal("0.1"),
    )
    data = editor_data(draft)
    assert data["platform_rake"] == "0"
    response = client.post("/admin/spaces/space/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    added = Space.objects.get(slug="haiku")
    assert (added.platform_rake_bps, added.creator_rake_bps, added.creator) == (500, 300, carol)


def test_it_lets_staff_set_the_platform_rake(client, staff, paused_space):
    client.force_login(staff)
    assert 'name="platform_rake"' in client.get(change_url(paused_space)).text
    response = client.post(change_url(paused_space), change_form(paused_space, platform_rake="2"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    paused_space.refresh_from_db()
    assert paused_space.platform_rake_bps == 200


def test_it_compares_the_economics_as_they_would_be_stored(client, carol, open_space):
    """The form checks after the model has normalized the values: a share typed as "60.0" is the
    "0.6" stored, not an economics change announced on an open space."""
    before = economics(open_space)
    client.force_login(carol)
    data = change_form(open_space, title="Sums", payout_share_1="60.0")
    response = client.post(change_url(open_space), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert economics(open_space) == before
    assert open_space.title == "Sums"
    assert not open_space.economics_changes.exists()


def test_it_refuses_to_check_a_space_form_that_names_no_actor(open_space):
    """Used outside the admin, which sets the actor, the form fails instead of acting as the
    platform."""
    fields = (
        "title",
        "description",
        "task_kind",
        "judge_panel",
        "agents_per_match",
        "answer_format",
        "max_new_tokens_cap",
        "max_chars",
        "banned_substrings",
        "injection_policy",
        *[f"payout_share_{i}" for i in range(1, 9)],
        "creator_rake",
        "platform_rake",
        "subsidy",
        "heldout_fraction",
    )
    form_class = modelform_factory(Space, form=SpaceAdminForm, fields=fields)
    # The plain form's judge panel is the model's JSON field (the admin's is the panel builder).
    data = change_form(open_space, platform_rake="0", judge_panel=json.dumps(MATH_PANEL))
    form = form_class(data, instance=open_space)
    with pytest.raises(TypeError, match="PLATFORM"):
        form.is_valid()
    form = form_class(data, instance=open_space)
    form.actor = PLATFORM
    assert form.is_valid(), form.errors
    assert form.instance.platform_rake_bps == 0


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


def test_it_announces_a_creators_economics_changes_to_an_open_space(carol, staff, open_space):
    """Not refused any more: announced in the change log, in effect after the notice period."""
    before = economics(open_space)
    pro = open_space.fee_tiers.get(name="pro")
    announced = [
        space_update(space=open_space, actor=carol, creator_rake_bps=1000).economics_change,
        space_update(space=open_space, actor=carol, payout_shares=["1"]).economics_change,
        space_update(space=open_space, actor=carol, subsidy=5).economics_change,
        fee_tier_create(space=open_space, name="vip", fee=1000, actor=carol).economics_change,
    ]
    assert [change.status for change in announced] == ["pending"] * 4
    assert economics(open_space) == before
    # One announced change per field: the tiers have one already.
    with pytest.raises(SpaceError, match="already announced"):
        fee_tier_update(tier=pro, name="pro", fee=1, actor=carol)

    # The same values again, and fields that are not economics, change at once.
    space_update(
        space=open_space,
        actor=carol,
        title="Sums",
        creator_rake_bps=500,
        payout_shares=["0.6", "0.3", "0.1"],
    )
    assert open_space.__class__.objects.get(pk=open_space.pk).title == "Sums"
    assert economics(open_space) == before


def test_it_announces_changes_while_players_are_in_a_paused_space(carol, paused_space):
    in_play: list[str] = ["2 entries waiting"]

    def provider(space):
        return list(in_play) if space.pk == paused_space.pk else []

    register_space_in_play(provider)
    try:
        change = space_update(space=paused_space, actor=carol, creator_rake_bps=1000)
        assert change.economics_change.status == "pending"
        assert economics(paused_space)[1] == 500
        in_play.clear()  # the entries left and the matches finished
        tier = fee_tier_update(
            tier=paused_space.fee_tiers.get(name="pro"), name="pro", fee=1, actor=carol
        )
        assert tier.fee == 1 and tier.economics_change.status == "applied"
    finally:
        unregister_space_in_play(provider)
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


def test_it_gives_the_platform_powers_only_to_platform_by_name(carol, paused_space):
    space_update(space=paused_space, actor=PLATFORM, platform_rake_bps=100, subsidy=5)
    fee_tier_create(space=paused_space, name="vip", fee=1000, actor=PLATFORM)
    assert economics(paused_space)[2:] == (
        100,
        5,
        [("free", 0), ("pro", 100), ("vip", 1000)],
    )
    with pytest.raises(SpaceError, match="only platform staff"):
        space_update(space=paused_space, actor=carol, platform_rake_bps=0)
