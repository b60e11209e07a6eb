"""Every settled match yields preference pairs with their provenance; the space's gate keeps or
holds them back."""

from __future__ import annotations

import pytest

from judges.models import Verdict
from preferences.errors import PreferenceError
from preferences.models import PreferencePair
from preferences.provenance import canonical_json, content_sha256
from preferences.services import gate_for, gate_update, pairs_from_match, pairs_regate
from spaces.models import Prompt, text_digest
from tests.arena.conftest import make_space
from tests.preferences.helpers import right, settle

pytestmark = pytest.mark.django_db


def test_a_settled_match_yields_a_pair_with_its_provenance(players, space, tier, agent_factory):
    alice, bob, _ = players
    scout = agent_factory(alice, system_prompt="Answer with a number.")
    match = settle(space, tier, [alice, bob], agent_factory, agents=[scout, agent_factory(bob)])

    pair = PreferencePair.objects.get(match=match)
    winner, loser = match.seats.get(rank=1), match.seats.get(rank=2)
    assert (pair.chosen_seat, pair.rejected_seat) == (winner, loser)
    assert pair.status == "kept" and pair.held_back_reason == ""
    assert pair.space == space and pair.prompt == match.prompt
    assert pair.prompt_text == match.prompt.text
    assert pair.prompt_sha256 == match.prompt.text_sha256 == text_digest(match.prompt.text)
    assert (pair.chosen_text, pair.rejected_text) == (winner.text, loser.text)
    assert pair.chosen_text_sha256 == text_digest(winner.text)
    assert (pair.chosen_agent, pair.rejected_agent) == (scout, loser.agent)
    assert pair.chosen_adapter_sha256 == winner.adapter_sha256
    assert pair.chosen_generation_settings == winner.generation_settings
    assert pair.chosen_generation_settings["max_new_tokens"] == 16
    assert pair.chosen_system_prompt == "Answer with a number."
    assert pair.verdict_ids == list(match.verdicts.order_by("id").values_list("id", flat=True))
    # One verifier: right (1) against wrong (0), out of a total weight of 1.
    assert pair.margin == 1.0
    assert (pair.agreement_count, pair.agreement_total, pair.agreement) == (1, 1, 1.0)
    assert pair.deciding_judge_kinds == ["verifier"]


def test_the_content_hash_is_the_sha256_of_the_canonical_json_and_catches_tampering(
    players, space, tier, agent_factory
):
    alice, bob, _ = players
    match = settle(space, tier, [alice, bob], agent_factory)
    pair = PreferencePair.objects.get(match=match)
    payload = pair.payload()
    assert set(payload) == {"match", "prompt", "chosen", "rejected", "verdicts"}
    assert set(payload["chosen"]) == {
        "seat",
        "text",
        "agent",
        "adapter_sha256",
        "generation_settings",
        "system_prompt",
    }
    raw = canonical_json(payload)
    assert b" " not in raw.replace(match.prompt.text.encode(), b"")  # no whitespace added
    assert raw.index(b'"chosen"') < raw.index(b'"match"') < raw.index(b'"prompt"')  # sorted
    assert pair.content_sha256 == content_sha256(payload)
    assert pair.verify()

    PreferencePair.objects.filter(pk=pair.pk).update(chosen_text="a better-looking answer")
    pair.refresh_from_db()
    assert not pair.verify()
    pair.refresh_from_db()
    PreferencePair.objects.filter(pk=pair.pk).update(verdict_ids=[])
    pair.refresh_from_db()
    assert not pair.verify()


def test_pairs_are_made_once_per_match(players, space, tier, agent_factory):
    alice, bob, _ = players
    match = settle(space, tier, [alice, bob], agent_factory)
    first = pairs_from_match(match=match)
    again = pairs_from_match(match=match)
    assert [p.pk for p in first] == [p.pk for p in again]
    assert PreferencePair.objects.filter(match=match).count() == 1


def test_only_a_settled_match_makes_pairs(players, space, tier, agent_factory):
    from tests.preferences.helpers import form

    alice, bob, _ = players
    match = form(space, tier, [alice, bob], agent_factory)
    with pytest.raises(PreferenceError, match="not settled"):
        pairs_from_match(match=match)


def test_every_two_seats_with_different_totals_make_a_pair(players, carol, agent_factory):
    space = make_space(carol, slug="trio", n=3, shares=("0.5", "0.3", "0.2"))
    tier = space.fee_tiers.get(name="standard")
    # sum_answer: seat 0 right, seats 1 and 2 wrong (tied with each other).
    match = settle(space, tier, players, agent_factory)
    pairs = PreferencePair.objects.filter(match=match)
    seats = {s.index: s for s in match.seats.all()}
    assert {(p.chosen_seat.index, p.rejected_seat.index) for p in pairs} == {(0, 1), (0, 2)}
    assert all(p.chosen_seat == seats[0] for p in pairs)


def test_a_tie_makes_no_pair(players, space, tier, agent_factory):
    alice, bob, _ = players
    match = settle(space, tier, [alice, bob], agent_factory, script=right)
    assert set(match.seats.values_list("rank", flat=True)) == {1}
    assert not PreferencePair.objects.filter(match=match).exists()


def test_a_held_out_prompt_never_makes_pairs(players, space, tier, agent_factory):
    alice, bob, _ = players

    def hold_out(match):
        Prompt.objects.filter(pk=match.prompt_id).update(split="heldout")

    match = settle(space, tier, [alice, bob], agent_factory, before=hold_out)
    assert not PreferencePair.objects.filter(match=match).exists()
    assert pairs_from_match(match=match) == []


def test_the_margin_gate_is_exclusive_and_regates_existing_pairs(
    players, space, tier, agent_factory
):
    alice, bob, _ = players
    gate_update(space=space, min_margin=1.0)
    match = settle(space, tier, [alice, bob], agent_factory)
    pair = PreferencePair.objects.get(match=match)
    assert pair.status == "held_back"
    assert "margin 1.0000 is not above the gate's 1.0000" in pair.held_back_reason

    gate_update(space=space, min_margin=0.5)
    pair.refresh_from_db()
    assert (pair.status, pair.held_back_reason) == ("kept", "")


def test_a_bad_gate_setting_is_refused_and_changes_nothing(space):
    gate = gate_for(space=space)
    with pytest.raises(PreferenceError):
        gate_update(space=space, min_margin=1.5)
    with pytest.raises(PreferenceError, match="unknown gate setting"):
        gate_update(space=space, max_margin=0.5)
    with pytest.raises(PreferenceError, match="list of judge kind"):
        gate_update(space=space, uninformative_judge_kinds="verifier")
    gate.refresh_from_db()
    assert (gate.min_margin, gate.min_agreement, gate.uninformative_judge_kinds) == (0.0, 0.5, [])


def _pairwise_prefers_seat(preferred: int, other: int):
    """A pairwise-llm verdict, stored as the judge stores it, preferring seat ``preferred`` in
    both orders (added to the match's verdicts before settlement)."""

    def add(match):
        a, b = sorted((preferred, other))
        a_wins = preferred == a
        points = [0.0, 0.0]
        points[preferred] = 1.0
        Verdict.objects.create(
            match=match,
            judge_kind="pairwise-llm",
            data={
                "index": 1,
                "config": {"kind": "pairwise-llm"},
                "points": points,
                "max_points": 1.0,
                "scores": points,
                "details": {
                    "pairs": [
                        {
                            "a": a,
                            "b": b,
                            "winner": preferred,
                            "by": "model",
                            "p_ab": [0.8, 0.2] if a_wins else [0.3, 0.7],
                            "p_ba": [0.25, 0.75] if a_wins else [0.9, 0.1],
                        }
                    ]
                },
            },
        )

    return add


def test_agreement_counts_judges_and_both_orders_of_a_pairwise_judge(players, carol, agent_factory):
    # A verifier of weight 2 outweighs a pairwise judge that prefers the wrong answer in both
    # orders: chosen 2 + 0, rejected 0 + 1; margin 1/3; agreement 1 vote of 3.
    panel = [{"kind": "verifier", "mode": "numeric", "tolerance": "0.001", "weight": 2}]
    space = make_space(carol, slug="weighted", panel=panel)
    tier = space.fee_tiers.get(name="standard")
    alice, bob, _ = players
    match = settle(space, tier, [alice, bob], agent_factory, before=_pairwise_prefers_seat(1, 0))
    pair = PreferencePair.objects.get(match=match)
    assert pair.chosen_seat.index == 0
    assert pair.margin == pytest.approx(1 / 3)
    assert (pair.agreement_count, pair.agreement_total) == (1, 3)
    assert pair.deciding_judge_kinds == ["verifier"]
    assert pair.status == "held_back"
    assert "agreement 1/3 is below the gate's 0.50" in pair.held_back_reason

    gate_update(space=space, min_agreement=0.3)
    pair.refresh_from_db()
    assert pair.status == "kept"


def test_both_orders_agreeing_with_the_verifier_count_three_of_three(
    players, space, tier, agent_factory
):
    alice, bob, _ = players
    match = settle(space, tier, [alice, bob], agent_factory, before=_pairwise_prefers_seat(0, 1))
    pair = PreferencePair.objects.get(match=match)
    assert (pair.agreement_count, pair.agreement_total) == (3, 3)
    assert pair.margin == 1.0
    assert pair.deciding_judge_kinds == ["pairwise-llm", "verifier"]


def test_a_pair_decided_only_by_uninformative_judges_is_held_back(
    players, space, tier, agent_factory
):
    alice, bob, _ = players
    gate_update(space=space, uninformative_judge_kinds=["verifier"])
    match = settle(space, tier, [alice, bob], agent_factory)
    pair = PreferencePair.objects.get(match=match)
    assert pair.status == "held_back"
    assert "decided only by uninformative judges: verifier" in pair.held_back_reason

    # A second, informative judge that also decided it: kept.
    other = settle(space, tier, [alice, bob], agent_factory, before=_pairwise_prefers_seat(0, 1))
    assert PreferencePair.objects.get(match=other).status == "kept"


def test_a_duplicate_of_a_kept_pair_is_held_back(players, carol, agent_factory):
    space = make_space(carol, slug="one-prompt", prompts=1)
    tier = space.fee_tiers.get(name="standard")
    alice, bob, _ = players
    first = PreferencePair.objects.get(match=settle(space, tier, [alice, bob], agent_factory))
    second = PreferencePair.objects.get(match=settle(space, tier, [alice, bob], agent_factory))
    assert (first.prompt_sha256, first.chosen_text, first.rejected_text) == (
        second.prompt_sha256,
        second.chosen_text,
        second.rejected_text,
    )
    assert first.status == "kept"
    assert second.status == "held_back"
    assert second.held_back_reason == f"duplicate of pair #{first.pk}"

    gate_update(space=space, drop_duplicates=False)
    second.refresh_from_db()
    assert second.status == "kept"
    gate_update(space=space, drop_duplicates=True)
    second.refresh_from_db()
    assert second.status == "held_back"
    assert pairs_regate(space=space) == 0  # nothing left to change
