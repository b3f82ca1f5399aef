"""NSE's trading calendar: which days are sessions, and when a day's bar is final.

Pure (no Django): callers pass the moment and any extra holidays. The holiday list comes from
pandas-market-calendars' curated `XNSE` calendar. NSE publishes each year's holidays in December,
so every list ends somewhere: past the library's last listed year, weekdays count as sessions
except the `extra_holidays` a deployment configures (THETOOL_NSE_EXTRA_HOLIDAYS), and
`covers(day)` says whether a day is inside the curated list.

Sessions run 09:15-15:30 Asia/Kolkata. A bar fetched before the close is provisional; one fetched in
the `settle` minutes after it may still be revised by the data vendor (`final_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
SESSION_OPEN = time(9, 15)
SESSION_CLOSE = time(15, 30)


@lru_cache(maxsize=1)
def _curated_holidays() -> tuple[frozenset[date], date]:
    """NSE holidays on weekdays from pandas-market-calendars, and the last day the list covers."""
    import pandas_market_calendars as pmc  # imported lazily: ~0.5 s, and only what needs a calendar pays it

    holidays = pmc.get_calendar("XNSE").holidays().holidays
    days = frozenset(date.fromisoformat(str(day)[:10]) for day in holidays)
    covered_until = date(max(days).year, 12, 31)
    return days, covered_until


@dataclass(frozen=True)
class NSECalendar:
    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    settle: timedelta = timedelta(minutes=30)  # after the close, until a vendor's bar of the day is final

    @property
    def covered_until(self) -> date:
        return _curated_holidays()[1]

    def covers(self, day: date) -> bool:
        """True when `day` is within the curated holiday list (past it, weekdays are assumed sessions)."""
        return day <= self.covered_until

    def is_session(self, day: date) -> bool:
        if day.weekday() >= 5 or day in self.extra_holidays:
            return False
        return day not in _curated_holidays()[0]

    def previous_session(self, day: date) -> date:
        """The last session strictly before `day`."""
        day -= timedelta(days=1)
        while not self.is_session(day):
            day -= timedelta(days=1)
        return day

    def next_session(self, day: date) -> date:
        """The first session strictly after `day`."""
        day += timedelta(days=1)
        while not self.is_session(day):
            day += timedelta(days=1)
        return day

    def sessions(self, start: date, end: date) -> list[date]:
        """Sessions from `start` to `end`, both included."""
        days, day = [], start
        while day <= end:
            if self.is_session(day):
                days.append(day)
            day += timedelta(days=1)
        return days

    @staticmethod
    def close_of(day: date) -> datetime:
        """The moment `day`'s session closes, timezone-aware (Asia/Kolkata)."""
        return datetime.combine(day, SESSION_CLOSE, tzinfo=IST)

    def final_at(self, day: date) -> datetime:
        """The moment `day`'s bar counts as final at a data vendor: its close plus `settle`."""
        return self.close_of(day) + self.settle

    def is_market_open(self, now: datetime) -> bool:
        local = _local(now)
        return self.is_session(local.date()) and SESSION_OPEN <= local.time() < SESSION_CLOSE

    def last_completed_session(self, now: datetime) -> date:
        """The newest session whose close has passed at `now`: its bar is final."""
        local = _local(now)
        today = local.date()
        if self.is_session(today) and local.time() >= SESSION_CLOSE:
            return today
        return self.previous_session(today)

    def session_in_progress(self, now: datetime) -> date | None:
        """Today's session while it is open (its bar is provisional), else None."""
        return _local(now).date() if self.is_market_open(now) else None


def _local(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("NSECalendar needs a timezone-aware datetime")
    return now.astimezone(IST)
