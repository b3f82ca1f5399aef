from django.apps import AppConfig


class BacktestsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "backtests"

    def ready(self):
        # The job worker runs backtest jobs through this registration; jobs never imports this app.
        from backtests.execution import execute_backtest
        from jobs.kinds import register_executor
        from jobs.models import JobKind

        register_executor(JobKind.BACKTEST, execute_backtest)
