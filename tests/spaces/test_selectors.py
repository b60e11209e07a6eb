"""Reads: deterministic prompt picking, who sees which space."""

from __future__ import annotations

import json

import pytest

from spaces.errors import SpaceError
from spaces.selectors import open_spaces, pick_prompt, spaces_managed_by, spaces_visible_to
from spaces.services import prompt_bank_import, prompt_create, space_set_status
from tests.spaces.conftest import make_space

pytestmark = pytest.mark.django_db


@pytest.fixture
def banked_space(math_space):
    rows = [{"prompt": f"What is {i} + {i}?", "reference": str(2 * i)} for i in range(40)]
    content = "\n".join(json.dumps(r) for r in rows).encode()
    prompt_bank_import(space=math_space, file_name="b.jsonl", content=content, heldout_fraction=0)
    prompt_create(space=math_space, text="Held out: 1 + 1?", reference="2", split="heldout")
    return math_space


def test_it_picks_the_same_prompt_for_the_same_seed(banked_space):
    picks = [pick_prompt(space=banked_space, seed=seed) for seed in range(30)]
    again = [pick_prompt(space=banked_space, seed=seed) for seed in range(30)]
    assert picks == again
    assert len({p.pk for p in picks}) > 10  # seeds spread over the bank
    assert all(p.split == "train" for p in picks)


def test_it_picks_held_out_prompts_only_when_asked(banked_space):
    prompt = pick_prompt(space=banked_space, split="heldout", seed=7)
    assert prompt.text == "Held out: 1 + 1?"


def test_it_refuses_to_pick_from_an_empty_split_or_an_unknown_one(writing_space):
    with pytest.raises(SpaceError, match="no train prompts"):
        pick_prompt(space=writing_space, seed=1)
    with pytest.raises(SpaceError, match="unknown split"):
        pick_prompt(space=writing_space, split="test", seed=1)


def test_it_shows_drafts_only_to_their_creator_and_staff(carol, dave, alice, staff, banked_space):
    daves = make_space(dave, "daves-draft")
    space_set_status(space=banked_space, status="open")
    from django.contrib.auth.models import AnonymousUser

    assert set(spaces_visible_to(AnonymousUser())) == {banked_space}
    assert set(spaces_visible_to(alice)) == {banked_space}
    assert set(spaces_visible_to(carol)) == {banked_space}
    assert set(spaces_visible_to(dave)) == {banked_space, daves}
    assert set(spaces_visible_to(staff)) == {banked_space, daves}
    assert list(open_spaces()) == [banked_space]
    assert set(spaces_managed_by(carol)) == {banked_space}
    assert set(spaces_managed_by(dave)) == {daves}
    assert set(spaces_managed_by(staff)) == {banked_space, daves}
    assert not spaces_managed_by(alice).exists()
