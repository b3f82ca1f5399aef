"""Schedule retention: once a day, thin results older than THETOOL_RESULTS_KEEP_DAYS (stocks.retention).

A daily task may wait behind queued jobs for a while; unlike the reaper, nothing depends on its
timing, so it runs in the job cluster (`manage.py run_worker`) as a django-q2 schedule.
"""

from django.db import migrations

NAME = "thetool: thin old analysis results"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={"func": "stocks.tasks.thin_results_daily", "schedule_type": "D", "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("stocks", "0006_latest_result_table"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
