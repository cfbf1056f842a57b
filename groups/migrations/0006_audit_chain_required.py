from django.db import migrations, models


class Migration(migrations.Migration):
    """The audit log becomes a hash chain (step 3 of 3: every event has its place and its hashes)."""

    dependencies = [
        ("groups", "0005_audit_chain_existing_events"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="sequence",
            field=models.PositiveBigIntegerField(help_text="Position in the hash chain: 1, 2, 3 …", unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(help_text="The previous event's hash (zeros for the first).", max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(help_text="HMAC-SHA256 of this event's fields and prev_hash.", max_length=64),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["target_type", "target_id"], name="auditevent_target"),
        ),
    ]
