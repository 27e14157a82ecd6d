"""Catalogue features (receptors, layer-wise cells, connectivity) built from the real
siibra-configurations JSON, with real data from ../shared served at the catalogue's URLs."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import atlascope
from atlascope import features
from atlascope.core.region import Region
from atlascope.errors import NotFoundError
from feature_fixtures import ENIGMA_NAMED, HOC1_LEFT, standin_base
from features_env import make_env, mirror_env
from shared_data import shared_path

pytest_plugins = ["httpserver"]


@pytest.fixture(scope="module")
def env(tmp_path_factory, http_server_factory):
    shared = shared_path()
    root = tmp_path_factory.mktemp("feature-mirror")
    server = http_server_factory()
    e = make_env(shared, root, server)
    with mirror_env(server.url):
        os.environ["ATLASCOPE_OFFLINE"] = "1"
        yield e


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))


def hoc1_left(env):
    return env.jb303.get_region(HOC1_LEFT)


# --------------------------------------------------------------------------- query & ranking
def test_builders_are_lazy_and_query_reads_no_file(env, fresh_cache):
    before = len(env.server.requests)
    found = features.get(hoc1_left(env), "receptor", registry=env.registry)
    conn = features.get(hoc1_left(env), "StreamlineCounts", registry=env.registry)
    cells = features.get(hoc1_left(env), "LayerwiseCellDensity", registry=env.registry)
    assert found and conn and cells
    assert len(env.server.requests) == before  # matching uses names only


def test_ranking_exact_then_contains(env):
    reg = env.registry
    left = hoc1_left(env)
    fps = features.get(left, "ReceptorDensityFingerprint", registry=reg)
    assert [f.anchor.region for f in fps] == ["Area hOc1 (V1, 17, CalcS)"]
    ((region, qual),) = fps[0].anchor.regions.items()
    assert qual == "contains" and region.name == "Area hOc1 (V1, 17, CalcS)"
    # the area itself: exact
    area = env.jb303.get_region("Area hOc1 (V1, 17, CalcS)")
    assert list(features.get(area, "receptor", registry=reg)[0].anchor.regions.values()) == ["exact"]
    # the occipital cortex contains hOc1, hOc2, hOc3d: all three kinds of fingerprints, contained
    occ = env.jb303.get_region("occipital cortex")
    got = features.get(occ, "receptor", registry=reg)
    assert {f.anchor.region for f in got} >= {
        "Area hOc1 (V1, 17, CalcS)",
        "Area hOc2 (V2, 18)",
        "Area hOc3d (Cuneus)",
    }
    assert all(list(f.anchor.regions.values()) == ["contained"] for f in got)
    # connectivity: exact row in the matrix; the 3.0 matrix (same parcellation) first
    conn = features.get(left, "StreamlineCounts", registry=reg)
    assert conn[0].anchor.parcellation.endswith("-300")
    assert list(conn[0].anchor.regions.values()) == ["exact"]


def test_region_names_and_versions(env):
    reg = env.registry
    by_name = features.get("hOc1 left", "receptor", registry=reg)
    assert by_name and by_name[0].anchor.region == "Area hOc1 (V1, 17, CalcS)"
    # Region.assign across Julich-Brain versions
    a = env.jb29.get_region(HOC1_LEFT)
    b = env.jb303.get_region(HOC1_LEFT)
    assert a.assign(b) == "exact"
    assert env.jb29.get_region("Area hOc1 (V1, 17, CalcS)").assign(b) == "contains"
    # the FSL area of the builtin pack carries the modern alias
    fsl = atlascope.get_region("julich", "hOc1 left")
    assert features.get(fsl, "receptor", registry=reg)[0].anchor.region == "Area hOc1 (V1, 17, CalcS)"
    with pytest.raises(NotFoundError):
        features.get(b, "no such feature type", registry=reg)


# --------------------------------------------------------------------------- receptors
def test_receptor_fingerprint_values_from_zilles(env):
    fp = features.get(hoc1_left(env), "receptor", registry=env.registry)[0]
    assert env.receptors[fp.file] == "V1"
    src = pd.read_csv(env.shared / "receptors-zilles2018" / "V1_fp.tsv", sep="\t")
    df = fp.data
    assert list(df.columns) == ["mean", "std", "unit"]
    assert df.index.name == "receptor"
    assert {"AMPA", "kainate", "NMDA", "GABAA", "GABAB", "M1", "5-HT1A", "α1", "D1"} <= set(df.index)
    assert df.loc["AMPA", "mean"] == float(src.loc[src.receptor == "AMPA", "density (mean)"].iloc[0])
    assert df.loc["α1", "std"] == float(src.loc[src.receptor == "alpha1", "density (sd)"].iloc[0])
    assert len(df) == 15
    assert "fmol/mg protein" in set(df["unit"])
    ax = fp.plot()
    assert len(ax.patches) == 15
    pax = fp.plot(kind="polar")
    assert pax.name == "polar"
    assert "search.kg.ebrains.eu" in " ".join(fp.urls) and fp.cite()


def test_area_44_has_two_fingerprints(env):
    area44 = env.jb303.get_region("Area 44 (IFG) left")
    fps = features.get(area44, "receptor", registry=env.registry)
    assert len(fps) == 2
    src = pd.read_csv(env.shared / "receptors-zilles2018" / "44_fp.tsv", sep="\t")
    assert fps[0].data.loc["NMDA", "mean"] == float(src.loc[src.receptor == "NMDA", "density (mean)"].iloc[0])


# --------------------------------------------------------------------------- cells
def test_layerwise_cell_density_from_von_economo(env):
    f = features.get(hoc1_left(env), "cell density", registry=env.registry)[0]
    truth = env.cells["Area hOc1 (V1, 17, CalcS)"]
    df = f.data
    assert {"patch", "layer", "counts", "area", "volume", "density"} <= set(df.columns)
    assert f.densities.shape == (6, 10)
    summary = f.summary
    for layer, (_thick, dens_mm3) in truth["layers"].items():
        # von Economo: cells/mm³ -> cells / 0.1 mm³
        exact = np.mean([e[layer] for e in truth["expected"]])  # after rounding the cell counts
        assert summary.loc[layer, "mean"] == pytest.approx(exact, rel=1e-6)  # areas written with 7 digits
        assert summary.loc[layer, "mean"] == pytest.approx(dens_mm3 / 10, rel=1e-2)
    assert summary.loc["IV", "mean"] == pytest.approx(14825.0, rel=2e-3)  # OC: IVa, IVb, IVc
    first = df[df["patch"] == df["patch"].iloc[0]].set_index("layer")
    assert first.loc["II", "density"] == pytest.approx(truth["expected"][0]["II"])
    # volume = area × 20 µm (mm³)
    assert first.loc["II", "volume"] == pytest.approx(first.loc["II", "area"] * 20e-9)
    ax = f.plot()
    assert len(ax.get_xticklabels()) == 6


# --------------------------------------------------------------------------- connectivity
def test_streamline_counts_average_and_profile(env, fresh_cache):
    f = features.get(hoc1_left(env), "StreamlineCounts", registry=env.registry)[0]
    assert len(f.subjects) == 200 and len(f.regions) == 314
    zip_path = "/" + str(atlascope.retrieval.mirror_relpath(f.repository))
    n0 = env.server.count(zip_path)
    mean = f.data
    assert env.server.count(zip_path) == n0 + 1
    base = standin_base(314)
    expected = base + 2.0
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(mean.to_numpy(), expected)
    np.testing.assert_allclose(f.std.to_numpy()[0, 1], np.sqrt(2.0))
    assert mean.index[14] == HOC1_LEFT
    prof = f.get_profile(hoc1_left(env), max_rows=15)
    assert len(prof) == 15 and prof.name == HOC1_LEFT
    assert (np.diff(prof.to_numpy()) <= 0).all()
    row = pd.Series(expected[14], index=mean.index).drop(HOC1_LEFT)
    assert prof.iloc[0] == row.max()
    # cached: a second feature object reads the average from disk, not the zip
    from atlascope.features.builders import _connectivity  # noqa: F401

    g = type(f)(f.anchor, f.files, repository=f.repository, decoder=f.decoder, cohort=f.cohort)
    n1 = env.server.count(zip_path)
    np.testing.assert_allclose(g.data.to_numpy(), expected)
    assert env.server.count(zip_path) == n1
    ax = f.plot(hoc1_left(env))
    assert len(ax.patches) == 15


def test_enigma_real_connectivity(env):
    dk = atlascope.get_parcellation("desikan")
    (sc,) = [
        f
        for f in env.registry.features
        if getattr(f, "cohort", "").startswith("HCP ENIGMA") and f.modality == "StreamlineCounts"
    ]
    src = pd.read_csv(env.shared / "hcp-connectivity-enigma" / "strucMatrix_ctx.csv", header=None).to_numpy()
    labels = (env.shared / "hcp-connectivity-enigma" / "strucLabels_ctx.csv").read_text().strip().split(",")
    np.testing.assert_allclose(sc.data.to_numpy(), src)
    prof = sc.get_profile("L_lateraloccipital", max_rows=5)
    i = labels.index("L_lateraloccipital")
    row = pd.Series(src[i], index=labels).drop("L_lateraloccipital").sort_values(ascending=False)
    assert list(prof.index) == list(row.index[:5])
    np.testing.assert_allclose(prof.to_numpy(), row.to_numpy()[:5])
    assert sc.anchor.parcellation == dk.id
    assert "BSD" in sc.licence and "10.1038/s41592-021-01186-4" in sc.cite()
    (fc,) = [
        f
        for f in env.registry.features
        if getattr(f, "cohort", "").startswith("HCP ENIGMA") and f.modality == "FunctionalConnectivity"
    ]
    fsrc = pd.read_csv(env.shared / "hcp-connectivity-enigma" / "funcMatrix_ctx.csv", header=None).to_numpy()
    assert fc.data.iloc[0, 1] == pytest.approx(fsrc[0, 1])
    # the plain named matrix
    named = features.StreamlineCounts.from_file(ENIGMA_NAMED, cohort="HCP ENIGMA")
    assert list(named.data.index) == labels
    np.testing.assert_allclose(named.data.to_numpy(), src)


def test_type_words_and_region_objects(env):
    assert features.resolve_type("streamline counts") is features.StreamlineCounts
    assert features.resolve_type("receptor") is features.ReceptorDensityFingerprint
    assert features.resolve_type("gene") is features.GeneExpressions
    r = Region("Area hOc1 (V1, 17, CalcS)")
    assert features.get(r, "receptor", registry=env.registry)


# --------------------------------------------------------------------------- receptor profiles
def test_receptor_density_profile_from_catalogue_entry(env, fresh_cache):
    """The catalogue's profile entry for M3 in area 44, with a stand-in TSV (depth %, density) at its URL."""
    import json

    import matplotlib.pyplot as plt

    from atlascope.configuration.factory import BuildContext, build
    from atlascope.retrieval import mirror_relpath

    path = next(
        p
        for p in (env.shared / "siibra-configurations/features/tabular/corticalprofiles/receptor").glob(
            "*.json"
        )
        if p.name.endswith("AREA_44_IFG_M3.json")
    )
    spec = json.loads(path.read_text("utf-8"))
    depth = np.linspace(0, 100, 101)
    density = 300 + 200 * np.sin(depth / 100 * np.pi)  # peak in the middle layers
    tsv = "cortical depth (%)\tdensity (fmol/mg protein)\n" + "".join(
        f"{d:g}\t{v:.3f}\n" for d, v in zip(depth, density)
    )
    target = env.root / mirror_relpath(spec["file"])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(tsv)
    prof = build(spec, BuildContext(registry=env.registry, path=path))
    assert isinstance(prof, features.ReceptorDensityProfile) and prof.receptor == "M3"
    df = prof.data
    assert list(df.columns) == ["depth", "density"] and len(df) == 101
    np.testing.assert_allclose(df["density"].to_numpy(), density, atol=1e-3)
    assert df["density"].idxmax() == 50
    ax = prof.plot()
    assert ax.lines and "M3" in ax.get_title()
    plt.close(ax.figure)
