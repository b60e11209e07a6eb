"""The chain side of the ledger: node access, deposits and withdrawals (web3.py, eth-account)."""

from ledger.chain.deposits import deposit_claim, deposits_scan
from ledger.chain.errors import AlreadyCredited, ChainError, DepositRejected
from ledger.chain.node import (
    credits_to_wei,
    get_web3,
    platform_account,
    platform_address,
    reset_web3,
    wei_to_credits,
)
from ledger.chain.withdrawals import withdrawal_request, withdrawal_send

__all__ = [
    "AlreadyCredited",
    "ChainError",
    "DepositRejected",
    "credits_to_wei",
    "deposit_claim",
    "deposits_scan",
    "get_web3",
    "platform_account",
    "platform_address",
    "reset_web3",
    "wei_to_credits",
    "withdrawal_request",
    "withdrawal_send",
]
