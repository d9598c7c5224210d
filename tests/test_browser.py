"""The HTML report in a real headless browser (Debian's chromium, driven by Playwright)."""

import re
import shutil
from pathlib import Path

import pytest

from conftest import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
ARGUMENTS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no chromium here (`make test` installs it: scripts/install-system-packages.sh test)"
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGUMENTS)
        yield browser
        browser.close()


def open_report(browser, html: Path, width: int, height: int):
    page = browser.new_page(viewport={"width": width, "height": height})
    problems, requests = [], []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda request: request.url.startswith("file://") or requests.append(request.url))
    page.goto(html.as_uri(), wait_until="load")
    return page, problems, requests


def test_report_renders_in_a_real_browser(smoke_run, browser):
    directory, _ = smoke_run
    html = directory / "results" / "report" / "report.html"
    page, problems, requests = open_report(browser, html, 1280, 2000)
    assert problems == [] and requests == []  # no console errors, no request leaves the file

    figures = page.locator("figure svg")
    assert figures.count() > 0
    for index in range(figures.count()):
        box = figures.nth(index).bounding_box()
        assert box and box["width"] > 50 and box["height"] > 50, f"figure {index} rendered at {box}"

    expected_ids = sorted(set(re.findall(r'id="(T\d+)"', html.read_text())), key=lambda t: int(t[1:]))
    assert expected_ids and expected_ids[0] == "T1"
    for table_id in expected_ids:
        table = page.locator(f"#{table_id}")
        assert table.count() == 1
        box = table.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0, table_id

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-laptop.png"), full_page=False)
    page.close()


def test_report_fits_a_phone_screen(smoke_run, browser):
    directory, _ = smoke_run
    page, problems, _ = open_report(browser, directory / "results" / "report" / "report.html", 390, 844)
    assert problems == []
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than a phone screen"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-phone.png"))
    page.close()
