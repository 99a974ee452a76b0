"""The official working-day calendar (法定节假日 and 调休): chinese-calendar, the repository's list, the environment.

`calendar()` gives (holidays, extra working days) for `market.contracts.rules.is_working_day`, in three layers,
each winning over the one before where they disagree (a date listed as a holiday is never a 调休 working day,
and the other way round):

1. the State Council's dates as packaged by chinese-calendar (pinned in pyproject.toml);
2. `market/core/data/holidays.csv`: years the package does not have yet, copied from the State Council's notice
   (the notice comes out in the autumn, a package release some time after, sometimes after the year starts);
3. MARKET_CONTRACT_HOLIDAYS / MARKET_CONTRACT_EXTRA_WORKING_DAYS from the environment (a deployment's own).

A year counts as covered once one of them lists a holiday in it (`covered_until`). From 15 December the next
year is needed (deadlines run 20 working days and more): `coverage_gap` says what is missing and how to add it;
`calendar()` logs it as a warning, `market calendar-check` exits 1 with it, and tests/core/test_workdays.py
fails on it once the year has begun.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.metadata
import logging
from functools import cache
from pathlib import Path

from chinese_calendar import constants

LIST = Path(__file__).parent / "data" / "holidays.csv"
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))  # no DST in China; registration dates are local dates


def china_date(moment: dt.datetime) -> dt.date:
    """The calendar date in China at `moment` (deadlines, registration dates and periods are local dates)."""
    return moment.astimezone(CHINA_TZ).date()


KINDS = ("holiday", "working_day")
log = logging.getLogger(__name__)


class CalendarFileError(ValueError):
    """A line of the holiday list that is not `date,kind,name`."""


def read_list(path: Path | None = None) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    """(holidays, 调休 working days) listed in the repository's file; lines starting with # are comments."""
    path = path or LIST
    holidays: set[dt.date] = set()
    working: set[dt.date] = set()
    with path.open(encoding="utf-8") as f:
        lines = [line for line in f if line.strip() and not line.lstrip().startswith("#")]
    for n, row in enumerate(csv.DictReader(lines), start=2):
        try:
            day = dt.date.fromisoformat((row.get("date") or "").strip())
        except ValueError:
            raise CalendarFileError(f"{path.name} row {n}: date {row.get('date')!r} is not YYYY-MM-DD") from None
        kind = (row.get("kind") or "").strip()
        if kind not in KINDS:
            raise CalendarFileError(f"{path.name} row {n}: kind {kind!r} is not one of {', '.join(KINDS)}")
        (holidays if kind == "holiday" else working).add(day)
    return frozenset(holidays), frozenset(working)


@cache
def official() -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    """(public-holiday dates, 调休 weekend working days): the package, with the repository's list laid over it."""
    listed_holidays, listed_working = read_list()
    holidays, working = frozenset(constants.holidays), frozenset(constants.workdays)
    return (holidays - listed_working) | listed_holidays, (working - listed_holidays) | listed_working


def covered_until(env_holidays: frozenset[dt.date] = frozenset()) -> int:
    """The last year the calendar covers: packaged, listed in the repository, or listed in the environment."""
    holidays, _ = official()
    return max(holidays | env_holidays).year


def needed_year(today: dt.date) -> int:
    """The last year deadlines computed today may reach: next year from 15 December."""
    return today.year + 1 if (today.month, today.day) >= (12, 15) else today.year


def coverage_gap(today: dt.date, covered: int) -> str | None:
    """What is missing from a calendar covering up to `covered`, as of `today`, and how to add it; None if nothing."""
    needed = needed_year(today)
    if covered >= needed:
        return None
    version = importlib.metadata.version("chinese-calendar")
    return (
        f"the working-day calendar covers up to {covered}, and from {today.isoformat()} deadlines need {needed}: "
        f"chinese-calendar {version} does not have it. Pin a chinese-calendar release that has {needed} in "
        f"pyproject.toml, or copy the State Council's {needed} dates (法定节假日 and 调休 working days) into "
        f"market/core/data/holidays.csv, or list them in MARKET_CONTRACT_HOLIDAYS / "
        "MARKET_CONTRACT_EXTRA_WORKING_DAYS; until then weekends are the only days off assumed in that year."
    )


@cache
def _warn_once(day: dt.date, covered: int) -> None:
    gap = coverage_gap(day, covered)
    if gap:
        log.warning(gap)


def calendar(
    env_holidays: frozenset[dt.date] = frozenset(),
    env_working_days: frozenset[dt.date] = frozenset(),
    today: dt.date | None = None,
) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    """The official calendar with the environment's dates laid over it (a warning, once a day, on a gap)."""
    holidays, working = official()
    if today is None:
        from market.core.db import utcnow

        today = china_date(utcnow())
    _warn_once(today, covered_until(env_holidays))
    return (holidays - env_working_days) | env_holidays, (working - env_holidays) | env_working_days
