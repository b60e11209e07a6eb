"""Template context: the signed-in user's withdrawable and play credits, for the page header."""

from __future__ import annotations

from ledger.services import user_balances


def balances(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Read lazily: pages that never render the header (API, downloads) pay no query.
    cached = {}

    def read():
        if "value" not in cached:
            cached["value"] = user_balances(user)
        return cached["value"]

    return {"header_balances": _Lazy(read)}


class _Lazy:
    """Attribute access on the balances, evaluated at the first one."""

    def __init__(self, read):
        self._read = read

    def __getattr__(self, name):
        return getattr(self._read(), name)
