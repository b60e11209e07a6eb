"""Reads of the credit ledger: a user's history, and the audit that recomputes everything."""

from __future__ import annotations

from django.db.models import Count, F, Q, QuerySet, Sum

from ledger.models import SOURCE_KINDS, Account, AccountKind, Posting, Transfer

__all__ = ["user_transfers", "user_postings", "audit_ledger"]


def user_transfers(user) -> QuerySet[Transfer]:
    """Transfers touching any of the user's accounts, newest first, each annotated with ``net``:
    what it did to the user's own accounts (negative = credits left the user)."""
    own = Q(debit__owner=user) | Q(credit__owner=user)
    return (
        Transfer.objects.filter(own)
        .select_related("debit", "credit", "debit__owner", "credit__owner")
        .annotate(net=Sum("postings__amount", filter=Q(postings__account__owner=user)))
        .order_by("-created_at", "-id")
    )


def user_postings(user) -> QuerySet[Posting]:
    """The lines of the user's own balance, newest first: one per transfer that moved it."""
    return (
        Posting.objects.filter(account__kind=AccountKind.USER, account__owner=user)
        .select_related("transfer", "transfer__debit", "transfer__credit")
        .order_by("-id")
    )


def audit_ledger() -> dict:
    """Recompute every balance from the postings and check the ledger's invariants.

    Returns a JSON-ready report; ``ok`` is true only when every check holds:
    - each account's stored balance equals the sum of its postings;
    - no account other than a source (grants, chain deposits) is negative, stored or recomputed;
    - the postings, and the stored balances, sum to zero over all accounts;
    - each transfer has exactly two postings, -amount on its debit and +amount on its credit.
    """
    problems: list[dict] = []
    recomputed = dict(
        Posting.objects.values("account")
        .annotate(total=Sum("amount"))
        .values_list("account", "total")
    )
    accounts = 0
    stored_sum = 0
    for account in Account.objects.select_related("owner").order_by("pk").iterator():
        accounts += 1
        stored_sum += account.balance
        total = recomputed.pop(account.pk, 0)
        where = {"account": account.pk, "label": str(account), "kind": account.kind}
        if account.balance != total:
            problems.append(
                {
                    "check": "stored_equals_recomputed",
                    **where,
                    "stored": account.balance,
                    "recomputed": total,
                    "message": f"{account} stores {account.balance}, its postings sum to {total}",
                }
            )
        if account.kind not in SOURCE_KINDS and min(account.balance, total) < 0:
            problems.append(
                {
                    "check": "no_negative_balance",
                    **where,
                    "stored": account.balance,
                    "recomputed": total,
                    "message": f"{account} is negative",
                }
            )
    postings_sum = Posting.objects.aggregate(total=Sum("amount"))["total"] or 0
    if postings_sum != 0:
        problems.append(
            {
                "check": "postings_sum_zero",
                "sum": postings_sum,
                "message": f"all postings sum to {postings_sum}, not 0",
            }
        )
    if stored_sum != 0:
        problems.append(
            {
                "check": "balances_sum_zero",
                "sum": stored_sum,
                "message": f"all stored balances sum to {stored_sum}, not 0",
            }
        )

    transfers = Transfer.objects.annotate(
        n=Count("postings"),
        total=Sum("postings__amount"),
        out=Sum("postings__amount", filter=Q(postings__account=F("debit"))),
        into=Sum("postings__amount", filter=Q(postings__account=F("credit"))),
    ).values_list("pk", "key", "amount", "n", "total", "out", "into")
    transfer_count = 0
    for pk, key, amount, n, total, out, into in transfers.order_by("pk").iterator():
        transfer_count += 1
        if n != 2 or total != 0 or out != -amount or into != amount:
            problems.append(
                {
                    "check": "transfer_postings_balanced",
                    "transfer": pk,
                    "key": key,
                    "amount": amount,
                    "postings": n,
                    "sum": total,
                    "message": f"transfer {pk} ({key}) has postings that do not match it",
                }
            )
    return {
        "ok": not problems,
        "accounts": accounts,
        "transfers": transfer_count,
        "postings": Posting.objects.count(),
        "sum_of_balances": stored_sum,
        "sum_of_postings": postings_sum,
        "problems": problems,
    }
