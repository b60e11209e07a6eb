"""Verifiable rollouts, arena side: what the rollout step stores, the audit sampler, flags for
review and the flagged callback.

The ``model`` test plays a real match with the local backend (two agents whose adapters really
change the output, a few tokens each), audits it, then tampers with it the two ways an audit
must catch: the answer attributed to another adapter, and the answer's text edited."""

from __future__ import annotations

import pytest

from arena import hooks
from arena.models import Match, Seat
from arena.services.errors import ArenaError
from arena.services.matches import match_run_inline
from arena.services.rollout_audit import audit_sample, audit_seat
from tests.arena.conftest import make_space
from tests.arena.helpers import form_match, local_agent, sum_answer

A = Seat.AuditStatus


@pytest.fixture
def flagged_matches(monkeypatch):
    """The matches the flag-changed callbacks were called with (this test's callback only)."""
    calls: list[int] = []
    monkeypatch.setattr(hooks, "_on_rollout_flag_changed", [lambda match: calls.append(match.pk)])
    return calls


def _scripted_match(players, carol, agent_factory) -> Match:
    from agents.inference.scripted import use_script

    space = make_space(carol)
    match = form_match(space, space.fee_tiers.get(name="standard"), players[:2], agent_factory)
    with use_script(sum_answer):
        match = match_run_inline(match_id=match.pk)
    assert match.status == Match.Status.SETTLED
    return match


def test_a_scripted_rollout_is_not_auditable_and_the_sampler_leaves_it(
    players, carol, agent_factory
):
    match = _scripted_match(players, carol, agent_factory)
    for seat in match.seats.all():
        assert seat.audit_status == A.NOT_AUDITABLE
        assert "scripted backend records no token log-probabilities" in seat.audit_detail
        assert seat.token_ids is None and seat.logprobs_sha256 == ""
        assert seat.messages[-1] == {"role": "user", "content": match.prompt.text}
    run = audit_sample(rate=1.0)
    assert run.as_dict() == {
        "passed": [],
        "flagged": [],
        "skipped": [],
        "not_auditable": [],
        "errors": [],
    }


def _fake_tokens(seat: Seat, *, commitment: str | None = None) -> None:
    """Give a scripted seat recorded tokens (as the local backend would store them)."""
    from agents.rollout_audit import logprobs_commitment

    ids, logprobs = [1, 2, 3], [-0.5, -0.25, -0.125]
    Seat.objects.filter(pk=seat.pk).update(
        token_ids=ids,
        token_logprobs=logprobs,
        logprobs_sha256=commitment or logprobs_commitment(ids, logprobs),
        audit_status=A.UNAUDITED,
        audit_detail="",
    )


def test_at_rate_zero_every_rollout_is_marked_not_drawn(players, carol, agent_factory):
    match = _scripted_match(players, carol, agent_factory)
    seats = list(match.seats.order_by("index"))
    for seat in seats:
        _fake_tokens(seat)
    run = audit_sample(rate=0.0)
    assert sorted(run.skipped) == [s.pk for s in seats]
    assert set(match.seats.values_list("audit_status", flat=True)) == {A.SKIPPED}
    assert audit_sample(rate=1.0).skipped == []  # considered once only
    with pytest.raises(ArenaError, match="rate"):
        audit_sample(rate=1.5)


def test_records_that_do_not_match_their_commitment_flag_the_match_for_review(
    players, carol, agent_factory, staff, client, flagged_matches
):
    match = _scripted_match(players, carol, agent_factory)
    seat = match.seats.order_by("index").first()
    _fake_tokens(seat, commitment="0" * 64)  # the stored values were changed after commitment
    run = audit_sample(rate=1.0)
    assert run.flagged == [seat.pk]
    seat.refresh_from_db()
    assert seat.audit_status == A.FLAGGED and "commitment" in seat.audit_detail
    assert seat.audited_at is not None
    assert flagged_matches == [match.pk]
    # The review queue: the admin's "rollout audit" filter lists the match.
    client.force_login(staff)
    flagged = client.get("/admin/arena/match/?rollout_audit=flagged").content.decode()
    assert f"/admin/arena/match/{match.pk}/change/" in flagged
    other = client.get("/admin/arena/match/?rollout_audit=passed").content.decode()
    assert f"/admin/arena/match/{match.pk}/change/" not in other
    page = client.get(f"/admin/arena/match/{match.pk}/change/").content.decode()
    assert "do not match their commitment" in page


def test_auditing_a_seat_without_a_rollout_is_refused(players, carol, agent_factory):
    space = make_space(carol)
    match = form_match(space, space.fee_tiers.get(name="standard"), players[:2], agent_factory)
    with pytest.raises(ArenaError, match="no rollout"):
        audit_seat(match.seats.first())


# --- with the real default model ----------------------------------------------------------------


@pytest.fixture
def local_agents(settings, tmp_path, alice, bob):
    from agents.model_store import ensure_default_base_model

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ARENA_INFERENCE_BACKEND = "local"
    ensure_default_base_model()
    return [
        local_agent(
            owner,
            name=f"audited-{seed}",
            seed=seed,
            tmp_path=tmp_path,
            temperature=0.9,
            max_new_tokens=10,
        )
        for owner, seed in ((alice, 1), (bob, 2))
    ]


@pytest.mark.model
def test_a_real_match_passes_its_audit_and_tampered_rollouts_are_flagged(
    players, carol, local_agents, flagged_matches
):
    from arena.services.entries import entry_create

    space = make_space(
        carol, slug="audited", rules={"answer_format": "free", "max_new_tokens_cap": 10}
    )
    tier = space.fee_tiers.get(name="standard")
    for agent in local_agents:
        entry, _ = entry_create(agent=agent, space=space, fee_tier=tier, key=f"audit:{agent.pk}")
    match = match_run_inline(match_id=entry.match_id)
    assert match.status == Match.Status.SETTLED, match.failure_reason
    first, second = match.seats.order_by("index")
    for seat in (first, second):
        assert seat.audit_status == A.UNAUDITED
        assert len(seat.token_ids) == len(seat.token_logprobs) >= seat.completion_tokens
        assert len(seat.logprobs_sha256) == 64 and seat.messages

    run = audit_sample(rate=1.0)
    assert sorted(run.passed) == [first.pk, second.pk], run.as_dict()
    first.refresh_from_db()
    assert first.audit["max_abs_diff"] < first.audit["tolerance"]
    assert flagged_matches == []

    # The first seat's tokens attributed to the second seat's adapter.
    honest = {"adapter_version": first.adapter_version, "adapter_sha256": first.adapter_sha256}
    Seat.objects.filter(pk=first.pk).update(
        adapter_version=second.adapter_version, adapter_sha256=second.adapter_sha256
    )
    assert audit_seat(first).audit_status == A.FLAGGED
    first.refresh_from_db()
    assert "beyond the tolerance" in first.audit_detail, first.audit_detail

    # The second seat's answer edited after the rollout (tokens and values untouched).
    Seat.objects.filter(pk=second.pk).update(text=second.text + " (edited)")
    assert audit_seat(second).audit_status == A.FLAGGED
    second.refresh_from_db()
    assert "not the text of its tokens" in second.audit_detail
    assert flagged_matches == [match.pk, match.pk]

    # Put right and audited again: the flag is cleared and the callbacks hear of it.
    Seat.objects.filter(pk=first.pk).update(**honest)
    assert audit_seat(first).audit_status == A.PASSED
    assert flagged_matches == [match.pk, match.pk, match.pk]
