"""Pages: deposit ether for credits, withdraw credits as ether."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import path

from ledger import services as ledger_services
from ledger.chain import deposit_claim, platform_address, withdrawal_request
from ledger.errors import LedgerError
from ledger.models import ChainDeposit, Withdrawal
from ledger.throttling import throttle_post


class DepositForm(forms.Form):
    tx_hash = forms.CharField(
        label="Transaction hash",
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "0x…", "autocomplete": "off"}),
    )


class WithdrawForm(forms.Form):
    to_address = forms.CharField(label="To address", max_length=100)
    credits = forms.IntegerField(label="Credits", min_value=1)
    # A fresh key per rendered form: a double-submitted form withdraws once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100)


@login_required
def deposit(request):
    form = DepositForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            made = deposit_claim(user=request.user, tx_hash=form.cleaned_data["tx_hash"])
        except LedgerError as exc:
            form.add_error("tx_hash", str(exc))
        else:
            messages.success(request, f"Credited {made.credits} credits for {made.tx_hash}.")
            return redirect("ledger:deposit")
    context = {
        "form": form,
        "platform_address": _platform_address_or_none(),
        "chain_id": settings.ETH_CHAIN_ID,
        "confirmations": settings.ETH_CONFIRMATIONS,
        "credits_per_ether": settings.CREDITS_PER_ETHER,
        "wallets": request.user.wallets.all(),
        "deposits": ChainDeposit.objects.filter(user=request.user)[:50],
    }
    return render(request, "ledger/deposit.html", context)


@login_required
@throttle_post("withdrawal")
def withdraw(request):
    if request.method == "POST":
        form = WithdrawForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                # The service enqueues the send itself, once, when this request created it.
                made, created = withdrawal_request(
                    user=request.user,
                    to_address=data["to_address"],
                    credits=data["credits"],
                    key=data["idempotency_key"],
                )
            except LedgerError as exc:
                form.add_error(None, str(exc))
            else:
                said = "requested" if created else "was already requested"
                messages.success(
                    request, f"Withdrawal of {made.credits} credits to {made.to_address} {said}."
                )
                return redirect("ledger:withdraw")
    else:
        form = WithdrawForm(initial={"idempotency_key": uuid.uuid4().hex})
    context = {
        "form": form,
        "balances": ledger_services.user_balances(request.user),
        "credits_per_ether": settings.CREDITS_PER_ETHER,
        "withdrawals": Withdrawal.objects.filter(user=request.user)[:50],
    }
    return render(request, "ledger/withdraw.html", context)


def _platform_address_or_none() -> str | None:
    try:
        return platform_address()
    except LedgerError:
        return None  # misconfigured node: the page says deposits are unavailable


urlpatterns = [
    path("deposit/", deposit, name="deposit"),
    path("withdraw/", withdraw, name="withdraw"),
]
