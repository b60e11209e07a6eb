import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    # Seats of matches played before revisions keep no revision (null): which configuration
    # they ran with was not recorded, and guessing would misattribute their results.

    dependencies = [
        ("agents", "0003_agent_revisions"),
        ("arena", "0005_seat_rollout_audit"),
    ]

    operations = [
        migrations.AddField(
            model_name="seat",
            name="revision",
            field=models.ForeignKey(
                blank=True,
                help_text="the agent's configuration revision this answer was generated with",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="seats",
                to="agents.agentrevision",
            ),
        ),
    ]
