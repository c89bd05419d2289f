"""Calendar months, pure: the one rule for moving a date by whole months (the loan engine's due
dates, the ledger's default range, the monthly rent window)."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(start: dt.date, months: int) -> dt.date:
    """``start`` moved by whole months, the day clipped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    year, month_index = divmod(start.year * 12 + start.month - 1 + months, 12)
    month = month_index + 1
    if start.day <= 28:  # every month has the day: no clipping (most calls, e.g. due dates)
        return dt.date(year, month, start.day)
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
