"""Errors of the learning app with messages fit to show."""

from __future__ import annotations


class PracticeError(ValueError):
    """A practice run refused or an apply refused: nothing was stored or paid."""


class PracticeValidationError(PracticeError):
    """Bad values: ``errors`` maps a field name (``draft.temperature``, ``k``, ...) to messages,
    each naming the field in words."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(" ".join(" ".join(messages) for messages in errors.values()))
