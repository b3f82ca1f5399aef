"""Compact results, step 3 of 3: every row is packed (0007), so the verbose JSON columns go."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("stocks", "0009_pack_results")]

    operations = [
        migrations.RemoveField(model_name="analysisresult", name="indicators"),
        migrations.RemoveField(model_name="analysisresult", name="provenance"),
        migrations.AlterField(
            model_name="analysisresult",
            name="packed_readings",
            field=models.BinaryField(blank=True, default=bytes, help_text="Indicator readings, stocks.compact"),
        ),
    ]
