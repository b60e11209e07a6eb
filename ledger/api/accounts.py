"""API: the signed-in user, their balance and their transfers (under /api/v1/)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger import selectors, services
from ledger.models import Account, AccountKind, Transfer


def _wallet_addresses(user) -> list[str]:
    # Wallets belong to the chain half of the ledger app; a user without them simply has none.
    wallets = getattr(user, "wallets", None)
    return [w.address for w in wallets.all()] if wallets is not None else []


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    is_staff = serializers.BooleanField()
    balance = serializers.IntegerField(help_text="spendable credits")
    wallets = serializers.ListField(
        child=serializers.CharField(), help_text="linked Ethereum addresses (EIP-55)"
    )


class BalanceSerializer(serializers.Serializer):
    balance = serializers.IntegerField(help_text="spendable credits: withdrawable plus play")
    withdrawable = serializers.IntegerField(help_text="credits that can be withdrawn as ether")
    play = serializers.IntegerField(
        help_text="play credits (grants, prizes of play-funded pots): pay fees, never withdrawn"
    )
    creator_revenue = serializers.IntegerField(help_text="credits earned as a space creator")


def _account_label(account: Account) -> str:
    if account.kind == AccountKind.ESCROW:
        return f"escrow:{account.ref}"
    if account.owner_id is not None:
        return f"{account.kind}:{account.owner.username}"
    return account.kind


class TransferSerializer(serializers.ModelSerializer):
    play = serializers.IntegerField(read_only=True, help_text="how much of the amount was play")
    debit = serializers.SerializerMethodField(help_text="the account the credits left")
    credit = serializers.SerializerMethodField(help_text="the account the credits entered")
    net = serializers.IntegerField(
        read_only=True, help_text="effect on your own accounts: negative = credits left you"
    )

    class Meta:
        model = Transfer
        fields = [
            "id",
            "created_at",
            "kind",
            "amount",
            "play",
            "net",
            "debit",
            "credit",
            "memo",
            "key",
        ]

    def get_debit(self, obj: Transfer) -> str:
        return _account_label(obj.debit)

    def get_credit(self, obj: Transfer) -> str:
        return _account_label(obj.credit)


class MeView(APIView):
    @extend_schema(summary="You: name, email, balance and linked wallets", responses=MeSerializer)
    def get(self, request):
        user = request.user
        data = {
            "id": user.pk,
            "username": user.get_username(),
            "email": user.email,
            "is_staff": user.is_staff,
            "balance": services.user_balance(user),
            "wallets": _wallet_addresses(user),
        }
        return Response(MeSerializer(data).data)


class BalanceView(APIView):
    @extend_schema(summary="Your credit balance", responses=BalanceSerializer)
    def get(self, request):
        revenue = (
            Account.objects.filter(kind=AccountKind.CREATOR_REVENUE, owner=request.user)
            .values_list("balance", flat=True)
            .first()
        )
        have = services.user_balances(request.user)
        data = {
            "balance": have.total,
            "withdrawable": have.withdrawable,
            "play": have.play,
            "creator_revenue": revenue or 0,
        }
        return Response(BalanceSerializer(data).data)


@extend_schema(summary="Your transfers, newest first")
class TransferListView(generics.ListAPIView):
    serializer_class = TransferSerializer

    def get_queryset(self):
        return selectors.user_transfers(self.request.user)


urlpatterns = [
    path("me", MeView.as_view(), name="api-me"),
    path("balance", BalanceView.as_view(), name="api-balance"),
    path("transfers", TransferListView.as_view(), name="api-transfers"),
]
