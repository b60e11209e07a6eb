"""Hot system accounts spread over shard rows (issue #11, a ledger without hot rows).

Every existing row gets ``shard = 0`` (the column's default), so each system account's single
row becomes its shard 0: its id, balance, play part and history stay as they are, and transfers
already made keep their fingerprints (a sharded account is identified by its shard 0's id).
Further shards are created on first use. The one-row-per-system-kind constraint becomes one row
per (kind, shard).
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0004_reclassify_granted_credits"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="account",
            name="ledger_account_unique_system",
        ),
        migrations.AddField(
            model_name="account",
            name="shard",
            field=models.PositiveSmallIntegerField(
                default=0,
                help_text="sharded system accounts: which of the account's rows this is (0 elsewhere)",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    (
                        "kind__in",
                        ("platform_revenue", "grants", "chain_deposits", "pending_withdrawals"),
                    )
                ),
                fields=("kind", "shard"),
                name="ledger_account_unique_system_shard",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("shard", 0),
                    ("kind__in", ("platform_revenue", "grants", "chain_deposits")),
                    _connector="OR",
                ),
                name="ledger_account_shard_kind",
            ),
        ),
    ]
