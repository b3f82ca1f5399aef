"""Compact results, step 2 of 3: pack every row's JSON into the compact columns, in batches.

Resumable and idempotent: each batch of ids is its own transaction (the migration is not atomic),
and only rows whose `packed_readings` is still NULL are read, so an interrupted `migrate` carries
on where it stopped. Packing is lossless (stocks.compact keeps anything it cannot rebuild exactly
as verbatim JSON).
"""

from django.db import migrations, transaction

from stocks import compact

BATCH = 2000


# The typed columns as this migration knows them (later migrations add more and fill them).
FIELDS_AT_THIS_MIGRATION = ("close", "rsi", "adx", "macd_hist", "ema_trend", "bollinger_b", "cmf")


# The typed columns as this migration knows them (a later migration adds ema50/ema200 and fills them).
FIELDS_AT_THIS_MIGRATION = ("close", "rsi", "adx", "macd_hist", "ema_trend", "bollinger_b", "cmf")


def pack_batch(AnalysisResult, rows) -> None:
    for row in rows:
        row.packed_readings = compact.pack_readings(list(row.indicators or []))
        row.packed_provenance = compact.pack_provenance(dict(row.provenance or {}))
        row.last_bar = compact.date_or_none((row.provenance or {}).get("last_bar"))
        for field, value in compact.screener_columns(row.indicators or []).items():
            if field in FIELDS_AT_THIS_MIGRATION:
                setattr(row, field, value)
    AnalysisResult.objects.bulk_update(rows, ["packed_readings", "packed_provenance", "last_bar", *FIELDS_AT_THIS_MIGRATION])


def pack_results(apps, schema_editor):
    AnalysisResult = apps.get_model("stocks", "AnalysisResult")
    after = 0
    while True:
        ids = list(
            AnalysisResult.objects.filter(pk__gt=after, packed_readings__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return
        with transaction.atomic():
            rows = list(AnalysisResult.objects.filter(pk__in=ids, packed_readings__isnull=True).order_by("pk"))
            pack_batch(AnalysisResult, rows)
        after = ids[-1]


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("stocks", "0008_compact_results")]

    operations = [migrations.RunPython(pack_results, migrations.RunPython.noop)]
