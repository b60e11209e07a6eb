"""What an export asks for: a space, a format and filters, checked once for the command, the web
download and the API alike (``export_spec``). Bad input raises PreferenceError before anything
is read or written."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from agents.models import Agent
from preferences.errors import PreferenceError
from spaces.models import Space

FORMATS = ("trl", "trl-chat", "kto", "parquet", "hf", "battles")
# Formats a web or API download streams as a zip; parquet and hf are built by the command only
# (a parquet file is written footer last and an hf folder by ``datasets`` on disk).
STREAMED_FORMATS = ("trl", "trl-chat", "kto", "battles")
PAIR_FORMATS = ("trl", "trl-chat", "kto", "parquet", "hf")


@dataclass(frozen=True)
class ExportFilters:
    since: datetime | None = None  # matches settled at or after
    until: datetime | None = None  # matches settled before (a date: through that day)
    min_margin: float | None = None  # inclusive
    min_agreement: float | None = None  # inclusive
    agents: tuple[int, ...] = ()  # pairs (battles) with one of these agents on either side
    include_system_prompt: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until_before": self.until.isoformat() if self.until else None,
            "min_margin": self.min_margin,
            "min_agreement": self.min_agreement,
            "agents": list(self.agents),
            "include_system_prompt": self.include_system_prompt,
        }


@dataclass(frozen=True)
class ExportSpec:
    space: Space
    fmt: str
    filters: ExportFilters = field(default_factory=ExportFilters)

    @property
    def pair_format(self) -> bool:
        return self.fmt in PAIR_FORMATS


def _moment(value: Any, what: str, *, end_of_day: bool) -> datetime | None:
    """A date ("2026-12-01": the day's start, or the next day's start for an upper bound) or an
    ISO datetime (naive: in the site's time zone)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
        if end_of_day:
            moment += timedelta(days=1)
    else:
        text = str(value).strip()
        try:
            day = parse_date(text)
            moment = parse_datetime(text) if day is None else None
        except ValueError:
            day = moment = None
        if day is not None:
            return _moment(day, what, end_of_day=end_of_day)
        if moment is None:
            raise PreferenceError(
                f"{what} {text!r} is not a date (YYYY-MM-DD) or an ISO date and time"
            )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _fraction(value: Any, what: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PreferenceError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number) or not 0 <= number <= 1:
        raise PreferenceError(f"{what} must be between 0 and 1, not {value!r}")
    return number


def _agent_ids(values: Iterable[Any] | None) -> tuple[int, ...]:
    ids = []
    for value in values or ():
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            raise PreferenceError(f"agent {value!r} is not an agent id") from None
    ids = sorted(set(ids))
    missing = sorted(set(ids) - set(Agent.objects.filter(pk__in=ids).values_list("pk", flat=True)))
    if missing:
        raise PreferenceError(f"no agent with id {', '.join(map(str, missing))}")
    return tuple(ids)


def export_spec(
    *,
    space: Space,
    fmt: str,
    since: Any = None,
    until: Any = None,
    min_margin: Any = None,
    min_agreement: Any = None,
    agents: Iterable[Any] | None = None,
    include_system_prompt: bool = False,
) -> ExportSpec:
    if fmt not in FORMATS:
        raise PreferenceError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    filters = ExportFilters(
        since=_moment(since, "since", end_of_day=False),
        until=_moment(until, "until", end_of_day=True),
        min_margin=_fraction(min_margin, "min margin"),
        min_agreement=_fraction(min_agreement, "min agreement"),
        agents=_agent_ids(agents),
        include_system_prompt=bool(include_system_prompt),
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise PreferenceError("since must be before until")
    if fmt not in PAIR_FORMATS and (
        filters.min_margin is not None or filters.min_agreement is not None
    ):
        raise PreferenceError(
            f"{fmt} rows are every judged pair, ties included: min margin and min agreement "
            "apply to the pair formats only"
        )
    return ExportSpec(space=space, fmt=fmt, filters=filters)
