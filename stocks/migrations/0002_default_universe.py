"""Load the default universe (NIFTY 50, see stocks/nifty50.py) on a fresh install.

Only missing symbols are inserted: existing rows (edited by an admin or loaded from EQUITY_L.csv)
are never changed, and reversing the migration deletes nothing (results may refer to the stocks).
"""

from django.db import migrations


def load_nifty50(apps, schema_editor):
    from stocks.nifty50 import NIFTY50

    Stock = apps.get_model("stocks", "Stock")
    db = schema_editor.connection.alias
    existing = set(Stock.objects.using(db).values_list("symbol", flat=True))
    taken_yahoo = set(Stock.objects.using(db).values_list("yahoo_symbol", flat=True))
    Stock.objects.using(db).bulk_create(
        [
            Stock(symbol=symbol, name=name, yahoo_symbol=f"{symbol}.NS", exchange="NSE", series="EQ", is_active=True)
            for symbol, name in NIFTY50
            if symbol not in existing and f"{symbol}.NS" not in taken_yahoo
        ]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("stocks", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(load_nifty50, migrations.RunPython.noop),
    ]
