"""Reads of the credit ledger: a user's history, and the audit that recomputes everything."""

from __future__ import annotations

from django.db.models import Case, Count, F, Q, QuerySet, Sum, When

from ledger.models import (
    MIXED_KINDS,
    PLAY_KINDS,
    SHARDED_KINDS,
    SOURCE_KINDS,
    Account,
    AccountKind,
    PlaySplit,
    Posting,
    Transfer,
)

# The one movement allowed to cross from withdrawable to play directly: the migration that
# reclassified granted credits as play. Nothing may ever cross the other way.
RECLASSIFY_KIND = "reclassify"

__all__ = ["user_transfers", "user_postings", "audit_ledger"]


def user_transfers(user) -> QuerySet[Transfer]:
    """Transfers touching any of the user's accounts, newest first, each annotated with ``net``:
    what it did to the user's own accounts (negative = credits left the user)."""
    own = Q(debit__owner=user) | Q(credit__owner=user)
    return (
        Transfer.objects.filter(own)
        .select_related("debit", "credit", "debit__owner", "credit__owner")
        .annotate(
            net=Sum("postings__amount", filter=Q(postings__account__owner=user)),
            # Which of the user's accounts the line hit (withdrawable, play, creator revenue).
            own_kind=Case(
                When(credit__owner=user, then=F("credit__kind")), default=F("debit__kind")
            ),
        )
        .order_by("-created_at", "-id")
    )


def user_postings(user) -> QuerySet[Posting]:
    """The lines of the user's own balance, newest first: one per transfer that moved it."""
    return (
        Posting.objects.filter(
            account__kind__in=[AccountKind.USER, AccountKind.PLAY], account__owner=user
        )
        .select_related("account", "transfer", "transfer__debit", "transfer__credit")
        .order_by("-id")
    )


def audit_ledger() -> dict:
    """Recompute every balance from the postings and check the ledger's invariants.

    Returns a JSON-ready report; ``ok`` is true only when every check holds:
    - each account's stored balance equals the sum of its postings;
    - no account other than a source (grants, chain deposits) is negative, stored or recomputed;
    - the postings, and the stored balances, sum to zero over all accounts;
    - each transfer has exactly two postings, -amount on its debit and +amount on its credit;
    - play and withdrawable credits stay apart: each transfer's play part is all of it out of
      or into a play account (or grants), none of it out of or into a withdrawable account, and
      each escrow's and revenue account's stored play part equals the play parts of its
      transfers, between 0 and its balance;
    - a sharded system account (issue #11) is its shard rows: each row is checked as above, the
      account's total (``system_accounts`` in the report) is not negative unless it is a source,
      and only the sharded kinds have rows with a shard number other than 0.
    """
    problems: list[dict] = []
    recomputed = dict(
        Posting.objects.values("account")
        .annotate(total=Sum("amount"))
        .values_list("account", "total")
    )
    play_in = dict(
        Transfer.objects.values("credit").annotate(t=Sum("play")).values_list("credit", "t")
    )
    play_out = dict(
        Transfer.objects.values("debit").annotate(t=Sum("play")).values_list("debit", "t")
    )
    accounts = 0
    stored_sum = 0
    system: dict[str, dict] = {}
    for account in Account.objects.select_related("owner").order_by("pk").iterator():
        accounts += 1
        stored_sum += account.balance
        total = recomputed.pop(account.pk, 0)
        where = {"account": account.pk, "label": str(account), "kind": account.kind}
        if account.kind in SHARDED_KINDS:
            row = system.setdefault(account.kind, {"balance": 0, "play": 0, "shards": 0})
            row["balance"] += total
            row["play"] += account.play
            row["shards"] += 1
        elif account.shard:
            problems.append(
                {
                    "check": "shard_kind",
                    **where,
                    "shard": account.shard,
                    "message": f"{account} is not a sharded account but has shard {account.shard}",
                }
            )
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
        if account.kind in MIXED_KINDS:
            play = play_in.get(account.pk, 0) - play_out.get(account.pk, 0)
            if account.play != play or not 0 <= play <= total:
                problems.append(
                    {
                        "check": "play_part",
                        **where,
                        "stored": account.play,
                        "recomputed": play,
                        "message": (
                            f"{account} stores {account.play} play credits, its transfers "
                            f"say {play} of {total}"
                        ),
                    }
                )
    for kind, row in sorted(system.items()):
        if kind not in SOURCE_KINDS and row["balance"] < 0:
            problems.append(
                {
                    "check": "no_negative_balance",
                    "kind": kind,
                    "recomputed": row["balance"],
                    "message": f"{kind} is negative over its {row['shards']} shards",
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
    problems.extend(_play_leg_problems())
    return {
        "ok": not problems,
        "accounts": accounts,
        "transfers": transfer_count,
        "postings": Posting.objects.count(),
        "sum_of_balances": stored_sum,
        "sum_of_postings": postings_sum,
        "system_accounts": system,
        "problems": problems,
    }


def _play_leg_problems() -> list[dict]:
    """Transfers whose play part contradicts a play-only or withdrawable-only side."""
    play_side = Q(debit__kind__in=PLAY_KINDS) | Q(credit__kind__in=PLAY_KINDS)
    withdrawable_side = ~Q(debit__kind__in=PLAY_KINDS + MIXED_KINDS) | ~Q(
        credit__kind__in=PLAY_KINDS + MIXED_KINDS
    )
    # A play side needs play == amount; a withdrawable side needs play == 0.
    bad = (play_side & ~Q(play=F("amount"))) | (withdrawable_side & ~Q(play=0))
    # The migration's reclassification moves withdrawable into play, never back.
    allowed = Q(kind=RECLASSIFY_KIND, debit__kind=AccountKind.USER, credit__kind=AccountKind.PLAY)
    # Transfers before the split (see ledger/migrations/0004) followed the old rules.
    since = PlaySplit.objects.values_list("first_transfer_id", flat=True).first() or 0
    found = Transfer.objects.filter(bad, pk__gte=since).exclude(allowed).order_by("pk")
    return [
        {
            "check": "play_kept_apart",
            "transfer": t.pk,
            "key": t.key,
            "amount": t.amount,
            "play": t.play,
            "message": (
                f"transfer {t.pk} ({t.key}) moves {t.play} play credits of {t.amount} "
                f"from {t.debit.get_kind_display()} to {t.credit.get_kind_display()}"
            ),
        }
        for t in found.select_related("debit", "credit")[:1000]
    ]
