"""API: Sign-In with Ethereum, wallets, chain deposits and withdrawals (under /api/v1/)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.core.validators import RegexValidator
from django.urls import path
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from eth_utils import is_address, to_checksum_address
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger import siwe
from ledger.api.fields import StrictCharField, StrictIntegerField
from ledger.chain import deposit_claim, platform_address, withdrawal_request
from ledger.errors import LedgerError
from ledger.models import ChainDeposit, Wallet, Withdrawal

ErrorSerializer = inline_serializer("ChainApiError", {"detail": serializers.CharField()})


def _error(exc: Exception, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": str(exc)}, status=code)


# --- serializers ----------------------------------------------------------------------------


class NonceSerializer(serializers.Serializer):
    nonce = serializers.CharField()
    expires = serializers.DateTimeField()
    domain = serializers.CharField()
    chain_id = serializers.IntegerField()
    address = serializers.CharField(
        required=False, help_text="the given address in EIP-55 form, which the message must use"
    )


# The texts the services check, as the schema states them. Untrimmed: the pattern is the whole
# rule (an EIP-55 checksum, in a mixed-case withdrawal address, is checked beyond it).
ADDRESS = RegexValidator(
    r"^0x[0-9a-fA-F]{40}\Z", "not a valid Ethereum address (0x and 40 hexadecimal digits)"
)
# What eth_utils.is_address takes for a SIWE nonce: there the 0x is optional.
ANY_ADDRESS = RegexValidator(
    r"^(0[xX])?[0-9a-fA-F]{40}\Z", "not an Ethereum address (40 hexadecimal digits, after 0x)"
)


def _hex(validator: RegexValidator, **kwargs) -> StrictCharField:
    return StrictCharField(trim_whitespace=False, validators=[validator], **kwargs)


@extend_schema_field({"type": "string", "pattern": r"^0x[0-9a-fA-F]{64}$"})
class TxHashField(StrictCharField):
    """A transaction hash: the deposit service checks its form, and answers a malformed one with
    its own message (in ``detail``, as it always has); the schema states that form."""


class NonceInSerializer(serializers.Serializer):
    address = _hex(ANY_ADDRESS, required=False, max_length=42)

    def validate_address(self, value: str) -> str:
        if not is_address(value):
            raise serializers.ValidationError(f"{value!r} is not an Ethereum address")
        return to_checksum_address(value)


class SiweVerifyInSerializer(serializers.Serializer):
    message = StrictCharField(max_length=siwe.MAX_MESSAGE_CHARS, trim_whitespace=False)
    signature = StrictCharField(max_length=200)


class SiweVerifyOutSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    address = serializers.CharField()
    created_user = serializers.BooleanField()
    linked = serializers.BooleanField()


class WalletSerializer(serializers.ModelSerializer):
    class Meta:
        model = Wallet
        fields = ["address", "linked_at"]


class DepositSerializer(serializers.ModelSerializer):
    # Wei exceeds every JSON number type a client can be trusted with: send it as a string.
    wei = serializers.CharField(read_only=True)

    class Meta:
        model = ChainDeposit
        fields = [
            "id",
            "tx_hash",
            "from_address",
            "wei",
            "credits",
            "block_number",
            "status",
            "created",
        ]


class DepositClaimSerializer(serializers.Serializer):
    tx_hash = TxHashField(max_length=66)


class WithdrawalSerializer(serializers.ModelSerializer):
    wei = serializers.CharField(read_only=True)

    class Meta:
        model = Withdrawal
        fields = [
            "id",
            "to_address",
            "credits",
            "wei",
            "idempotency_key",
            "status",
            "tx_hash",
            "error",
            "created",
            "updated",
        ]


class WithdrawalRequestSerializer(serializers.Serializer):
    to_address = _hex(ADDRESS, max_length=42, help_text="EIP-55 checksummed if mixed-case")
    credits = StrictIntegerField(min_value=1)
    idempotency_key = StrictCharField(max_length=100)


# --- SIWE -----------------------------------------------------------------------------------


class CsrfCheckedSession(SessionAuthentication):
    """Session auth that checks CSRF for anonymous requests too.

    DRF checks CSRF only for logged-in sessions; a sign-in endpoint must check it regardless, or
    another site could sign a victim into the attacker's account (login CSRF).
    """

    def authenticate(self, request):
        self.enforce_csrf(request)
        return super().authenticate(request)


class CsrfCheckedSessionScheme(SessionScheme):
    # The session cookie, plus an X-CSRFToken header even when signed out.
    target_class = CsrfCheckedSession
    name = "cookieAuthWithCsrf"


class SiweNonceView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    # POST only (each one inserts a row), throttled per IP (ledger/throttling.py).
    throttle_scope = "siwe_nonce"

    @extend_schema(
        summary="Issue a single-use SIWE nonce",
        request=NonceInSerializer,
        responses={201: NonceSerializer, 429: ErrorSerializer},
    )
    def post(self, request):
        return self._issue(request, request.data)

    def _issue(self, request, params):
        body = NonceInSerializer(data=params)
        body.is_valid(raise_exception=True)
        nonce = siwe.siwe_nonce_issue()
        data = {
            "nonce": nonce.nonce,
            "expires": nonce.expires,
            "domain": siwe.expected_domain(request.get_host()),
            "chain_id": settings.ETH_CHAIN_ID,
        }
        if "address" in body.validated_data:
            data["address"] = body.validated_data["address"]
        return Response(NonceSerializer(data).data, status=status.HTTP_201_CREATED)


class SiweVerifyView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = [CsrfCheckedSession]
    throttle_scope = "siwe_verify"

    @extend_schema(
        summary="Verify a signed SIWE message and sign in (or link the wallet)",
        request=SiweVerifyInSerializer,
        responses={200: SiweVerifyOutSerializer},
    )
    def post(self, request):
        body = SiweVerifyInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = siwe.siwe_sign_in(
                message=body.validated_data["message"],
                signature=body.validated_data["signature"],
                domain=siwe.expected_domain(request.get_host()),
                user=request.user,
            )
        except LedgerError as exc:
            return _error(exc)
        if not request.user.is_authenticated:
            login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
        out = {
            "user_id": result.user.pk,
            "username": result.user.get_username(),
            "address": result.wallet.address,
            "created_user": result.created_user,
            "linked": result.linked,
        }
        return Response(SiweVerifyOutSerializer(out).data)


class WalletListView(APIView):
    @extend_schema(summary="Your linked wallets", responses={200: WalletSerializer(many=True)})
    def get(self, request):
        return Response(WalletSerializer(request.user.wallets.all(), many=True).data)


# --- deposits and withdrawals ----------------------------------------------------------------


class DepositListView(APIView):
    @extend_schema(summary="Your chain deposits", responses={200: DepositSerializer(many=True)})
    def get(self, request):
        deposits = ChainDeposit.objects.filter(user=request.user)
        return Response(DepositSerializer(deposits, many=True).data)

    @extend_schema(
        summary="Claim a deposit: credit a transaction that paid the platform address",
        description=(
            "Send ether from a linked wallet to the platform address, then post the transaction "
            "hash. It is credited once, after the configured confirmations."
        ),
        request=DepositClaimSerializer,
        responses={201: DepositSerializer},
    )
    def post(self, request):
        body = DepositClaimSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            deposit = deposit_claim(user=request.user, tx_hash=body.validated_data["tx_hash"])
        except LedgerError as exc:
            return _error(exc)
        return Response(DepositSerializer(deposit).data, status=status.HTTP_201_CREATED)


class WithdrawalListView(APIView):
    throttle_scope = "withdrawal"  # POSTs only (ledger/throttling.py)

    @extend_schema(summary="Your withdrawals", responses={200: WithdrawalSerializer(many=True)})
    def get(self, request):
        withdrawals = Withdrawal.objects.filter(user=request.user)
        return Response(WithdrawalSerializer(withdrawals, many=True).data)

    @extend_schema(
        summary="Request a withdrawal of credits as ether",
        description=(
            "Debits the credits at once and sends the ether in the background. Repeating a "
            "request with the same idempotency_key returns the first withdrawal (200)."
        ),
        request=WithdrawalRequestSerializer,
        responses={
            201: WithdrawalSerializer,
            200: OpenApiResponse(WithdrawalSerializer, description="replay of an earlier request"),
        },
    )
    def post(self, request):
        body = WithdrawalRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            # The service enqueues the send itself, only for the request that created the row.
            withdrawal, created = withdrawal_request(
                user=request.user,
                to_address=data["to_address"],
                credits=data["credits"],
                key=data["idempotency_key"],
            )
        except LedgerError as exc:
            return _error(exc)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(WithdrawalSerializer(withdrawal).data, status=code)


class PlatformView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Where to send deposits, and at what rate",
        responses={
            200: inline_serializer(
                "ChainInfo",
                {
                    "platform_address": serializers.CharField(),
                    "chain_id": serializers.IntegerField(),
                    "confirmations": serializers.IntegerField(),
                    "credits_per_ether": serializers.IntegerField(),
                },
            ),
            503: OpenApiResponse(ErrorSerializer, description="no platform wallet configured"),
        },
    )
    def get(self, request):
        try:
            address = platform_address()
        except LedgerError as exc:
            return _error(exc, status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(
            {
                "platform_address": address,
                "chain_id": settings.ETH_CHAIN_ID,
                "confirmations": settings.ETH_CONFIRMATIONS,
                "credits_per_ether": settings.CREDITS_PER_ETHER,
            }
        )


urlpatterns = [
    path("siwe/nonce", SiweNonceView.as_view(), name="siwe-nonce"),
    path("siwe/verify", SiweVerifyView.as_view(), name="siwe-verify"),
    path("wallets", WalletListView.as_view(), name="wallets"),
    path("chain", PlatformView.as_view(), name="chain-info"),
    path("deposits", DepositListView.as_view(), name="deposits"),
    path("withdrawals", WithdrawalListView.as_view(), name="withdrawals"),
]
