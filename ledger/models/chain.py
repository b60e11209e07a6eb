"""Wallets, SIWE nonces, chain deposits and withdrawals.

Ether amounts are wei, which overflow a 64-bit integer (1 ether = 10**18 wei), so they get their
own field with room for any uint256 (78 digits). Credits stay plain integers.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

__all__ = ["Wallet", "SiweNonce", "ChainDeposit", "Withdrawal", "WeiField", "WEI_DIGITS"]

WEI_DIGITS = 78  # len(str(2**256 - 1))


class WeiField(models.Field):
    """A non-negative integer up to a uint256, exact on every database; Python ``int``.

    PostgreSQL: numeric(78, 0). SQLite turns integers past 64 bits into floats (15 digits), so
    there the digits are kept as text.
    """

    description = "integer amount of wei"

    def db_type(self, connection) -> str:
        if connection.vendor == "postgresql":
            return f"numeric({WEI_DIGITS}, 0)"
        return f"varchar({WEI_DIGITS})"

    def to_python(self, value):
        if value is None or isinstance(value, int):
            return value
        try:
            number = int(str(value))
        except ValueError:
            raise ValidationError(f"{value!r} is not a whole number of wei") from None
        return number

    def get_prep_value(self, value):
        value = self.to_python(super().get_prep_value(value))
        if value is not None and not 0 <= value < 2**256:
            raise ValidationError(f"{value} wei is outside the uint256 range")
        return value

    def get_db_prep_value(self, value, connection, prepared=False):
        value = value if prepared else self.get_prep_value(value)
        if value is None:
            return None
        return Decimal(value) if connection.vendor == "postgresql" else str(value)

    def from_db_value(self, value, expression, connection):
        return None if value is None else int(value)


class Wallet(models.Model):
    """An Ethereum address proven (by a SIWE signature) to belong to a user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallets"
    )
    address = models.CharField(max_length=42, unique=True, help_text="EIP-55 checksummed")
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["linked_at", "id"]

    def __str__(self) -> str:
        return self.address


class SiweNonce(models.Model):
    """A server-issued nonce for one Sign-In with Ethereum message: usable once, until expiry."""

    nonce = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.nonce


class ChainDeposit(models.Model):
    """An on-chain payment to the platform address, credited exactly once (unique tx hash)."""

    class Status(models.TextChoices):
        # A row is written only in the same transaction that credits the user, so every row is
        # credited; the field leaves room for states that do not credit (a reorg, a refund).
        CREDITED = "credited", "credited"

    tx_hash = models.CharField(max_length=66, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="chain_deposits"
    )
    from_address = models.CharField(max_length=42)
    wei = WeiField()
    credits = models.BigIntegerField()
    block_number = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREDITED)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credits__gt=0), name="chaindeposit_credits_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tx_hash} -> {self.user} ({self.credits} credits)"


class Withdrawal(models.Model):
    """Credits debited into pending withdrawals and paid out as ether from the platform key.

    requested: credits are pending, no transaction signed yet.
    sending:   a transaction is signed and stored (raw_tx, tx_hash); resending the same bytes is
               harmless, so a crashed or retried send never pays twice.
    sent:      mined successfully; the credits have left the platform.
    failed:    the transaction cannot be mined; the credits went back to the user.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", "requested"
        SENDING = "sending", "sending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals"
    )
    to_address = models.CharField(max_length=42)
    credits = models.BigIntegerField()
    wei = WeiField()
    idempotency_key = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    tx_hash = models.CharField(max_length=66, blank=True, default="")
    raw_tx = models.TextField(blank=True, default="", help_text="signed transaction, hex")
    error = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # Keys come from clients, so they are unique per user, not across users.
            models.UniqueConstraint(
                fields=["user", "idempotency_key"], name="withdrawal_user_key_unique"
            ),
            models.CheckConstraint(condition=Q(credits__gt=0), name="withdrawal_credits_positive"),
        ]

    def __str__(self) -> str:
        return f"withdrawal {self.pk}: {self.credits} credits -> {self.to_address} ({self.status})"
