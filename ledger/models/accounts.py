"""Accounts, transfers and postings of the double-entry credit ledger.

Every transfer moves a positive integer amount from one account (debit: the credits leave it) to
another and writes two postings, -amount and +amount, so the postings of every transfer, and of the
whole ledger, sum to zero. ``Account.balance`` is a cache of the sum of the account's postings,
kept in the same transaction; ``ledger_audit`` recomputes it.

Transfers and postings are append-only: a mistake is corrected by a new transfer, never by an edit.

System accounts that every match, sign-up or deposit touches (``SHARDED_KINDS``) are spread over
several rows of the same kind, its shards (``Account.shard`` 0, 1, ...): a transfer uses a shard
no other transaction holds (``ledger.services``), so concurrent settlements crediting platform
revenue lock different rows instead of queueing on one. The account's balance is the sum of its
shards' balances; shard 0 is the row that existed before shards did, and the one
``system_account`` returns.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ledger.errors import ImmutableRecord

__all__ = [
    "Account",
    "AccountKind",
    "Transfer",
    "Posting",
    "Settlement",
    "PlaySplit",
    "SOURCE_KINDS",
    "SYSTEM_KINDS",
    "SHARDED_KINDS",
    "PLAY_KINDS",
    "MIXED_KINDS",
    "KEY_MAX_LENGTH",
    "NONNEGATIVE_BALANCE",
]

KEY_MAX_LENGTH = 200


class AccountKind(models.TextChoices):
    USER = "user", "withdrawable balance"
    PLAY = "play", "play credits"
    ESCROW = "escrow", "escrow"
    CREATOR_REVENUE = "creator_revenue", "creator revenue"
    PLATFORM_REVENUE = "platform_revenue", "platform revenue"
    GRANTS = "grants", "grants"
    CHAIN_DEPOSITS = "chain_deposits", "chain deposits"
    PENDING_WITHDRAWALS = "pending_withdrawals", "pending withdrawals"


# The CHECK constraint that keeps every balance at zero or above but a source's (its name: a
# transfer made as one statement reads an overdraft from its violation).
NONNEGATIVE_BALANCE = "ledger_account_balance_nonnegative"
# Credits enter the ledger from these accounts, so their balances run negative: -(credits issued).
SOURCE_KINDS = (AccountKind.GRANTS, AccountKind.CHAIN_DEPOSITS)
# One account of each of these kinds exists, with neither owner nor ref.
SYSTEM_KINDS = (
    AccountKind.PLATFORM_REVENUE,
    AccountKind.GRANTS,
    AccountKind.CHAIN_DEPOSITS,
    AccountKind.PENDING_WITHDRAWALS,
)
# Every match pays platform revenue, every grant and subsidy draws on grants, every deposit on
# chain deposits: these are spread over shard rows (see the module's docstring). Pending
# withdrawals stays one row: only withdrawals touch it, and its debits need a balance check.
SHARDED_KINDS = (AccountKind.PLATFORM_REVENUE, AccountKind.GRANTS, AccountKind.CHAIN_DEPOSITS)
_OWNED_KINDS = (AccountKind.USER, AccountKind.PLAY, AccountKind.CREATOR_REVENUE)
# Play credits (grants, the starter grant, prizes of play-funded pots) pay fees and training but
# never become ether. Every credit in these accounts is play; in every account outside these and
# MIXED_KINDS every credit is withdrawable. Grants is the play source.
PLAY_KINDS = (AccountKind.PLAY, AccountKind.GRANTS)
# Pots and revenue mix both: ``Account.play`` says how much of their balance is play, and each
# transfer's ``play`` says how much of its amount was, so the audit can recompute the part.
MIXED_KINDS = (AccountKind.ESCROW, AccountKind.CREATOR_REVENUE, AccountKind.PLATFORM_REVENUE)


class Account(models.Model):
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,  # a user with credits history is deactivated, not deleted
        null=True,
        blank=True,
        related_name="ledger_accounts",
    )
    ref = models.CharField(max_length=100, blank=True, default="", help_text='escrows: "match:12"')
    balance = models.BigIntegerField(default=0, help_text="sum of this account's postings")
    play = models.BigIntegerField(
        default=0,
        help_text="escrows and revenue: the part of the balance that is play credits (0 elsewhere)",
    )
    shard = models.PositiveSmallIntegerField(
        default=0,
        help_text="sharded system accounts: which of the account's rows this is (0 elsewhere)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A mixed account's play part lies within its balance; other kinds store none (their
            # kind alone says whether their credits are play).
            models.CheckConstraint(
                condition=(
                    Q(kind__in=MIXED_KINDS, play__gte=0, play__lte=models.F("balance"))
                    | (~Q(kind__in=MIXED_KINDS) & Q(play=0))
                ),
                name="ledger_account_play_part",
            ),
            models.CheckConstraint(
                condition=Q(balance__gte=0) | Q(kind__in=SOURCE_KINDS),
                name=NONNEGATIVE_BALANCE,
            ),
            # Each kind's identity is exactly one of: an owner, a ref, or nothing (system).
            models.CheckConstraint(
                condition=(
                    Q(kind__in=_OWNED_KINDS, owner__isnull=False, ref="")
                    | (Q(kind=AccountKind.ESCROW, owner__isnull=True) & ~Q(ref=""))
                    | Q(kind__in=SYSTEM_KINDS, owner__isnull=True, ref="")
                ),
                name="ledger_account_identity",
            ),
            models.UniqueConstraint(
                fields=["kind", "owner"],
                condition=Q(owner__isnull=False),
                name="ledger_account_unique_owner",
            ),
            models.UniqueConstraint(
                fields=["kind", "ref"],
                condition=Q(kind=AccountKind.ESCROW),
                name="ledger_account_unique_escrow",
            ),
            # One row per system account, or per shard of a sharded one.
            models.UniqueConstraint(
                fields=["kind", "shard"],
                condition=Q(kind__in=SYSTEM_KINDS),
                name="ledger_account_unique_system_shard",
            ),
            models.CheckConstraint(
                condition=Q(shard=0) | Q(kind__in=SHARDED_KINDS), name="ledger_account_shard_kind"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == AccountKind.ESCROW:
            return f"escrow {self.ref}"
        if self.owner_id is not None:
            return f"{self.get_kind_display()} of {self.owner}"
        if self.shard:
            return f"{self.get_kind_display()} (shard {self.shard})"
        return self.get_kind_display()

    @property
    def is_source(self) -> bool:
        return self.kind in SOURCE_KINDS

    @property
    def is_sharded(self) -> bool:
        return self.kind in SHARDED_KINDS

    @property
    def is_mixed(self) -> bool:
        return self.kind in MIXED_KINDS

    @property
    def is_play(self) -> bool:
        return self.kind in PLAY_KINDS

    @property
    def withdrawable_part(self) -> int:
        """Credits of this account that are not play (for a mixed account, balance - play)."""
        if self.is_play:
            return 0
        return self.balance - self.play


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk edits and deletes would bypass ``save``/``delete``: refuse them too."""

    def update(self, **kwargs):
        raise ImmutableRecord(f"{self.model.__name__} rows cannot be updated")

    def delete(self):
        raise ImmutableRecord(f"{self.model.__name__} rows cannot be deleted")

    # Django's bulk_update ends in update(); named here so the refusal reads clearly.
    def bulk_update(self, objs, fields, batch_size=None):
        raise ImmutableRecord(f"{self.model.__name__} rows cannot be updated")

    def update_or_create(self, *args, **kwargs):
        raise ImmutableRecord(f"{self.model.__name__} rows cannot be updated")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRecord(f"{type(self).__name__} #{self.pk} cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord(f"{type(self).__name__} #{self.pk} cannot be deleted")


class Transfer(AppendOnlyModel):
    key = models.CharField(max_length=KEY_MAX_LENGTH, unique=True, help_text="idempotency key")
    debit = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="debits", help_text="credits leave it"
    )
    credit = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="credits", help_text="credits enter it"
    )
    amount = models.BigIntegerField()
    # How much of ``amount`` was play credits: all of it out of or into a play account, none out
    # of or into a withdrawable one; out of an escrow, its share of the escrow's play part.
    play = models.BigIntegerField(default=0)
    kind = models.CharField(max_length=32)
    memo = models.CharField(max_length=255, blank=True, default="")
    # sha256 of the canonical JSON of what moves (debit, credit, amount, kind): a retry with the
    # same key is compared on this, so "same content" has one definition.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="ledger_transfer_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(play__gte=0, play__lte=models.F("amount")),
                name="ledger_transfer_play_within_amount",
            ),
            models.CheckConstraint(
                condition=~Q(debit=models.F("credit")), name="ledger_transfer_distinct_accounts"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.debit} -> {self.credit} ({self.key})"


class Posting(AppendOnlyModel):
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount = models.BigIntegerField(help_text="signed: negative leaves the account")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_posting_amount_nonzero"),
            models.UniqueConstraint(
                fields=["transfer", "account"], name="ledger_posting_one_per_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.account} (transfer {self.transfer_id})"


class Settlement(AppendOnlyModel):
    """One emptying of an escrow into several accounts; its transfers are ``<key>#<index>``.

    Recorded even when it moved nothing, so a retry is recognised by its key alone, whatever
    the escrow received since.
    """

    key = models.CharField(max_length=KEY_MAX_LENGTH, unique=True, help_text="idempotency key")
    escrow = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="settlements")
    total = models.BigIntegerField(help_text="the escrow's balance, paid out in full")
    # sha256 of the canonical JSON of the escrow and the non-zero (account, amount) payouts.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="ledger_settlement_total"),
        ]

    def __str__(self) -> str:
        return f"settlement {self.key} of {self.escrow} ({self.total})"


class PlaySplit(models.Model):
    """When the ledger began keeping play and withdrawable credits apart (one row, written by
    the migration that split them). Transfers before ``first_transfer_id`` were made by the old
    rules (grants credited withdrawable accounts) and are exempt from the audit's play checks;
    the migration reclassified each user's granted credits as play."""

    first_transfer_id = models.BigIntegerField()
    reclassified = models.BigIntegerField(default=0, help_text="credits moved into play accounts")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"play credits kept apart from transfer {self.first_transfer_id}"
