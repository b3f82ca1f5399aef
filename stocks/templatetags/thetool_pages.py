"""Template filters and tags shared by every server-rendered page (stocks and jobs)."""

from zoneinfo import ZoneInfo

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils import formats

register = template.Library()

# Traders read Indian market times; the label says so even if TIME_ZONE is ever changed.
IST = ZoneInfo("Asia/Kolkata")

VERDICT_CLASSES = {
    "Strong Buy": "strong-buy",
    "Buy": "buy",
    "Hold": "hold",
    "Sell": "sell",
    "Strong Sell": "strong-sell",
}


@register.filter
def ist(value, fmt="d M Y, H:i"):
    """An aware datetime shown in Asia/Kolkata with an "IST" label; "" for None."""
    if not value:
        return ""
    return f"{formats.date_format(value.astimezone(IST), fmt)} IST"


@register.filter
def verdict_class(verdict) -> str:
    """CSS modifier for a verdict badge ("Strong Buy" -> "strong-buy"); "none" when there is none."""
    return VERDICT_CLASSES.get(verdict or "", "none")


@register.filter
def vote_label(vote) -> str:
    return {1: "Buy", -1: "Sell", 0: "Neutral"}.get(vote, "—")


@register.filter
def percent(value, places=0) -> str:
    """0.6 -> "60%" (confidence values are 0..1)."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(places)}f}%"


@register.filter
def signed(value, places=2) -> str:
    """A score with an explicit sign: 0.35 -> "+0.35"; None -> "—"."""
    if value is None or value == "":
        return "—"
    return f"{float(value):+.{int(places)}f}"


@register.filter
def short_id(job_id) -> str:
    return str(job_id)[:8]


@register.filter
def bare_symbol(symbol: str) -> str:
    """The NSE symbol people say: "RELIANCE.NS" -> "RELIANCE"."""
    return symbol[:-3] if symbol and symbol.endswith(".NS") else symbol


@register.simple_tag
def stock_url(symbol: str) -> str:
    """Link to a stock page with `&` percent-encoded ("M&M" -> /stocks/M%26M/).

    `reverse()` leaves `&` as is (legal in a path), but copied links and some proxies treat it
    as a query separator; Django decodes %26 before matching, so the route sees "M&M".
    """
    return reverse("stock-detail", args=[bare_symbol(symbol)]).replace("&", "%26")


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with `changes` applied ("" values removed), e.g. for sort links.

    Changing anything but the page sends the reader back to page 1.
    """
    params = context["request"].GET.copy()
    if "page" not in changes:
        params.pop("page", None)
    for key, value in changes.items():
        if value in ("", None):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag
def demo_mode() -> bool:
    """True when this process analyses synthetic demo prices (THETOOL_DATA_SOURCE=demo)."""
    return getattr(settings, "THETOOL_DATA_SOURCE", "") == "demo"


@register.filter
def get_item(mapping, key):
    """mapping[key] or None (templates cannot index a dict by a variable)."""
    return mapping.get(key) if mapping else None


@register.filter
def duration(start, end) -> str:
    """Time between two datetimes, readable at any scale: "0.8 s", "42 s", "3 min 5 s", "1 h 2 min"."""
    if not start or not end:
        return ""
    seconds = max((end - start).total_seconds(), 0)
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@register.simple_tag(takes_context=True)
def aria_sort(context, key: str, desc: str) -> str:
    """aria-sort for a sortable column's <th> (the header, not its link, carries the sort state)."""
    sort = context.get("sort")
    if sort == key:
        return "ascending"
    if sort == desc:
        return "descending"
    return "none"
