"""Page: your balance and the history of transfers that moved it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path

from ledger import selectors, services
from ledger.models import Account, AccountKind

PAGE_SIZE = 50


@login_required
def balance(request):
    history = Paginator(selectors.user_transfers(request.user), PAGE_SIZE)
    page = history.get_page(request.GET.get("page"))
    revenue = (
        Account.objects.filter(kind=AccountKind.CREATOR_REVENUE, owner=request.user)
        .values_list("balance", flat=True)
        .first()
    )
    have = services.user_balances(request.user)
    context = {
        "balance": have.total,
        "withdrawable": have.withdrawable,
        "play": have.play,
        "creator_revenue": revenue,
        "page": page,
    }
    return render(request, "ledger/balance.html", context)


urlpatterns = [path("", balance, name="balance")]
