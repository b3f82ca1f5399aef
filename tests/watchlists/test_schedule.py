"""When a scan is next due: NSE sessions only, after the close, holidays skipped (no database)."""

from datetime import UTC, date, datetime, time

from stocks.calendar import IST, NSECalendar
from watchlists.schedule import next_run_after, session_of

AFTER_CLOSE = time(16, 15)


def ist(*args) -> datetime:
    return datetime(*args, tzinfo=IST)


def test_before_the_run_time_on_a_session_the_scan_runs_that_day():
    due = next_run_after(after=ist(2025, 11, 27, 10, 0), run_at=AFTER_CLOSE)  # a Thursday
    assert due == ist(2025, 11, 27, 16, 15).astimezone(UTC)


def test_after_the_run_time_the_scan_runs_the_next_session():
    due = next_run_after(after=ist(2025, 11, 27, 16, 15), run_at=AFTER_CLOSE)
    assert due.astimezone(IST) == ist(2025, 11, 28, 16, 15)


def test_a_friday_evening_scan_next_runs_on_monday():
    due = next_run_after(after=ist(2025, 11, 28, 17, 0), run_at=AFTER_CLOSE)
    assert due.astimezone(IST).date() == date(2025, 12, 1)


def test_holidays_are_skipped():
    holiday = date(2025, 12, 2)  # a Tuesday, made a holiday here
    calendar = NSECalendar(extra_holidays=frozenset({holiday}))
    due = next_run_after(after=ist(2025, 12, 1, 17, 0), run_at=AFTER_CLOSE, calendar=calendar)
    assert due.astimezone(IST).date() == date(2025, 12, 3)


def test_a_real_nse_holiday_is_skipped():
    # 2025-10-02 (Gandhi Jayanti, a Thursday) is an NSE holiday in the curated calendar.
    assert not NSECalendar().is_session(date(2025, 10, 2))
    due = next_run_after(after=ist(2025, 10, 1, 17, 0), run_at=AFTER_CLOSE)
    assert due.astimezone(IST).date() == date(2025, 10, 3)


def test_the_due_moment_is_stored_in_utc_and_its_session_is_the_ist_date():
    due = next_run_after(after=ist(2025, 11, 27, 9, 0), run_at=AFTER_CLOSE)
    assert due.tzinfo is UTC and due.hour == 10 and due.minute == 45
    assert session_of(moment=due) == date(2025, 11, 27)
