"""Every URL × {anonymous, user, other user, staff} × {open access on, off}: the expected status.

The URL list comes from the URL conf, so a new URL cannot be forgotten: it fails
`test_every_url_is_classified` until it has a row in EXPECTED (or, under /admin/, follows the
admin's own rule). The world: alice ("user") requested a running job; bob is "other"; carol is staff.
"""

import re
from decimal import Decimal

import pytest
from django.urls import URLResolver, get_resolver

from jobs.models import AnalysisJob, JobKind, JobStatus
from watchlists.services import create_saved_screen, create_watchlist, schedule_scan

# Expected status per role: (anonymous with open access, anonymous without, user, other, staff).
# Signed-in users are treated the same whether open access is on or off.
READ = ("GET", None, (200, 401, 200, 200, 200))
PAGE = ("GET", None, (200, 302, 200, 200, 200))
SIGNED_IN_PAGE = ("GET", None, (302, 302, 200, 200, 200))
SIGNED_IN_READ = ("GET", None, (401, 401, 200, 200, 200))
# An anonymous client may not cancel alice's job even with open access: 401, sign in as alice.
CANCEL_API = ("POST", None, (401, 401, 200, 403, 200))
EXPECTED = {
    # API (the JSON error shape for every refusal)
    "api/": READ,
    "api/schema/": READ,
    "api/docs/": READ,
    "api/stocks/analyze-all-stocks": ("POST", {"symbols": ["RELIANCE.NS"]}, (201, 401, 201, 201, 201)),
    "api/analysis/analyze": ("POST", {"tickers": ["RELIANCE.NS"]}, (201, 401, 201, 201, 201)),
    "api/stocks/all-stocks/progress": READ,
    "api/analysis/status/<str:job_id>": READ,
    "api/analysis/cancel/<str:job_id>": CANCEL_API,
    "api/jobs/": READ,
    "api/jobs/<pk>/": READ,
    "api/jobs/<pk>/cancel/": CANCEL_API,
    "api/jobs/<pk>/results/": READ,
    "api/stocks/": READ,
    "api/stocks/<symbol:symbol>/": READ,
    "api/stocks/<symbol:symbol>/history/": READ,
    "api/strategies/": READ,
    "api/strategies/<int:strategy_id>/": READ,
    # Alerts: always a signed-in user (open access does not apply); a job id is no subscription id.
    "api/alerts/": ("GET", None, (401, 401, 200, 200, 200)),
    "api/alerts/<pk>/": ("GET", None, (401, 401, 404, 404, 404)),
    "api/alerts/deliveries/": ("GET", None, (401, 401, 200, 200, 200)),
    # Watchlists need an account even with open access; others read alice's list, only she changes it.
    "api/watchlists/": SIGNED_IN_READ,
    "api/watchlists/<int:watchlist_id>/": SIGNED_IN_READ,
    "api/watchlists/<int:watchlist_id>/analyze": ("POST", {"strategy_id": 1}, (401, 401, 201, 403, 403)),
    "api/changes/": READ,
    "api/backtests/": ("POST", {"symbols": ["RELIANCE.NS"]}, (201, 401, 201, 201, 201)),
    "api/backtests/<str:job_id>/": READ,
    # Accounts
    "accounts/login/": ("GET", None, (200, 200, 302, 302, 302)),
    "accounts/logout/": ("POST", None, (302, 302, 302, 302, 302)),
    "accounts/password/": SIGNED_IN_PAGE,
    "accounts/password/done/": SIGNED_IN_PAGE,
    "accounts/": SIGNED_IN_PAGE,
    "accounts/token/": ("POST", None, (302, 302, 302, 302, 302)),
    "accounts/token/revoke/": ("POST", None, (302, 302, 302, 302, 302)),
    # Pages (forms answer with a redirect and a message)
    "": PAGE,
    "analyze/": ("POST", None, (302, 302, 302, 302, 302)),
    "stocks/<symbol:symbol>/": PAGE,
    "strategies/": PAGE,
    "alerts/": SIGNED_IN_PAGE,
    "alerts/<int:subscription_id>/delete/": ("POST", None, (302, 302, 404, 404, 404)),
    "jobs/": PAGE,
    "jobs/<str:job_id>/": PAGE,
    "jobs/<str:job_id>/progress/": PAGE,
    "jobs/<str:job_id>/cancel/": ("POST", None, (302, 302, 302, 302, 302)),
    "jobs/<str:job_id>/results.csv": PAGE,
    "jobs/<str:job_id>/results.xlsx": PAGE,
    # Operations: probes have no session, so the same answer for every role, signed in or not (readyz is
    # 503 because this world runs no worker; never a redirect to sign in). /metrics is guarded by its own
    # token or the loopback rule, not by accounts: the test client comes from 127.0.0.1.
    "healthz": ("GET", None, (200, 200, 200, 200, 200)),
    "favicon.ico": ("GET", None, (301, 301, 301, 301, 301)),
    "readyz": ("GET", None, (503, 503, 503, 503, 503)),
    "metrics": ("GET", None, (200, 200, 200, 200, 200)),
    # The daily loop (watchlists/): sign-in pages; forms redirect with a message
    "watchlists/": SIGNED_IN_PAGE,
    "watchlists/add/": ("POST", None, (302, 302, 302, 302, 302)),
    "watchlists/<int:watchlist_id>/": SIGNED_IN_PAGE,
    "watchlists/<int:watchlist_id>/edit/": ("POST", None, (302, 302, 302, 302, 302)),
    "screens/": ("POST", None, (302, 302, 302, 302, 302)),
    # A shared screen link opens the screener with its filters, for anyone who may use TheTool.
    "screens/<uuid:token>/": ("GET", None, (302, 302, 302, 302, 302)),
    "screens/<uuid:token>/delete/": ("POST", None, (302, 302, 302, 302, 302)),
    "scans/": ("POST", None, (302, 302, 302, 302, 302)),
    # Someone else's scan is not found, not merely refused.
    "scans/<int:scan_id>/delete/": ("POST", None, (302, 302, 302, 404, 404)),
    "changes/": PAGE,
    "changes.csv": PAGE,
    "backtests/run/": ("POST", None, (302, 302, 302, 302, 302)),
    "backtests/<str:job_id>/": PAGE,
    "backtests/<str:job_id>/results.csv": PAGE,
    "backtests/<str:job_id>/results.xlsx": PAGE,
}
ROLES = ["anonymous", "user", "other", "staff"]


# Under /admin/ the admin's own rule: only staff get in; everyone else is sent to its sign-in page.
ADMIN_PUBLIC = {"admin:login", "admin:logout"}


@pytest.fixture
def world(world):
    """The accounts world plus alice's watchlist (RELIANCE), saved screen and scheduled scan, and a
    finished backtest job, for the routes that need them."""
    watchlist = create_watchlist(owner=world["user"], name="Mine", symbols=["RELIANCE"])
    screen = create_saved_screen(owner=world["user"], name="Buys", query="verdict=Buy")
    scan = schedule_scan(owner=world["user"], name="Daily", watchlist=watchlist)
    backtest = AnalysisJob.objects.create(
        analysis_key="b" * 64,
        kind=JobKind.BACKTEST,
        status=JobStatus.COMPLETED,
        symbols=["TCS.NS"],
        total=1,
        capital=Decimal("100000"),
        risk_percent=Decimal("2"),
        data_source="demo",
        parameters={"max_holding": 20, "costs": {}},
        requested_by="api:alice",
    )
    return {**world, "watchlist": watchlist, "screen": screen, "scan": scan, "backtest": backtest}


def _walk(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace
            inner = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        else:
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield name, _route(prefix + str(pattern.pattern))


def _route(raw: str) -> str:
    """One spelling for path() and the router's regexes: api/^jobs/(?P<pk>[^/]+)/$ -> api/jobs/<pk>/."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", raw)
    return route.replace("^", "").replace("$", "").replace("/?", "/")


def discovered_urls() -> list[tuple[str | None, str]]:
    return list(_walk(get_resolver().url_patterns))


def _concrete(route: str, world) -> str:
    # Backtest routes answer for backtest jobs only (another kind of job is a 404 there).
    job = world["backtest"] if "backtests/" in route else world["job"]
    values = {
        "job_id": str(job.pk),
        "pk": str(world["job"].pk),
        "symbol": "RELIANCE.NS",
        "strategy_id": "1",
        "subscription_id": "999999",
        "watchlist_id": str(world["watchlist"].pk),
        "token": str(world["screen"].share_token),
        "scan_id": str(world["scan"].pk),
    }
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)


def test_every_url_is_classified():
    unclassified = [
        f"{name or '(unnamed)'} -> /{route}"
        for name, route in discovered_urls()
        if not route.startswith("admin/") and route not in EXPECTED
    ]
    assert not unclassified, (
        "URLs with no expected statuses: add each to EXPECTED in tests/accounts/test_access_matrix.py "
        f"(and decide who may reach it): {unclassified}"
    )
    stale = set(EXPECTED) - {route for _, route in discovered_urls()}
    assert not stale, f"EXPECTED lists URLs that no longer exist: {stale}"


@pytest.mark.parametrize("open_access", [True, False], ids=["open", "closed"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(EXPECTED))
def test_status_by_url_role_and_open_access(route, role, open_access, world, settings, client_as):
    settings.THETOOL_OPEN_ACCESS = open_access
    method, body, statuses = EXPECTED[route]
    index = {"anonymous": 0 if open_access else 1, "user": 2, "other": 3, "staff": 4}[role]
    client = client_as(world.get(role))
    url = _concrete(route, world)
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, body, content_type="application/json") if body else client.post(url)
    assert response.status_code == statuses[index], f"{method} {url} as {role}: {response.status_code}"
    if "json" in response.get("Content-Type", "") and response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details"}
    if role == "anonymous" and not open_access and response.status_code == 302 and not route.startswith("accounts/"):
        assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("open_access", [True, False], ids=["open", "closed"])
@pytest.mark.parametrize("role", ROLES)
def test_admin_lets_in_only_staff(role, open_access, world, settings, client_as):
    settings.THETOOL_OPEN_ACCESS = open_access
    client = client_as(world.get(role))
    wrong = []
    admin_urls = [(name, route) for name, route in discovered_urls() if route.startswith("admin/") and name]
    assert len(admin_urls) > 20
    for name, route in admin_urls:
        if name in ADMIN_PUBLIC:
            continue
        url = _admin_url(route, world)
        response = client.get(url)
        if role == "staff":
            # In, though the admin itself may refuse a page by design (add on read-only models: 403).
            ok = response.status_code in (200, 302, 403, 404) and "login" not in response.get("Location", "")
        else:
            ok = response.status_code == 302 and response["Location"].startswith("/admin/login/")
        if not ok:
            wrong.append(f"{name} {url}: {response.status_code} {response.get('Location', '')}")
    assert not wrong, f"as {role}: {wrong}"


def _admin_url(route: str, world) -> str:
    values = {
        "object_id": str(world["job"].pk) if route.startswith("admin/jobs/") else str(world["user"].pk),
        "id": str(world["user"].pk),
        "app_label": "jobs",
        "content_type_id": "1",
        "url": "",
    }
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
