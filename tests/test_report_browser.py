"""The report in headless Chromium (Debian's /usr/bin/chromium driven by Playwright; never `playwright install`)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from atlascope.report import build_report

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


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    return page, errors, requests


def test_report_in_headless_chromium(browser, example_dir, tmp_path):
    page, errors, requests = _open(browser, example_dir / "index.html")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
    if os.environ.get("ATLASCOPE_FIGURE_DIR"):  # the README's screenshot
        page.screenshot(path=os.path.join(os.environ["ATLASCOPE_FIGURE_DIR"], "report.png"), full_page=False)

    # the first screen answers the question: the summary is visible without scrolling
    box = page.locator("#summary").bounding_box()
    assert box is not None and box["y"] < 1000
    clusters = pd.read_csv(example_dir / "clusters.tsv", sep="\t", dtype={"Cluster ID": str})
    ids = page.eval_on_selector_all("#summary tbody tr", "rows => rows.map(r => r.cells[0].textContent.trim())")
    sizes = page.eval_on_selector_all("#summary tbody tr", "rows => rows.map(r => r.cells[2].textContent.trim())")
    if "Cluster ID" in clusters.columns:  # statistical-map method
        main = clusters[clusters["Cluster ID"].str.fullmatch(r"\d+")]
        assert ids == list(main["Cluster ID"])
        assert sizes == [str(int(v)) for v in main["Cluster Size (mm3)"]]
    else:
        assert ids == [str(c) for c in clusters["cluster"]]
        assert sizes == [str(n) for n in clusters["samples"]]

    # the page stays short with everything collapsed
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= 12000, height

    # every image is decoded
    sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
    assert len(sizes) >= 3
    assert all(done and width > 0 for done, width in sizes), sizes

    # links only to the page itself, http(s) or doi.org
    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith(("#", "http://", "https://")) for h in hrefs), hrefs

    # a long table is collapsed; "show all" shows every row
    visible = "rows => rows.filter(r => !r.hidden).length"
    total = page.eval_on_selector_all("#assignments-table tbody tr", "rows => rows.length")
    assert page.eval_on_selector_all("#assignments-table tbody tr", visible) == 10 < total
    page.click("button.show-all[data-table='assignments-table']")
    assert page.eval_on_selector_all("#assignments-table tbody tr", visible) == total

    # clicking a numeric header sorts best (largest) first, then ascending
    col = page.eval_on_selector_all("#assignments-table thead th", "ths => ths.map(t => t.textContent.trim())")
    c = col.index("correlation")
    header = page.locator("#assignments-table thead th", has_text="correlation").first
    header.click()
    desc = [float(v) for v in _column(page, "assignments-table", c) if v]
    assert desc == sorted(desc, reverse=True) and desc[0] > desc[-1]
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    asc = [float(v) for v in _column(page, "assignments-table", c) if v]
    assert asc == sorted(asc)
    # text columns sort alphabetically
    page.locator("#assignments-table thead th", has_text="region").first.click()
    names = _column(page, "assignments-table", col.index("region"))
    assert names == sorted(names, key=str.lower)

    # a region link opens its details card, which refers to its citation
    first = page.locator("#tab-report a[href^='#region-']").first
    target = first.get_attribute("href")
    first.click()
    assert page.evaluate("location.hash") == target
    details = page.locator(target)
    assert details.is_visible() and "citation [" in details.inner_text()

    # one note for the feature data that is not available offline
    note = page.locator("#features-note")
    if note.count():
        assert note.is_visible() and page.locator("#features").inner_text().count("Not available offline") == 1

    page.screenshot(path=str(tmp_path / "report-region-details.png"), full_page=False)

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


def test_hostile_report_json_renders_inert(browser, example_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(example_dir, copy)
    meta = json.loads((copy / "report.json").read_text())
    meta["title"] = '<img src=x onerror="window.__pwned=1">'
    meta["citations"][0]["urls"] = ["javascript:window.__pwned=2", "https://example.org/ok"]
    meta["features"] = [{"region": "<script>window.__pwned=3</script>", "anchor": "x", "notes": [],
                         "features": [{"name": "<b onmouseover=alert(1)>f</b>", "table_html": "<script>window.__pwned=4</script>"}]}]
    (copy / "report.json").write_text(json.dumps(meta))
    build_report(copy)
    page, errors, _ = _open(browser, copy / "index.html")
    assert page.evaluate("window.__pwned === undefined")
    assert page.title() == meta["title"]  # shown as text
    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
    assert not any(h.lower().startswith("javascript:") for h in hrefs)
    assert not errors, errors
    page.close()
