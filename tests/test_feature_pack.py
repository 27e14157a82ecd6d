"""The offline feature pack (package data): real published values, explicit mappings, provenance,
and the queries a user makes offline (receptors, von Economo cell densities, ENIGMA connectivity)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import atlascope as siibra
from atlascope import features
from atlascope.errors import NotFoundError
from atlascope.features import pack
from shared_data import shared_path


@pytest.fixture(scope="module")
def fixtures():
    return shared_path()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    monkeypatch.delenv("ATLASCOPE_MIRROR", raising=False)


def v1_left():
    return siibra.get_region("julich fsl", "V1 left")


def test_v1_receptor_fingerprint_is_zilles_v1(fixtures):
    fts = siibra.features.get(v1_left(), "ReceptorDensityFingerprint")
    assert fts
    fp = fts[0]
    src = pd.read_csv(fixtures / "receptors-zilles2018" / "V1_fp.tsv", sep="\t").set_index("receptor")
    assert fp.anchor.region == "GM Visual cortex V1 BA17"
    assert list(fp.anchor.regions.values()) == ["contains"]  # the area, queried by its left half
    df = fp.data
    assert list(df.index) == list(src.index)  # the file's labels, alpha1 included
    assert df.loc["AMPA", "mean"] == 496.0 == src.loc["AMPA", "density (mean)"]
    assert df.loc["AMPA", "std"] == 274.0 == src.loc["AMPA", "density (sd)"]
    np.testing.assert_array_equal(df["mean"].to_numpy(), src["density (mean)"].to_numpy())
    np.testing.assert_array_equal(df["std"].to_numpy(), src["density (sd)"].to_numpy())
    assert fp.unit == src["unit"].iloc[0]
    assert "Zilles" in fp.cite() and "MIT" in fp.licence
    ax = fp.plot(capsize=4)
    assert len(ax.patches) == 15
    # the default type "Feature" answers with every feature of the region (receptors and cells)
    kinds = {type(f).__name__ for f in siibra.features.get(v1_left())}
    assert kinds == {"ReceptorDensityFingerprint", "VonEconomoCellDensity"}


def test_every_mapped_area_matches_its_source_file(fixtures):
    mapping = pd.read_csv(pack.pack_dir() / pack.ZILLES_MAPPING, sep="\t", keep_default_na=False)
    fsl = siibra.get_parcellation("julich fsl")
    fps = [f for f in siibra.core.registry.REGISTRY.features if isinstance(f, features.ReceptorDensityFingerprint)]
    by_anchor = {(f.anchor.region, f.area): f for f in fps}
    for _, row in mapping.iterrows():
        src = pd.read_csv(fixtures / "receptors-zilles2018" / f"{row.zilles_area}_fp.tsv", sep="\t")
        for name in (row.fsl_area, row.julich_brain_area):
            if not name:
                continue
            f = by_anchor[(name, row.zilles_area)]
            np.testing.assert_array_equal(f.data["mean"].to_numpy(), src["density (mean)"].to_numpy())
        if row.fsl_area:
            assert fsl.get_region(row.fsl_area).name == row.fsl_area  # names are the pack's own
    # unmapped areas get no feature (never guessed)
    assert not [f for f in fps if f.area in ("8", "V3A", "41")]
    assert {f.area for f in fps} == set(mapping.zilles_area)


def test_area_44_and_4(fixtures):
    src44 = pd.read_csv(fixtures / "receptors-zilles2018" / "44_fp.tsv", sep="\t")
    fp = features.get(siibra.get_region("julich fsl", "BA44 left"), "receptor")[0]
    assert fp.area == "44" and fp.anchor.region == "GM Broca's area BA44"
    assert fp.data.loc["NMDA", "mean"] == float(src44.loc[src44.receptor == "NMDA", "density (mean)"].iloc[0])
    src4 = pd.read_csv(fixtures / "receptors-zilles2018" / "4_fp.tsv", sep="\t")
    for sub in ("BA4a left", "BA4p right"):
        fp4 = features.get(siibra.get_region("julich fsl", sub), "receptor")[0]
        assert fp4.area == "4"
        assert fp4.data.loc["GABAA", "mean"] == float(src4.loc[src4.receptor == "GABAA", "density (mean)"].iloc[0])


def test_von_economo_cell_densities_are_homologous(fixtures):
    cells = siibra.features.get(v1_left(), "LayerwiseCellDensity")
    assert cells
    f = cells[0]
    assert list(f.anchor.regions.values()) == ["homologous area"]
    pytest.importorskip("xlrd", reason="xlrd reads the source .xls")
    raw = pd.read_excel(fixtures / "vonEconomo-layers" / "StructuralData_VonEconomoKoskinas_addedvalues.xls")
    raw["Area symbol"] = raw["Area symbol"].ffill()
    oc = raw[raw["Area symbol"] == "OC"].dropna(subset=["Cortical layer"])
    assert list(f.data["layer"]) == list(oc["Cortical layer"].astype(str))
    # cells/mm³ in the source; cells per (0.1 mm)³ = 10⁻³ mm³ in atlascope
    np.testing.assert_allclose(
        f.data["density"].to_numpy(), pd.to_numeric(oc["Cell content [cells/mm³]"], errors="coerce").to_numpy() * 1e-3
    )
    assert f.unit == "cells / (0.1 mm)³"
    assert "Economo" in f.cite() and "GPL" in f.licence
    ax = f.plot(textwrap=30)
    assert all(len(line) <= 30 for line in ax.get_title().split("\n"))
    assert len(ax.patches) == len(oc)


def test_enigma_connectivity_for_desikan_regions(fixtures):
    d = fixtures / "hcp-connectivity-enigma"
    labels = (d / "strucLabels_ctx.csv").read_text().strip().split(",")
    src = pd.read_csv(d / "strucMatrix_ctx.csv", header=None).to_numpy()
    region = siibra.get_region("desikan", "ctx-lateraloccipital left")
    fts = siibra.features.get(region, "StreamlineCounts")
    assert len(fts) == 1 and len(fts[0]) == 1
    conndata = fts[0][0].get_profile(region).data
    i = labels.index("L_lateraloccipital")
    col = src[:, i]
    assert len(conndata) == int((col > 0).sum())
    top = conndata.index[0].name
    assert top == "ctx-" + labels[int(np.argmax(col))][2:] + " left"
    assert conndata.iloc[0, 0] == pytest.approx(col.max(), rel=1e-5)
    fc = siibra.features.get(region, "FunctionalConnectivity")[0]
    fsrc = pd.read_csv(d / "funcMatrix_ctx.csv", header=None).to_numpy()
    np.testing.assert_allclose(fc.data.to_numpy(), fsrc, rtol=1e-5)
    assert "BSD" in fc.licence
    ax = fts[0].plot(region, kind="bar", rot=50, width=0.7)
    assert len(ax.patches) == 15


def test_pack_ships_provenance_and_licences():
    d = pack.pack_dir()
    text = (d / "PROVENANCE.md").read_text(encoding="utf-8")
    for needle in ("10.3389/fnana.2017.00078", "10.1038/s41592-021-01186-4", "von Economo", "homologous area"):
        assert needle in text
    for lic in ("LICENSE-receptor_principles", "LICENSE-ENIGMA", "LICENSE-human-multi-area-model-GPL-3"):
        assert (d / lic).stat().st_size > 500


@pytest.mark.parametrize("name", ["CellDensityProfile", "LayerwiseBigBrainIntensities", "RegionalBOLD"])
def test_unknown_type_names_are_not_substituted(name):
    with pytest.raises(NotFoundError) as err:
        siibra.features.get(v1_left(), name)
    msg = str(err.value)
    assert name in msg and "LayerwiseCellDensity" in msg and "StreamlineCounts" in msg


def test_empty_result_logs_one_warning(caplog):
    region = siibra.get_region("desikan", "ctx-lateraloccipital left")
    with caplog.at_level(logging.WARNING, logger="atlascope"):
        assert siibra.features.get(region, "ReceptorDensityFingerprint") == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    msg = warnings[0].getMessage()
    assert "builtin" in msg and "ctx-lateraloccipital left" in msg and "anchored" in msg
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="atlascope"):
        assert siibra.features.get(region, "StreamlineLengths") == []
    (w,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "no StreamlineLengths feature" in w.getMessage() and "offline pack" in w.getMessage()
