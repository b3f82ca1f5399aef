"""Compact results, step 1 of 3: the compact columns, beside the verbose JSON they replace.

`packed_readings` is NULL until step 2 has packed a row: that is how a resumed migration knows
which rows are left.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("stocks", "0007_schedule_thin_results")]

    operations = [
        migrations.AddField(
            model_name="analysisresult",
            name="packed_readings",
            field=models.BinaryField(blank=True, null=True, help_text="Indicator readings, stocks.compact"),
        ),
        migrations.AddField(
            model_name="analysisresult",
            name="packed_provenance",
            field=models.TextField(blank=True, default="", help_text="source, bars, bar dates, parameters"),
        ),
        migrations.AddField(
            model_name="analysisresult",
            name="close",
            field=models.FloatField(blank=True, null=True, help_text="Last close"),
        ),
        migrations.AddField(
            model_name="analysisresult",
            name="rsi",
            field=models.FloatField(blank=True, null=True, help_text="RSI 14"),
        ),
        migrations.AddField(
            model_name="analysisresult",
            name="adx",
            field=models.FloatField(blank=True, null=True, help_text="ADX 14"),
        ),
        migrations.AddField(
            model_name="analysisresult",
            name="macd_hist",
            field=models.FloatField(blank=True, null=True, help_text="MACD histogram 12/26/9"),
        ),
        migrations.AddField(
            model_name="analysisresult",
            name="ema_trend",
            field=models.SmallIntegerField(
                blank=True, null=True, help_text="+1 EMA50 above EMA200, -1 below, 0 equal"
            ),
        ),
        migrations.AddField(
            model_name="analysisresult",
            name="bollinger_b",
            field=models.FloatField(blank=True, null=True, help_text="Bollinger %B 20/2"),
        ),
        migrations.AddField(
            model_name="analysisresult",
            name="cmf",
            field=models.FloatField(blank=True, null=True, help_text="Chaikin Money Flow 20"),
        ),
        migrations.AddField(
            model_name="analysisresult",
            name="last_bar",
            field=models.DateField(blank=True, null=True, help_text="Date of the last daily bar analysed"),
        ),
    ]
