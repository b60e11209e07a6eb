"""Random sequences of ledger operations, retries included, against a plain-Python model.

The model keeps play and withdrawable credits apart by the rules of issue #10, written out here
independently of the ledger: grants are play, deposits withdrawable, holds spend play first,
releases carry ceil(amount * play / pot) play, settlements split the pot's play part by largest
remainder, and only withdrawable credits are withdrawn.

After every step: balances and play parts equal the model's, the audit holds (stored =
recomputed, sums to zero, nobody negative, play kept apart), and every key applied so far maps to
exactly one movement.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger import services as ledger
from ledger.errors import IdempotencyConflict, InsufficientFunds, LedgerError
from ledger.models import SHARDED_KINDS, Account, Transfer
from ledger.selectors import audit_ledger

USERS = 3
ESCROWS = ["match:1", "match:2"]
amounts = st.integers(min_value=1, max_value=150)
counter = itertools.count()


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Each run of the machine works inside a savepoint that teardown rolls back.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        run = next(counter)
        self.users = [get_user_model().objects.create_user(f"sm{run}u{i}") for i in range(USERS)]
        self.expected: dict[int, int] = {}  # account pk -> balance
        self.expected_play: dict[int, int] = {}  # mixed account pk -> its play part
        self.done: list[tuple[str, object, dict, object]] = []  # (key, fn, kwargs, result)
        self.keys = 0

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ------------------------------------------------------------------------

    def new_key(self) -> str:
        self.keys += 1
        return f"k{self.keys}"

    def move(self, debit: Account, credit: Account, amount: int, play: int = 0) -> None:
        self.expected[debit.pk] = self.expected.get(debit.pk, 0) - amount
        self.expected[credit.pk] = self.expected.get(credit.pk, 0) + amount
        for account, sign in ((debit, -1), (credit, 1)):
            if account.is_mixed:
                self.expected_play[account.pk] = self.expected_play.get(account.pk, 0) + sign * play

    def bal(self, account: Account) -> int:
        return self.expected.get(account.pk, 0)

    def play_of(self, account: Account) -> int:
        return self.expected_play.get(account.pk, 0)

    def wallet(self, user: int) -> Account:
        return ledger.user_account(self.users[user])

    def play(self, user: int) -> Account:
        return ledger.play_account(self.users[user])

    def escrow_kwargs(self, user: int, escrow: str, amount: int) -> dict:
        """A hold's or a release's arguments, under a new key."""
        return {
            "user": self.users[user],
            "escrow_ref": escrow,
            "amount": amount,
            "key": self.new_key(),
        }

    def can_pay(self, account: Account, amount: int) -> bool:
        return account.is_source or self.expected.get(account.pk, 0) >= amount

    def attempt(self, fn, kwargs, debit: Account, credit: Account, amount: int) -> None:
        if self.can_pay(debit, amount):
            result = fn(**kwargs)
            self.move(debit, credit, amount)
            self.done.append((kwargs["key"], fn, kwargs, result))
        else:
            with pytest.raises(InsufficientFunds):
                fn(**kwargs)

    # --- rules --------------------------------------------------------------------------

    @rule(user=st.integers(0, USERS - 1), amount=amounts)
    def grant(self, user, amount):
        kwargs = {"user": self.users[user], "amount": amount, "key": self.new_key()}
        debit, credit = ledger.system_account("grants"), self.play(user)
        self.attempt(ledger.grant, kwargs, debit, credit, amount)

    @rule(user=st.integers(0, USERS - 1), amount=amounts)
    def deposit(self, user, amount):
        kwargs = {"user": self.users[user], "amount": amount, "key": self.new_key()}
        debit, credit = ledger.system_account("chain_deposits"), self.wallet(user)
        self.attempt(ledger.deposit_credit, kwargs, debit, credit, amount)

    @rule(user=st.integers(0, USERS - 1), amount=amounts)
    def withdraw(self, user, amount):
        kwargs = {"user": self.users[user], "amount": amount, "key": self.new_key()}
        debit, credit = self.wallet(user), ledger.system_account("pending_withdrawals")
        self.attempt(ledger.withdraw_debit, kwargs, debit, credit, amount)

    @rule(user=st.integers(0, USERS - 1), escrow=st.sampled_from(ESCROWS), amount=amounts)
    def hold(self, user, escrow, amount):
        kwargs = self.escrow_kwargs(user, escrow, amount)
        wallet, play, pot = self.wallet(user), self.play(user), ledger.escrow_account(escrow)
        from_play = min(amount, self.bal(play))
        if amount - from_play > self.bal(wallet):
            with pytest.raises(InsufficientFunds):
                ledger.hold(**kwargs)
            return
        result = ledger.hold(**kwargs)
        if from_play:
            self.move(play, pot, from_play, from_play)
        if amount - from_play:
            self.move(wallet, pot, amount - from_play)
        self.done.append((kwargs["key"], ledger.hold, kwargs, result))

    @rule(user=st.integers(0, USERS - 1), escrow=st.sampled_from(ESCROWS), amount=amounts)
    def release(self, user, escrow, amount):
        kwargs = self.escrow_kwargs(user, escrow, amount)
        pot = ledger.escrow_account(escrow)
        if self.bal(pot) < amount:
            with pytest.raises(InsufficientFunds):
                ledger.release(**kwargs)
            return
        result = ledger.release(**kwargs)
        play = -(-amount * self.play_of(pot) // self.bal(pot))  # rounded up, toward play
        if play:
            self.move(pot, self.play(user), play, play)
        if amount - play:
            self.move(pot, self.wallet(user), amount - play)
        self.done.append((kwargs["key"], ledger.release, kwargs, result))

    @rule(escrow=st.sampled_from(ESCROWS), amount=amounts)
    def subsidize(self, escrow, amount):
        kwargs = {"escrow_ref": escrow, "amount": amount, "key": self.new_key()}
        debit, credit = ledger.system_account("grants"), ledger.escrow_account(escrow)
        if self.can_pay(debit, amount):
            result = ledger.subsidize(**kwargs)
            self.move(debit, credit, amount, amount)
            self.done.append((kwargs["key"], ledger.subsidize, kwargs, result))

    @rule(a=st.integers(0, USERS - 1), b=st.integers(0, USERS - 1), amount=amounts)
    def transfer(self, a, b, amount):
        if a == b:
            return
        debit = ledger.user_account(self.users[a])
        credit = ledger.user_account(self.users[b])
        kwargs = {
            "debit": debit,
            "credit": credit,
            "amount": amount,
            "key": self.new_key(),
            "kind": "gift",
        }
        self.attempt(ledger.transfer, kwargs, debit, credit, amount)

    @rule(escrow=st.sampled_from(ESCROWS), cuts=st.lists(st.integers(0, 100), max_size=3))
    def settle(self, escrow, cuts):
        account = ledger.escrow_account(escrow)
        pot = self.expected.get(account.pk, 0)
        # Split the pot among the users plus the platform by the drawn weights.
        payees = [ledger.user_account(u) for u in self.users[: len(cuts)]]
        payees.append(ledger.system_account("platform_revenue"))
        total_weight = sum(cuts) or 1
        amounts_ = [pot * c // total_weight for c in cuts]
        amounts_.append(pot - sum(amounts_))
        payouts = list(zip(payees, amounts_, strict=True))
        kwargs = {"escrow_ref": escrow, "payouts": payouts, "key": self.new_key()}
        made = ledger.settle(**kwargs)
        # The pot's play part, split by largest remainder (ties: the earlier payout).
        play = self.play_of(account)
        exact = [(a * play // pot, a * play % pot) if pot else (0, 0) for a in amounts_]
        parts = [whole for whole, _ in exact]
        order = sorted(range(len(exact)), key=lambda i: (-exact[i][1], i))
        for i in order[: play - sum(parts)]:
            parts[i] += 1
        for index, ((payee, amount), part) in enumerate(zip(payouts, parts, strict=True)):
            if not amount:
                continue
            if payee.kind == "user":
                user = index  # the users are the first payees, in order
                if part:
                    self.move(account, self.play(user), part, part)
                if amount - part:
                    self.move(account, payee, amount - part)
            else:
                self.move(account, payee, amount, part)
        assert len(made) == sum(1 for _, amount in payouts if amount)
        self.done.append((kwargs["key"], ledger.settle, kwargs, made))

    @rule(escrow=st.sampled_from(ESCROWS), off=st.sampled_from([-1, 1]))
    def settle_wrong_sum(self, escrow, off):
        account = ledger.escrow_account(escrow)
        pot = self.expected.get(account.pk, 0)
        if pot + off < 0:
            return
        payouts = [(ledger.user_account(self.users[0]), pot + off)]
        with pytest.raises(LedgerError, match="payouts add up"):
            ledger.settle(escrow_ref=escrow, payouts=payouts, key=self.new_key())

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def retry_same(self, data):
        key, fn, kwargs, result = data.draw(st.sampled_from(self.done))
        again = fn(**kwargs)  # nothing moves: the model is untouched
        if isinstance(result, list):
            assert [t.pk for t in again] == [t.pk for t in result]
        else:
            assert again.pk == result.pk

    @precondition(lambda self: any("amount" in kw for _, _, kw, _ in self.done))
    @rule(data=st.data())
    def retry_changed(self, data):
        key, fn, kwargs, _ = data.draw(st.sampled_from([d for d in self.done if "amount" in d[2]]))
        with pytest.raises(IdempotencyConflict):
            fn(**{**kwargs, "amount": kwargs["amount"] + 1})

    # --- invariants ---------------------------------------------------------------------

    def stored(self, field: str) -> dict[int, int]:
        """Each account's stored ``field`` by pk. A sharded system account (issue #11) is several
        rows: they add up under its shard 0's pk, the account the model moves."""
        heads = dict(
            Account.objects.filter(kind__in=SHARDED_KINDS, shard=0).values_list("kind", "pk")
        )
        totals: dict[int, int] = defaultdict(int)
        for pk, kind, value in Account.objects.values_list("pk", "kind", field):
            totals[heads.get(kind, pk)] += value
        return totals

    @invariant()
    def balances_match_the_model(self):
        stored = self.stored("balance")
        for pk, value in stored.items():
            assert value == self.expected.get(pk, 0)
        assert sum(stored.values()) == 0

    @invariant()
    def play_parts_match_the_model(self):
        stored = {pk: value for pk, value in self.stored("play").items() if value}
        expected = {pk: value for pk, value in self.expected_play.items() if value}
        assert stored == expected

    @invariant()
    def audit_holds(self):
        report = audit_ledger()
        assert report["ok"], report["problems"]

    @invariant()
    def each_key_applied_once(self):
        keys = set(Transfer.objects.values_list("key", flat=True))
        assert len(keys) == Transfer.objects.count()
        for _key, _, _, result in self.done:
            if isinstance(result, list):
                assert all(t.key in keys for t in result)
            else:
                assert result.key in keys


@pytest.mark.django_db
def test_it_keeps_the_invariants_under_random_operations():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
