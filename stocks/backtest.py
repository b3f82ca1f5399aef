"""How each verdict did: the live scoring on every past day, the trade its plan describes, the statistics.

Pure: numpy only, no Django, no ORM, no settings. Steps for one symbol:

1. `score_history`: one pass of the indicator series (`indicators.compute_series`), the vote table
   of every day (`indicators.compute_vote_table`), scores and verdicts of every day
   (`analysis.score_table`, `analysis.verdict_codes`). Live analysis is the last column of the same
   functions. Day t reads bars 0..t only: TA-Lib's recursions run forwards and every window trails,
   so nothing after t reaches day t (no look-ahead). A day is scored when live analysis of bars 0..t
   would answer: at least MIN_BARS bars, every reading defined, no suspect price jump up to t.
2. `simulate_trades`: each scored day's plan (`analysis.plan_levels`, the grid rules of
   `plan_trade`) is entered at that day's close (the plan's entry). The next `max_holding` sessions
   are read in order; on the first session that reaches a level:
   - an open beyond the stop (a gap through it) fills at the open, not at the stop;
   - an open beyond the target fills at the open too (the gap is the trader's luck);
   - a session whose range covers both levels counts the stop first (daily bars cannot say which
     came first, so the answer assumes the worse);
   - otherwise the level that was reached fills at its price.
   With no level reached, the trade closes at the close of session t + max_holding (time exit).
   Trades that history ends before are "open" and left out of the statistics.
   Sell verdicts plan short trades (mirror levels); Hold plans the long trade the page shows.
3. `trade_costs`: Indian delivery costs on both legs (see `Costs`).
4. `summarise`: per verdict bucket: count, hit rate with a Wilson interval, mean and median price
   change after 5, 10 and 20 sessions, expectancy (mean net return per trade) with a bootstrap
   interval, the worst drawdown of a simple equity curve, and buy-and-hold of the same stocks over
   the same days; "too few signals" below `min_signals` trades.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from stocks import analysis, indicators, quality
from stocks.analysis import TradeParams
from stocks.bars import PriceHistory
from stocks.strategies import Strategy

HORIZONS = (5, 10, 20)  # sessions after the signal for the forward price change
DEFAULT_MAX_HOLDING = 20  # sessions before the time exit
DEFAULT_MIN_SIGNALS = 30  # fewer completed trades in a bucket: "too few signals"
BOOTSTRAP_RESAMPLES = 2_000
BOOTSTRAP_MAX_COUNT = 200  # above it the normal (CLT) interval of the mean is as good, and cheap
HISTOGRAM_EDGES = tuple(float(edge) for edge in range(-15, 16))  # % net return; the ends are open
WILSON_Z = 1.96  # 95% intervals

EXIT_STOP, EXIT_TARGET, EXIT_TIME, EXIT_OPEN = "stop", "target", "time", "open"
_EXIT_NAMES = (EXIT_STOP, EXIT_TARGET, EXIT_TIME, EXIT_OPEN)

PAST_RESULTS_NOTE = "Past results do not predict future ones."


@dataclass(frozen=True)
class Costs:
    """Indian equity delivery costs per trade, each a settable default (percentages of traded value).

    - brokerage: 0.03% of each order, at most INR 20 an order (the common discount-broker tariff;
      set 0 for a zero-brokerage delivery account);
    - STT: 0.1% on the buy and on the sell (delivery);
    - exchange transaction charge: NSE's 0.00297% on each side;
    - SEBI turnover fee: INR 10 per crore (0.0001%) on each side;
    - stamp duty: 0.015% on the buy side only;
    - GST: 18% on brokerage + exchange charge + SEBI fee.
    A short trade pays the same (sell first, buy back), as when borrowed through SLB or done in futures.
    """

    brokerage_percent: float = 0.03
    brokerage_cap: float = 20.0
    stt_percent: float = 0.1
    exchange_percent: float = 0.00297
    sebi_per_crore: float = 10.0
    stamp_duty_percent: float = 0.015
    gst_percent: float = 18.0

    def describe(self) -> str:
        return (
            f"brokerage {self.brokerage_percent:g}% (max INR {self.brokerage_cap:g}/order), STT {self.stt_percent:g}% "
            f"each side, exchange {self.exchange_percent:g}% each side, SEBI INR {self.sebi_per_crore:g}/crore, "
            f"stamp duty {self.stamp_duty_percent:g}% on the buy, GST {self.gst_percent:g}% on brokerage and fees"
        )


def trade_costs(*, buy_value: np.ndarray, sell_value: np.ndarray, costs: Costs) -> np.ndarray:
    """INR paid for a round trip of `buy_value` bought and `sell_value` sold (arrays or floats)."""
    buy_value, sell_value = np.asarray(buy_value, dtype=float), np.asarray(sell_value, dtype=float)
    brokerage = np.minimum(buy_value * costs.brokerage_percent / 100, costs.brokerage_cap) + np.minimum(
        sell_value * costs.brokerage_percent / 100, costs.brokerage_cap
    )
    turnover = buy_value + sell_value
    exchange = turnover * costs.exchange_percent / 100
    sebi = turnover * costs.sebi_per_crore / 1e7
    stt = turnover * costs.stt_percent / 100
    stamp = buy_value * costs.stamp_duty_percent / 100
    gst = (brokerage + exchange + sebi) * costs.gst_percent / 100
    return brokerage + exchange + sebi + stt + stamp + gst


@dataclass(frozen=True)
class ScoredHistory:
    """Every day's score and verdict for one strategy; `days` are the bar indices that were scored."""

    days: np.ndarray
    scores: np.ndarray
    verdict_codes: np.ndarray  # index into analysis.VERDICTS_BY_CODE


def score_days(history: PriceHistory) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """The strategy-independent part: (series, votes, confidences, scored day indices)."""
    series = indicators.compute_series(history)
    votes, confidences = indicators.compute_vote_table(series)
    scorable = indicators.defined_days(series) & ~_after_price_jump(history)
    return series, votes, confidences, np.flatnonzero(scorable)


def _after_price_jump(history: PriceHistory) -> np.ndarray:
    """True from the first suspect jump on: live analysis refuses any history that contains one."""
    close = history.close
    flagged = np.zeros(len(close), dtype=bool)
    if len(close) > 1:
        ratios = close[1:] / close[:-1]
        flagged[1:] = (ratios <= 1.0 - quality.MAX_ONE_DAY_DROP) | (ratios >= 1.0 + quality.MAX_ONE_DAY_RISE)
    return np.logical_or.accumulate(flagged)


def score_history(*, votes: np.ndarray, confidences: np.ndarray, days: np.ndarray, strategy: Strategy) -> ScoredHistory:
    scores = analysis.score_table(votes[:, days].astype(float), confidences[:, days], strategy)
    return ScoredHistory(days=days, scores=scores, verdict_codes=analysis.verdict_codes(scores))


@dataclass(frozen=True)
class Trades:
    """One row per scored day of one symbol and strategy (arrays of equal length)."""

    symbol: str
    dates: np.ndarray  # signal day (datetime64[D])
    scores: np.ndarray
    verdict_codes: np.ndarray
    entry: np.ndarray
    stop_loss: np.ndarray
    target: np.ndarray
    position_size: np.ndarray
    forward_returns: np.ndarray  # (days, len(HORIZONS)) price change in %, NaN past the end
    exit_dates: np.ndarray
    exit_price: np.ndarray
    exit_reason: np.ndarray  # index into _EXIT_NAMES
    net_pnl: np.ndarray  # INR after costs
    net_return: np.ndarray  # % of the position's entry value, after costs
    costs: np.ndarray  # INR

    @property
    def completed(self) -> np.ndarray:
        return (self.exit_reason != _EXIT_NAMES.index(EXIT_OPEN)) & (self.position_size > 0)


def backtest_symbol(
    *,
    history: PriceHistory,
    strategies: list[Strategy],
    params: TradeParams,
    costs: Costs,
    max_holding: int = DEFAULT_MAX_HOLDING,
) -> dict[int, Trades]:
    """Trades of every scored day of `history` for each strategy.

    What does not depend on the strategy (the indicator series and votes, the forward returns and
    the bars after each day) is computed once per symbol.
    """
    series, votes, confidences, days = score_days(history)
    window = SessionsAfter.of(history=history, days=days, max_holding=max_holding)
    forward = forward_returns(close=history.close, days=days)
    return {
        strategy.id: simulate_trades(
            history=history,
            scored=score_history(votes=votes, confidences=confidences, days=days, strategy=strategy),
            atr_values=series["atr"],
            strategy=strategy,
            params=params,
            costs=costs,
            max_holding=max_holding,
            window=window,
            forward=forward,
        )
        for strategy in strategies
    }


@dataclass(frozen=True)
class SessionsAfter:
    """The `max_holding` sessions after each day: bar indices (clipped), whether each exists, and their prices."""

    later: np.ndarray  # (days, max_holding) bar index
    inside: np.ndarray  # the bar exists (before the end of the history)
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray

    @classmethod
    def of(cls, *, history: PriceHistory, days: np.ndarray, max_holding: int) -> "SessionsAfter":
        n = len(history)
        later = days[:, None] + np.arange(1, max_holding + 1)[None, :]
        at = np.minimum(later, n - 1)
        return cls(later=later, inside=later < n, open=history.open[at], high=history.high[at], low=history.low[at])

    def rows(self, keep: np.ndarray) -> "SessionsAfter":
        return SessionsAfter(*(values[keep] for values in (self.later, self.inside, self.open, self.high, self.low)))


def simulate_trades(
    *,
    history: PriceHistory,
    scored: ScoredHistory,
    atr_values: np.ndarray,
    strategy: Strategy,
    params: TradeParams,
    costs: Costs,
    max_holding: int,
    window: SessionsAfter | None = None,
    forward: np.ndarray | None = None,
) -> Trades:
    """The plan of each scored day, walked forward over the next `max_holding` sessions (module docstring).

    `window` and `forward` (for `scored.days`) may be passed in when several strategies share them.
    """
    days = scored.days
    directions = np.where(scored.verdict_codes >= 3, -1, 1)
    levels = analysis.plan_levels(
        entry_prices=history.close[days],
        atr_values=atr_values[days],
        directions=directions,
        strategy=strategy,
        params=params,
    )
    placeable = np.minimum(np.minimum(levels.entry, levels.stop_loss), levels.target) > 0
    keep = np.flatnonzero(placeable)  # live analysis refuses a plan it cannot place: no verdict that day
    window = (window or SessionsAfter.of(history=history, days=days, max_holding=max_holding)).rows(keep)
    forward = (forward if forward is not None else forward_returns(close=history.close, days=days))[keep]
    days, directions = days[keep], directions[keep]
    entry, stop, target = levels.entry[keep], levels.stop_loss[keep], levels.target[keep]
    size = levels.position_size[keep]
    exit_index, exit_price, reason = _walk_forward(
        history=history,
        days=days,
        long=directions == 1,
        stop=stop,
        target=target,
        window=window,
        max_holding=max_holding,
    )
    moved = directions * (exit_price - entry) * size
    entry_value, exit_value = entry * size, exit_price * size
    buy_value = np.where(directions == 1, entry_value, exit_value)
    sell_value = np.where(directions == 1, exit_value, entry_value)
    paid = trade_costs(buy_value=buy_value, sell_value=sell_value, costs=costs)
    with np.errstate(divide="ignore", invalid="ignore"):
        net_return = np.where(entry_value > 0, (moved - paid) / entry_value * 100, np.nan)
    dates = history.dates.astype("datetime64[D]")
    return Trades(
        symbol=history.symbol,
        dates=dates[days],
        scores=scored.scores[keep],
        verdict_codes=scored.verdict_codes[keep],
        entry=entry,
        stop_loss=stop,
        target=target,
        position_size=size,
        forward_returns=forward,
        exit_dates=dates[np.minimum(exit_index, len(dates) - 1)],
        exit_price=exit_price,
        exit_reason=reason,
        net_pnl=moved - paid,
        net_return=net_return,
        costs=paid,
    )


def forward_returns(*, close: np.ndarray, days: np.ndarray, horizons: tuple[int, ...] = HORIZONS) -> np.ndarray:
    """Price change in % from the close of each day to the close `h` sessions later, NaN past the end."""
    out = np.full((len(days), len(horizons)), np.nan)
    for column, horizon in enumerate(horizons):
        later = days + horizon
        inside = later < len(close)
        out[inside, column] = (close[later[inside]] / close[days[inside]] - 1.0) * 100.0
    return out


def _walk_forward(
    *,
    history: PriceHistory,
    days: np.ndarray,
    long: np.ndarray,
    stop: np.ndarray,
    target: np.ndarray,
    window: SessionsAfter,
    max_holding: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(exit bar index, exit price, exit reason) for each trade; see the module docstring for the rules.

    A long trade's stop is hit by a low at or below it and its target by a high at or above it; a
    short trade's the other way round.
    """
    n = len(history)
    is_long = long[:, None]
    stop_level, target_level = stop[:, None], target[:, None]
    stop_hit = np.where(is_long, window.low <= stop_level, window.high >= stop_level)
    target_hit = np.where(is_long, window.high >= target_level, window.low <= target_level)
    event = (stop_hit | target_hit) & window.inside
    reached = event.any(axis=1)
    first = event.argmax(axis=1)
    rows = np.arange(len(days))
    first_open = window.open[rows, first]
    gap_stop = np.where(long, first_open <= stop, first_open >= stop)  # gapped through the stop
    gap_target = np.where(long, first_open >= target, first_open <= target)  # gapped through the target
    stop_first = stop_hit[rows, first]  # a session covering both levels counts the stop first
    level_price = np.where(gap_stop | gap_target, first_open, np.where(stop_first, stop, target))
    level_reason = np.where(gap_stop, 0, np.where(gap_target, 1, np.where(stop_first, 0, 1)))
    time_index = days + max_holding
    complete = time_index < n
    exit_index = np.where(reached, window.later[rows, first], np.where(complete, time_index, n - 1))
    exit_price = np.where(reached, level_price, history.close[np.minimum(time_index, n - 1)])
    reason = np.where(reached, level_reason, np.where(complete, 2, 3))
    return exit_index, exit_price, reason


# --- statistics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BucketStats:
    verdict: str
    signals: int  # scored days with this verdict
    trades: int  # completed, sized trades
    too_few_signals: bool
    hit_rate: float | None  # % of trades with a net gain
    hit_rate_ci: tuple[float, float] | None  # Wilson 95%
    forward_mean: dict = field(default_factory=dict)  # {"5": %, "10": %, "20": %}
    forward_median: dict = field(default_factory=dict)
    expectancy_percent: float | None = None  # mean net return per trade, %
    expectancy_ci: tuple[float, float] | None = None  # bootstrap 95%
    expectancy_inr: float | None = None  # mean net P&L per trade
    median_return_percent: float | None = None
    max_drawdown_percent: float | None = None
    total_costs_inr: float = 0.0
    exits: dict = field(default_factory=dict)  # reason -> count
    equity_curve: list = field(default_factory=list)  # [[ISO exit date, equity INR], ...]
    return_histogram: list = field(default_factory=list)  # trades per HISTOGRAM_EDGES bin, open ends

    def to_dict(self) -> dict:
        return {key: (list(value) if isinstance(value, tuple) else value) for key, value in self.__dict__.items()}


def summarise(
    *, trades: list[Trades], capital: float, min_signals: int = DEFAULT_MIN_SIGNALS, seed: int = 0
) -> list[BucketStats]:
    """One BucketStats per verdict (Strong Buy .. Strong Sell) over the trades of every symbol."""
    merged = _merge(trades)
    return [
        _bucket_stats(
            verdict=verdict,
            rows=merged,
            mask=merged["verdict_codes"] == code,
            capital=capital,
            min_signals=min_signals,
            seed=seed,
        )
        for code, verdict in enumerate(analysis.VERDICTS_BY_CODE)
    ]


def _merge(trades: list[Trades]) -> dict[str, np.ndarray]:
    names = ("verdict_codes", "forward_returns", "exit_dates", "exit_reason", "net_pnl", "net_return", "costs")
    merged = {}
    for name in names:
        parts = [getattr(run, name) for run in trades]
        merged[name] = np.concatenate(parts) if parts else np.array([])
    parts = [run.completed for run in trades]
    merged["completed"] = np.concatenate(parts) if parts else np.array([], dtype=bool)
    if not trades:
        merged["forward_returns"] = np.empty((0, len(HORIZONS)))
    return merged


def _bucket_stats(
    *, verdict: str, rows: dict, mask: np.ndarray, capital: float, min_signals: int, seed: int
) -> BucketStats:
    done = mask & rows["completed"]
    returns = rows["net_return"][done]
    pnl = rows["net_pnl"][done]
    wins = int((pnl > 0).sum())
    count = len(returns)
    forward = rows["forward_returns"][mask]
    order = np.argsort(rows["exit_dates"][done], kind="stable")
    equity = capital + np.cumsum(pnl[order])
    exits = rows["exit_reason"][mask]
    return BucketStats(
        verdict=verdict,
        signals=int(mask.sum()),
        trades=count,
        too_few_signals=count < min_signals,
        hit_rate=_round(wins / count * 100) if count else None,
        hit_rate_ci=_rounded_pair(wilson_interval(wins=wins, total=count)) if count else None,
        forward_mean=_per_horizon(forward, np.nanmean),
        forward_median=_per_horizon(forward, np.nanmedian),
        expectancy_percent=_round(float(returns.mean())) if count else None,
        expectancy_ci=_rounded_pair(mean_interval(returns, seed=seed)) if count > 1 else None,
        expectancy_inr=_round(float(pnl.mean())) if count else None,
        median_return_percent=_round(float(np.median(returns))) if count else None,
        max_drawdown_percent=_round(max_drawdown_percent(np.concatenate(([capital], equity)))) if count else None,
        total_costs_inr=_round(float(rows["costs"][done].sum())),
        exits={name: int((exits == index).sum()) for index, name in enumerate(_EXIT_NAMES)},
        equity_curve=_thinned_curve(rows["exit_dates"][done][order], equity),
        return_histogram=return_histogram(returns),
    )


def _per_horizon(forward: np.ndarray, reducer) -> dict:
    out = {}
    for column, horizon in enumerate(HORIZONS):
        values = forward[:, column] if len(forward) else np.array([])
        values = values[np.isfinite(values)]
        out[str(horizon)] = _round(float(reducer(values))) if len(values) else None
    return out


def _thinned_curve(dates: np.ndarray, equity: np.ndarray, *, points: int = 400) -> list:
    """At most `points` [date, equity] pairs (every k-th trade plus the last) so a page stays light."""
    if not len(equity):
        return []
    step = max(1, math.ceil(len(equity) / points))
    picks = list(range(0, len(equity), step))
    if picks[-1] != len(equity) - 1:
        picks.append(len(equity) - 1)
    return [[str(dates[index]), _round(float(equity[index]))] for index in picks]


def wilson_interval(*, wins: int, total: int, z: float = WILSON_Z) -> tuple[float, float]:
    """Wilson score interval for a proportion, in %: honest for small counts and rates near 0 or 100."""
    if total == 0:
        return (0.0, 100.0)
    p = wins / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half) * 100, min(1.0, centre + half) * 100)


def return_histogram(returns: np.ndarray) -> list[int]:
    """Trades per bin: below -15%, each 1% from -15% to +15%, and +15% or more (len(edges) + 1 bins)."""
    bins = np.searchsorted(np.array(HISTOGRAM_EDGES), returns, side="right")
    return np.bincount(bins, minlength=len(HISTOGRAM_EDGES) + 1).tolist()


def mean_interval(values: np.ndarray, *, seed: int = 0) -> tuple[float, float]:
    """95% interval of the mean: bootstrap for small counts (no normality assumed), else mean +/- 1.96 SE."""
    values = np.asarray(values, dtype=float)
    if len(values) <= BOOTSTRAP_MAX_COUNT:
        return bootstrap_mean_interval(values, seed=seed)
    half = WILSON_Z * float(values.std(ddof=1)) / math.sqrt(len(values))
    return (float(values.mean()) - half, float(values.mean()) + half)


def bootstrap_mean_interval(
    values: np.ndarray, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean (a fixed seed: the same data gives the same answer)."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    return (float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5)))


def max_drawdown_percent(equity: np.ndarray) -> float:
    """Largest fall from a running peak, as % of that peak (0 for a curve that never falls)."""
    peaks = np.maximum.accumulate(equity)
    return float(((peaks - equity) / peaks).max() * 100) if len(equity) else 0.0


def buy_and_hold_percent(*, histories: list[PriceHistory], trades: list[Trades]) -> float | None:
    """Equal-weight buy-and-hold of the same stocks from their first to their last scored day, in %."""
    changes = []
    by_symbol = {history.symbol: history for history in histories}
    for run in trades:
        if not len(run.dates):
            continue
        history = by_symbol[run.symbol]
        dates = history.dates.astype("datetime64[D]")
        first = int(np.searchsorted(dates, run.dates[0]))
        last = int(np.searchsorted(dates, run.dates[-1]))
        changes.append((history.close[last] / history.close[first] - 1.0) * 100.0)
    return _round(float(np.mean(changes))) if changes else None


def recent_signals(trades: Trades, *, last_n: int = 10) -> list[dict]:
    """The last `last_n` Buy/Sell-side signals (not Hold) with their outcome, newest first."""
    picks = np.flatnonzero(trades.verdict_codes != 2)[-last_n:][::-1]
    return [
        {
            "date": str(trades.dates[index]),
            "verdict": analysis.VERDICTS_BY_CODE[int(trades.verdict_codes[index])],
            "score": float(trades.scores[index]),
            "entry": float(trades.entry[index]),
            "stop_loss": float(trades.stop_loss[index]),
            "target": float(trades.target[index]),
            "exit_date": str(trades.exit_dates[index]),
            "exit_price": _round(float(trades.exit_price[index])),
            "exit_reason": _EXIT_NAMES[int(trades.exit_reason[index])],
            "net_return_percent": _round(float(trades.net_return[index])),
        }
        for index in picks
    ]


def _round(value: float | None, places: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, places)


def _rounded_pair(pair: tuple[float, float]) -> tuple[float, float]:
    return (_round(pair[0]), _round(pair[1]))


# --- a whole backtest ---------------------------------------------------------------------------


def select_rows(trades: Trades, mask: np.ndarray) -> Trades:
    """The same trades restricted to the rows where `mask` is True."""
    values = {name: getattr(trades, name) for name in trades.__dataclass_fields__}
    return Trades(**{name: value if name == "symbol" else value[mask] for name, value in values.items()})


def within_period(trades: Trades, *, start: np.datetime64 | None, end: np.datetime64 | None) -> Trades:
    """Signals from `start` to `end` (inclusive; None: open). Indicators still warm up on earlier bars."""
    mask = np.ones(len(trades.dates), dtype=bool)
    if start is not None:
        mask &= trades.dates >= start
    if end is not None:
        mask &= trades.dates <= end
    return select_rows(trades, mask)


@dataclass(frozen=True)
class SymbolOutcome:
    symbol: str
    scored_days: int
    first_day: str | None
    last_day: str | None
    buy_and_hold_percent: float | None
    recent_signals: list
    error: str = ""


@dataclass(frozen=True)
class BacktestReport:
    """Everything a backtest of one strategy says, with what it rests on (period, source, costs, counts)."""

    strategy_id: int
    strategy_name: str
    source: str
    synthetic: bool  # demo data: every page and table says so
    costs: Costs
    max_holding: int
    min_signals: int
    first_day: str | None
    last_day: str | None
    signals: int  # scored days in the period, all verdicts
    buy_and_hold_percent: float | None
    buckets: list[BucketStats]
    symbols: list[SymbolOutcome]
    note: str = PAST_RESULTS_NOTE


def build_report(
    *,
    histories: list[PriceHistory],
    strategy: Strategy,
    params: TradeParams,
    costs: Costs,
    source: str,
    start: np.datetime64 | None = None,
    end: np.datetime64 | None = None,
    max_holding: int = DEFAULT_MAX_HOLDING,
    min_signals: int = DEFAULT_MIN_SIGNALS,
    recent: int = 10,
) -> BacktestReport:
    """Backtest `strategy` over `histories` (one symbol each) and summarise it per verdict bucket."""
    runs = []
    outcomes = []
    for history in histories:
        trades = backtest_symbol(
            history=history, strategies=[strategy], params=params, costs=costs, max_holding=max_holding
        )[strategy.id]
        trades = within_period(trades, start=start, end=end)
        runs.append(trades)
        outcomes.append(
            SymbolOutcome(
                symbol=history.symbol,
                scored_days=len(trades.dates),
                first_day=str(trades.dates[0]) if len(trades.dates) else None,
                last_day=str(trades.dates[-1]) if len(trades.dates) else None,
                buy_and_hold_percent=buy_and_hold_percent(histories=[history], trades=[trades]),
                recent_signals=recent_signals(trades, last_n=recent),
            )
        )
    days = np.concatenate([run.dates for run in runs]) if runs else np.array([], dtype="datetime64[D]")
    return BacktestReport(
        strategy_id=strategy.id,
        strategy_name=strategy.name,
        source=source,
        synthetic=source == "demo",
        costs=costs,
        max_holding=max_holding,
        min_signals=min_signals,
        first_day=str(days.min()) if len(days) else None,
        last_day=str(days.max()) if len(days) else None,
        signals=int(len(days)),
        buy_and_hold_percent=buy_and_hold_percent(histories=histories, trades=runs),
        buckets=summarise(trades=runs, capital=params.capital, min_signals=min_signals),
        symbols=outcomes,
    )


def format_table(report: BacktestReport) -> str:
    """A plain-text table per verdict bucket, with its labels (for the command line)."""
    lines = [
        f"Backtest of strategy {report.strategy_id} ({report.strategy_name}) on {len(report.symbols)} symbol(s), "
        f"data source {report.source}" + (" (SYNTHETIC demo data, not real prices)" if report.synthetic else ""),
        f"Period {report.first_day or '-'} .. {report.last_day or '-'}, {report.signals} scored days; "
        f"entry at the signal day's close, time exit after {report.max_holding} sessions",
        f"Costs: {report.costs.describe()}",
        f"Buy-and-hold of the same stocks over the same days: {_percent_text(report.buy_and_hold_percent)}",
        "",
        f"{'verdict':<12}{'signals':>8}{'trades':>8}{'hit %':>8}{'hit 95% CI':>16}{'fwd5 %':>9}{'fwd10 %':>9}"
        f"{'fwd20 %':>9}{'exp %':>8}{'exp 95% CI':>18}{'max DD %':>10}  note",
    ]
    for bucket in report.buckets:
        lines.append(
            f"{bucket.verdict:<12}{bucket.signals:>8}{bucket.trades:>8}{_number(bucket.hit_rate):>8}"
            f"{_interval(bucket.hit_rate_ci):>16}{_number(bucket.forward_mean['5']):>9}"
            f"{_number(bucket.forward_mean['10']):>9}{_number(bucket.forward_mean['20']):>9}"
            f"{_number(bucket.expectancy_percent):>8}{_interval(bucket.expectancy_ci):>18}"
            f"{_number(bucket.max_drawdown_percent):>10}  {'too few signals' if bucket.too_few_signals else ''}"
        )
    lines += ["", report.note]
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _interval(pair) -> str:
    return "-" if pair is None else f"{pair[0]:.1f}..{pair[1]:.1f}"


def _percent_text(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}%"
