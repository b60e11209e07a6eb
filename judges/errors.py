"""Errors raised by the judges app. All are ValueErrors carrying a message fit to show a user."""

from __future__ import annotations


class JudgeError(ValueError):
    """Base class: something about judging went wrong."""


class JudgeConfigError(JudgeError):
    """A judge panel config is malformed: unknown kind, missing or bad parameter. ``messages``
    holds one message per problem, each naming the judge and the field."""

    def __init__(self, *messages: str):
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class JudgeRunError(JudgeError):
    """A judge could not judge this input (e.g. a numeric verifier whose reference has no number,
    or a model that returned unusable probabilities). The match fails with this reason."""


class RatingError(JudgeError):
    """Bad input to a ratings update (mismatched lengths, an agent twice, bad ranks)."""
