from typing import Any

from django.db import migrations, models


def create_row(apps: Any, schema_editor: Any) -> None:
    apps.get_model("common", "CacheVersion").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    initial = True

    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="CacheVersion",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("value", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("id", 1)), name="cacheversion_single_row")],
            },
        ),
        migrations.RunPython(create_row, migrations.RunPython.noop, elidable=False),
    ]
