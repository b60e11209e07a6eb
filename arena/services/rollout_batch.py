"""Cross-match batched rollouts: one generate for the rows of every match waiting on the queue.

A match is N rows; a model batch pays off far beyond N (issue #11's figures: plain generate makes
about 4x the tokens per second at 32 rows as at 8). So the rollout task that claims its match also
claims the other formed matches waiting, oldest first, up to ``ARENA_ROLLOUT_ROW_BUDGET`` rows and
``ARENA_ROLLOUT_TOKEN_BUDGET`` rows x longest ``max_new_tokens`` (what one static batch costs; it
keeps a batch within the task's time limit on a CPU), and runs all their rows in ONE
``backend.generate``; each match's answers are then stored in its own
transaction, under its own claim, exactly as a lone rollout would store them. A match formed while
a batch runs joins the next one (its own task finds it still formed, or a later batch took it).

What a row's text depends on: only its agent's adapter, settings and seed (and its prompt). Every
backend generates each row independently of its neighbours (the local one: per-row adapters,
per-row sampler and generator, left padding; tested in ``tests/arena/test_rollout_batch.py``).

Bounded waiting: a static batch ends when its longest row ends, so a match with short answers
would wait on a match with long ones. A match joins a batch only when the batch's largest
``max_new_tokens`` is at most ``ARENA_ROLLOUT_MAX_STRETCH`` times its own (default 2): no match
runs for more than that many times the steps it needs alone.

Failures: a request that cannot be built, or a result that cannot be stored, fails only its own
match. A batch whose generate fails with a transient error hands every match back (each retries
by the usual policy); after any other error every match goes back to be tried alone in its own
task, so one bad match cannot fail the others. A match tried before never joins a batch again,
so a batch that failed is not formed again. A batch's distinct adapters stay within
``ARENA_ADAPTER_CACHE_SIZE`` (the local backend holds them all at once).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.inference import get_backend
from agents.inference.base import GenerationRequest, GenerationResult, RowProgress
from agents.revisions import revision_record
from agents.rollout_audit import logprobs_commitment
from agents.selectors import agent_generation_request
from arena.models import Match, Seat
from arena.selectors import match_for_step, match_seats
from arena.services import dispatch
from arena.services.events import SeatProgressPublisher, publish_match_state
from arena.services.failures import hand_back, is_transient, step_failed
from arena.services.steps import S, claim_step, complete_step
from judges.injection import detect_injection
from spaces.answer_rules import answer_violation, shape_answer

logger = logging.getLogger(__name__)

__all__ = ["rollout_matches", "build_requests", "row_budget", "max_stretch"]


def row_budget() -> int:
    return int(settings.ARENA_ROLLOUT_ROW_BUDGET)


def max_stretch() -> float:
    return float(settings.ARENA_ROLLOUT_MAX_STRETCH)


def token_budget() -> int:
    return int(settings.ARENA_ROLLOUT_TOKEN_BUDGET)


@dataclasses.dataclass
class ClaimedMatch:
    """A match this batch holds the rollout lease of, with what its rows need."""

    match: Match
    claim: int
    seats: list[Seat]
    requests: list[GenerationRequest]
    revisions: list[dict]

    @property
    def longest(self) -> int:
        return max(r.settings.max_new_tokens for r in self.requests)


def build_requests(match: Match, seats: list[Seat]) -> list[GenerationRequest]:
    """One generation request per seat: the agent's system prompt and the space's prompt, the
    agent's settings with max_new_tokens capped by the space, a seed derived from the match's."""
    cap = match.space.rule("max_new_tokens_cap")
    return [
        agent_generation_request(
            agent=seat.agent, prompt=match.prompt.text, seed=seat.seed, max_new_tokens_cap=cap
        )
        for seat in seats
    ]


def _prepare(match_id: int, claim: int) -> ClaimedMatch | None:
    """Read a claimed match's seats and build its requests; a match whose requests cannot be
    built fails alone (None)."""
    match = match_for_step(match_id)
    publish_match_state(match)
    seats = match_seats(match)
    try:
        # The configuration each seat answers with, read from the same agent rows as the requests.
        revisions = [revision_record(seat.agent) for seat in seats]
        requests = build_requests(match, seats)
    except Exception as exc:  # noqa: BLE001 - the failure policy decides: retry or refund
        step_failed(match_id=match_id, step="rollout", exc=exc, claim=claim)
        return None
    return ClaimedMatch(match, claim, seats, requests, revisions)


def _waiting_matches(exclude: int, limit: int) -> list[int]:
    """Formed matches no worker holds and none has tried yet, oldest first (a match handed back
    after a failed try runs alone, in its own task: see ``rollout_matches``)."""
    return list(
        Match.objects.filter(status=S.FORMED, lease_until__isnull=True, attempts=0)
        .exclude(pk=exclude)
        .order_by("created", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def _adapters(requests: list[GenerationRequest]) -> set[str]:
    return {r.adapter.sha256 for r in requests if r.adapter is not None}


def _fits(batch: list[ClaimedMatch], candidate: list[GenerationRequest]) -> bool:
    rows = sum(len(m.requests) for m in batch) + len(candidate)
    longest = [m.longest for m in batch] + [max(r.settings.max_new_tokens for r in candidate)]
    adapters = set().union(*(_adapters(m.requests) for m in batch), _adapters(candidate))
    # A static batch runs every row to the longest row's limit: rows x longest is its cost. Its
    # adapters must all be loaded at once (the local backend's cache refuses more).
    return (
        rows <= row_budget()
        and rows * max(longest) <= token_budget()
        and max(longest) <= max_stretch() * min(longest)
        and len(adapters) <= settings.ARENA_ADAPTER_CACHE_SIZE
    )


def _join_waiting(batch: list[ClaimedMatch]) -> None:
    """Claim waiting matches into ``batch`` while they fit the row budget and the stretch.

    A candidate is sized from a read of its seats before it is claimed (claiming is what makes it
    ours); its requests are built again after the claim, from the rows as they are then."""
    leader = batch[0].match.pk
    for match_id in _waiting_matches(leader, limit=row_budget()):
        match = match_for_step(match_id)
        seats = match_seats(match)
        try:
            sized = build_requests(match, seats)
        except Exception:  # noqa: BLE001 - its own task will fail it by the usual policy
            continue
        if not sized or not _fits(batch, sized):
            continue
        claim = claim_step(match_id=match_id, step="rollout")
        if claim is None:
            continue  # another worker took it meanwhile
        claimed = _prepare(match_id, claim)
        if claimed is not None:
            batch.append(claimed)


def rollout_matches(*, match_id: int, backend=None, cross_match: bool = True) -> bool:
    """Generate every seat's answer of ``match_id`` and, with ``cross_match``, of the other
    formed matches waiting (``ARENA_ROLLOUT_ROW_BUDGET``), in one batched call. Returns True when
    this call did the step of ``match_id``. The model runs outside any transaction; each match's
    results are stored only if its claim still holds. Meanwhile each seat's text so far goes to
    its match's group (``seat.progress``, ``arena.services.events.SeatProgressPublisher``)."""
    claim = claim_step(match_id=match_id, step="rollout")
    if claim is None:
        return False
    leader = _prepare(match_id, claim)
    if leader is None:
        return True
    batch = [leader]
    # A match tried before (its claim made attempts 1 on the first try) runs alone: the batch it
    # failed in is not formed again, and the culprit of a refused batch fails by itself.
    if cross_match and leader.match.attempts <= 1:
        _join_waiting(batch)
    _run(batch, backend)
    return True


def _run(batch: list[ClaimedMatch], backend) -> None:
    try:
        backend = backend or get_backend()
        results = backend.generate(
            [r for m in batch for r in m.requests], on_progress=_progress_for(batch)
        )
        if len(results) != sum(len(m.requests) for m in batch):
            raise RuntimeError(
                f"backend returned {len(results)} answers for "
                f"{sum(len(m.requests) for m in batch)} seats"
            )
    except Exception as exc:  # noqa: BLE001 - the failure policy decides: retry or refund
        if len(batch) > 1 and not is_transient(exc):
            # Maybe one match's rows made the backend refuse: each goes back to be tried alone,
            # in its own task (not here, where the task's time limit would cut the later ones).
            logger.warning("a batch of %s rollouts failed (%r); each goes alone", len(batch), exc)
            for claimed in batch:
                hand_back(match_id=claimed.match.pk, status=S.ROLLING_OUT, claim=claimed.claim)
            return
        # Transient: each is handed back after its back-off (then alone), or failed at the limit.
        for claimed in batch:
            step_failed(match_id=claimed.match.pk, step="rollout", exc=exc, claim=claimed.claim)
        return
    offset = 0
    for claimed in batch:
        rows = len(claimed.requests)
        try:
            _store(claimed, results[offset : offset + rows], backend_name=backend.name)
        except Exception as exc:  # noqa: BLE001 - one match's storing fails that match only
            step_failed(match_id=claimed.match.pk, step="rollout", exc=exc, claim=claimed.claim)
        offset += rows


def _progress_for(batch: list[ClaimedMatch]) -> Callable[[list[RowProgress]], None]:
    """One ``on_progress`` for the whole batch: each match's rows go to its own publisher."""
    publishers = [
        SeatProgressPublisher(
            match_id=m.match.pk, max_new_tokens=[r.settings.max_new_tokens for r in m.requests]
        )
        for m in batch
    ]

    def report(rows: list[RowProgress]) -> None:
        offset = 0
        for claimed, publisher in zip(batch, publishers, strict=True):
            count = len(claimed.requests)
            publisher(rows[offset : offset + count])
            offset += count

    return report


def _store(claimed: ClaimedMatch, results: list[GenerationResult], *, backend_name: str) -> bool:
    match = claimed.match
    now = timezone.now()
    with transaction.atomic():
        if not complete_step(
            match_id=match.pk,
            status=S.ROLLING_OUT,
            claim=claimed.claim,
            to_status=S.JUDGING,
            judging_at=now,
        ):
            return False
        for seat, request, result, revision in zip(
            claimed.seats, claimed.requests, results, claimed.revisions, strict=True
        ):
            adapter = seat.agent.current_adapter
            seat.revision = revision
            seat.text = shape_answer(match.space, result.text)
            seat.violation = answer_violation(match.space, seat.text)
            seat.injection = [finding.as_dict() for finding in detect_injection(seat.text)]
            seat.prompt_tokens = result.prompt_tokens
            seat.completion_tokens = result.completion_tokens
            seat.finish_reason = result.finish_reason
            seat.latency_ms = result.latency_ms
            seat.adapter_version = adapter
            seat.adapter_sha256 = adapter.sha256 if adapter else ""
            seat.generation_settings = request.settings.as_dict()
            seat.seed = request.seed
            seat.rolled_out_at = now
            record_rollout_tokens(seat, request, result, backend_name=backend_name)
            seat.save()
        match.refresh_from_db()
        publish_match_state(match)
        dispatch.enqueue_step(match_id=match.pk, status=match.status)
    return True


def record_rollout_tokens(seat: Seat, request, result, *, backend_name: str) -> None:
    """What a later audit needs (``arena.services.rollout_audit``): the chat answered, and from
    a backend that reports them the sampled tokens, their raw log-probabilities and a commitment
    to both. A backend that cannot report them (scripted, openai) leaves the rollout
    ``not_auditable``: nothing is made up for it."""
    seat.messages = list(request.messages)
    if result.auditable:
        seat.token_ids = list(result.token_ids)
        seat.token_logprobs = list(result.token_logprobs)
        seat.logprobs_sha256 = logprobs_commitment(seat.token_ids, seat.token_logprobs)
        seat.audit_status = Seat.AuditStatus.UNAUDITED
        seat.audit_detail = ""
    else:
        seat.token_ids = seat.token_logprobs = None
        seat.logprobs_sha256 = ""
        seat.audit_status = Seat.AuditStatus.NOT_AUDITABLE
        seat.audit_detail = (
            f"the {backend_name or 'inference'} backend records no token log-probabilities"
        )
