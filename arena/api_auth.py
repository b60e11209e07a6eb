"""API sign-in: DRF's token login, behind the same limits as the web form."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled

from arena.login_limit import lockout_message, login_attempt, login_succeeded
from ledger.throttling import ScopedThrottle


class TokenLoginView(ObtainAuthToken):
    # ObtainAuthToken turns throttling off (throttle_classes = ()); turn it back on.
    throttle_classes = [ScopedThrottle]
    throttle_scope = "token_login"

    def post(self, request, *args, **kwargs):
        # A JSON body may be a list or a scalar: the serializer answers those with a 400.
        data = request.data if isinstance(request.data, dict) else {}
        username = data.get("username")
        username = username if isinstance(username, str) else ""
        if username and data.get("password"):
            retry_after = login_attempt(request=request, username=username)
            if retry_after:
                # Refused before the serializer authenticates: no password hash is computed.
                raise Throttled(wait=retry_after, detail=lockout_message(retry_after))
        response = super().post(request, *args, **kwargs)  # a wrong password raises a 400
        login_succeeded(username=username)
        return response
