"""django-q2 tasks for alerts: thin, they take ids (arguments are pickled) and call services."""

from alerts import services


def alert_on_job_completed(job_id: str) -> int:
    return services.on_job_completed(job_id=job_id)


def send_alert_delivery(delivery_id: int) -> str:
    return services.send_delivery(delivery_id=delivery_id)


def send_due_alerts() -> int:
    return services.send_due_deliveries()
