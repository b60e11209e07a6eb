"""Rollout audits: recompute a sample of rollouts' log-probabilities and flag those that differ.

At rollout, ``match_rollout`` stores per seat the chat it answered and, from the local backend,
the sampled tokens, their raw log-probabilities under the seat's adapter and a commitment
(``logprobs_sha256``); rollouts from a backend that reports no tokens (scripted, openai) are
``not_auditable`` from the start.

The task ``arena.rollout_audit`` (every 5 minutes from beat; on the ``rollout`` queue, where the
model is loaded and computes in the same dtype as the rollouts it checks) runs ``audit_sample``:
each unaudited rollout of a settled match is drawn at the operator's rate
(``ARENA_ROLLOUT_AUDIT_RATE``, an HMAC of its commitment under the audit secret, so the draw is
repeatable by whoever holds the secret) and, if drawn, audited by ``audit_seat``:

1. the stored tokens and log-probabilities must match their commitment;
2. at ``ARENA_ROLLOUT_AUDIT_POSITIONS`` positions drawn from the same HMAC, one forward pass of
   the declared base model with the declared adapter must give the recorded log-probabilities
   within ``ARENA_ROLLOUT_AUDIT_TOLERANCE`` nats (default: measured on honest reruns,
   ``agents.rollout_audit.HONEST_TOLERANCE``);
3. the seat's answer must be the text of those tokens as the space shapes it.

A rollout that fails any of them is ``flagged``: the match shows under the admin's "rollout
audit" filter for review, and the callbacks of ``arena.hooks.register_on_rollout_flag_changed``
run in the same transaction (the preferences app holds the rollout's pairs back); they run again
when a re-audit (``audit_seat``, e.g. after the tolerance was raised) clears a flag.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.inference.base import AdapterRef, InferenceError
from agents.rollout_audit import AuditError, RolloutAudit, audit_draw, audit_rollout
from arena.hooks import run_on_rollout_flag_changed
from arena.models import Match, Seat
from arena.services.errors import ArenaError
from spaces.answer_rules import shape_answer

logger = logging.getLogger(__name__)

A = Seat.AuditStatus


def audit_secret() -> bytes:
    """``ARENA_AUDIT_SECRET``, or a key derived from SECRET_KEY for this one use."""
    if settings.ARENA_AUDIT_SECRET:
        return settings.ARENA_AUDIT_SECRET.encode()
    return hashlib.sha256(b"arena.rollout_audit|" + settings.SECRET_KEY.encode()).digest()


def _declared_adapter(seat: Seat) -> AdapterRef | None:
    """The adapter the seat says it answered with: its recorded sha256, read from the adapter
    version's directory (loading checks the file against that sha256)."""
    if not seat.adapter_sha256:
        return None
    if seat.adapter_version is None:
        raise AuditError(f"the rollout names adapter {seat.adapter_sha256[:12]} but no version")
    return AdapterRef(path=str(seat.adapter_version.directory), sha256=seat.adapter_sha256)


def _recompute(seat: Seat) -> RolloutAudit:
    try:
        outcome = audit_rollout(
            base_model_path=seat.agent.base_model.path,
            adapter_ref=_declared_adapter(seat),
            messages=seat.messages,
            token_ids=seat.token_ids,
            token_logprobs=seat.token_logprobs,
            commitment=seat.logprobs_sha256,
            secret=audit_secret(),
            positions_count=settings.ARENA_ROLLOUT_AUDIT_POSITIONS,
            tolerance=settings.ARENA_ROLLOUT_AUDIT_TOLERANCE,  # None: measured for the dtype
        )
    except (AuditError, InferenceError) as exc:
        # The declared rollout cannot be reproduced at all (adapter file gone or not matching
        # its sha256, malformed records): that needs a person as much as a mismatch does.
        return RolloutAudit(False, f"cannot recompute the rollout: {exc}", [], None)
    if outcome.passed and shape_answer(seat.match.space, outcome.text) != seat.text:
        return replace(
            outcome,
            passed=False,
            detail="the stored answer is not the text of its tokens (as the space shapes answers)",
        )
    return outcome


def _store(seat: Seat, *, status: str, detail: str, report: dict, expected: str) -> bool:
    """Write the outcome if the seat still has the status it was read with (two audits at once
    store one outcome). A flag set or cleared runs the callbacks in the same transaction."""
    with transaction.atomic():
        stored = Seat.objects.filter(pk=seat.pk, audit_status=expected).update(
            audit_status=status, audit_detail=detail, audit=report, audited_at=timezone.now()
        )
        if stored and status == A.FLAGGED:
            logger.warning(
                "rollout of seat %s (match #%s) flagged: %s", seat.pk, seat.match_id, detail
            )
        if stored and (status == A.FLAGGED) != (expected == A.FLAGGED):
            run_on_rollout_flag_changed(seat.match)
    seat.audit_status, seat.audit_detail, seat.audit = status, detail, report
    return bool(stored)


def _load(seat_id: int) -> Seat:
    return Seat.objects.select_related("match__space", "agent__base_model", "adapter_version").get(
        pk=seat_id
    )


def audit_seat(seat: Seat) -> Seat:
    """Audit one rolled-out seat now (whatever its audit status: an operator may re-audit) and
    store the outcome. A seat without recorded tokens becomes ``not_auditable``."""
    seat = _load(seat.pk)
    if seat.rolled_out_at is None:
        raise ArenaError(f"seat {seat.pk} has no rollout to audit")
    expected = seat.audit_status
    if not seat.token_ids:
        _store(
            seat,
            status=A.NOT_AUDITABLE,
            detail=seat.audit_detail or "no token log-probabilities were recorded at rollout",
            report={},
            expected=expected,
        )
        return seat
    outcome = _recompute(seat)
    status = A.PASSED if outcome.passed else A.FLAGGED
    _store(seat, status=status, detail=outcome.detail, report=outcome.as_dict(), expected=expected)
    return seat


@dataclass
class AuditRun:
    """What one ``audit_sample`` did, by seat id."""

    passed: list[int] = field(default_factory=list)
    flagged: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    not_auditable: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)  # left unaudited, tried again next run

    def as_dict(self) -> dict:
        return {name: list(ids) for name, ids in self.__dict__.items()}


def audit_sample(*, rate: float | None = None, limit: int | None = None) -> AuditRun:
    """Look at up to ``limit`` unaudited rollouts of settled matches, oldest first: audit those
    drawn at ``rate`` (default ``ARENA_ROLLOUT_AUDIT_RATE``), mark the others ``skipped``."""
    rate = settings.ARENA_ROLLOUT_AUDIT_RATE if rate is None else rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ArenaError("the audit rate must be a number in [0, 1]")
    limit = settings.ARENA_ROLLOUT_AUDIT_BATCH if limit is None else limit
    run = AuditRun()
    secret = audit_secret()
    seats = Seat.objects.filter(
        audit_status=A.UNAUDITED, match__status=Match.Status.SETTLED
    ).order_by("pk")[:limit]
    for seat in seats:
        if not seat.token_ids:
            audit_seat(seat)
            run.not_auditable.append(seat.pk)
        elif audit_draw(seat.logprobs_sha256, secret) >= rate:
            detail = f"not drawn at the rate {rate:g}"
            _store(seat, status=A.SKIPPED, detail=detail, report={}, expected=A.UNAUDITED)
            run.skipped.append(seat.pk)
        else:
            try:
                audited = audit_seat(seat)
            except Exception:  # noqa: BLE001 - one seat's failure (OOM...) must not stop the rest
                logger.exception("audit of seat %s failed; it stays unaudited", seat.pk)
                run.errors.append(seat.pk)
                continue
            (run.passed if audited.audit_status == A.PASSED else run.flagged).append(seat.pk)
    return run
