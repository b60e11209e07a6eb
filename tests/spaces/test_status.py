"""Space status moves: draft -> open <-> paused -> closed; closed is final."""

from __future__ import annotations

import pytest

from spaces.economics import PLATFORM
from spaces.errors import SpaceError
from spaces.services import prompt_create, space_set_status, space_update
from tests.spaces.conftest import make_space

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready_space(math_space):
    prompt_create(space=math_space, text="What is 6 * 7?", reference="42", split="train")
    return math_space


def test_it_walks_the_allowed_transitions(ready_space):
    for status in ["open", "paused", "open", "closed"]:
        assert space_set_status(space=ready_space, status=status).status == status
    ready_space.refresh_from_db()
    assert ready_space.status == "closed"


def test_it_closes_a_draft_or_a_paused_space(carol, ready_space):
    draft = make_space(carol, "draft-only")
    assert space_set_status(space=draft, status="closed").status == "closed"
    space_set_status(space=ready_space, status="open")
    space_set_status(space=ready_space, status="paused")
    assert space_set_status(space=ready_space, status="closed").status == "closed"


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ([], "paused"),  # a draft was never open
        (["open", "closed"], "open"),  # closed is final
        (["open", "closed"], "paused"),
        (["open", "closed"], "draft"),
        (["open"], "draft"),
        ([], "archived"),
    ],
)
def test_it_refuses_a_forbidden_transition(ready_space, path, bad):
    for status in path:
        space_set_status(space=ready_space, status=status)
    before = ready_space.__class__.objects.get(pk=ready_space.pk).status
    with pytest.raises(SpaceError):
        space_set_status(space=ready_space, status=bad)
    ready_space.refresh_from_db()
    assert ready_space.status == before


def test_it_refuses_to_open_without_train_prompts(math_space):
    prompt_create(space=math_space, text="What is 2 + 2?", reference="4", split="heldout")
    with pytest.raises(SpaceError, match="train"):
        space_set_status(space=math_space, status="open")
    math_space.refresh_from_db()
    assert math_space.status == "draft"


def test_it_refuses_to_open_without_a_fee_tier(carol):
    space = make_space(carol, "nofees", fee_tiers=[])
    prompt_create(space=space, text="What is 6 * 7?", reference="42", split="train")
    with pytest.raises(SpaceError, match="fee tier"):
        space_set_status(space=space, status="open")


def test_it_refuses_to_edit_a_closed_space(ready_space):
    space_set_status(space=ready_space, status="closed")
    with pytest.raises(SpaceError, match="closed"):
        space_update(space=ready_space, title="Renamed", actor=PLATFORM)
    with pytest.raises(SpaceError, match="closed"):
        prompt_create(space=ready_space, text="One more?", reference="1")
