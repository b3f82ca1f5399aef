"""The reaper no longer runs as a django-q2 schedule: `manage.py run_worker` runs it beside the cluster.

As a scheduled task it waited behind every queued job (40 queued jobs delayed a tick by ~112 s).
"""

from django.db import migrations

NAME = "thetool: recover stale analysis jobs"


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("jobs", "0004_accounts_permissions_idempotency")]

    operations = [migrations.RunPython(remove_schedule, migrations.RunPython.noop)]
