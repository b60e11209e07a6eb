"""A rollout that fails its audit: the pairs made of it are held back; the others stay kept."""

from __future__ import annotations

from arena.models import Seat
from arena.services.rollout_audit import audit_seat
from preferences.models import PreferencePair
from tests.arena.test_rollout_audit import _fake_tokens

A = Seat.AuditStatus


def test_a_flagged_rollouts_pairs_are_held_back(pairs_space):
    pair = PreferencePair.objects.filter(space=pairs_space, status="kept").first()
    seat = pair.chosen_seat
    others = PreferencePair.objects.exclude(chosen_seat=seat).exclude(rejected_seat=seat)
    kept_elsewhere = set(others.filter(status="kept").values_list("pk", flat=True))

    _fake_tokens(seat, commitment="0" * 64)  # its records no longer match their commitment
    assert audit_seat(Seat.objects.get(pk=seat.pk)).audit_status == A.FLAGGED
    held = PreferencePair.objects.filter(chosen_seat=seat) | PreferencePair.objects.filter(
        rejected_seat=seat
    )
    assert {p.status for p in held} == {"held_back"}
    assert all("a rollout failed its audit" in p.held_back_reason for p in held)
    assert set(others.filter(status="kept").values_list("pk", flat=True)) == kept_elsewhere
