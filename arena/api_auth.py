"""API sign-in: DRF's token login, behind the same limits as the web form."""

from __future__ import annotations

from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny

from arena.login_limit import lockout_message, login_attempt, login_succeeded
from ledger.api.fields import StrictCharField
from ledger.throttling import ScopedThrottle


class TokenLoginSerializer(AuthTokenSerializer):
    # Strings only, as the schema says: DRF's would take {"username": 0} as "0".
    username = StrictCharField(label="Username", write_only=True)
    password = StrictCharField(
        label="Password", style={"input_type": "password"}, trim_whitespace=False, write_only=True
    )


class TokenLoginView(ObtainAuthToken):
    # ObtainAuthToken turns throttling off (throttle_classes = ()); turn it back on.
    throttle_classes = [ScopedThrottle]
    throttle_scope = "token_login"
    serializer_class = TokenLoginSerializer
    # ObtainAuthToken's empty permissions already let anyone in; AllowAny says so in the schema
    # (signing in needs no credentials), where an empty list reads as "authentication required".
    permission_classes = [AllowAny]

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
