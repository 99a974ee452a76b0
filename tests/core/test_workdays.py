"""Working days from the official calendar (chinese-calendar), the environment laid over it, and a timely
failure when next year's calendar has not been packaged yet."""

import datetime as dt

import pytest

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


def test_a_missing_next_year_is_reported_from_15_december():
    """Worked on fixed dates, so the suite does not change its verdict with the clock."""
    assert workdays.needed_year(D(2026, 12, 14)) == 2026 and workdays.needed_year(D(2026, 12, 15)) == 2027
    assert workdays.coverage_gap(D(2026, 12, 14), 2026) is None
    gap = workdays.coverage_gap(D(2026, 12, 15), 2026)
    assert gap is not None
    for part in ("covers up to 2026", "need 2027", "market/core/data/holidays.csv", "MARKET_CONTRACT_HOLIDAYS"):
        assert part in gap
    assert workdays.coverage_gap(D(2026, 12, 15), 2027) is None


def test_next_years_calendar_is_known_in_good_time():
    """The real clock: from 15 December the calendar should know next year (the State Council publishes it in
    the autumn, chinese-calendar releases it some time after). Between 15 December and the new year a missing
    year is reported as a skip with what to do (and logged, and `market calendar-check` exits 1); once that
    year has begun and it is still missing, deadlines are wrong and this fails."""
    today = contracts.today()
    covered = workdays.covered_until(rules.parse_holidays(get_settings().contract_holidays))
    gap = workdays.coverage_gap(today, covered)
    assert covered >= today.year, gap or f"the calendar covers up to {covered} only"
    if gap:
        pytest.skip(gap)


def test_the_repositorys_list_adds_years_and_overrides_the_package(tmp_path, monkeypatch):
    listed = tmp_path / "holidays.csv"
    listed.write_text(
        "# a comment\ndate,kind,name\n2027-01-01,holiday,元旦\n2026-10-10,holiday,不调休\n2027-02-20,working_day,春节调休\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(workdays, "LIST", listed)
    workdays.official.cache_clear()
    try:
        assert workdays.read_list(listed)[0] == {D(2027, 1, 1), D(2026, 10, 10)}
        holidays, working = workdays.calendar(today=D(2026, 12, 15))
        assert workdays.covered_until() == 2027
    finally:
        workdays.official.cache_clear()
    assert D(2027, 1, 1) in holidays and D(2027, 2, 20) in working
    assert D(2026, 10, 10) in holidays and D(2026, 10, 10) not in working  # the list wins over the package
    assert D(2026, 10, 1) in holidays  # the rest of the package stays
    listed.write_text("date,kind,name\n2027-13-01,holiday,x\n", encoding="utf-8")
    with pytest.raises(workdays.CalendarFileError, match="row 2: date '2027-13-01'"):
        workdays.read_list(listed)


def test_the_shipped_list_reads():
    holidays, working = workdays.read_list()
    assert all(d.year > 2026 for d in holidays | working)  # only years chinese-calendar 1.11.0 lacks


def test_calendar_check_command():
    from click.testing import CliRunner

    from market.cli import main

    r = CliRunner().invoke(main, ["calendar-check"])
    gap = workdays.coverage_gap(contracts.today(), workdays.covered_until())
    assert (r.exit_code, gap is None) in ((0, True), (1, False)), r.output
    assert ("covers up to" in r.output) or (gap and "need" in r.output)


def test_dates_listed_in_the_environment_extend_the_covered_years():
    assert workdays.covered_until(frozenset({D(2030, 1, 1)})) == 2030
