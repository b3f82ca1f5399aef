import stocks.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    """PriceCache.bars is read with orjson (stocks.fields.BarsJSONField); its column does not change.

    State only: SQLite would otherwise rebuild the whole price cache table for a change of Python class.
    """

    dependencies = [
        ("stocks", "0012_result_ema_columns"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="pricecache",
                    name="bars",
                    field=stocks.fields.BarsJSONField(help_text='Column arrays {"d", "o", "h", "l", "c", "v"}'),
                ),
            ],
        ),
        migrations.AlterField(
            model_name="pricecache",
            name="fetched_on",
            field=models.DateField(help_text="The last completed NSE session when the bars were fetched"),
        ),
    ]
