"""Errors of the orchestration services. Views turn them into 400s and form errors."""

from __future__ import annotations


class ArenaError(ValueError):
    """A request was refused; the message says why and nothing was changed."""


class NotAllowed(ArenaError):
    """The user may not do this to that object (views answer 403/404)."""
