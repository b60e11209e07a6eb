from __future__ import annotations


class AgentError(ValueError):
    """A refused agent operation, with a message fit to show the user."""


class AgentValidationError(AgentError):
    """Bad field values: ``errors`` maps field name -> list of messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))
