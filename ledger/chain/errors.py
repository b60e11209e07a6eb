"""Chain errors: each carries a message fit to show the user (views turn them into 400s)."""

from ledger.errors import LedgerError


class ChainError(LedgerError):
    """A deposit claim or withdrawal refused, or the node misconfigured."""


class DepositRejected(ChainError):
    """The transaction does not qualify as a deposit of this user (yet)."""


class AlreadyCredited(DepositRejected):
    """The transaction was credited before; a transaction is credited once."""
