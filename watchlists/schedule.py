"""When a scheduled scan is next due: pure date arithmetic over the NSE calendar (no Django)."""

from datetime import UTC, date, datetime, time

from stocks.calendar import IST, NSECalendar


def run_moment(*, session: date, run_at: time) -> datetime:
    """`run_at` (IST) on `session`, in UTC."""
    return datetime.combine(session, run_at, tzinfo=IST).astimezone(UTC)


def next_run_after(*, after: datetime, run_at: time, calendar: NSECalendar | None = None) -> datetime:
    """The first session's `run_at` moment strictly after `after`: weekends and holidays are skipped."""
    calendar = calendar or NSECalendar()
    day = after.astimezone(IST).date()
    if not calendar.is_session(day) or run_moment(session=day, run_at=run_at) <= after:
        day = calendar.next_session(day)
    return run_moment(session=day, run_at=run_at)


def session_of(*, moment: datetime) -> date:
    """The session a due moment belongs to (its IST date)."""
    return moment.astimezone(IST).date()
