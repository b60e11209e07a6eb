"""Sign-In with Ethereum (EIP-4361).

The server issues a single-use nonce; the wallet signs the standard message (EIP-191
personal_sign); the server parses and verifies it with the ``siwe`` package (domain, expiry,
Not Before, signature), checks what the package leaves to the site (URI, chain, Issued At, the
nonce against the issued ones), then consumes the nonce and logs the owner in, creates an
account for a new wallet, or links the wallet to the signed-in user.

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
from eth_keys.exceptions import BadSignature
from hexbytes import HexBytes
from siwe import (
    DomainMismatch,
    ExpiredMessage,
    InvalidSignature,
    NotYetValidMessage,
    SiweMessage,
    VerificationError,
)

from ledger import services as ledger_services
from ledger.errors import LedgerError
from ledger.models import SiweNonce, Wallet

# Browsers' clocks drift; a message "issued" this far in our future is still accepted.
CLOCK_SKEW = timedelta(seconds=60)
MAX_MESSAGE_CHARS = 4000
BAD_SIGNATURE = "the signature is not a valid 65-byte Ethereum signature"


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


def _signature_shape(signature) -> None:
    """Refuse what is not 65 bytes of hex before the library sees it: it reports a malformed
    signature and another key's signature alike, as InvalidSignature."""
    try:
        length = len(HexBytes(signature))
    except (TypeError, ValueError):
        length = 0
    if length != 65:
        raise SiweError(BAD_SIGNATURE)


def _library_verify(parsed: SiweMessage, *, signature: str, domain: str, now: datetime) -> None:
    """The checks the ``siwe`` library does: domain, Expiration Time, Not Before and the
    signature over the message (as it re-renders it from the parsed fields).

    No web3 provider is passed, so a signature that recovers another address is refused at
    once: the library consults a node for an EIP-1271 contract wallet only when given one.
    The nonce is not passed either: it is checked against the issued nonces below, which is
    more than the library's comparison with one expected value."""
    try:
        parsed.verify(signature, domain=domain, timestamp=now)
    except DomainMismatch:
        raise SiweError(
            f"the message is for domain {parsed.domain!r}, this site is {domain!r}"
        ) from None
    except ExpiredMessage:
        raise SiweError("the message has expired; sign a new one") from None
    except NotYetValidMessage:
        raise SiweError("the message is not valid yet (Not Before is in the future)") from None
    except InvalidSignature:
        # An edited message or another key's signature both recover some other address.
        raise SiweError("the signature does not match the address in the message") from None
    except BadSignature:  # 65 bytes, but no point on the curve (or a v that is neither 27 nor 28)
        raise SiweError(BAD_SIGNATURE) from None
    except VerificationError as exc:  # a check this module does not ask for (scheme, nonce)
        raise SiweError(f"the message failed verification ({type(exc).__name__})") from None


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
    _signature_shape(signature)
    now = timezone.now()
    _library_verify(parsed, signature=signature, domain=domain, now=now)

    # What the library leaves to the site: the URI's host, the chain, and Issued At.
    uri_host = urlsplit(str(parsed.uri)).netloc
    if uri_host != domain:
        raise SiweError(f"the message URI {parsed.uri!r} is not on this site ({domain!r})")
    if int(parsed.chain_id) != settings.ETH_CHAIN_ID:
        raise SiweError(
            f"the message is for chain {parsed.chain_id}, this site uses chain "
            f"{settings.ETH_CHAIN_ID}; switch your wallet's network"
        )
    # The parser accepts only RFC 3339 date-times with an offset, which fromisoformat reads.
    issued_at = datetime.fromisoformat(parsed.issued_at)
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

    nonce = SiweNonce.objects.filter(nonce=parsed.nonce).first()
    if nonce is None:
        raise SiweError("unknown nonce; request a new one and sign again")
    if nonce.used_at is not None:
        raise SiweError("this nonce was already used; a signed message works once")
    if nonce.expires <= now:
        raise SiweError("the nonce has expired; request a new one and sign again")
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
    ledger_services.starter_grant(user=new_user)
    return SiweResult(user=new_user, wallet=wallet, created_user=True, linked=True)
