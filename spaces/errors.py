"""Errors raised by the spaces services. Views and the admin turn them into 400s / form errors."""

from __future__ import annotations

from dataclasses import dataclass


class SpaceError(ValueError):
    """A request about a space was refused; the message says why and nothing was changed.

    ``field_errors`` maps a field name to its messages when the refusal is about fields."""

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.field_errors = field_errors or {}


@dataclass(frozen=True)
class RowError:
    """One problem in an uploaded prompt bank: ``row`` is the 1-based line of the file (a CSV's
    header is row 1, so its first prompt is row 2), 0 for the file as a whole; ``column`` the
    1-based CSV column when the problem is in one (a broken quote, a missing value), else 0."""

    row: int
    message: str
    column: int = 0

    @property
    def where(self) -> str:
        if not self.row:
            return "file"
        return f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.row else self.message


class PromptBankError(SpaceError):
    """An uploaded prompt bank was refused whole; ``errors`` lists every problem found."""

    def __init__(self, errors: list[RowError]):
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"prompt bank refused, nothing saved: {shown}{more}")
        self.errors = errors
