"""The console in a real browser: Debian's headless Chromium driven by selenium through /usr/bin/chromedriver.

Each journey runs against the application served by uvicorn on a free port (the test's PostgreSQL database), logs
in through the login form and takes a screenshot of every page it visits into .var/test-artefacts/console/.
The browser console must stay free of errors (a Content-Security-Policy refusal of a script would show there).
`./dev test` installs chromium and chromium-driver with apt-get when they are missing; nothing is downloaded.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from market.accounts.models import User
from market.accounts.roles import Role
from market.accounts.security import hash_password
from market.calls.endpoints import clock
from market.calls.models import ReviewAssignment
from market.core.db import session_scope
from market.core.vocab import OrgKind
from tests.calls.conftest import T0, Clock, Kit
from tests.console.test_director import seed
from tests.console.test_registrar import file_contract
from tests.factories import Member, World

pytestmark = pytest.mark.slow

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTEFACTS = Path(__file__).resolve().parents[2] / ".var" / "test-artefacts" / "console"
PASSWORD = "Console-browser-test-2026"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1800",
    "--lang=zh-CN",
)


@pytest.fixture
def live(pg_client: TestClient) -> Iterator[str]:
    """The test's application (the same app object, so dependency overrides apply) on a real port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(pg_client.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium / chromium-driver are not installed: `./dev test` installs them (apt-get)")
    profile = tempfile.mkdtemp(prefix="market-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
        # Script errors and CSP refusals; a page answered with its intended 4xx is logged as "network" and is fine.
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and e["source"] != "network"]
        assert not severe, f"errors in the browser console: {severe}"
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


WAIT = 60  # seconds: generous, the CI machine has two cores and runs the whole suite beside the browser
Locator = tuple[str, str]


def _ready_or_empty(locator: Locator) -> Callable[[WebDriver], tuple[WebElement | None] | Literal[False]]:
    """Until `locator` is on the page (→ (the element,)) or the document finished loading empty (→ (None,))."""

    def check(d: WebDriver) -> tuple[WebElement | None] | Literal[False]:
        found = d.find_elements(*locator)
        if found:
            return (found[0],)
        loaded = d.execute_script("return document.readyState") == "complete"
        empty = d.execute_script("return !document.body || !document.body.innerHTML.trim()")
        return (None,) if loaded and empty else False

    return check


def _await(driver: WebDriver, locator: Locator, what: str) -> WebElement | None:
    """The element once present; None when the page came back empty; fails with the page's source on time-out."""
    try:
        (got,) = WebDriverWait(driver, WAIT, poll_frequency=0.2).until(_ready_or_empty(locator))
    except TimeoutException:
        pytest.fail(
            f"{what}: {locator} did not appear within {WAIT} s at {driver.current_url}\n{driver.page_source[:3000]}"
        )
    return got


def open_page(driver: WebDriver, url: str, locator: Locator) -> WebElement:
    """Load `url` and wait for `locator`; a load that comes back with an empty document is retried once."""
    for _attempt in (1, 2):
        driver.get(url)
        element = _await(driver, locator, f"loading {url}")
        if element is not None:
            return element
    pytest.fail(f"{url} came back empty twice")


def click_then(driver: WebDriver, target: WebElement | Locator, locator: Locator) -> WebElement:
    """Click (a button submitting a form, a link) and wait for the next page to be replaced and show `locator`."""
    old = driver.find_element(By.TAG_NAME, "html")
    for attempt in (1, 2, 3):
        element = target if isinstance(target, WebElement) else wait_for(driver, target)
        try:
            element.click()
            break
        except WebDriverException:
            # on a loaded machine the page may still be settling: a node found a moment ago no longer belongs to
            # the document; find it again (a WebElement given by the caller cannot be found again)
            if isinstance(target, WebElement) or attempt == 3:
                raise
            old = driver.find_element(By.TAG_NAME, "html")
    WebDriverWait(driver, WAIT, poll_frequency=0.2).until(EC.staleness_of(old))
    found = _await(driver, locator, "after a click")
    return found if found is not None else open_page(driver, driver.current_url, locator)


def wait_for(driver: WebDriver, locator: Locator) -> WebElement:
    """An element of the page already loaded (present and shown)."""
    element: WebElement = WebDriverWait(driver, WAIT, poll_frequency=0.2).until(
        EC.visibility_of_element_located(locator)
    )
    return element


def shot(driver: WebDriver, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(900, min(int(height) + 40, 6000)))
    assert driver.save_screenshot(str(ARTEFACTS / f"{name}.png"))


def log_in(driver: WebDriver, base: str, member: Member, next_path: str, ready: Locator) -> WebElement:
    """Log in through the form from `next_path` (anonymous: sent to the login form, then back); waits for `ready`."""
    with session_scope() as s:
        user = s.get(User, member.user_id)
        assert user is not None
        user.password_hash = hash_password(PASSWORD)
    open_page(driver, f"{base}{next_path}", (By.ID, "login-submit"))
    assert "/console/login" in driver.current_url
    wait_for(driver, (By.ID, "username")).send_keys(member.username)
    wait_for(driver, (By.ID, "password")).send_keys(PASSWORD)
    element = click_then(driver, (By.ID, "login-submit"), ready)
    assert d_path(driver) == next_path
    return element


def d_path(driver: WebDriver) -> str:
    return "/" + driver.current_url.split("/", 3)[3].split("?")[0]


def test_registrar_registers_one_contract_and_returns_another(
    pg_client: TestClient, pg_world: World, live: str, browser: WebDriver
) -> None:
    first, _ = file_contract(pg_client, pg_world, project_name="浏览器登记合同")
    second, _ = file_contract(pg_client, pg_world, project_name="浏览器退回合同")
    log_in(browser, live, pg_world.bureau(Role.registrar), "/console/registrar", (By.ID, "queue-table"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#queue-table tbody tr[data-contract]")
    assert {r.get_attribute("data-contract") for r in rows} == {str(first), str(second)}
    shot(browser, "registrar-queue")

    click_then(browser, (By.LINK_TEXT, "浏览器登记合同"), (By.ID, "register-submit"))
    assert "规则校验" in browser.page_source
    shot(browser, "registrar-contract")
    click_then(browser, (By.ID, "register-submit"), (By.CSS_SELECTOR, "#notice, .form-error"))
    errors = browser.find_elements(By.CLASS_NAME, "form-error")
    assert not errors, errors[0].text
    assert "已认定登记" in browser.find_element(By.ID, "notice").text
    assert wait_for(browser, (By.ID, "registration-number")).text.strip()
    assert "已登记" in browser.find_element(By.ID, "contract-status").text
    shot(browser, "registrar-registered")

    open_page(browser, f"{live}/console/registrar/contracts/{second}", (By.ID, "return-submit"))
    Select(wait_for(browser, (By.ID, "item-field-0"))).select_by_value("parties")
    wait_for(browser, (By.ID, "item-message-0")).send_keys("买方签章页缺失，请补充")
    click_then(browser, (By.ID, "return-submit"), (By.CSS_SELECTOR, "#notice, .form-error"))
    assert "已退回补正" in browser.find_element(By.ID, "notice").text
    assert "退回补正" in browser.find_element(By.ID, "contract-status").text
    assert "买方签章页缺失" in browser.page_source
    shot(browser, "registrar-returned")

    open_page(browser, f"{live}/console/registrar", (By.ID, "queue-table"))
    assert not browser.find_elements(By.CSS_SELECTOR, "#queue-table tbody tr[data-contract]")


def test_expert_scores_an_assigned_bid_and_cannot_open_another(
    pg_client: TestClient, pg_world: World, live: str, browser: WebDriver
) -> None:
    pg_client.app.dependency_overrides[clock] = pinned = Clock(T0)  # type: ignore[attr-defined]
    kit = Kit(pg_client, pg_world, pinned)
    call = kit.published_call(experts_per_bid=1)
    bids = [kit.bid(kit.bidder(), call["id"]), kit.bid(kit.bidder(OrgKind.institute), call["id"])]
    experts = kit.experts(2)
    kit.close_and_check(call["id"], bids)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    with session_scope() as s:
        pairs = {(u, b) for u, b in s.execute(sa.select(ReviewAssignment.expert_user_id, ReviewAssignment.bid_id))}
    expert, mine, other = next(
        (e, b["id"], o["id"])
        for e in experts
        for b in bids
        for o in bids
        if (e.user_id, b["id"]) in pairs and (e.user_id, o["id"]) not in pairs
    )
    log_in(browser, live, expert, "/console/expert", (By.CSS_SELECTOR, f'#assignments tr[data-bid="{mine}"]'))
    shot(browser, "expert-assignments")

    content = click_then(browser, (By.LINK_TEXT, f"方案 {mine}"), (By.ID, "bid-content"))
    assert "采用硫化物体系" in content.text
    for i, score in enumerate(("85", "75", "95")):
        wait_for(browser, (By.ID, f"score-{i}")).send_keys(score)
    wait_for(browser, (By.ID, "comment")).send_keys("技术路线清晰")
    shot(browser, "expert-bid")
    click_then(browser, (By.ID, "score-submit"), (By.CSS_SELECTOR, "#my-scores, .form-error"))
    errors = browser.find_elements(By.CLASS_NAME, "form-error")
    assert not errors, errors[0].text
    assert "评分已提交" in browser.find_element(By.ID, "notice").text
    total = browser.find_element(By.CSS_SELECTOR, "#my-scores tfoot th.num").text.strip()
    assert total == "84.00"  # 85×50% + 75×30% + 95×20%
    shot(browser, "expert-scored")

    url = f"{live}/console/expert/calls/{call['id']}/bids/{other}"
    error = open_page(browser, url, (By.CSS_SELECTOR, ".form-error code"))
    assert error.text == "bid_not_found" and not browser.find_elements(By.ID, "bid-content")
    assert "采用硫化物体系" not in browser.page_source
    shot(browser, "expert-unassigned")
    with session_scope() as s:
        a = s.scalar(sa.select(ReviewAssignment).where(ReviewAssignment.bid_id == mine))
        assert a is not None and a.state == "scored" and a.scores == {"技术方案": 85, "团队实力": 75, "报价": 95}


CHARTS_DRAWN = """
const charts = Array.from(document.querySelectorAll('[data-chart]'));
return charts.map(el => {
  const chart = window.echarts && window.echarts.getInstanceByDom(el);
  const canvas = el.querySelector('canvas');
  const series = chart ? chart.getOption().series : [];
  return {
    id: el.id,
    drawn: el.dataset.drawn === '1',
    canvas: canvas ? [canvas.width, canvas.height] : null,
    points: series.reduce(
      (n, s) => n + (s.data || []).filter(v => Number(v && v.value !== undefined ? v.value : v) > 0).length, 0),
  };
});
"""


def test_dashboard_draws_its_charts(pg_client: TestClient, pg_world: World, live: str, browser: WebDriver) -> None:
    seed(pg_client, pg_world)
    log_in(browser, live, pg_world.bureau(Role.programme_officer), "/console/dashboard", (By.ID, "summary"))
    WebDriverWait(browser, WAIT, poll_frequency=0.2).until(
        lambda d: all(c["drawn"] for c in d.execute_script(CHARTS_DRAWN)) and d.execute_script(CHARTS_DRAWN)
    )
    charts = browser.execute_script(CHARTS_DRAWN)
    assert len(charts) == 11
    for c in charts:
        assert c["canvas"] and c["canvas"][0] > 0 and c["canvas"][1] > 0, c
        if c["id"] != "chart-progress":  # no target set in this seed: progress is drawn, with nothing to show
            assert c["points"] > 0, c
    shot(browser, "dashboard")

    year = dt.date.today().year - 1
    button = open_page(browser, f"{live}/console/dashboard/report?year={year}&month=1", (By.ID, "print"))
    assert button.is_displayed()
    assert "宁波大学测试" in browser.page_source
    shot(browser, "monthly-report")
