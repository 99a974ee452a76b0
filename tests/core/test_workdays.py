"""Working days from the official calendar (chinese-calendar), the environment laid over it, and a timely
failure when next year's calendar has not been packaged yet."""

import datetime as dt

from market.contracts import rules
from market.contracts import service as contracts
from market.core import workdays
from market.core.config import get_settings

D = dt.date


def test_official_holidays_and_adjusted_working_days():
    holidays, working = workdays.calendar()
    assert D(2026, 10, 1) in holidays and D(2026, 10, 10) in working  # 国庆 2026; Saturday 10 October is 调休
    assert not rules.is_working_day(D(2026, 10, 5), holidays, working)  # a Monday inside the holiday
    assert rules.is_working_day(D(2026, 10, 10), holidays, working)  # a Saturday made a working day
    # 3 working days after Wed 30 Sep: the holiday runs to 7 Oct, then Thu 8, Fri 9 and Sat 10 (调休)
    assert rules.add_working_days(D(2026, 9, 30), 3, holidays, working) == D(2026, 10, 10)


def test_environment_overrides_the_package(monkeypatch):
    monkeypatch.setenv("MARKET_CONTRACT_HOLIDAYS", "2026-10-10, 2026-11-30")
    monkeypatch.setenv("MARKET_CONTRACT_EXTRA_WORKING_DAYS", "2026-10-02")
    get_settings.cache_clear()
    try:
        holidays, working = contracts._calendar()
    finally:
        monkeypatch.delenv("MARKET_CONTRACT_HOLIDAYS")
        monkeypatch.delenv("MARKET_CONTRACT_EXTRA_WORKING_DAYS")
        get_settings.cache_clear()
    assert rules.is_working_day(D(2026, 10, 2), holidays, working)  # the bureau opened on an official holiday
    assert not rules.is_working_day(D(2026, 10, 10), holidays, working)  # and closed on the 调休 Saturday
    assert not rules.is_working_day(D(2026, 11, 30), holidays, working)
    assert D(2026, 10, 1) in holidays  # the rest of the official calendar stays


def test_next_years_calendar_is_packaged_in_good_time():
    """From 15 December the calendar must know next year (the State Council publishes it in the autumn, and
    chinese-calendar releases it soon after): when this fails, pin a chinese-calendar release that has it, or
    list the year's dates in MARKET_CONTRACT_HOLIDAYS / _EXTRA_WORKING_DAYS."""
    today = contracts.today()
    needed = today.year + 1 if (today.month, today.day) >= (12, 15) else today.year
    listed = rules.parse_holidays(get_settings().contract_holidays)
    assert workdays.covered_until(listed) >= needed, (
        f"the calendar covers up to {workdays.covered_until(listed)}; {needed} is missing: bump the chinese-calendar "
        "pin in pyproject.toml or list the dates in the environment"
    )


def test_dates_listed_in_the_environment_extend_the_covered_years():
    assert workdays.covered_until(frozenset({D(2030, 1, 1)})) == 2030
