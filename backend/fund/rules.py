"""Pure rules of the fund queries: the date range of 缴存支取明细 (stdlib only)."""

from __future__ import annotations

import datetime as dt

from backend.months import add_months

DEFAULT_RANGE_MONTHS = 12
# One query covers at most five years: the centre's own hall caps it so, and it keeps a page's
# index range scan bounded.
MAX_RANGE_YEARS = 5


class RangeRefused(ValueError):
    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def resolve_range(
    start: dt.date | None, end: dt.date | None, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The inclusive ``(start, end)`` to query.

    Missing ends default to the last 12 months up to today (or up to the given end). A start after
    the end, or a span longer than five years, is refused.
    """
    end = end or today
    start = start or add_months(end, -DEFAULT_RANGE_MONTHS)
    if start > end:
        raise RangeRefused("fund.range_reversed", "开始日期不能晚于结束日期，请重新选择查询范围")
    if start < add_months(end, -12 * MAX_RANGE_YEARS):
        raise RangeRefused(
            "fund.range_too_long",
            f"每次最多查询{MAX_RANGE_YEARS}年的缴存支取记录，请缩小查询范围",
        )
    return start, end
