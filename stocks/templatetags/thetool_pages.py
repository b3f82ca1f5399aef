"""Template filters and tags shared by every server-rendered page (stocks and jobs)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django import template
from django.conf import settings
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

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


DEFAULT_TIME_FORMAT = "d M Y, H:i"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@register.filter
def ist(value, fmt=DEFAULT_TIME_FORMAT):
    """An aware datetime (or its ISO 8601 text, as in JSON-ready data) shown in Asia/Kolkata with an "IST"
    label; "" for None."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(IST)
    if fmt == DEFAULT_TIME_FORMAT:  # every table row shows one: strftime, not the locale-aware formatter
        return f"{local.day:02d} {MONTHS[local.month - 1]} {local.year}, {local.hour:02d}:{local.minute:02d} IST"
    return f"{formats.date_format(local, fmt)} IST"


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
    """A score with an explicit sign: 0.35 -> "+0.35"; one that rounds to zero has none (-0.001 -> "0.00",
    not "-0.00"); None -> "—"."""
    if value is None or value == "":
        return "—"
    text = f"{float(value):+.{int(places)}f}"
    return text[1:] if float(text) == 0 else text


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


@register.filter
def data_flags(result) -> str:
    """A result's data-quality flags as badges ("2 sessions behind"), each explained by its tooltip and
    for screen readers; "" when the data is clean (stocks.quality.quality_notes)."""
    notes = getattr(result, "data_notes", None) or ()
    return format_html_join(
        "",
        ' <span class="badge data-flag" data-flag="{}" title="{}">{}<span class="visually-hidden">: {}</span></span>',
        ((note.flag, note.detail, note.label, note.detail) for note in notes),
    )


@register.simple_tag
def stock_row(row, columns, strategy) -> str:
    """One <tr> of the stock table (stocks/_stock_table.html), for a page's `StockRow`.

    Built in Python, as Django's admin builds its change-list rows (`items_for_result`): through the
    template language a page of 50 rows cost ~2,300 variable lookups and ~1,000 {% if %}s, more
    than half of the page's server time. Values are rendered as a template would render them
    (`formats.localize`, `floatformat`) and escaped by `format_html`.
    """
    stock, result, quote = row.stock, row.result, row.quote
    cells = [
        format_html(
            '<td class="check"><input type="checkbox" name="symbols" value="{}" form="analyze-form" '
            'aria-label="Select {}"></td>',
            stock.yahoo_symbol,
            stock.symbol,
        ),
        format_html(
            '<td class="symbol"><a href="{}?strategy={}" hx-boost="false">{}</a></td>',
            stock_url(stock.symbol),
            strategy.id,
            stock.symbol,
        ),
        format_html('<td class="company">{}</td>', stock.name),
    ]
    if "close" in columns:
        shown = (
            format_html(
                '<span title="as of {}">{}</span>', formats.localize(quote.as_of), floatformat(quote.last_close, 2)
            )
            if quote
            else "—"
        )
        cells.append(format_html('<td class="num col-close">{}</td>', shown))
    if "change" in columns:
        change = quote.change_percent if quote else None
        direction = "" if not change else " up" if change > 0 else " down"
        cells.append(
            format_html(
                '<td class="num col-change{}">{}</td>',
                direction,
                "—" if change is None else f"{'+' if change > 0 else ''}{floatformat(change, 2)}%",
            )
        )
    if "volume" in columns:
        ratio = quote.volume_ratio if quote else None
        cells.append(
            format_html('<td class="num col-volume">{}</td>', "—" if ratio is None else f"{floatformat(ratio, 2)}×")
        )
    if "range52" in columns:
        shown = (
            f"{floatformat(quote.from_high_percent, 1)}% / +{floatformat(quote.from_low_percent, 1)}%" if quote else "—"
        )
        cells.append(format_html('<td class="num col-range52">{}</td>', shown))
    origin_title = ""
    if result and result.job_id:
        status = result.job.status
        origin_title = f"{strategy.name}, job {short_id(result.job_id)}" + (
            f" ({status})" if status != "completed" else ""
        )
    if "verdict" in columns:
        if result is None:
            shown = mark_safe('<span class="muted not-analysed">Not analysed</span>')
        else:
            badge = (
                format_html('<span class="verdict-badge {}">{}</span>', verdict_class(result.verdict), result.verdict)
                if result.verdict
                else format_html('<span class="verdict-badge error" title="{}">Failed</span>', result.error)
            )
            shown = (
                format_html(
                    '<a class="origin" href="{}" hx-boost="false" title="{}">{}</a>', row.job_url, origin_title, badge
                )
                if result.job_id
                else badge
            )
        demo = (
            mark_safe(' <span class="badge demo" title="Analysed on synthetic demo prices">DEMO</span>')
            if result is not None and result.is_demo
            else ""
        )
        flags = data_flags(result) if result is not None else ""
        cells.append(format_html('<td class="verdict"> {}{}{} </td>', shown, demo, flags))
    if "score" in columns:
        cells.append(format_html('<td class="num score">{}</td>', signed(result.score if result else None)))
    if "plan" in columns:
        if result is not None and result.verdict:
            levels = [
                "—" if value is None else formats.localize(value)
                for value in (result.entry, result.stop_loss, result.target)
            ]
            shown = format_html("{} / {} / {}", *levels)
        else:
            shown = "—"
        cells.append(format_html('<td class="num col-plan">{}</td>', shown))
    if "analysed" in columns:
        if result is None:
            shown = "—"
        elif result.job_id:
            shown = format_html(
                '<a class="origin" href="{}" hx-boost="false" title="{}">{}</a>',
                row.job_url,
                origin_title,
                ist(result.created_at),
            )
        else:
            shown = format_html(
                '<span title="{}, from the command line">{}</span>', strategy.name, ist(result.created_at)
            )
        cells.append(format_html('<td class="when">{}</td>', shown))
    return format_html('<tr data-symbol="{}">{}</tr>', stock.yahoo_symbol, mark_safe("".join(cells)))
