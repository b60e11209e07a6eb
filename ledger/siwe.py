"""Sign-In with Ethereum (EIP-4361).

The server issues a single-use nonce; the wallet signs the standard message (EIP-191
personal_sign); the server parses it with the ``siwe`` package, checks every field against its
own expectations, recovers the signer with eth-account, then consumes the nonce and logs the
owner in, creates an account for a new wallet, or links the wallet to the signed-in user.

Any rejection leaves everything as it was, the nonce included: a nonce is burnt only by a message
that verified, so a replay of that message is refused while a failed attempt costs nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct
from siwe import SiweMessage

from ledger.errors import LedgerError
from ledger.models import SiweNonce, Wallet

# Browsers' clocks drift; a message "issued" this far in our future is still accepted.
CLOCK_SKEW = timedelta(seconds=60)
MAX_MESSAGE_CHARS = 4000


class SiweError(LedgerError):
    """The SIWE message or signature was refused; the message says why."""


@dataclass(frozen=True)
class SiweResult:
    user: object
    wallet: Wallet
    created_user: bool  # a new account was made for a new wallet
    linked: bool  # the wallet was linked just now (to a new or the signed-in account)


def siwe_nonce_issue() -> SiweNonce:
    """A fresh nonce, valid once for SIWE_NONCE_TTL_SECONDS (expired ones are swept by the
    periodic ``ledger.sweep_siwe_nonces`` task, not here: issuing stays one INSERT)."""
    now = timezone.now()
    return SiweNonce.objects.create(
        # EIP-4361 wants at least 8 alphanumeric characters: 32 hex digits are 128 random bits.
        nonce=secrets.token_hex(16),
        expires=now + timedelta(seconds=settings.SIWE_NONCE_TTL_SECONDS),
    )


def siwe_nonces_sweep() -> int:
    """Delete expired nonces, used or not; how many. An expired nonce verifies nothing (and a
    message naming a deleted one is refused as unknown), so keeping it only grows the table."""
    deleted, _ = SiweNonce.objects.filter(expires__lte=timezone.now()).delete()
    return deleted


def expected_domain(request_host: str) -> str:
    """The domain a message must name: SIWE_DOMAIN, or the host the request came to."""
    return settings.SIWE_DOMAIN or request_host


def _parse_time(value, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise SiweError(f"{field} is not an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        raise SiweError(f"{field} must carry a time zone")
    return parsed


def siwe_verify(*, message: str, signature: str, domain: str) -> tuple[str, str]:
    """Check a signed SIWE message without changing anything. Returns (address, nonce)."""
    if not isinstance(message, str) or not message.strip():
        raise SiweError("the SIWE message is missing")
    if len(message) > MAX_MESSAGE_CHARS:
        raise SiweError(f"the SIWE message is longer than {MAX_MESSAGE_CHARS} characters")
    try:
        parsed = SiweMessage.from_message(message=message)
    except Exception as exc:  # the parser raises several kinds; all mean "not EIP-4361"
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise SiweError(f"not a valid EIP-4361 message: {reason}") from None

    if parsed.domain != domain:
        raise SiweError(f"the message is for domain {parsed.domain!r}, this site is {domain!r}")
    uri_host = urlsplit(str(parsed.uri)).netloc
    if uri_host != domain:
        raise SiweError(f"the message URI {parsed.uri!r} is not on this site ({domain!r})")
    if int(parsed.chain_id) != settings.ETH_CHAIN_ID:
        raise SiweError(
            f"the message is for chain {parsed.chain_id}, this site uses chain "
            f"{settings.ETH_CHAIN_ID}; switch your wallet's network"
        )

    now = timezone.now()
    issued_at = _parse_time(parsed.issued_at, "Issued At")
    if issued_at > now + CLOCK_SKEW:
        raise SiweError("the message's Issued At is in the future")
    # A message lives no longer than its nonce, whatever its own Expiration Time says (or when it
    # has none): a signature made longer ago than that is refused, so an old one cannot be used.
    lifetime = timedelta(seconds=settings.SIWE_NONCE_TTL_SECONDS)
    if issued_at < now - lifetime - CLOCK_SKEW:
        raise SiweError(
            f"the message was issued more than {settings.SIWE_NONCE_TTL_SECONDS} seconds ago; "
            "sign a new one"
        )
    if parsed.expiration_time and _parse_time(parsed.expiration_time, "Expiration Time") <= now:
        raise SiweError("the message has expired; sign a new one")
    if parsed.not_before and _parse_time(parsed.not_before, "Not Before") > now + CLOCK_SKEW:
        raise SiweError("the message is not valid yet (Not Before is in the future)")

    nonce = SiweNonce.objects.filter(nonce=parsed.nonce).first()
    if nonce is None:
        raise SiweError("unknown nonce; request a new one and sign again")
    if nonce.used_at is not None:
        raise SiweError("this nonce was already used; a signed message works once")
    if nonce.expires <= now:
        raise SiweError("the nonce has expired; request a new one and sign again")

    try:
        signer = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception:  # bad hex, wrong length, invalid curve point
        raise SiweError("the signature is not a valid 65-byte Ethereum signature") from None
    if signer != parsed.address:
        # An edited message or another key's signature both recover some other address.
        raise SiweError("the signature does not match the address in the message")
    return parsed.address, parsed.nonce


@transaction.atomic
def siwe_sign_in(*, message: str, signature: str, domain: str, user=None) -> SiweResult:
    """Verify, burn the nonce, then find, create or link the wallet's account.

    ``user``: the signed-in user, if any; the wallet is then linked to that account.
    """
    address, nonce = siwe_verify(message=message, signature=signature, domain=domain)
    # Conditional update: of two requests racing with the same message, exactly one wins.
    burnt = SiweNonce.objects.filter(
        nonce=nonce, used_at__isnull=True, expires__gt=timezone.now()
    ).update(used_at=timezone.now())
    if burnt != 1:
        raise SiweError("this nonce was already used; a signed message works once")

    wallet = Wallet.objects.select_related("user").filter(address=address).first()
    if user is not None and user.is_authenticated:
        if wallet is None:
            wallet = Wallet.objects.create(user=user, address=address)
            return SiweResult(user=user, wallet=wallet, created_user=False, linked=True)
        if wallet.user_id != user.pk:
            # Raising rolls the nonce back too: nothing changed.
            raise SiweError(f"wallet {address} is linked to another account")
        return SiweResult(user=user, wallet=wallet, created_user=False, linked=False)

    if wallet is not None:
        if not wallet.user.is_active:
            raise SiweError("the account of this wallet is disabled")
        return SiweResult(user=wallet.user, wallet=wallet, created_user=False, linked=False)

    User = get_user_model()
    username = address
    while User.objects.filter(username=username).exists():
        username = f"{address[:34]}-{secrets.token_hex(3)}"
    new_user = User.objects.create_user(username=username, password=None)  # unusable password
    wallet = Wallet.objects.create(user=new_user, address=address)
    return SiweResult(user=new_user, wallet=wallet, created_user=True, linked=True)
