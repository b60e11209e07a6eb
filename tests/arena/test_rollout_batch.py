"""Cross-match batched rollouts (``arena.services.rollout_batch``): the rollout task takes every
formed match waiting, up to the row budget and the stretch limit, into one generate; each match
is stored under its own claim; a bad match fails alone; a row's answer does not depend on the
rows it shared the batch with (scripted here, the real model in the ``model`` test)."""

from __future__ import annotations

import random

import pytest

from agents.inference.base import InferenceError, InferenceUnavailable
from agents.inference.local import LocalBackend
from agents.inference.scripted import ScriptedBackend
from arena.models import Match, Seat
from arena.selectors import match_seats
from arena.services.rollout_batch import build_requests, rollout_matches
from arena.services.steps import claim_step
from tests.arena.conftest import balance, make_space
from tests.arena.helpers import audit_ok, form_match, local_agent

S = Match.Status


class RecordingBackend(ScriptedBackend):
    """The scripted backend, recording how many rows each generate call got; it refuses any
    batch holding a row whose system prompt says ``refuse``, as a server refuses a bad request,
    and with ``unavailable`` it fails every call the way an unreachable server does."""

    def __init__(self, *, unavailable: bool = False):
        super().__init__()
        self.calls: list[int] = []
        self.unavailable = unavailable

    def generate(self, requests, *, on_progress=None):
        self.calls.append(len(requests))
        if self.unavailable:
            raise InferenceUnavailable("the inference server did not answer")
        if any("refuse" in r.messages[0]["content"] for r in requests):
            raise InferenceError("the server refused a row of this batch")
        return super().generate(requests, on_progress=on_progress)


def _matches(space, players, agent_factory, count=3, **agent_fields):
    tier = space.fee_tiers.get(name="standard")
    return [
        form_match(space, tier, players[:2], lambda owner: agent_factory(owner, **agent_fields))
        for _ in range(count)
    ]


def _status(match) -> str:
    match.refresh_from_db()
    return match.status


def test_every_waiting_match_is_rolled_out_in_one_generate(players, carol, agent_factory):
    space = make_space(carol)
    matches = _matches(space, players, agent_factory)
    backend = RecordingBackend()

    assert rollout_matches(match_id=matches[1].pk, backend=backend) is True

    assert backend.calls == [6]
    assert [_status(m) for m in matches] == [S.JUDGING] * 3
    for match in matches:
        seats = match_seats(match)
        alone = ScriptedBackend().generate(build_requests(match, seats))
        # Each seat's answer is what its request gives alone, whatever shared the batch.
        assert [s.text for s in seats] == [r.text for r in alone]
        assert all(s.rolled_out_at and s.generation_settings for s in seats)
    # The other matches' own tasks come later and find nothing left to do.
    assert rollout_matches(match_id=matches[0].pk, backend=backend) is False
    assert backend.calls == [6]


def test_the_row_budget_leaves_later_matches_for_the_next_batch(
    players, carol, agent_factory, settings
):
    settings.ARENA_ROLLOUT_ROW_BUDGET = 4
    space = make_space(carol)
    first, second, third = _matches(space, players, agent_factory)
    backend = RecordingBackend()

    rollout_matches(match_id=third.pk, backend=backend)

    # The task's own match leads; the oldest waiting one fills the budget.
    assert backend.calls == [4]
    assert [_status(m) for m in (first, second, third)] == [S.JUDGING, S.FORMED, S.JUDGING]
    rollout_matches(match_id=second.pk, backend=backend)
    assert backend.calls == [4, 2]
    assert _status(second) == S.JUDGING


def test_the_token_budget_caps_rows_times_the_longest_answer(
    players, carol, agent_factory, settings
):
    # Two-seat matches capped at 16 tokens: 4 rows x 16 = 64 fits, 6 x 16 = 96 does not.
    settings.ARENA_ROLLOUT_TOKEN_BUDGET = 64
    space = make_space(carol)
    first, second, third = _matches(space, players, agent_factory)
    backend = RecordingBackend()

    rollout_matches(match_id=first.pk, backend=backend)

    assert backend.calls == [4]
    assert [_status(m) for m in (first, second, third)] == [S.JUDGING, S.JUDGING, S.FORMED]


def test_a_match_does_not_wait_on_answers_more_than_twice_as_long(
    players, carol, agent_factory, settings
):
    settings.ARENA_ROLLOUT_MAX_STRETCH = 2.0
    space = make_space(carol, rules={"answer_format": "free", "max_new_tokens_cap": 64})
    (short,) = _matches(space, players, agent_factory, count=1, max_new_tokens=8)
    (close,) = _matches(space, players, agent_factory, count=1, max_new_tokens=16)
    (long,) = _matches(space, players, agent_factory, count=1, max_new_tokens=64)
    backend = RecordingBackend()

    rollout_matches(match_id=short.pk, backend=backend)

    assert backend.calls == [4]
    assert [_status(m) for m in (short, close, long)] == [S.JUDGING, S.JUDGING, S.FORMED]


def test_a_batch_holds_no_more_adapters_than_the_cache(players, carol, agent_factory, settings):
    from agents.models import AdapterVersion

    settings.ARENA_ADAPTER_CACHE_SIZE = 4
    space = make_space(carol)
    matches = _matches(space, players, agent_factory)
    for index, agent in enumerate(a for m in matches for a in (s.agent for s in match_seats(m))):
        version = AdapterVersion.objects.create(
            agent=agent,
            number=1,
            file=f"adapters/{index}/adapter_model.safetensors",
            sha256=f"{index:064x}",
            created_by="test",
        )
        agent.current_adapter = version
        agent.save(update_fields=["current_adapter"])
    backend = RecordingBackend()

    rollout_matches(match_id=matches[0].pk, backend=backend)

    # Two matches of two agents each: four adapters; a third match would need six.
    assert backend.calls == [4]
    assert [_status(m) for m in matches] == [S.JUDGING, S.JUDGING, S.FORMED]


def test_a_match_another_worker_holds_is_left_to_it(players, carol, agent_factory):
    space = make_space(carol)
    mine, held = _matches(space, players, agent_factory, count=2)
    other_claim = claim_step(match_id=held.pk, step="rollout")
    backend = RecordingBackend()

    rollout_matches(match_id=mine.pk, backend=backend)

    assert backend.calls == [2]
    held.refresh_from_db()
    assert (held.status, held.claim) == (S.ROLLING_OUT, other_claim)
    assert all(seat.text == "" for seat in match_seats(held))


def test_one_match_the_backend_refuses_fails_alone_and_is_refunded(players, carol, agent_factory):
    space = make_space(carol)
    good = _matches(space, players, agent_factory, count=1)[0]
    bad = _matches(space, players, agent_factory, count=1, system_prompt="refuse this")[0]
    later = _matches(space, players, agent_factory, count=1)[0]
    before = [balance(p) for p in players[:2]]
    backend = RecordingBackend()

    rollout_matches(match_id=good.pk, backend=backend)

    # The batch failed: every match went back, to be tried alone by its own task.
    assert backend.calls == [6]
    assert [_status(m) for m in (good, bad, later)] == [S.FORMED] * 3
    for match in (later, bad, good):
        rollout_matches(match_id=match.pk, backend=backend)
    # Each alone (a match tried before joins no batch): only the refused one failed.
    assert backend.calls == [6, 2, 2, 2]
    assert [_status(m) for m in (good, bad, later)] == [S.JUDGING, S.FAILED, S.JUDGING]
    bad.refresh_from_db()
    assert "refused" in bad.failure_reason
    # Its two fees came back; the other two matches still hold theirs.
    assert [balance(p) for p in players[:2]] == [b + 100 for b in before]
    assert audit_ok()


def test_an_unreachable_server_hands_every_match_of_the_batch_back(
    players, carol, agent_factory, settings
):
    settings.ARENA_STEP_MAX_ATTEMPTS = 3
    space = make_space(carol)
    matches = _matches(space, players, agent_factory, count=2)

    rollout_matches(match_id=matches[0].pk, backend=RecordingBackend(unavailable=True))

    for match in matches:
        match.refresh_from_db()
        # Back to formed, to be tried again after the back-off; nothing stored.
        assert (match.status, match.lease_until, match.attempts) == (S.FORMED, None, 1)


def test_an_openai_compatible_server_gets_every_row_of_the_batch_at_once(
    players, carol, agent_factory
):
    from agents.inference.openai import OpenAIBackend
    from tests.agents.fake_vllm import FakeVLLM

    space = make_space(carol, rules={"answer_format": "free", "max_new_tokens_cap": 16})
    matches = _matches(space, players, agent_factory, count=2)
    with FakeVLLM(base_name="tiny", delay_s=0.3, seeded=True) as server:
        rollout_matches(
            match_id=matches[0].pk, backend=OpenAIBackend(base_url=server.url, api_key="sekret")
        )

    assert server.max_in_flight == 4
    seats = [seat for match in matches for seat in match_seats(match)]
    assert [_status(m) for m in matches] == [S.JUDGING, S.JUDGING]
    # Each seat's own seed went with its row, and its answer came back to it.
    assert sorted(b["seed"] for b in server.bodies) == sorted(s.seed for s in seats)
    for seat in seats:
        expected = random.Random(seat.seed).randrange(1000)
        # Streamed (the match page shows answers as they come), every word put back together.
        assert seat.text == f"answer from tiny with t=0.7 draw={expected}"
        assert (seat.completion_tokens, seat.finish_reason) == (6, "stop")
        assert seat.audit_status == Seat.AuditStatus.NOT_AUDITABLE


# --- with the real default model ----------------------------------------------------------------


@pytest.fixture
def four_local_agents(settings, tmp_path, players):
    """Four agents of the default model, each with its own adapter (really changing its output)
    and its own sampling settings."""
    from agents.model_store import ensure_default_base_model

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ARENA_INFERENCE_BACKEND = "local"
    ensure_default_base_model()
    return [
        local_agent(
            players[seed % 2],
            name=f"batched-{seed}",
            seed=seed,
            tmp_path=tmp_path,
            temperature=temperature,
            top_k=20 * seed,
            max_new_tokens=8,
        )
        for seed, temperature in ((1, 0.9), (2, 0.0), (3, 1.2), (4, 0.7))
    ]


@pytest.mark.model
def test_with_the_real_model_a_seat_gets_the_same_tokens_alone_or_batched(
    players, carol, four_local_agents
):
    from arena.services.entries import entry_create

    space = make_space(
        carol, slug="batched", rules={"answer_format": "free", "max_new_tokens_cap": 8}
    )
    tier = space.fee_tiers.get(name="standard")
    match_ids = []
    for index, agent in enumerate(four_local_agents):
        entry, _ = entry_create(agent=agent, space=space, fee_tier=tier, key=f"batched:{index}")
        if entry.match_id:
            match_ids.append(entry.match_id)
    first, second = (Match.objects.get(pk=pk) for pk in match_ids)
    # What the first match's seats answer when its two rows are the whole batch.
    alone = LocalBackend().generate(build_requests(first, match_seats(first)))

    rollout_matches(match_id=first.pk)

    assert [_status(first), _status(second)] == [S.JUDGING, S.JUDGING]
    seats = match_seats(first)
    assert [s.token_ids for s in seats] == [r.token_ids for r in alone]
    assert [s.text for s in seats] == [r.text for r in alone]
    # The batch really mixed four adapters: every seat answered with its own.
    everyone = seats + match_seats(second)
    assert len({s.adapter_sha256 for s in everyone}) == 4
