"""Celery tasks of the ledger: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from ledger.chain import deposits_scan, withdrawal_send
from ledger.models import Withdrawal
from ledger.records import anchor_pending_chains
from ledger.siwe import siwe_nonces_sweep

# How often the scan runs is the beat schedule's business (arena/celery.py); this many blocks
# back covers the gap between two scans with room to spare.
SCAN_BLOCKS = 256


@shared_task(name="ledger.scan_deposits", acks_late=True)
def scan_deposits(blocks: int = SCAN_BLOCKS) -> list[str]:
    """Credit transfers from linked wallets to the platform address. Idempotent (unique hash)."""
    return [d.tx_hash for d in deposits_scan(blocks=blocks)]


@shared_task(
    name="ledger.send_withdrawal",
    bind=True,
    # Safe to redeliver: the transaction is signed once and rebroadcast as the same bytes.
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError,),  # the node unreachable: try again later
    retry_backoff=True,
    max_retries=20,
)
def send_withdrawal(self, withdrawal_id: int) -> str:
    withdrawal = withdrawal_send(withdrawal_id=withdrawal_id)
    if withdrawal.status == Withdrawal.Status.SENDING:
        # Broadcast but not mined within the wait: look again later.
        raise self.retry(countdown=30)
    return withdrawal.status


@shared_task(name="ledger.sweep_siwe_nonces")
def sweep_siwe_nonces() -> int:
    """Delete expired sign-in nonces (every minute, arena/celery.py): the table holds only live
    ones, however many a client requests."""
    return siwe_nonces_sweep()


@shared_task(name="ledger.anchor_record_chains", acks_late=True)
def anchor_record_chains() -> list[str]:
    """Anchor the head of every record chain with unanchored records (one transaction each);
    returns the transaction hashes. Nothing new: no transaction."""
    return [anchor.tx_hash for anchor in anchor_pending_chains()]
