from django.apps import AppConfig


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        # jobs announces completed jobs; it never imports this app.
        from alerts import receivers
        from jobs.signals import job_completed

        job_completed.connect(receivers.alert_on_completed_job, dispatch_uid="alerts.alert_on_completed_job")
