"""The alert loop in Chromium: subscribe on the alerts page, analyse a stock, receive the alert by email
(Django's locmem backend stands in for the console one) and at a local webhook receiver, and read the
delivery log. The worker's part (the job, the completion hook, the sends) runs in the test process, so
the sent email lands in this process's outbox."""

import json
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from alerts import tasks as alert_tasks
from jobs import tasks as job_tasks
from jobs.models import AnalysisJob
from tests.alerts.conftest import Receiver
from tests.factories import make_result

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


@pytest.fixture
def receiver():
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def signed_in(demo_live_server, settings, django_user_model, page):
    settings.THETOOL_OPEN_ACCESS = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    django_user_model.objects.create_user("alice", email="alice@example.com", password=PASSWORD)
    page.goto(demo_live_server.url + "/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(demo_live_server.url + "/")
    return demo_live_server


def subscribe(page, server, **fields):
    page.goto(server.url + "/alerts/")
    page.select_option("#id_target_kind", fields["target_kind"])
    # The form shows only the fields the choices above them use.
    expect(page.locator("#id_target_ref")).to_be_visible(visible="target_ref" in fields)
    if "target_ref" in fields:
        page.fill("#id_target_ref", fields["target_ref"])
    page.select_option("#id_trigger", fields["trigger"])
    expect(page.locator("#id_threshold")).to_be_visible(visible="threshold" in fields)
    if "threshold" in fields:
        page.fill("#id_threshold", fields["threshold"])
    page.select_option("#id_channel", fields["channel"])
    expect(page.locator("#id_webhook_url")).to_be_visible(visible="webhook_url" in fields)
    expect(page.locator("#id_email")).to_be_visible(visible="webhook_url" not in fields)
    if "webhook_url" in fields:
        page.fill("#id_webhook_url", fields["webhook_url"])
    page.click("#subscribe-button")
    expect(page.locator(".messages")).to_have_text(re.compile(r"^\s*Subscribed\."))


def test_subscribe_analyse_and_receive_the_alert_by_email_and_webhook(signed_in, page, page_errors, receiver):
    server = signed_in
    # A previous analysis far below any real score: the new one crosses -50 whatever its verdict.
    make_result("M&M.NS", verdict="Strong Sell", score=-99.0)
    subscribe(page, server, target_kind="stock", target_ref="m&m", trigger="score", threshold="-50", channel="email")
    subscribe(
        page, server, target_kind="all", trigger="score", threshold="-50", channel="webhook", webhook_url=receiver.url
    )
    expect(page.locator("#subscriptions-heading + .table-wrap tbody tr")).to_have_count(2)

    page.goto(server.url + "/stocks/M%26M/")
    page.click("button:has-text('Analyze now')")
    expect(page.locator("#analysis-status")).to_contain_text(re.compile("Analysis started"))
    job = AnalysisJob.objects.get()
    # The worker's part: the job, then the completion hook and the sends it enqueued.
    assert job_tasks.run_analysis_job(str(job.pk)) == "completed"
    assert alert_tasks.alert_on_job_completed(str(job.pk)) == 2
    assert alert_tasks.send_due_alerts() == 2

    (email,) = mail.outbox
    assert email.to == ["alice@example.com"] and "M&M.NS" in email.subject
    (payload,) = [json.loads(request["body"]) for request in receiver.requests]
    assert payload["symbol"] == "M&M.NS" and payload["old_score"] == -99.0

    page.goto(server.url + "/alerts/")
    log = page.locator("#delivery-log tbody tr")
    expect(log).to_have_count(2)
    expect(page.locator("#delivery-log")).to_contain_text("Strong Sell →")
    expect(page.locator("#delivery-log .delivery-status").first).to_contain_text("sent")
    assert page_errors == []
