"""The rate limit of export downloads (web and API share one budget per client).

An export reads a whole space, so unlike other reads it is limited; only downloads that pass
the access check count (an outsider's 404 costs nothing). The rate is the scope
``preferences_export`` of ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` like every other limit
(``ledger.throttling``), ``DEFAULT_RATE`` where settings do not name it.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from ledger.throttling import client_ident, counter_hit, parse_rate

SCOPE = "preferences_export"
DEFAULT_RATE = "30/hour"


def export_throttle_hit(request) -> int:
    """Count one export by this client: 0 while allowed, else the seconds to wait."""
    rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES") or {}
    limit, window_s = parse_rate(rates.get(SCOPE, DEFAULT_RATE))
    return counter_hit(name=f"{SCOPE}:{client_ident(request)}", limit=limit, window_s=window_s)


class ExportThrottle(BaseThrottle):
    """The API's export limit: counts a request only when the view would export (the user
    manages the space and the format streams); the view answers the rest with a 404."""

    def __init__(self):
        self.wait_s = 0

    def allow_request(self, request, view) -> bool:
        if view.export_space(request) is None:
            return True
        self.wait_s = export_throttle_hit(request)
        return self.wait_s == 0

    def wait(self) -> int:
        return self.wait_s
