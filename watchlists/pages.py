"""Pages of the daily loop: watchlists, saved screens, scheduled scans and what changed.

Watchlists, screens and scans need an account (even with open access: an anonymous list would
belong to nobody), so these pages send anonymous visitors to sign in. Forms are plain POSTs that
redirect with a message; the work is done by watchlists.services.
"""

from __future__ import annotations

import csv
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs.pages import requested_by, started_message
from jobs.throttles import TooManyJobs
from stocks import strategies
from thetool.exceptions import ApplicationError
from watchlists import selectors, services, sparkline
from watchlists.exceptions import WatchlistNotFound
from watchlists.models import DEFAULT_SCAN_TIME
from watchlists.serializers import ChangesQuerySerializer

CHANGE_KINDS = ("upgrade", "downgrade", "new", "unchanged")


def _symbols_from(request) -> list[str]:
    raw = request.POST.getlist("symbols") or request.POST.get("symbols_text", "").replace(",", " ").split()
    return [symbol.strip() for symbol in raw if symbol.strip()][:500]


def _stocks(count: int) -> str:
    return f"{count} stock" if count == 1 else f"{count} stocks"


def _back(request, default: str) -> str:
    target = request.POST.get("next") or default
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else default


def _watchlist_or_404(watchlist_id):
    try:
        return selectors.get_watchlist(pk=watchlist_id)
    except WatchlistNotFound as exc:
        raise Http404(exc.message) from None


@login_required
@require_http_methods(["GET", "POST"])
def watchlist_list(request):
    if request.method == "POST":
        try:
            watchlist = services.create_watchlist(
                owner=request.user, name=request.POST.get("name", "")[:100], symbols=_symbols_from(request)
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("watchlist-list")
        messages.success(request, f"Watchlist {watchlist.name!r} created.")
        return redirect("watchlist-detail", watchlist_id=watchlist.pk)
    context = {
        "watchlists": selectors.watchlists_of(user=request.user),
        "screens": selectors.saved_screens_of(user=request.user),
        "scans": selectors.scans_of(user=request.user),
        "strategies": list(strategies.STRATEGIES.values()),
    }
    return render(request, "watchlists/watchlist_list.html", context)


# The watchlist page's periods: "what changed" over the last day (default), week or month, or since a moment.
WATCHLIST_PERIODS = {
    "1d": ("1 day", timedelta(days=1)),
    "1w": ("1 week", timedelta(weeks=1)),
    "1m": ("1 month", timedelta(days=30)),
}
DEFAULT_PERIOD = "1d"


def _strategy_from(request):
    """`?strategy=1..5` (Balanced when missing or unknown)."""
    raw = request.GET.get("strategy", "")
    strategy_id = int(raw) if raw.isdigit() else 1
    return strategies.STRATEGIES.get(strategy_id) or strategies.STRATEGIES[1]


def _period_from(request, *, now: datetime) -> tuple[str, datetime]:
    """(`period` key or "" for a custom `since`, the moment changes are counted from).

    `?since=<ISO 8601 date or time>` wins over `?period=1d|1w|1m`; an unreadable or future `since`
    falls back to the period (1 day by default).
    """
    raw_since = request.GET.get("since", "").strip()
    if raw_since:
        try:
            since = parse_datetime(raw_since)
            if since is None and (day := parse_date(raw_since)) is not None:
                since = datetime.combine(day, time.min)
        except ValueError:  # well-formed but impossible, e.g. 2026-02-30
            since = None
        if since is not None:
            if timezone.is_naive(since):
                since = timezone.make_aware(since)
            if since <= now:
                return "", since
    period = request.GET.get("period", DEFAULT_PERIOD)
    if period not in WATCHLIST_PERIODS:
        period = DEFAULT_PERIOD
    return period, now - WATCHLIST_PERIODS[period][1]


@login_required
@require_GET
def watchlist_detail(request, watchlist_id):
    watchlist = _watchlist_or_404(watchlist_id)
    symbols = selectors.watchlist_symbols(watchlist=watchlist)
    strategy = _strategy_from(request)
    period, since = _period_from(request, now=timezone.now())
    changes = {c.symbol: c for c in selectors.changes_between(since=since, strategy_id=strategy.id, symbols=symbols)}
    histories = selectors.score_histories(symbols=symbols, strategy_id=strategy.id)
    rows = [{"symbol": s, "change": changes.get(s), "sparkline": sparkline.svg(histories.get(s, []))} for s in symbols]
    context = {
        "watchlist": watchlist,
        "rows": rows,
        "is_owner": watchlist.owner_id == request.user.pk,
        "strategies": list(strategies.STRATEGIES.values()),
        "strategy": strategy,
        "period": period,
        "periods": [{"key": key, "label": label} for key, (label, _) in WATCHLIST_PERIODS.items()],
        "since": since,
    }
    return render(request, "watchlists/watchlist_detail.html", context)


WATCHLIST_ACTIONS = ("rename", "delete", "add", "remove", "analyze")


@login_required
@require_POST
def watchlist_action(request, watchlist_id):
    """Rename, delete, add or remove stocks, or analyse: one form endpoint, `action` says which."""
    watchlist = _watchlist_or_404(watchlist_id)
    action = request.POST.get("action", "")
    back = _back(request, reverse("watchlist-detail", args=[watchlist.pk]))
    try:
        if action == "rename":
            services.rename_watchlist(user=request.user, watchlist=watchlist, name=request.POST.get("name", "")[:100])
            messages.success(request, f"Renamed to {watchlist.name!r}.")
        elif action == "delete":
            services.delete_watchlist(user=request.user, watchlist=watchlist)
            messages.success(request, f"Watchlist {watchlist.name!r} deleted.")
            return redirect("watchlist-list")
        elif action == "add":
            added = services.add_stocks(user=request.user, watchlist=watchlist, symbols=_symbols_from(request))
            messages.success(request, f"Added {_stocks(added)} to {watchlist.name!r}.")
        elif action == "remove":
            removed = services.remove_stocks(user=request.user, watchlist=watchlist, symbols=_symbols_from(request))
            messages.success(request, f"Removed {_stocks(removed)} from {watchlist.name!r}.")
        elif action == "analyze":
            services.ensure_owner(user=request.user, obj=watchlist)
            strategy = request.POST.get("strategy", "1")
            job, created = services.analyze_watchlist(
                request=request,
                watchlist=watchlist,
                requested_by=requested_by(request),
                strategy_id=int(strategy) if strategy.isdigit() else 1,
            )
            messages.success(request, started_message(job, created))
            return redirect("job-detail", job_id=job.pk)
        else:
            messages.error(request, f"Unknown action {action[:20]!r}.")
    except (ApplicationError, TooManyJobs) as exc:
        messages.error(request, exc.message)
    return redirect(back)


@login_required
@require_POST
def add_to_watchlist(request):
    """From the All-stocks basket or a stock page: add stocks to a list (or a new one named in the form)."""
    back = _back(request, reverse("stock-list"))
    symbols = _symbols_from(request)
    try:
        if request.POST.get("watchlist"):
            watchlist = _watchlist_or_404(request.POST["watchlist"])
            added = services.add_stocks(user=request.user, watchlist=watchlist, symbols=symbols)
        else:
            watchlist = services.create_watchlist(
                owner=request.user, name=request.POST.get("name", "")[:100] or "My watchlist", symbols=symbols
            )
            added = len(symbols)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    # The list is one click away from the page the stocks were ticked on.
    link = reverse("watchlist-detail", args=[watchlist.pk])
    messages.success(
        request, format_html('Added {} to watchlist <a href="{}">{}</a>.', _stocks(added), link, watchlist.name)
    )
    return redirect(back)


# --- Saved screens ---------------------------------------------------------------------------


@login_required
@require_POST
def screen_save(request):
    try:
        screen = services.create_saved_screen(
            owner=request.user, name=request.POST.get("name", "")[:100], query=request.POST.get("query", "")[:2000]
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(_back(request, reverse("stock-list")))
    messages.success(
        request, f"Screen {screen.name!r} saved. Share it: {reverse('screen-open', args=[screen.share_token])}"
    )
    return redirect("watchlist-list")


@require_GET
def screen_open(request, token):
    """A shared link: opens the screener with the screen's filters (read-only for anyone but its owner)."""
    screen = selectors.saved_screen_by_token(token=token)
    if screen is None:
        raise Http404("No such saved screen")
    url = reverse("stock-list")
    return redirect(f"{url}?{screen.query}&screen={screen.share_token}" if screen.query else url)


@login_required
@require_POST
def screen_delete(request, token):
    screen = selectors.saved_screen_by_token(token=token)
    if screen is None:
        raise Http404("No such saved screen")
    try:
        services.delete_saved_screen(user=request.user, screen=screen)
        messages.success(request, f"Screen {screen.name!r} deleted.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("watchlist-list")


# --- Scheduled scans -------------------------------------------------------------------------


class ScanForm(forms.Form):
    name = forms.CharField(max_length=100)
    target = forms.CharField(max_length=60, help_text="watchlist:<id>, screen:<id> or universe")
    strategy = forms.TypedChoiceField(coerce=int, choices=[])
    run_at = forms.TimeField(initial=DEFAULT_SCAN_TIME, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["strategy"].choices = [(s.id, s.name) for s in strategies.STRATEGIES.values()]


def _scan_target(user, raw: str) -> dict:
    kind, _, pk = raw.partition(":")
    if kind == "watchlist" and pk.isdigit():
        return {"watchlist": selectors.watchlists_of(user=user).filter(pk=int(pk)).first() or _missing()}
    if kind == "screen" and pk.isdigit():
        return {"saved_screen": selectors.saved_screens_of(user=user).filter(pk=int(pk)).first() or _missing()}
    if kind == "universe":
        return {}
    return _missing()


def _missing():
    raise ApplicationError("Choose one of your watchlists or saved screens, or every stock.")


@login_required
@require_POST
def scan_create(request):
    form = ScanForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{f}: {' '.join(e)}" for f, e in form.errors.items()))
        return redirect("watchlist-list")
    try:
        scan = services.schedule_scan(
            owner=request.user,
            name=form.cleaned_data["name"],
            strategy_id=form.cleaned_data["strategy"],
            run_at=form.cleaned_data["run_at"] or DEFAULT_SCAN_TIME,
            **_scan_target(request.user, form.cleaned_data["target"]),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("watchlist-list")
    messages.success(
        request, f"Scan {scan.name!r} scheduled; next run {timezone.localtime(scan.next_run_at):%a %d %b %H:%M} IST."
    )
    return redirect("watchlist-list")


@login_required
@require_POST
def scan_delete(request, scan_id):
    scan = selectors.scans_of(user=request.user).filter(pk=scan_id).first()
    if scan is None:
        raise Http404("No such scan of yours")
    services.delete_scan(user=request.user, scan=scan)
    messages.success(request, f"Scan {scan.name!r} deleted.")
    return redirect("watchlist-list")


# --- What changed ----------------------------------------------------------------------------


def _changes_query(request) -> dict:
    params = {k: v for k, v in request.GET.items() if k in ChangesQuerySerializer().fields and v != ""}
    query = ChangesQuerySerializer(data=params)
    if not query.is_valid():
        return {"strategy": 1, "changed": False, "errors": query.errors}
    return dict(query.validated_data)


def _changes(request, query: dict):
    if query.get("watchlist") and not request.user.is_authenticated:
        query.pop("watchlist")
    try:
        return selectors.changes_for_query(query=query)
    except WatchlistNotFound as exc:
        raise Http404(exc.message) from None


@require_GET
def changes_page(request):
    query = _changes_query(request)
    changes = _changes(request, query)
    since = query.get("since") or selectors.default_since(now=timezone.now())
    rows = [{"change": c, "sparkline": sparkline.svg(c.history)} for c in changes]
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in CHANGE_KINDS}
    context = {
        "rows": rows,
        "counts": counts,
        "since": since,
        "query": query,
        "errors": query.get("errors"),
        "watchlists": selectors.watchlists_of(user=request.user),
        "strategies": list(strategies.STRATEGIES.values()),
        "csv_query": request.GET.urlencode(),
    }
    return render(request, "watchlists/changes.html", context)


class _Echo:
    def write(self, value):
        return value


CSV_COLUMNS = [
    "symbol", "strategy_id", "kind", "previous_verdict", "verdict", "new_strong",
    "previous_score", "score", "score_delta", "analysed_at_ist",
]  # fmt: skip


def _csv_row(change) -> list:
    analysed: datetime = timezone.localtime(change.analysed_at)
    return [
        change.symbol, change.strategy_id, change.kind, change.previous_verdict, change.verdict, change.new_strong,
        change.previous_score, change.score, change.score_delta, analysed.isoformat(timespec="seconds"),
    ]  # fmt: skip


@require_GET
def changes_csv(request):
    changes = _changes(request, _changes_query(request))
    writer = csv.writer(_Echo())
    lines = [writer.writerow(CSV_COLUMNS)] + [writer.writerow(_csv_row(c)) for c in changes]
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="changes.csv"'
    return response
