"""The staff operations dashboard (linked from the admin index): trends, rates, failures, queue, workers."""

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render
from django.utils import timezone

from jobs import ops


@staff_member_required
def dashboard(request):
    range_key = request.GET.get("range", "24h")
    if range_key not in ops.RANGES:
        range_key = "24h"
    data = ops.get_dashboard(range_key=range_key, now=timezone.now())
    return render(
        request,
        "ops/dashboard.html",
        {
            "data": data,
            "ranges": list(ops.RANGES),
            "range_key": range_key,
            "worker_alive_seconds": settings.THETOOL_WORKER_ALIVE_SECONDS,
        },
    )
