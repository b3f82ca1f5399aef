from django.apps import AppConfig


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"
    verbose_name = "Analysis jobs"

    def ready(self):
        from jobs import checks  # noqa: F401  (registers the system checks)
