"""The HTML report: self-contained, tables as in the TSVs, provenance, citations, feature panels."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import types
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

import atlascope
from atlascope.report import build_report, check_output_dir
from atlascope.report.folder import staged_folder
from atlascope.report.html import safe_href
from atlascope.report.panels import feature_panels, unavailable_note
from atlascope.report.tables import format_parameter, summary_rows

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


def test_page_is_self_contained(page, example_dir):
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=\"(?!data:)", page)
    srcs = re.findall(r"<img[^>]+src=\"([^\"]+)\"", page)
    meta = json.loads((example_dir / "report.json").read_text())
    n_slices = len(meta["figures"]["cluster_slices"])
    assert n_slices >= 1
    assert len(srcs) == 2 + n_slices + sum(len(p["features"]) for p in meta["features"])
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    hrefs = re.findall(r"href=\"([^\"]*)\"", page)
    assert all(h.startswith(("#", "https://", "http://", "data:,")) for h in hrefs), hrefs


def test_figures_are_printable(example_dir):
    from PIL import Image

    meta = json.loads((example_dir / "report.json").read_text())
    names = [meta["figures"]["input"], meta["figures"]["clusters"]]
    names += [s["image"] for s in meta["figures"]["cluster_slices"]]
    for name in names:
        with Image.open(example_dir / name) as im:
            dpi = im.info.get("dpi", (0, 0))
            assert round(dpi[0]) >= 150, (name, dpi)
            assert im.size[0] >= 1000, (name, im.size)


def test_summary_has_one_row_per_cluster_with_its_best_region(page, example_dir):
    tables = parse_tables(page)
    clusters = pd.read_csv(example_dir / "clusters.tsv", sep="\t", dtype={"Cluster ID": str})
    rows = tables["summary"]["rows"]
    header = tables["summary"]["header"]
    assert 'id="summary-sentences"' in page
    if "Cluster ID" in clusters.columns:  # statistical-map method: main clusters, labels per atlas
        main = clusters[clusters["Cluster ID"].str.fullmatch(r"\d+")]
        assert [r[0] for r in rows] == list(main["Cluster ID"])
        atlases = list(clusters.columns[6:])
        assert header[-len(atlases):] == atlases
        for row, (_, ref) in zip(rows, main.iterrows()):
            assert row[1] == ("positive" if ref["Peak Stat"] >= 0 else "negative")
            assert row[2] == str(int(ref["Cluster Size (mm3)"]))
            assert row[-len(atlases):] == [str(ref[a]) if pd.notna(ref[a]) else "—" for a in atlases]
        return
    ca = pd.read_csv(example_dir / "cluster_assignments.tsv", sep="\t")
    assert [r[0] for r in rows] == [str(c) for c in clusters["cluster"]]
    best_col = next(i for i, h in enumerate(header) if h.startswith("best region"))
    for row, cluster in zip(rows, clusters["cluster"]):
        sub = ca[ca["cluster"] == cluster].sort_values("correlation", ascending=False)
        if len(sub):
            assert row[best_col].startswith(sub["region"].iloc[0])
            assert f"(r={sub['correlation'].iloc[0]:.2f})" in row[best_col]
        else:
            assert row[best_col] == "—"


def test_tables_have_units_legends_and_are_collapsed(page):
    tables = parse_tables(page)
    head = tables["assignments-table"]["header"]
    assert {"x (mm)", "y (mm)", "z (mm)", "correlation"} <= set(head)
    assert "volume" not in head  # an internal map index, kept in the TSV only
    assert "Pearson correlation" in page  # the legend of the metric columns
    n_rows = len(tables["assignments-table"]["rows"])
    assert n_rows > 10 and f"show all {n_rows} rows" in page
    hidden = re.search(r'<table class="sortable" id="assignments-table".*?</table>', page, re.S).group(0)
    assert hidden.count("<tr hidden>") == n_rows - 10
    corr = [float(r[head.index("correlation")]) for r in tables["assignments-table"]["rows"]]
    assert corr == sorted(corr, reverse=True)  # best first


def test_page_shows_parameters_versions_citations_once(page, example_dir):
    meta = json.loads((example_dir / "report.json").read_text())
    tables = parse_tables(page)
    params = dict(tables["parameters-table"]["rows"])
    assert params["samples"] == "2000" and params["seed"] == "25"
    assert params["min_fraction"] == "1/300" and params["max_fraction"] == "0.5"
    versions = dict(tables["versions-table"]["rows"])
    for pkg in ("atlascope", "numpy", "nibabel", "nilearn"):
        assert versions[pkg] and versions[pkg] != "not installed"
    assert page.count("Eickhoff SB") == 1  # the Juelich atlas' citation, once
    assert "NeuroVault image 10426" in page
    assert "FSL licence" in page
    # every region link has a details card, and cards exist only for regions the page shows
    anchors = set(re.findall(r'href="#(region-[^"]+)"', page))
    ids = set(re.findall(r'id="(region-[^"]+)"', page))
    assert anchors <= ids and ids == {r["anchor"] for r in meta["regions"].values()}
    ca = pd.read_csv(example_dir / "cluster_assignments.tsv", sep="\t")
    assert len(meta["regions"]) < ca["region"].nunique()


def test_parameters_display_as_typed():
    assert format_parameter(1 / 300) == "1/300"
    assert format_parameter(0.5) == "0.5" and format_parameter(25) == "25" and format_parameter(3.0) == "3.0"
    assert format_parameter(0.123456789123) == "0.123457"


def test_one_note_for_unavailable_features(page, example_dir):
    meta = json.loads((example_dir / "report.json").read_text())
    assert 1 <= len(meta["features"]) <= 5
    note = unavailable_note(meta["features"])
    missing = [p for p in meta["features"] if p["notes"]]
    if missing:
        assert page.count('id="features-note"') == 1 and "Not available offline" in note
        assert page.count("Not available offline") == 1


def test_feature_panels_use_features_when_they_exist(tmp_path, monkeypatch):
    class FakeFeature:
        name = "receptor fingerprint of hOc1"
        modality = "receptor density"
        description = "mean receptor densities"
        data = pd.DataFrame({"mean": [1.0, 2.5], "std": [0.1, 0.2]}, index=["AMPA", "<b>GABAA</b>"])

        def plot(self, ax=None, **kw):
            self.data["mean"].plot.bar(ax=ax)
            return ax

        def cite(self):
            return "Palomero-Gallagher N, Zilles K (2019) test citation"

    fake = types.ModuleType("atlascope.features")
    fake.get = lambda region, ftype, **kw: [FakeFeature()] if "V1" in str(region) and "Receptor" in ftype else []
    monkeypatch.setitem(sys.modules, "atlascope.features", fake)
    monkeypatch.setattr(atlascope, "features", fake, raising=False)
    v1 = atlascope.get_region("julich fsl", "GM Visual cortex V1 BA17 left")
    v5 = atlascope.get_region("julich fsl", "GM Visual cortex V5 left")
    panels = feature_panels([v1, v5], tmp_path)
    assert panels[0]["available"] and panels[0]["features"][0]["image"] == "feature_0_0.png"
    assert (tmp_path / "feature_0_0.png").stat().st_size > 0
    assert ["AMPA", "1", "0.1"] == panels[0]["features"][0]["table"]["rows"][0]
    assert "test citation" in panels[0]["features"][0]["citation"]
    assert not panels[1]["available"] and "not available offline" in panels[1]["notes"][0]
    note = unavailable_note(panels)
    assert note.count("Not available offline") == 1 and "LayerwiseCellDensity for 2 of 2 regions" in note


def test_feature_errors_do_not_break_the_report(tmp_path, monkeypatch):
    def boom(region, ftype, **kw):
        raise atlascope.errors.OfflineError("no cached receptor data")

    fake = types.ModuleType("atlascope.features")
    fake.get = boom
    monkeypatch.setattr(atlascope, "features", fake, raising=False)
    monkeypatch.setitem(sys.modules, "atlascope.features", fake)
    panels = feature_panels([atlascope.get_region("julich fsl", "GM Visual cortex V5 left")], tmp_path)
    assert not panels[0]["available"] and "no cached receptor data" in panels[0]["notes"][0]


def test_statmap_summary_from_the_wide_cluster_table():
    wide = pd.DataFrame(
        {
            "Cluster ID": ["1", "1a", "2", "3"],
            "X": [40.0, 42.0, -38.0, 0.0],
            "Y": [-20.0, -22.0, -20.0, -120.0],
            "Z": [56.0, 50.0, 56.0, 0.0],
            "Peak Stat": [7.9, 6.1, -5.2, 3.1],
            "Cluster Size (mm3)": [1200, None, 640, 8],
            "Julich-Brain": ["Area 4a (PreCG) right (p=0.61)", "Area 3b right", "Area 4a left (p=0.40)",
                             "outside the Julich-Brain coverage"],
            "Harvard-Oxford": ["Precentral Gyrus", "Postcentral Gyrus", "Precentral Gyrus",
                               "outside the Harvard-Oxford coverage"],
        }
    )
    s = summary_rows(wide, None)
    assert [r["cluster"] for r in s["rows"]] == ["1", "2", "3"]  # sub-peak 1a is not a cluster
    assert s["columns"][-2:] == ["Julich-Brain", "Harvard-Oxford"]
    one, two, three = s["rows"]
    assert one["cells"][1] == "positive" and two["cells"][1] == "negative"
    assert one["cells"][2] == "1200" and "1,200 mm³" in one["sentence"]
    assert "Area 4a (PreCG) right (p=0.61) (Julich-Brain)" in one["sentence"]
    assert "outside the coverage of every atlas" in three["sentence"]


# ----------------------------------------------------------------------------- rebuild and safety
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


@pytest.mark.parametrize("name", ["../secret.png", "/etc/hostname", "link.png"])
def test_report_json_may_not_name_files_outside_the_folder(example_dir, tmp_path, name):
    copy = tmp_path / "copy"
    shutil.copytree(example_dir, copy)
    (tmp_path / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    (copy / "link.png").symlink_to(tmp_path / "secret.png")
    meta = json.loads((copy / "report.json").read_text())
    meta["figures"]["input"] = name
    (copy / "report.json").write_text(json.dumps(meta))
    before = (copy / "index.html").read_bytes()
    with pytest.raises(atlascope.errors.InvalidInputError, match="outside the report folder"):
        build_report(copy)
    assert (copy / "index.html").read_bytes() == before


def test_hostile_report_json_is_escaped(example_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(example_dir, copy)
    meta = json.loads((copy / "report.json").read_text())
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    meta["title"] = evil
    meta["citations"][0]["urls"] = ["javascript:alert(document.domain)", "https://ok.example/a", "doi:10.1/x"]
    meta["citations"][0]["citation"] = evil
    meta["features"] = [
        {
            "region": evil,
            "anchor": 'x" onclick="alert(1)',
            "notes": [],
            "features": [
                {"name": evil, "table": {"columns": [evil], "rows": [[evil]], "total": 1}, "table_html": evil}
            ],
        }
    ]
    (copy / "report.json").write_text(json.dumps(meta))
    ca = pd.read_csv(copy / "cluster_assignments.tsv", sep="\t")
    ca.loc[0, "region"] = evil
    ca.to_csv(copy / "cluster_assignments.tsv", sep="\t", index=False)
    page = build_report(copy).read_text()
    assert "<script>alert" not in page and "<img src=x" not in page and 'onclick="alert' not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert 'href="https://ok.example/a"' in page and 'href="https://doi.org/10.1/x"' in page


def test_safe_href():
    assert safe_href("https://doi.org/10.1016/x") == "https://doi.org/10.1016/x"
    assert safe_href("doi:10.1016/x") == "https://doi.org/10.1016/x"
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "file:///etc/passwd",
                'https://x" onmouseover="a', "", None):
        assert safe_href(bad) == ""


def test_check_output_dir(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("x")
    with pytest.raises(atlascope.errors.InvalidInputError, match="is a file"):
        check_output_dir(f)
    with pytest.raises(atlascope.errors.InvalidInputError, match="which is a file"):
        check_output_dir(f / "out")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    with pytest.raises(atlascope.errors.InvalidInputError, match="no atlascope report"):
        check_output_dir(foreign)
    assert check_output_dir(tmp_path / "new" / "out") == tmp_path / "new" / "out"
    assert not (tmp_path / "new").exists()  # checking writes nothing


def test_check_output_dir_unwritable():
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc: no folder here that even root cannot write")
    with pytest.raises(atlascope.errors.InvalidInputError, match="not writable|cannot be written"):
        check_output_dir("/proc/self/atlascope-out")


def test_staged_folder_keeps_the_old_folder_on_failure(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(out) as stage:
        (stage / "report.json").write_text("new")
        (stage / "clusters.tsv").write_text("new")
        raise RuntimeError("killed")
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    assert (out / "report.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with staged_folder(out) as stage:
        (stage / "report.json").write_text("new")
    assert (out / "report.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _characterize(out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "atlascope.cli", "characterize", "--example", "--samples", "2000",
           "--no-viewer", "--quiet", "--out", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_run_leaves_the_old_report_then_rerun_replaces_it(example_dir, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(example_dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = _characterize(out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        staged = [p for p in tmp_path.glob(".out.part-*") if (p / "clusters.tsv").exists()]
        if staged:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing new mixed in
    proc = _characterize(out)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the killed run's leftover is gone
    assert (out / "index.html").read_bytes() != before["index.html"]
    assert "viewer.html" not in {p.name for p in out.iterdir()}  # --no-viewer: the old one went too


def test_sampling_summary_names_weak_matches_as_closest_only():
    clusters = pd.DataFrame(
        {"cluster": [0, 1, 2], "samples": [9, 5, 3], "x": [40.0, -40.0, 0.0], "y": [0.0, 0.0, -100.0],
         "z": [50.0, 50.0, 0.0], "peak value": [7.0, 3.0, 1.0], "color": ["#ff0000", "#00ff00", "#0000ff"]}
    )
    ca = pd.DataFrame({"cluster": [0, 0, 1], "region": ["BA4a right", "BA6 right", "BA44 left"],
                       "correlation": [0.3, 0.6, 0.05]})
    rows = summary_rows(clusters, ca, "Juelich", min_correlation=0.2)["rows"]
    assert rows[0]["region"] == "BA6 right" and "matches BA6 right best (correlation 0.60)" in rows[0]["sentence"]
    assert "no region of the Juelich above 0.2; the closest is BA44 left" in rows[1]["sentence"]
    assert rows[2]["cells"][-1] == "—" and "outside the atlas' coverage" in rows[2]["sentence"]


def test_write_outputs_for_the_statmap_method(tmp_path):
    """The statistical-map fields of a Characterization (issue 8) become clusters/labels TSVs, the
    cluster image, per-cluster slices and the summary (fields set on a real sampling result)."""
    import nibabel as nib
    import numpy as np

    from atlascope.report import write_outputs
    from atlascope.workflow import Parameters, characterize, example_image_path

    with atlascope.QUIET:
        result = characterize(example_image_path(), parameters=Parameters(samples=300))
    img = result.input.fetch()
    data = np.asanyarray(img.dataobj)
    labels = np.zeros(data.shape[:3], np.int16)
    labels[data > 5] = 1
    labels[data < -5] = -2
    ijk_pos = np.argwhere(labels == 1)[0]
    ijk_neg = np.argwhere(labels == -2)[0]
    xyz_pos, xyz_neg = (nib.affines.apply_affine(img.affine, v) for v in (ijk_pos, ijk_neg))
    vox = float(abs(np.linalg.det(img.affine[:3, :3])))
    result.method = "statmap"
    result.cluster_table = pd.DataFrame(
        {
            "Cluster ID": ["1", "1a", "2"],
            "X": [xyz_pos[0], xyz_pos[0] + 3, xyz_neg[0]],
            "Y": [xyz_pos[1], xyz_pos[1], xyz_neg[1]],
            "Z": [xyz_pos[2], xyz_pos[2], xyz_neg[2]],
            "Peak Stat": [float(data[tuple(ijk_pos)]), 6.0, float(data[tuple(ijk_neg)])],
            "Cluster Size (mm3)": [(labels == 1).sum() * vox, np.nan, (labels == -2).sum() * vox],
            result.map.parcellation.name: ["Area X (p=0.61)", "Area X", "outside the atlas coverage"],
        }
    )
    result.labels = pd.DataFrame(
        {"cluster": ["1", "2"], "peak": ["1", "2"], "atlas": [result.map.name] * 2,
         "label": ["Area X", ""], "value": [0.61, np.nan], "metric": ["probability"] * 2}
    )
    result.label_maps = nib.Nifti1Image(labels, img.affine)
    result.atlases = [result.map]
    index = write_outputs(result, tmp_path / "out", viewer=False, feature_types=())
    out = index.parent
    written = pd.read_csv(out / "clusters.tsv", sep="\t", dtype={"Cluster ID": str})
    assert list(written["Cluster ID"]) == ["1", "1a", "2"]
    assert len(pd.read_csv(out / "labels.tsv", sep="\t")) == 2
    assert np.array_equal(np.asanyarray(nib.load(out / "clusters.nii.gz").dataobj), labels)
    assert (out / "cluster_1.png").is_file() and (out / "cluster_2.png").is_file()
    page = index.read_text()
    summary = parse_tables(page)["summary"]
    assert [r[0] for r in summary["rows"]] == ["1", "2"]
    assert [r[1] for r in summary["rows"]] == ["positive", "negative"]
    assert "outside the coverage of every atlas" in page
    assert "Area X (p=0.61)" in summary["rows"][0][-1]


def test_report_command_names_a_broken_tsv(example_dir, tmp_path):
    from click.testing import CliRunner

    from atlascope.cli import main

    copy = tmp_path / "copy"
    shutil.copytree(example_dir, copy)
    (copy / "peaks.tsv").write_text('peak\tx\n0\t"unbalanced quote\n1\t2\n')
    res = CliRunner().invoke(main, ["report", str(copy)])
    assert res.exit_code == 2 and "peaks.tsv" in res.output and "not a readable TSV" in res.output


@pytest.mark.parametrize("kind", ["under-a-file", "unwritable"])
def test_characterize_checks_out_before_any_work(tmp_path, kind):
    from click.testing import CliRunner

    from atlascope.cli import main

    if kind == "under-a-file":
        (tmp_path / "a-file").write_text("x")
        out, expected = tmp_path / "a-file" / "out", "which is a file"
    else:
        if not Path("/proc/self").is_dir():
            pytest.skip("no /proc: no folder here that even root cannot write")
        out, expected = Path("/proc/self/atlascope-out"), "cannot be written"
    t0 = time.perf_counter()
    res = CliRunner().invoke(main, ["characterize", "--example", "--out", str(out), "--quiet"])
    assert res.exit_code == 2 and "atlascope: error:" in res.output and expected in res.output
    assert time.perf_counter() - t0 < 5  # refused before the characterisation ran
    assert "Traceback" not in res.output
