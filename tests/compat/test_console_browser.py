"""The web console in a real headless Chromium against `spruce serve` with an API key: give the key,
create an index in the console, upsert through the pinecone SDK, see the count, query, and the server
panel. Screenshots are saved under the test's tmp dir and copied to test-artifacts/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pinecone import Pinecone
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.compat.browser import ARTIFACTS, find_or_install_chromium
from tests.compat.conftest import Launcher, RunningServer

pytestmark = [pytest.mark.compat, pytest.mark.slow]

KEY = "console-key"
WAIT = 60.0


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium, chromedriver = find_or_install_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _save(driver: WebDriver, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot)), "screenshot failed"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / name)
    return shot


def _script_errors(driver: WebDriver) -> list[str]:
    """JavaScript errors logged by the page; refused requests (401 before the key, 404 of a panel's
    feature probe) are logged too and are expected."""
    logs = driver.get_log("browser")
    return [
        e["message"] for e in logs if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]
    ]


def _text_is(driver: WebDriver, css: str, want: str) -> None:
    WebDriverWait(driver, WAIT).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), want))


def test_console_create_upsert_query(browser: WebDriver, launcher: Launcher, tmp_path: Path) -> None:
    server = launcher.start(tmp_path / "data", api_keys=[KEY])
    wait = WebDriverWait(browser, WAIT)
    browser.get(server.url + "/")

    # The server wants a key: the console asks, and keeps it in sessionStorage only.
    key_input = wait.until(ec.visibility_of_element_located((By.ID, "key-input")))
    key_input.send_keys(KEY)
    browser.find_element(By.ID, "key-save").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "view"), "No indexes yet"))
    assert browser.execute_script("return sessionStorage.getItem('spruce.apiKey')") == KEY
    assert browser.execute_script("return localStorage.length") == 0

    # Create a dense index in the console.
    browser.find_element(By.ID, "create-name").send_keys("movies")
    dim = browser.find_element(By.ID, "create-dimension")
    dim.clear()
    dim.send_keys("4")
    Select(browser.find_element(By.ID, "create-metric")).select_by_visible_text("cosine")
    browser.find_element(By.ID, "create-submit").click()
    _text_is(browser, ".index-head h1", "movies")
    _text_is(browser, "#stat-total", "0")

    # Upsert through the official SDK, to the host the console's server advertises.
    pc = Pinecone(api_key=KEY, host=server.url)
    index = pc.Index(host=pc.describe_index("movies").host)
    index.upsert(
        vectors=[
            ("A", [0.1, 0.2, 0.3, 0.4], {"genre": "comedy", "year": 2020}),
            ("B", [0.4, 0.3, 0.2, 0.1], {"genre": "drama"}),
            ("C", [0.2, 0.2, 0.2, 0.2], {"genre": "drama"}),
        ],
        namespace="ns1",
    )
    _text_is(browser, "#stat-total", "3")  # the stats panel polls
    _text_is(browser, "#ns-table", "ns1")

    # Query by vector in the console, in ns1, with a filter.
    Select(browser.find_element(By.ID, "q-ns")).select_by_value("ns1")
    browser.find_element(By.ID, "q-vector").send_keys("[0.4, 0.3, 0.2, 0.1]")
    browser.find_element(By.ID, "q-filter").send_keys('{"genre": {"$eq": "drama"}}')
    browser.find_element(By.ID, "q-run").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#results-table tbody tr")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#results-table tbody tr")
    ids = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
    assert ids == ["B", "C"]  # A is filtered out; B is the vector itself
    assert rows[0].find_elements(By.TAG_NAME, "td")[2].text == "1.0000"

    # Panels for endpoints this server may not have are shown exactly when the endpoint answers.
    headers = {"Api-Key": KEY}
    host = pc.describe_index("movies").host
    has_imports = httpx.get(f"{host}/bulk/imports", headers=headers).status_code == 200
    has_backups = httpx.get(f"{server.url}/indexes/movies/backups", headers=headers).status_code == 200
    titles = lambda: [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".panel h2")]  # noqa: E731
    wait.until(lambda _: "Configure" in titles())
    if has_imports:
        wait.until(lambda _: "Imports" in titles())
    if has_backups:
        wait.until(lambda _: "Backups" in titles())
    assert ("Imports" in titles()) == has_imports and ("Backups" in titles()) == has_backups

    # The record browser lists ns1's ids; a click fetches metadata and the first values.
    wait.until(ec.presence_of_element_located((By.LINK_TEXT, "A"))).click()
    _text_is(browser, "#record-detail", '"genre": "comedy"')
    shot = _save(browser, tmp_path, "console-index.png")
    assert shot.stat().st_size > 10_000

    # Server panel.
    browser.get(server.url + "/#/server")
    _text_is(browser, "#srv-version", ".")
    _text_is(browser, "#storage-table", "movies")
    _save(browser, tmp_path, "console-server.png")

    # The index list links to the index.
    browser.get(server.url + "/#/indexes")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'a[data-index="movies"]')))
    row = browser.find_element(By.CSS_SELECTOR, "#index-table tbody tr")
    assert [td.text for td in row.find_elements(By.TAG_NAME, "td")][:5] == [
        "movies",
        "dense",
        "4",
        "cosine",
        "3",
    ]
    _save(browser, tmp_path, "console-indexes.png")

    # Delete with confirmation: the button stays disabled until the name is typed.
    browser.get(server.url + "/#/index/movies")
    wait.until(ec.element_to_be_clickable((By.ID, "delete-index"))).click()
    ok = wait.until(ec.visibility_of_element_located((By.ID, "confirm-ok")))
    assert not ok.is_enabled()
    browser.find_element(By.ID, "confirm-input").send_keys("movies")
    assert ok.is_enabled()
    ok.click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "view"), "No indexes yet"))
    assert not pc.has_index("movies")
    assert _script_errors(browser) == []


def test_docs_page_lists_and_sends_operations(
    browser: WebDriver, spruce_server: RunningServer, tmp_path: Path
) -> None:
    wait = WebDriverWait(browser, WAIT)
    browser.get(spruce_server.url + "/docs")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#ops > details.op")) >= 8)
    doc = httpx.get(spruce_server.url + "/openapi.json").json()
    documented = sum(len(ops) for ops in doc["paths"].values())
    assert len(browser.find_elements(By.CSS_SELECTOR, "#ops > details.op")) == documented
    # Open "List indexes" and send it from the page.
    op = next(
        e
        for e in browser.find_elements(By.CSS_SELECTOR, "#ops > details.op")
        if "list indexes" in e.text.lower()
    )
    op.find_element(By.TAG_NAME, "summary").click()
    op.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait.until(lambda _: '"indexes"' in op.find_element(By.CSS_SELECTOR, ".try pre").text)
    _save(browser, tmp_path, "docs.png")
    assert _script_errors(browser) == []
