from __future__ import annotations

from agents.errors import AgentError


class TrainingError(AgentError):
    """A refused or impossible training request (bad pairs, settings out of range, a parent
    adapter that does not fit, a checkpoint that does not match), with a message fit to show."""
