"""Schedule the due-deliveries loop: every minute, send alerts whose retry time has come.

A first send is enqueued as its own task when the change is found; this loop is for retries (with
backoff) and for deliveries whose enqueue failed or whose worker died mid-send.
"""

from django.db import migrations

NAME = "thetool: send due alerts"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={"func": "alerts.tasks.send_due_alerts", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
