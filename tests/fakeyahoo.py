"""A stand-in for the parts of Yahoo Finance that yfinance 1.7.0 uses for daily history, on 127.0.0.1.

Count chart requests (`data_requests`), not cookie fetches: yfinance keeps Yahoo's cookie only for a
host named like Yahoo, so against this fake it asks fc.yahoo.com again before each request.

What yfinance sends (see the yfinance notes in the README): per process one cookie fetch
(`https://fc.yahoo.com`, answered with an A3 cookie) and one crumb (`/v1/test/getcrumb`); per ticker a
timezone probe (`/v8/finance/chart/<SYM>?range=1d`, skipped once yfinance's tz cache knows the ticker)
and the history (`/v8/finance/chart/<SYM>?period1=..&period2=..&interval=1d&events=...`).

`rewriting_session(fake)` gives a curl_cffi session that sends every https://<yahoo host>/<path> to
this server instead; the `point_yfinance_at` context manager makes yfinance adopt it. Nothing here
touches the internet.

Switches (attributes, changeable while running): `latency` seconds per request, `rate_limit_per_minute`
(HTTP 429 past N chart requests in a rolling minute), `delisted` symbols (HTTP 404, "No data found,
symbol may be delisted"), `error_rate` (seeded random HTTP 500s), `hanging` symbols (never answer until
the server stops), `bar_appears_at` (an IST time of day: today's bar is missing before it, as when
Yahoo publishes a session's bar late) and `close_final_at` (an IST time: before it today's bar has a
provisional close, its open, as before the close or while Yahoo settles it). Bars are deterministic
per symbol (seeded), one per NSE session; a symbol can be served from a yfinance-style CSV instead
(`csv_files`). `counts` tells what was asked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pandas as pd
from curl_cffi import CurlOpt
from curl_cffi import requests as curl_requests

from stocks.calendar import IST, NSECalendar

FIRST_SESSION = date(2018, 1, 1)
LAST_SESSION = date(2031, 12, 31)
OPEN_OFFSET = timedelta(hours=9, minutes=15)  # Yahoo stamps an NSE daily bar at the session's open (IST)
GMT_OFFSET = 19800  # Asia/Kolkata, seconds east of UTC
DELISTED_TEXT = "No data found, symbol may be delisted"


@dataclass(frozen=True)
class Bars:
    """One symbol's daily bars, unadjusted (adjclose equals close: the fake has no corporate actions)."""

    dates: np.ndarray  # datetime64[D]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def until(self, last: date) -> Bars:
        keep = self.dates <= np.datetime64(last, "D")
        return Bars(*(values[keep] for values in (self.dates, self.open, self.high, self.low, self.close, self.volume)))


@lru_cache(maxsize=1)
def _all_sessions() -> np.ndarray:
    return np.array(NSECalendar().sessions(FIRST_SESSION, LAST_SESSION), dtype="datetime64[D]")


@lru_cache(maxsize=4096)
def generated_bars(symbol: str) -> Bars:
    """Deterministic bars for every NSE session 2018-2031 (the same in every process)."""
    seed = int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    dates = _all_sessions()
    n = len(dates)
    close = np.round(rng.uniform(50, 3000) * np.exp(np.cumsum(rng.normal(0.0003, 0.015, n))), 2)
    open_ = np.round(np.concatenate([[close[0]], close[:-1]]) * (1 + rng.normal(0, 0.004, n)), 2)
    high = np.round(np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n)), 2)
    low = np.round(np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n)), 2)
    volume = rng.integers(10_000, 5_000_000, n).astype(np.float64)
    return Bars(dates, open_, high, low, close, volume)


def csv_bars(path: Path) -> Bars:
    """Bars from a yfinance export (Date like `2025-08-28 00:00:00+05:30`, Open, High, Low, Close, Volume)."""
    frame = pd.read_csv(path, dtype={"Date": str})
    dates = np.array(frame["Date"].str.slice(0, 10), dtype="datetime64[D]")
    columns = (frame[name].to_numpy(dtype=np.float64) for name in ("Open", "High", "Low", "Close", "Volume"))
    return Bars(dates, *columns)


def _stamp(day: np.datetime64) -> int:
    """The bar's Unix time: the session's open in IST, as Yahoo sends it."""
    moment = datetime.fromisoformat(str(day)).replace(tzinfo=IST) + OPEN_OFFSET
    return int(moment.timestamp())


class FakeYahoo:
    """A threaded HTTP server; use as a context manager (`with FakeYahoo() as fake:`)."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rate_limit_per_minute: int | None = None,
        rate_window_seconds: float = 60.0,
        delisted: set[str] | frozenset[str] = frozenset(),
        error_rate: float = 0.0,
        hanging: set[str] | frozenset[str] = frozenset(),
        csv_files: dict[str, Path] | None = None,
        bar_appears_at: dt_time | None = None,
        close_final_at: dt_time | None = None,
        seed: int = 0,
    ):
        self.latency = latency
        self.rate_limit_per_minute = rate_limit_per_minute
        self.rate_window_seconds = rate_window_seconds  # Yahoo's is a minute; tests shorten it
        self.in_flight = 0
        self.max_in_flight = 0  # the most chart requests answered at once
        self.delisted = set(delisted)
        self.error_rate = error_rate
        self.hanging = set(hanging)
        self.csv_files = dict(csv_files or {})
        self.bar_appears_at = bar_appears_at
        self.close_final_at = close_final_at
        self.counts: Counter = Counter()  # "cookie", "crumb", "tz", "history", "429", "404", "500", "other"
        self.history_requests: Counter = Counter()  # per symbol
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._random = random.Random(seed)
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeYahoo:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-yahoo", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases the hanging requests
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeYahoo:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.history_requests.clear()

    @property
    def data_requests(self) -> int:
        """Chart requests (timezone probes plus histories): what Yahoo rate-limits."""
        return self.counts["tz"] + self.counts["history"]

    def bars(self, symbol: str, *, until: date | None = None) -> Bars:
        """The bars this fake serves for `symbol` (through `until`, default today in IST)."""
        full = csv_bars(self.csv_files[symbol]) if symbol in self.csv_files else generated_bars(symbol)
        return full.until(until or self.last_bar_day(time.time()))

    @staticmethod
    def last_bar_day(now: float) -> date:
        """Yahoo has a bar for today from the session's open (provisional until the close)."""
        local = datetime.fromtimestamp(now, UTC).astimezone(IST)
        opened = local.hour * 60 + local.minute >= 9 * 60 + 15
        return local.date() if opened else local.date() - timedelta(days=1)

    # --- request handling ----------------------------------------------------------------------

    def _over_rate_limit(self) -> bool:
        if self.rate_limit_per_minute is None:
            return False
        with self._lock:
            now = time.monotonic()
            while self._recent and self._recent[0] <= now - self.rate_window_seconds:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit_per_minute:
                return True
            self._recent.append(now)
            return False

    def _count(self, kind: str, symbol: str | None = None) -> None:
        with self._lock:
            self.counts[kind] += 1
            if symbol is not None:
                self.history_requests[symbol] += 1

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for one GET."""
        if path in ("", "/"):
            self._count("cookie")
            return (
                404,
                {"Set-Cookie": "A3=d=fake&S=fake; Domain=.yahoo.com; Path=/; Max-Age=31536000"},
                b"<html>fake fc</html>",
            )
        if path == "/v1/test/getcrumb":
            self._count("crumb")
            return 200, {"Content-Type": "text/plain"}, b"fakecrumb"
        if not path.startswith("/v8/finance/chart/"):
            self._count("other")
            return (
                404,
                {"Content-Type": "application/json"},
                json.dumps(
                    {"quoteSummary": {"result": None, "error": {"code": "Not Found", "description": "Quote not found"}}}
                ).encode(),
            )
        symbol = unquote(path.rsplit("/", 1)[1])
        is_probe = query.get("range") == ["1d"]
        self._count("tz" if is_probe else "history", None if is_probe else symbol)
        if self._over_rate_limit():
            self._count("429")
            return 429, {"Content-Type": "text/plain"}, b"Too Many Requests"
        if symbol in self.hanging:
            self._stopping.wait()
            return 503, {}, b""
        with self._lock:
            failed = self.error_rate and self._random.random() < self.error_rate
        if failed:
            self._count("500")
            return 500, {"Content-Type": "text/plain"}, b"Internal Server Error"
        if symbol in self.delisted:
            self._count("404")
            error = {"code": "Not Found", "description": DELISTED_TEXT}
            return (
                404,
                {"Content-Type": "application/json"},
                json.dumps({"chart": {"result": None, "error": error}}).encode(),
            )
        return 200, {"Content-Type": "application/json"}, json.dumps(self._chart(symbol, query)).encode()

    def _as_of_now(self, bars: Bars, now: float) -> Bars:
        """Today's bar as Yahoo serves it at `now`: missing before `bar_appears_at`, its close provisional
        (the open) before `close_final_at`."""
        local = datetime.fromtimestamp(now, UTC).astimezone(IST)
        if not len(bars.dates) or bars.dates[-1] != np.datetime64(local.date(), "D"):
            return bars
        if self.bar_appears_at is not None and local.time() < self.bar_appears_at:
            return bars.until(local.date() - timedelta(days=1))
        if self.close_final_at is not None and local.time() < self.close_final_at:
            close = bars.close.copy()
            close[-1] = bars.open[-1]  # inside the bar's high-low range, and different from the final close
            return Bars(bars.dates, bars.open, bars.high, bars.low, close, bars.volume)
        return bars

    def _chart(self, symbol: str, query: dict[str, list[str]]) -> dict:
        now = time.time()
        bars = self._as_of_now(self.bars(symbol, until=self.last_bar_day(now)), now)
        stamps = np.array([_stamp(day) for day in bars.dates], dtype=np.int64)
        if query.get("range") == ["1d"]:
            keep = np.arange(len(stamps)) >= len(stamps) - 1
        else:
            start = int(query.get("period1", ["0"])[0])
            end = int(query.get("period2", [str(int(now))])[0])
            keep = (stamps >= start) & (stamps < end)
        return {"chart": {"result": [self._result(symbol, bars, stamps, keep, now)], "error": None}}

    @staticmethod
    def _result(symbol: str, bars: Bars, stamps: np.ndarray, keep: np.ndarray, now: float) -> dict:
        day_start = int(datetime.fromtimestamp(now, UTC).astimezone(IST).replace(hour=9, minute=15).timestamp())
        period = {"timezone": "IST", "start": day_start, "end": day_start + 22500, "gmtoffset": GMT_OFFSET}
        last = float(bars.close[-1]) if len(bars.close) else None
        meta = {
            "currency": "INR", "symbol": symbol, "exchangeName": "NSI", "fullExchangeName": "NSE",
            "instrumentType": "EQUITY", "firstTradeDate": int(stamps[0]) if len(stamps) else None,
            "regularMarketTime": int(stamps[-1]) if len(stamps) else None, "hasPrePostMarketData": False,
            "gmtoffset": GMT_OFFSET, "timezone": "IST", "exchangeTimezoneName": "Asia/Kolkata",
            "regularMarketPrice": last, "chartPreviousClose": last, "priceHint": 2,
            "currentTradingPeriod": {"pre": period, "regular": period, "post": period},
            "dataGranularity": "1d", "range": "", "validRanges": ["1d", "5d", "1mo", "1y", "max"],
        }  # fmt: skip
        quote = {
            "open": bars.open[keep].tolist(), "high": bars.high[keep].tolist(), "low": bars.low[keep].tolist(),
            "close": bars.close[keep].tolist(), "volume": [int(v) for v in bars.volume[keep]],
        }  # fmt: skip
        result = {"meta": meta, "indicators": {"quote": [quote], "adjclose": [{"adjclose": quote["close"]}]}}
        if keep.any():
            result["timestamp"] = stamps[keep].tolist()
            result["events"] = {"dividends": {}, "splits": {}}
        return result

    @contextlib.contextmanager
    def _tracking(self, is_chart: bool):
        if not is_chart:
            yield
            return
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                with fake._tracking(parts.path.startswith("/v8/")):
                    if fake.latency:
                        time.sleep(fake.latency)
                    status, headers, body = fake.answer(parts.path, parse_qs(parts.query))
                if fake._stopping.is_set() and status == 503:
                    return
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet: tests read `counts`, not stderr
                pass

        return Handler


YAHOO_HOSTS = (
    "fc.yahoo.com",
    "query1.finance.yahoo.com",
    "query2.finance.yahoo.com",
    "guce.yahoo.com",
    "consent.yahoo.com",
    "finance.yahoo.com",
)


def rewriting_session(fake: FakeYahoo) -> curl_requests.Session:
    """A curl_cffi session (the kind yfinance accepts) that sends every request to `fake` instead.

    Yahoo's host names are kept: only the scheme and port change, and curl resolves the names to
    127.0.0.1 (CURLOPT_RESOLVE; no DNS). So cookies are stored under Yahoo's domain, as from the real
    Yahoo, and yfinance keeps and reuses its cookie instead of asking for a new one per request.
    """
    address = urlsplit(fake.base_url)
    host, port = address.hostname, address.port

    class RewritingSession(curl_requests.Session):
        def request(self, method, url, *args, **kwargs):
            parts = urlsplit(url)
            if parts.hostname in YAHOO_HOSTS:
                local = f"http://{parts.hostname}:{port}{parts.path or '/'}" + (
                    f"?{parts.query}" if parts.query else ""
                )
            else:  # never leave the machine
                local = f"{fake.base_url}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
            return super().request(method, local, *args, **kwargs)

    return RewritingSession(curl_options={CurlOpt.RESOLVE: [f"{name}:{port}:{host}" for name in YAHOO_HOSTS]})


@contextlib.contextmanager
def point_yfinance_at(fake: FakeYahoo, *, cache_dir: Path):
    """Make yfinance (its one shared YfData) talk to `fake`, with its tz/cookie caches in `cache_dir`.

    yfinance copies its URLs at import and writes the cookie/crumb URLs as literals, so patching URLs
    is not enough; the session it adopts sees every request. Restored afterwards.
    """
    import yfinance as yf
    from yfinance.data import YfData

    data = YfData()
    previous = (data._session, data._cookie, data._crumb)
    yf.set_tz_cache_location(str(cache_dir))
    data._cookie, data._crumb = None, None  # a cookie and crumb from the fake, not from an earlier test
    data._set_session(rewriting_session(fake))
    try:
        yield yf
    finally:
        data._session, data._cookie, data._crumb = previous
