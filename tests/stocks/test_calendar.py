"""The NSE trading calendar: sessions, holidays, when a bar is final, and dates past the curated list."""

from datetime import UTC, date, datetime

import pytest

from stocks.calendar import IST, NSECalendar

CAL = NSECalendar()


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 30), True),  # a Monday
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 11, 29), False),  # Sunday
        (date(2026, 10, 2), False),  # Gandhi Jayanti
        (date(2026, 12, 25), False),  # Christmas
        (date(2026, 1, 26), False),  # Republic Day
        (date(2026, 1, 27), True),
    ],
)
def test_sessions_skip_weekends_and_nse_holidays(day, expected):
    assert CAL.is_session(day) is expected


def test_a_bar_is_final_only_after_the_close_in_india():
    monday = date(2026, 11, 30)
    before_open = datetime(2026, 11, 30, 9, 0, tzinfo=IST)
    during = datetime(2026, 11, 30, 11, 0, tzinfo=IST)
    after_close = datetime(2026, 11, 30, 15, 30, tzinfo=IST)
    friday = date(2026, 11, 27)
    assert CAL.last_completed_session(before_open) == friday
    assert CAL.last_completed_session(during) == friday
    assert CAL.session_in_progress(during) == monday
    assert CAL.session_in_progress(before_open) is None
    assert CAL.last_completed_session(after_close) == monday
    assert not CAL.is_market_open(after_close)


def test_utc_moments_are_read_in_india_time():
    # 10:00 UTC is 15:30 IST: the session has just closed.
    assert CAL.last_completed_session(datetime(2026, 11, 30, 10, 0, tzinfo=UTC)) == date(2026, 11, 30)
    assert CAL.last_completed_session(datetime(2026, 11, 30, 9, 59, tzinfo=UTC)) == date(2026, 11, 27)


def test_a_holiday_weekend_looks_back_to_the_last_session():
    # Saturday 3 Oct 2026: Friday 2 Oct is Gandhi Jayanti, so the last session is Thursday 1 Oct.
    assert CAL.last_completed_session(datetime(2026, 10, 3, 12, 0, tzinfo=IST)) == date(2026, 10, 1)


def test_past_the_curated_list_weekdays_are_sessions_unless_configured():
    later = date(CAL.covered_until.year + 1, 1, 26)  # Republic Day, not listed yet
    assert not CAL.covers(later)
    assert CAL.is_session(later) is (later.weekday() < 5)
    assert NSECalendar(extra_holidays=frozenset({later})).is_session(later) is False


def test_sessions_between_two_days():
    assert CAL.sessions(date(2026, 9, 28), date(2026, 10, 4)) == [
        date(2026, 9, 28),
        date(2026, 9, 29),
        date(2026, 9, 30),
        date(2026, 10, 1),
    ]


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.last_completed_session(datetime(2026, 11, 30, 12, 0))


def test_a_session_s_bar_is_final_at_a_vendor_its_close_plus_the_settling_time():
    from datetime import timedelta

    assert CAL.final_at(date(2026, 11, 30)) == datetime(2026, 11, 30, 16, 0, tzinfo=IST)
    quick = NSECalendar(settle=timedelta(minutes=0))
    assert quick.final_at(date(2026, 11, 30)) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
