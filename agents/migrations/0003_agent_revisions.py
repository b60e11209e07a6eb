import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# agents.models.REVISION_FIELDS as of this migration (frozen: the model's may grow later).
REVISION_FIELDS = (
    "system_prompt",
    "temperature",
    "top_p",
    "top_k",
    "max_new_tokens",
    "repetition_penalty",
    "lora_rank",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "load_in_4bit",
    "learning_rate",
    "dpo_beta",
    "epochs",
    "batch_size",
)


def first_revisions(apps, schema_editor):
    """Every agent that exists gets its current configuration as revision 1, so its page and
    its next change start from a numbered history."""
    Agent = apps.get_model("agents", "Agent")
    AgentRevision = apps.get_model("agents", "AgentRevision")
    rows = []
    for agent in Agent.objects.all().iterator():
        config = {field: getattr(agent, field) for field in REVISION_FIELDS}
        config["target_modules"] = list(config["target_modules"] or [])
        rows.append(
            AgentRevision(agent_id=agent.pk, number=1, config=config, created_by_id=agent.owner_id)
        )
    AgentRevision.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0002_training_jobs"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="agent",
            name="share_prompt",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Show the system prompt (also of past revisions) on the agent's public page."
                ),
            ),
        ),
        migrations.CreateModel(
            name="AgentRevision",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveIntegerField()),
                (
                    "config",
                    models.JSONField(help_text="the REVISION_FIELDS values of this revision"),
                ),
                ("note", models.CharField(blank=True, default="", max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "agent",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="revisions",
                        to="agents.agent",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["agent_id", "number"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("agent", "number"), name="agents_revision_number"
                    )
                ],
            },
        ),
        migrations.RunPython(first_revisions, migrations.RunPython.noop),
    ]
