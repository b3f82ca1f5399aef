"""How hard TheTool may press Yahoo, shared by every worker on every host.

Two bounds, both kept in Django's cache (Redis when REDIS_URL is set, else the database table), so
all processes see the same counts:

- rate: at most THETOOL_YAHOO_REQUESTS_PER_MINUTE symbol fetches a minute, counted in 10-second
  windows (a sixth of the budget each, so a new minute never starts with a full minute's burst);
- concurrency: at most THETOOL_YAHOO_CONCURRENCY fetches in flight, as leased slots that expire on
  their own (a worker killed mid-fetch frees its slot after the lease).

Permits are taken with `cache.add`, which is atomic on both backends (a Redis SET NX; an INSERT on
the cache table's primary key), unlike `incr` on the database cache (a read then a write).
A cache that cannot be reached does not stop a fetch: politeness degrades to per-process bounds.
"""

import logging
import math
import random
import threading
import time
import uuid
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache

from thetool import shutdown

logger = logging.getLogger("stocks.market_data")

WINDOW_SECONDS = 10
_PREFIX = "thetool:yahoo"
_local_slots = threading.BoundedSemaphore(64)  # a backstop while the shared cache is unreachable


def permits_per_window() -> int:
    return max(1, math.ceil(settings.THETOOL_YAHOO_REQUESTS_PER_MINUTE * WINDOW_SECONDS / 60))


_next_permit = threading.local()  # where this thread's scan resumes: permits below it are taken


def _take_rate_permit() -> float:
    """Take a permit in the current window; return 0, or how long to wait for the next window."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    start = _next_permit.number if getattr(_next_permit, "window", None) == window else 0
    for number in range(start, permits_per_window()):
        if cache.add(f"{_PREFIX}:rate:{window}:{number}", 1, timeout=3 * WINDOW_SECONDS):
            _next_permit.window, _next_permit.number = window, number + 1
            return 0.0
    _next_permit.window, _next_permit.number = window, permits_per_window()
    return (window + 1) * WINDOW_SECONDS - now


def _take_slot(*, token: str, lease: float) -> str | None:
    for number in range(settings.THETOOL_YAHOO_CONCURRENCY):
        key = f"{_PREFIX}:slot:{number}"
        if cache.add(key, token, timeout=math.ceil(lease)):
            return key
    return None


def _release_slot(key: str, token: str) -> None:
    try:
        if cache.get(key) == token:  # a lease that expired and was taken again is not ours to free
            cache.delete(key)
    except Exception:
        logger.warning("Could not release the Yahoo slot %s; it expires on its own", key, exc_info=True)


@contextmanager
def yahoo_request(*, lease: float):
    """Hold one shared permit (rate) and slot (concurrency) around one symbol's fetch.

    `lease` is how long the slot stays taken if this process dies: the fetch's wall-clock limit.
    """
    token = uuid.uuid4().hex
    key = None
    try:
        while (pause := _take_rate_permit()) > 0:
            shutdown.sleep(pause + random.uniform(0, 0.5))  # jitter: workers do not wake together
        while (key := _take_slot(token=token, lease=lease + 5)) is None:
            shutdown.sleep(random.uniform(0.02, 0.1))
    except Exception:  # the shared cache is down: fetch anyway, bounded only in this process
        logger.warning("The shared Yahoo limiter is unavailable; fetching without it", exc_info=True)
        with _local_slots:
            yield
        return
    try:
        yield
    finally:
        _release_slot(key, token)
