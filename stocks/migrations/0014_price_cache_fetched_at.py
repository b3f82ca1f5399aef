"""PriceCache.fetched_at: when the cached bars were fetched; existing rows take their created_at."""

import django.utils.timezone
from django.db import migrations, models


def from_created_at(apps, schema_editor):
    apps.get_model("stocks", "PriceCache").objects.update(fetched_at=models.F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("stocks", "0013_price_cache_bars_orjson"),
    ]

    operations = [
        migrations.AddField(
            model_name="pricecache",
            name="fetched_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(from_created_at, migrations.RunPython.noop, elidable=True),
    ]
