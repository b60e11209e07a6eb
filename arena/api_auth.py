"""API sign-in: DRF's token login, behind the same limits as the web form."""

from __future__ import annotations

from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from arena.login_limit import LoginFailed, LoginLocked, authenticate_limited
from ledger.api.fields import StrictCharField
from ledger.throttling import ScopedThrottle


class TokenLoginSerializer(AuthTokenSerializer):
    """The body's shape only: the password is checked by the view, within the sign-in limits."""

    # Strings only, as the schema says: DRF's would take {"username": 0} as "0".
    username = StrictCharField(label="Username", write_only=True)
    password = StrictCharField(
        label="Password", style={"input_type": "password"}, trim_whitespace=False, write_only=True
    )

    def validate(self, attrs):
        # AuthTokenSerializer authenticates here, past any limit; arena.login_limit does it.
        return attrs


class TokenLoginView(ObtainAuthToken):
    # ObtainAuthToken turns throttling off (throttle_classes = ()); turn it back on.
    throttle_classes = [ScopedThrottle]
    throttle_scope = "token_login"
    serializer_class = TokenLoginSerializer
    # ObtainAuthToken's empty permissions already let anyone in; AllowAny says so in the schema
    # (signing in needs no credentials), where an empty list reads as "authentication required".
    permission_classes = [AllowAny]

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)  # a malformed body: a 400, nothing counted
        try:
            user = authenticate_limited(
                request=request,
                username=serializer.validated_data["username"],
                password=serializer.validated_data["password"],
            )
        except LoginLocked as locked:  # refused before any password hash was computed
            raise Throttled(wait=locked.retry_after, detail=str(locked)) from None
        except LoginFailed as failed:  # AuthTokenSerializer's answer: a 400, non_field_errors
            raise ValidationError(str(failed), code="authorization") from None
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
