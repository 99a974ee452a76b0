"""The official working-day calendar (法定节假日 and 调休) from `chinese-calendar`, with the environment override.

`calendar()` gives (holidays, extra working days) for `market.contracts.rules.is_working_day`: the State
Council's dates as packaged by chinese-calendar, plus MARKET_CONTRACT_HOLIDAYS / _EXTRA_WORKING_DAYS from the
environment, which win where they disagree (a date the bureau lists as a holiday is never a 调休 working day,
and the other way round). The package only knows the years published so far: `covered_until()` says which,
and tests/core/test_workdays.py fails from 15 December when next year is still missing (neither packaged
nor listed in the environment) — bump the pin, or list the year's dates, then.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

from chinese_calendar import constants


@cache
def official() -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    """(public-holiday dates, 调休 weekend working days) as published."""
    return frozenset(constants.holidays), frozenset(constants.workdays)


def covered_until(env_holidays: frozenset[dt.date] = frozenset()) -> int:
    """The last year the calendar covers: packaged, or listed by the bureau in the environment."""
    holidays, _ = official()
    return max(holidays | env_holidays).year


def calendar(
    env_holidays: frozenset[dt.date] = frozenset(), env_working_days: frozenset[dt.date] = frozenset()
) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    """The official calendar with the environment's dates laid over it."""
    holidays, working = official()
    return (holidays - env_working_days) | env_holidays, (working - env_holidays) | env_working_days
