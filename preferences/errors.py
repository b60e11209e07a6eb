"""Errors of the preferences services. Commands and views turn them into clear refusals."""

from __future__ import annotations


class PreferenceError(ValueError):
    """A request about preference pairs or an export was refused; the message says why and
    nothing was changed or written."""
