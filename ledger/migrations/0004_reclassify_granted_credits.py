"""Existing balances under the play/withdrawable split (issue #10).

Before the split, grants (the sign-up bonus, staff grants) were credited to the one user account,
so a user's balance mixed granted and deposited credits. Re-deriving each credit's origin through
every escrow and prize is not feasible, so the rule is conservative: of a user's balance, as much
as the user was ever granted becomes play credits (a ``reclassify`` transfer from the user's
withdrawable account to a new play account), and only the rest stays withdrawable. Credits already
spent are taken to have been granted ones last, which is the choice that leaves the fewest
granted credits withdrawable. Escrows and revenue accounts keep their balances as withdrawable
(their play part starts at 0). A ``PlaySplit`` row records the first transfer made under the new
rules; the audit's play checks start there.
"""

import hashlib
import json

from django.db import migrations
from django.db.models import F, Sum


def _fingerprint(debit_id, credit_id, amount, kind):
    content = {"amount": amount, "credit": credit_id, "debit": debit_id, "kind": kind}
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def reclassify(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    Transfer = apps.get_model("ledger", "Transfer")
    Posting = apps.get_model("ledger", "Posting")
    PlaySplit = apps.get_model("ledger", "PlaySplit")
    granted = dict(
        Transfer.objects.filter(debit__kind="grants", credit__kind="user")
        .values("credit")
        .annotate(total=Sum("amount"))
        .values_list("credit", "total")
    )
    moved = 0
    for account in Account.objects.filter(kind="user", balance__gt=0).order_by("pk"):
        amount = min(account.balance, granted.get(account.pk, 0))
        if amount <= 0:
            continue
        play, _ = Account.objects.get_or_create(kind="play", owner_id=account.owner_id)
        made = Transfer.objects.create(
            key=f"migration:play-split:{account.owner_id}",
            debit_id=account.pk,
            credit_id=play.pk,
            amount=amount,
            play=amount,
            kind="reclassify",
            memo="granted credits reclassified as play credits",
            fingerprint=_fingerprint(account.pk, play.pk, amount, "reclassify"),
        )
        Posting.objects.create(transfer=made, account_id=account.pk, amount=-amount)
        Posting.objects.create(transfer=made, account_id=play.pk, amount=amount)
        Account.objects.filter(pk=account.pk).update(balance=F("balance") - amount)
        Account.objects.filter(pk=play.pk).update(balance=F("balance") + amount)
        moved += amount
    last = Transfer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    PlaySplit.objects.create(first_transfer_id=last + 1, reclassified=moved)


def unsplit(apps, schema_editor):
    # The ledger never deletes transfers, so going back keeps the reclassifications; only the
    # marker goes. (Reverting 0003 then fails while any play account exists, as it should.)
    apps.get_model("ledger", "PlaySplit").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_play_credits")]

    operations = [migrations.RunPython(reclassify, unsplit)]
