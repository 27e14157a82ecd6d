"""The report in headless Chromium (Debian's /usr/bin/chromium driven by Playwright; never `playwright install`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    # CI installs chromium (.ci/run), so there the browser test must run, never skip
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK) and not os.environ.get("CI"),
        reason=f"{CHROMIUM} is absent: run .ci/install_browser.sh (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory) -> Path:
    from test_cli import example_output

    return example_output(tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright Python package is not installed"
    )
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _column(page, table: str, col: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{col}].textContent.trim())"
    )


def test_report_in_headless_chromium(browser, example_dir, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((example_dir / "index.html").as_uri(), wait_until="load")

    page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
    if os.environ.get("ATLASCOPE_FIGURE_DIR"):  # the README's screenshot
        page.screenshot(path=os.path.join(os.environ["ATLASCOPE_FIGURE_DIR"], "report.png"), full_page=False)

    # every image is decoded
    sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
    assert len(sizes) >= 7
    assert all(done and width > 0 for done, width in sizes), sizes

    # clicking a header sorts the table (numeric, ascending then descending)
    header = page.locator("#assignments-table thead th", has_text="correlation").first
    col = page.eval_on_selector_all(
        "#assignments-table thead th", "ths => ths.map(t => t.textContent.trim())"
    )
    c = col.index("correlation")
    header.click()
    asc = [float(v) for v in _column(page, "assignments-table", c) if v]
    assert asc == sorted(asc) and asc[0] < asc[-1]
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    desc = [float(v) for v in _column(page, "assignments-table", c) if v]
    assert desc == sorted(desc, reverse=True)
    # text columns sort alphabetically
    region_header = page.locator("#assignments-table thead th", has_text="region").first
    region_header.click()
    names = _column(page, "assignments-table", col.index("region"))
    assert names == sorted(names, key=str.lower)

    # a region link jumps to its details section with provenance
    first = page.locator("#assignments-table tbody tr td a").first
    target = first.get_attribute("href")
    first.click()
    assert page.evaluate("location.hash") == target
    details = page.locator(target)
    assert details.is_visible() and "Eickhoff" in details.inner_text()

    # the offline feature note is visible
    assert page.locator("#features").inner_text().count("not available offline") >= 1

    page.screenshot(path=str(tmp_path / "report-region-details.png"), full_page=False)
    page.locator("#clusters").screenshot(path=str(tmp_path / "report-clusters.png"))

    # the slice viewer tab (when present) renders offline without errors
    if page.locator("#viewer-tab-button").count():
        page.click("#viewer-tab-button")
        frame = page.frame_locator("#viewer-frame")
        frame.locator("canvas").first.wait_for(timeout=15000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / "report-viewer.png"))
    assert not errors, errors
    remote = [u for u in requests if u.startswith(("http:", "https:"))]
    assert not remote, remote
    page.close()
    print(f"screenshots in {tmp_path}")
