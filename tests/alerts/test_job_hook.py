"""A completed analysis job hands its results to alerts: one django-q2 task, enqueued after commit."""

import pytest
from django.core import mail

from alerts import services, tasks
from alerts.models import AlertDelivery
from jobs import services as job_services
from jobs import tasks as job_tasks
from tests.factories import make_result

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_completed_job_enqueues_the_alert_hook_which_emails_the_subscriber(alice, settings, monkeypatch):
    settings.THETOOL_DATA_SOURCE = "demo"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    enqueued = []
    monkeypatch.setattr(services, "async_task", lambda func, *args, **kwargs: enqueued.append((func, *args)))
    # An old result far below any real score: the job's new score crosses -50 whatever its verdict.
    make_result("RELIANCE.NS", verdict="Strong Sell", score=-99.0)
    services.save_subscription(
        user=alice, data={"target_kind": "stock", "target_ref": "RELIANCE.NS", "trigger": "score", "threshold": -50}
    )
    job, _ = job_services.request_analysis_job(symbols=["RELIANCE.NS"])
    assert job_tasks.run_analysis_job(str(job.pk)) == "completed"
    assert enqueued == [("alerts.tasks.alert_on_job_completed", str(job.pk))]
    assert tasks.alert_on_job_completed(str(job.pk)) == 1
    delivery = AlertDelivery.objects.get()
    assert enqueued[-1] == ("alerts.tasks.send_alert_delivery", delivery.pk)
    assert tasks.send_alert_delivery(delivery.pk) == "sent"
    assert len(mail.outbox) == 1 and "RELIANCE.NS" in mail.outbox[0].subject
