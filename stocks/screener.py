"""The screener's filters: read from a query string, validated, and applied in SQL.

Every filter lives in the URL (`/?verdict=Buy&rsi_max=40&above_ema200=1&index=NIFTY 50`), so a
screen is shareable and a saved screen is just its query string. Unknown or malformed values are
ignored on pages (a hand-edited link still shows a table) and reported by `parse_filters(strict=True)`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from stocks.models import AnalysisResult, IndexMembership, Stock, Verdict
from thetool.exceptions import ApplicationError

SIGNS = ("positive", "negative")
BOLLINGER_POSITIONS = ("below", "lower", "middle", "upper", "above")
# %B bands: below the lower band, lower half, near the middle, upper half, above the upper band.
BOLLINGER_RANGES = {
    "below": (None, 0.0),
    "lower": (0.0, 0.4),
    "middle": (0.4, 0.6),
    "upper": (0.6, 1.0),
    "above": (1.0, None),
}


class InvalidFilter(ApplicationError):
    code = "invalid_filter"


@dataclass(frozen=True)
class ScreenFilters:
    verdict: str = ""
    score_min: float | None = None
    score_max: float | None = None
    rsi_min: float | None = None
    rsi_max: float | None = None
    adx_min: float | None = None
    above_ema50: bool | None = None  # True: close above EMA50; False: below
    above_ema200: bool | None = None
    macd: str = ""  # "positive" / "negative" histogram
    cmf: str = ""
    bollinger: str = ""
    fresh_days: int | None = None  # analysed within this many days
    index: str = ""
    industry: str = ""

    def is_empty(self) -> bool:
        return self == ScreenFilters()

    def as_query(self) -> dict[str, str]:
        """The non-default filters as query parameters (for links and saved screens)."""
        out = {}
        for name, value in asdict(self).items():
            if value in (None, ""):
                continue
            out[name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out


_NUMBERS = {"score_min", "score_max", "rsi_min", "rsi_max", "adx_min"}
_BOOLS = {"above_ema50", "above_ema200"}
_CHOICES = {"macd": SIGNS, "cmf": SIGNS, "bollinger": BOLLINGER_POSITIONS}


def _parse_one(name: str, raw: str):
    if name in _NUMBERS:
        value = float(raw)
        if value != value or abs(value) > 1e6:
            raise ValueError(raw)
        return value
    if name in _BOOLS:
        if raw not in ("1", "0", "true", "false"):
            raise ValueError(raw)
        return raw in ("1", "true")
    if name in _CHOICES:
        if raw not in _CHOICES[name]:
            raise ValueError(raw)
        return raw
    if name == "fresh_days":
        value = int(raw)
        if not 0 < value <= 3650:
            raise ValueError(raw)
        return value
    if name == "verdict":
        if raw not in Verdict.values:
            raise ValueError(raw)
        return raw
    return raw.strip()[:100]  # index, industry


def parse_filters(params, *, strict: bool = False) -> ScreenFilters:
    """ScreenFilters from a QueryDict or dict; bad values are dropped, or raise InvalidFilter when strict."""
    values, problems = {}, {}
    for field in fields(ScreenFilters):
        raw = params.get(field.name, "")
        raw = raw.strip() if isinstance(raw, str) else raw
        if raw in ("", None):
            continue
        try:
            values[field.name] = _parse_one(field.name, str(raw))
        except (TypeError, ValueError):
            problems[field.name] = f"not a valid value: {str(raw)[:50]!r}"
    if problems and strict:
        raise InvalidFilter("Invalid screener filters", details=problems)
    return ScreenFilters(**values)


def indicator_values_query(*, strategy_id: int) -> QuerySet[AnalysisResult]:
    """Results of a strategy annotated with the indicator values the screener filters on.

    The one place that knows where those values are stored: the result's typed columns
    (stocks.compact.screener_columns), so every filter is plain indexed-row SQL.
    """
    return AnalysisResult.objects.filter(strategy_id=strategy_id).annotate(
        ind_macd_hist=F("macd_hist"),
        ind_adx=F("adx"),
        ind_ema50=F("ema50"),
        ind_ema200=F("ema200"),
        ind_close=F("close"),
        ind_rsi=F("rsi"),
        ind_percent_b=F("bollinger_b"),
        ind_cmf=F("cmf"),
    )


def _range(q: Q, field: str, low, high) -> Q:
    if low is not None:
        q &= Q(**{f"{field}__gte": low})
    if high is not None:
        q &= Q(**{f"{field}__lte": high})
    return q


def _result_conditions(filters: ScreenFilters) -> Q:
    q = Q()
    if filters.verdict:
        q &= Q(verdict=filters.verdict)
    q = _range(q, "score", filters.score_min, filters.score_max)
    q = _range(q, "ind_rsi", filters.rsi_min, filters.rsi_max)
    q = _range(q, "ind_adx", filters.adx_min, None)
    for flag, field in ((filters.above_ema50, "ind_ema50"), (filters.above_ema200, "ind_ema200")):
        if flag is not None:
            q &= Q(ind_close__gt=F(field)) if flag else Q(ind_close__lt=F(field))
    for sign, field in ((filters.macd, "ind_macd_hist"), (filters.cmf, "ind_cmf")):
        if sign:
            q &= Q(**{f"{field}__gt": 0}) if sign == "positive" else Q(**{f"{field}__lt": 0})
    if filters.bollinger:
        low, high = BOLLINGER_RANGES[filters.bollinger]
        q = _range(q, "ind_percent_b", low, high)
    if filters.fresh_days:
        q &= Q(created_at__gte=timezone.now() - timedelta(days=filters.fresh_days))
    return q


def _needs_results(filters: ScreenFilters) -> bool:
    return not ScreenFilters(index=filters.index, industry=filters.industry) == filters


def apply_filters(stocks: QuerySet[Stock], *, filters: ScreenFilters, strategy_id: int) -> QuerySet[Stock]:
    """Narrow stocks annotated with `latest_result_id` (stocks.selectors) to those passing every filter.

    Filters on the analysis test the stock's latest result under `strategy_id` only, so a stale
    verdict of another strategy never lets a stock through.
    """
    if filters.index:
        members = IndexMembership.objects.filter(index_name=filters.index.upper()).values("stock_id")
        stocks = stocks.filter(pk__in=members)
    if filters.industry:
        stocks = stocks.filter(industry=filters.industry)
    if _needs_results(filters):
        # Test only the latest results (LatestResult's pointers), not every stored result of the
        # strategy, on the typed columns. The matching symbols are read once here, so the
        # paginator's COUNT and the page's SELECT do not both repeat that work.
        latest = indicator_values_query(strategy_id=strategy_id).filter(pk__in=stocks.values("latest_result_id"))
        # No ORDER BY: a set of symbols needs no sort (the model's default ordering would add one).
        passing = latest.filter(_result_conditions(filters)).order_by().values_list("symbol", flat=True)
        stocks = stocks.filter(yahoo_symbol__in=list(passing))
    return stocks


def index_names() -> list[str]:
    return list(IndexMembership.objects.values_list("index_name", flat=True).distinct().order_by("index_name"))


def industries() -> list[str]:
    return list(Stock.objects.exclude(industry="").values_list("industry", flat=True).distinct().order_by("industry"))
