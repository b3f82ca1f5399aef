from django.apps import AppConfig


class WatchlistsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "watchlists"
    verbose_name = "Watchlists, saved screens and scheduled scans"

    def ready(self):
        # Alerts keep a generic reference to a watchlist or saved screen; this app says which stocks
        # each covers (alerts never import this app's models).
        from alerts.models import TargetKind
        from alerts.services import register_target_resolver
        from watchlists import selectors

        register_target_resolver(kind=TargetKind.WATCHLIST, resolve=selectors.symbols_of_watchlist_ref)
        register_target_resolver(kind=TargetKind.SCREEN, resolve=selectors.symbols_of_screen_ref)

        # End-of-day scans fire on every worker's reaper tick; jobs never imports this app.
        from jobs.signals import worker_tick
        from watchlists import receivers

        worker_tick.connect(receivers.run_scans_on_worker_tick, dispatch_uid="watchlists.run_scans_on_worker_tick")
