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
    html = directory / "results" / "report" / "supplement.html"
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
    page, problems, _ = open_report(browser, directory / "results" / "report" / "supplement.html", 390, 844)
    assert problems == []
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than a phone screen"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-phone.png"))
    page.close()


def visible_column(page, table_id: str, column: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#{table_id} tbody tr:not([hidden])", f"rows => rows.map(row => row.cells[{column}].textContent.trim())")


def test_figure_text_is_text(smoke_run, browser):
    """Each figure's labels are text inside its <svg> (searchable, selectable), set in DejaVu Sans."""
    directory, _ = smoke_run
    page, problems, _ = open_report(browser, directory / "results" / "report" / "supplement.html", 1280, 2000)
    assert problems == []
    figures = page.locator("figure svg")
    for index in range(figures.count()):
        assert figures.nth(index).locator("text").count() > 0, f"figure {index} has no text"
    label = page.locator("figure svg text", has_text=re.compile(r"^epoch$"))
    assert label.count() > 0  # an axis label, as text inside the figure's <svg>
    family = label.first.evaluate("text => getComputedStyle(text).fontFamily")
    assert "DejaVu Sans" in family
    selected = page.evaluate("""() => {
        const text = [...document.querySelectorAll('figure svg text')].find(t => t.textContent === 'epoch');
        const range = document.createRange(); range.selectNodeContents(text);
        const selection = getSelection(); selection.removeAllRanges(); selection.addRange(range);
        return selection.toString(); }""")
    assert selected == "epoch"
    page.close()


def test_every_cell_table_filters_sorts_and_stays_offline(smoke_run, browser):
    """Appendix A: filtering to one loss and one dataset shows exactly the cells of cells.csv that have
    them; headings are buttons that sort (and sort back); the controls work from the keyboard; no
    request leaves the page."""
    import pandas as pd

    from lossatlas.core.textfmt import loss_name

    directory, _ = smoke_run
    cells = pd.read_csv(directory / "results" / "aggregate" / "cells.csv")
    page, problems, requests = open_report(browser, directory / "results" / "report" / "supplement.html", 1280, 2000)
    table_id = page.locator("#explorer").get_attribute("data-table")
    assert page.locator("#explorer").is_visible() and page.locator(f"#{table_id} tbody tr").count() == len(cells)
    assert page.locator("#explorer-count").text_content() == f"{len(cells)} of {len(cells)} cells shown."
    for name in ("loss", "dataset", "activation"):
        assert page.locator(f"label[for='filter-{name}']").count() == 1  # labelled selects

    loss, dataset = "mse", "seed_small"
    expected = int(((cells["loss"] == loss) & (cells["dataset"] == dataset)).sum())
    assert 0 < expected < len(cells)
    page.select_option("#filter-loss", loss_name(loss))
    page.select_option("#filter-dataset", dataset)
    assert page.locator(f"#{table_id} tbody tr:not([hidden])").count() == expected
    assert page.locator("#explorer-count").text_content() == f"{expected} of {len(cells)} cells shown."
    headings = page.locator(f"#{table_id} thead th").all_text_contents()
    dataset_column = next(i for i, h in enumerate(headings) if h.startswith("Dataset"))
    assert set(visible_column(page, table_id, dataset_column)) == {dataset}

    # Sort by test RMSE: ascending, then descending; every heading is a button.
    column = next(i for i, h in enumerate(headings) if h.startswith("Test RMSE"))
    heading = page.locator(f"#{table_id} thead th").nth(column)
    assert page.locator(f"#{table_id} thead th button").count() == len(headings)
    heading.locator("button").click()
    values = [float(text.split()[0]) for text in visible_column(page, table_id, column)]
    assert values == sorted(values) and heading.get_attribute("aria-sort") == "ascending"
    heading.locator("button").click()
    values = [float(text.split()[0]) for text in visible_column(page, table_id, column)]
    assert values == sorted(values, reverse=True) and heading.get_attribute("aria-sort") == "descending"
    assert len(values) == expected  # sorting keeps the filter

    # From the keyboard: a heading button sorts on Enter, the search field filters as one types.
    seeds = next(i for i, h in enumerate(headings) if h.startswith("Seeds"))
    page.locator(f"#{table_id} thead th").nth(seeds).locator("button").focus()
    page.keyboard.press("Enter")
    assert page.locator(f"#{table_id} thead th").nth(seeds).get_attribute("aria-sort") == "ascending"
    page.locator("#explorer-reset").click()
    page.locator("#explorer-search").focus()
    page.keyboard.type(dataset)
    assert page.locator(f"#{table_id} tbody tr:not([hidden])").count() == int((cells["dataset"] == dataset).sum())
    assert problems == [] and requests == []
    page.close()


@pytest.mark.slow
def test_a_table_too_long_to_print_is_built_from_its_data(browser, tmp_path, monkeypatch):
    """Past the print limit, Appendix A's rows are data the script builds into the same table."""
    from handmade import analysis_tables, cells_table, floors_table
    from helpers import smoke_config

    from lossatlas import report
    from lossatlas.design.config import load_study
    from lossatlas.report import sections

    monkeypatch.setattr(sections, "APPENDIX_PRINT_LIMIT", 10)
    study = load_study(smoke_config())
    cells = cells_table(study)
    context = report.build_context(study, cells, {}, [], repo=tmp_path, analysis=analysis_tables(), floors=floors_table())
    html = tmp_path / "report.html"
    html.write_text(report.render_html(context, REPO / "report" / "supplement.html.j2", REPO / "report" / "style.css"))
    assert "<td>" not in html.read_text()[html.read_text().index('id="appendix"'):html.read_text().index('id="provenance"')]
    page, problems, requests = open_report(browser, html, 1280, 2000)
    table_id = context["appendix"]["id"]
    assert page.locator(f"#{table_id} tbody tr").count() == len(cells)
    flagged = int(cells["reach_flag"].notna().sum())
    assert page.locator(f"#{table_id} tbody .flag").count() == flagged
    page.select_option("#filter-loss", "BCE")
    assert page.locator(f"#{table_id} tbody tr:not([hidden])").count() == int((cells["loss"] == "binary_crossentropy").sum())
    first = page.locator(f"#{table_id} tbody tr").first.locator("td").all_text_contents()
    assert first[:len(context["appendix"]["dimensions"])] == [
        context["appendix"]["rows"][0]["labels"][d["name"]] + ("\u2020" if d["name"] == "activation" and context["appendix"]["rows"][0]["flag"] else "")
        for d in context["appendix"]["dimensions"]]
    assert problems == [] and requests == []
    page.close()
