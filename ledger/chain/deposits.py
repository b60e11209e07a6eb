"""Chain deposits: a user's transfer of ether to the platform address becomes credits, once."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from web3.exceptions import TransactionNotFound

from ledger import services as ledger_services
from ledger.chain.errors import AlreadyCredited, DepositRejected
from ledger.chain.node import get_web3, platform_address, wei_to_credits
from ledger.models import ChainDeposit, Wallet

log = logging.getLogger(__name__)

TX_HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")


def normalize_tx_hash(tx_hash: str) -> str:
    tx_hash = (tx_hash or "").strip()
    if not TX_HASH_RE.match(tx_hash):
        raise DepositRejected("a transaction hash is 0x followed by 64 hexadecimal digits")
    return tx_hash.lower()


def deposit_claim(*, user, tx_hash: str) -> ChainDeposit:
    """Credit ``user`` for the transaction ``tx_hash`` after checking it on chain.

    Refused (DepositRejected, nothing changed) unless the transaction exists, succeeded, pays the
    platform address a positive amount from one of the user's linked wallets, has
    ETH_CONFIRMATIONS confirmations, and was never credited before.
    """
    tx_hash = normalize_tx_hash(tx_hash)
    if ChainDeposit.objects.filter(tx_hash=tx_hash).exists():
        raise AlreadyCredited(f"transaction {tx_hash} was already credited")

    w3 = get_web3()
    try:
        tx = w3.eth.get_transaction(tx_hash)
    except TransactionNotFound:
        raise DepositRejected(f"no transaction {tx_hash} on this chain") from None
    if tx.get("blockNumber") is None:
        raise DepositRejected(f"transaction {tx_hash} is not mined yet; try again shortly")
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise DepositRejected(f"transaction {tx_hash} failed on chain; nothing was paid")

    platform = platform_address()
    if (tx.get("to") or "").lower() != platform.lower():
        raise DepositRejected(
            f"transaction {tx_hash} pays {tx.get('to') or 'no address'}, not the platform "
            f"address {platform}"
        )
    wei = int(tx["value"])
    if wei <= 0:
        raise DepositRejected(f"transaction {tx_hash} carries no ether")

    sender = tx["from"]
    wallet_addresses = {a.lower() for a in user.wallets.values_list("address", flat=True)}
    if sender.lower() not in wallet_addresses:
        raise DepositRejected(
            f"transaction {tx_hash} was sent from {sender}, which is not one of your linked "
            "wallets; link it with Sign-In with Ethereum first"
        )

    confirmations = w3.eth.block_number - receipt["blockNumber"] + 1
    needed = settings.ETH_CONFIRMATIONS
    if confirmations < needed:
        raise DepositRejected(
            f"transaction {tx_hash} has {confirmations} confirmation(s), {needed} are needed; "
            "try again shortly"
        )

    credits = wei_to_credits(wei)
    if credits <= 0:
        raise DepositRejected(
            f"transaction {tx_hash} pays {wei} wei, less than one credit "
            f"({settings.CREDITS_PER_ETHER} credits per ether)"
        )
    return _record(
        user=user,
        tx_hash=tx_hash,
        from_address=sender,
        wei=wei,
        credits=credits,
        block_number=receipt["blockNumber"],
    )


def _record(*, user, tx_hash, from_address, wei, credits, block_number) -> ChainDeposit:
    # The unique tx hash and the ledger's idempotency key both guard against a double credit when
    # two claims race (the user's request and the scan task): the loser gets AlreadyCredited.
    try:
        with transaction.atomic():
            deposit = ChainDeposit.objects.create(
                tx_hash=tx_hash,
                user=user,
                from_address=from_address,
                wei=wei,
                credits=credits,
                block_number=block_number,
            )
            ledger_services.deposit_credit(
                user=user, amount=credits, key=f"deposit:{tx_hash}", memo=f"chain tx {tx_hash}"
            )
    except IntegrityError:
        if ChainDeposit.objects.filter(tx_hash=tx_hash).exists():
            raise AlreadyCredited(f"transaction {tx_hash} was already credited") from None
        raise
    log.info("credited %s credits to user %s for %s", credits, user.pk, tx_hash)
    return deposit


def deposits_scan(*, blocks: int = 256) -> list[ChainDeposit]:
    """Claim the transfers to the platform address from linked wallets in the last ``blocks``.

    Transactions that do not qualify yet (confirmations) are left for a later scan.
    """
    w3 = get_web3()
    platform = platform_address().lower()
    latest = w3.eth.block_number
    first = max(0, latest - blocks + 1)
    wallets = {w.address.lower(): w for w in Wallet.objects.select_related("user")}
    if not wallets:
        return []
    credited = []
    for number in range(first, latest + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            wallet = wallets.get(tx["from"].lower())
            if wallet is None or (tx.get("to") or "").lower() != platform or not tx["value"]:
                continue
            tx_hash = "0x" + bytes(tx["hash"]).hex()
            if ChainDeposit.objects.filter(tx_hash=tx_hash.lower()).exists():
                continue
            try:
                credited.append(deposit_claim(user=wallet.user, tx_hash=tx_hash))
            except DepositRejected as exc:
                log.info("scan: not crediting %s yet: %s", tx_hash, exc)
    return credited
