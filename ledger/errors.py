"""Errors of the ledger services. Each carries a message fit to show the user; views turn them
into 400s and form errors."""


class LedgerError(ValueError):
    """A ledger operation refused; nothing moved."""


class InsufficientFunds(LedgerError):
    """The debited account does not hold enough credits."""


class IdempotencyConflict(LedgerError):
    """An idempotency key was already used for a transfer with different content."""


class ImmutableRecord(LedgerError):
    """Postings and transfers are never edited or deleted: a correction is a new transfer."""


class RecordChainError(LedgerError):
    """A record chain append or anchoring refused; nothing was written."""
