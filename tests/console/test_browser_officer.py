"""The officer's and the bureau admin's journeys in headless Chromium (the browser fixtures of test_browser.py):
an officer awards a call after its notice; the bureau approves a subsidy run with four eyes (two people).
Every page visited is screenshotted into the test artefacts."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from market.accounts.roles import Role
from market.calls import flows
from market.calls.endpoints import clock
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.subsidies.flows import compute_run
from tests.calls.conftest import T0, Clock, Kit
from tests.console.test_browser import (  # noqa: F401  # fixtures and helpers
    browser,
    click_then,
    live,
    log_in,
    open_page,
    shot,
    wait_for,
)
from tests.factories import World
from tests.subsidies.ledger import add_contract

pytestmark = pytest.mark.slow


def _submit(driver: WebDriver, button_id: str) -> None:
    click_then(driver, (By.ID, button_id), (By.CSS_SELECTOR, "p.notice, .form-error"))
    errors = driver.find_elements(By.CLASS_NAME, "form-error")
    assert not errors, errors[0].text


def _log_out(driver: WebDriver) -> None:
    click_then(driver, (By.CSS_SELECTOR, "form[action='/console/logout'] button"), (By.ID, "login-submit"))
    assert "/console/login" in driver.current_url


def test_officer_awards_after_the_notice(
    pg_client: TestClient,
    pg_world: World,
    live: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
) -> None:
    pinned = Clock(T0)
    pg_client.app.dependency_overrides[clock] = pinned  # type: ignore[attr-defined]  # TestClient.app is the app
    kit = Kit(pg_client, pg_world, pinned)
    call = kit.published_call(title="浏览器立项榜单")
    bid, other = kit.bid(kit.bidder(), call["id"]), kit.bid(kit.bidder(), call["id"])
    experts = kit.experts(3)
    kit.close_and_check(call["id"], [bid, other])
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    kit.score_all(call["id"], experts)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/notice", {"bid_ids": [bid["id"]]})
    pinned.now += dt.timedelta(days=6)
    with session_scope() as s:
        flows.advance_deadlines(s, pinned.now)

    log_in(browser, live, kit.officer, "/console/officer/calls", (By.LINK_TEXT, "浏览器立项榜单"))
    shot(browser, "officer-calls")
    state = click_then(browser, (By.LINK_TEXT, "浏览器立项榜单"), (By.ID, "call-state"))
    assert "公示期满" in state.text
    assert browser.find_elements(By.ID, "board") and browser.find_elements(By.ID, "notice")
    shot(browser, "officer-call-notice-ended")
    _submit(browser, "award")
    assert "已立项" in browser.find_element(By.ID, "call-state").text
    shot(browser, "officer-call-awarded")
    click_then(browser, (By.CSS_SELECTOR, "#projects a"), (By.ID, "project-state"))
    assert browser.find_elements(By.ID, "milestones") and browser.find_elements(By.ID, "tranches")
    shot(browser, "officer-project")
    pg_client.app.dependency_overrides.pop(clock, None)  # type: ignore[attr-defined]


def test_bureau_approves_a_subsidy_run_with_four_eyes(
    pg_world: World,
    live: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
) -> None:
    uni = pg_world.org(OrgKind.university, region_code="330203", name="宁波某大学")
    firm = pg_world.org(OrgKind.enterprise, region_code="330206", name="北仑某制造公司")
    add_contract(uni, firm, 10_000_000, on=dt.date(2024, 3, 1))
    add_contract(uni, firm, 2_000_000, on=dt.date(2024, 4, 1))
    officer, admin = pg_world.bureau(Role.programme_officer), pg_world.bureau(Role.bureau_admin)

    # the programme officer prepares the run through the form, and reviews it once computed
    log_in(browser, live, officer, "/console/admin/subsidies", (By.ID, "r-name")).send_keys("2024 年度浏览器核算")
    for field, value in (("r-start", "2024-01-01"), ("r-end", "2024-12-31")):
        browser.execute_script("arguments[0].value = arguments[1]", wait_for(browser, (By.ID, field)), value)
    shot(browser, "admin-subsidies")
    create = (By.CSS_SELECTOR, "form[action='/console/admin/subsidies/runs'] button[type=submit]")
    click_then(browser, create, (By.ID, "run-status"))
    run_path = "/" + browser.current_url.split("/", 3)[3].split("?")[0]
    run_id = int(run_path.rsplit("/", 1)[1])
    compute_run(run_id)  # the worker's part
    results = open_page(browser, live + run_path, (By.ID, "results"))
    assert "北仑某制造公司" in results.text
    shot(browser, "admin-run-draft")
    _submit(browser, "run-review")
    assert "已复核" in browser.find_element(By.ID, "run-status").text
    assert not browser.find_elements(By.ID, "run-approve")  # not the officer's to approve
    click_then(browser, (By.CSS_SELECTOR, "#results a"), (By.ID, "contributions"))
    shot(browser, "admin-result-working")
    _log_out(browser)

    # a second person, the bureau admin, approves and freezes it
    log_in(browser, live, admin, run_path, (By.ID, "run-approve"))
    shot(browser, "admin-run-reviewed")
    _submit(browser, "run-approve")
    assert "已批准" in browser.find_element(By.ID, "run-status").text
    _submit(browser, "run-freeze")
    assert "已冻结" in browser.find_element(By.ID, "run-status").text
    shot(browser, "admin-run-frozen")
    for page in ("organisations", "filings", "users"):
        assert open_page(browser, f"{live}/console/admin/{page}", (By.CSS_SELECTOR, "main h1")).text
        shot(browser, f"admin-{page}")
