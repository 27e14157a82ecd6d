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
from atlascope.errors import InvalidInputError, NotFoundError
from feature_fixtures import ENIGMA_NAMED, HOC1_LEFT, standin_base, standin_counts
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
    # the file's labels stay in data (as siibra); the Greek symbols only on the plot axis
    assert {"AMPA", "kainate", "NMDA", "GABAA", "GABAB", "M1", "5-HT1A", "alpha1", "D1"} <= set(df.index)
    assert df.loc["AMPA", "mean"] == float(src.loc[src.receptor == "AMPA", "density (mean)"].iloc[0])
    assert df.loc["alpha1", "std"] == float(src.loc[src.receptor == "alpha1", "density (sd)"].iloc[0])
    assert len(df) == 15
    assert set(df["unit"]) == set(src["unit"]) and fp.unit == src["unit"].iloc[0]  # read from the file
    ax = fp.plot(capsize=4)
    assert len(ax.patches) == 15
    assert "α1" in [t.get_text() for t in ax.get_xticklabels()]
    assert ax.get_ylabel() == fp.unit
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
        # the stand-in files hold von Economo's cells/mm³ as counts per 0.1 mm³ without shrinkage
        # correction ("expected"); siibra reads the unit as per (0.1 mm)³ = 10⁻³ mm³ and divides by
        # the linear shrinkage correction ∛1.931: a factor 1/(100 ∛1.931) of the expected values
        exact = np.mean([e[layer] for e in truth["expected"]]) / (100 * np.cbrt(1.931))
        assert summary.loc[layer, "mean"] == pytest.approx(exact, rel=1e-6)  # areas written with 7 digits
        assert summary.loc[layer, "mean"] == pytest.approx(dens_mm3 / 1000 / np.cbrt(1.931), rel=1e-2)
    assert summary.loc["IV", "mean"] == pytest.approx(148.25 / np.cbrt(1.931), rel=2e-3)  # OC: IVa, IVb, IVc
    assert f.unit == "cells / (0.1 mm)³"
    first = df[df["patch"] == df["patch"].iloc[0]].set_index("layer")
    assert first.loc["II", "density"] == pytest.approx(truth["expected"][0]["II"] / (100 * np.cbrt(1.931)))
    # volume = area × 20 µm × ∛1.931 (mm³)
    assert first.loc["II", "volume"] == pytest.approx(first.loc["II", "area"] * 20e-9 * np.cbrt(1.931))
    ax = f.plot()
    assert len(ax.get_xticklabels()) == 6
    ax = f.plot(textwrap=30)  # siibra's keyword: the title wrapped at 30 characters
    assert all(len(line) <= 30 for line in ax.get_title().split("\n")) and ax.get_ylabel() == f.unit


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
    # siibra's compound feature: one per cohort and parcellation, elements = subjects
    assert isinstance(f, features.CompoundFeature) and f.indexing_attributes == ("subject",)
    assert len(f) == 200 and len(f.elements) == 200 and f[0] is f.elements[0]
    first = f[0]
    assert first.subject == f.subjects[0] and f[first.subject] is first
    # subject 000's profile: its column of the region, every connection > 0, strongest first
    prof = first.get_profile(hoc1_left(env)).data
    subject0 = standin_counts(314, 0)[:, 14]
    assert list(prof.columns) == [HOC1_LEFT]
    assert len(prof) == int((subject0 > 0).sum())
    assert (prof[HOC1_LEFT] > 0).all() and (np.diff(prof[HOC1_LEFT].to_numpy()) <= 0).all()
    np.testing.assert_allclose(np.sort(prof[HOC1_LEFT].to_numpy()), np.sort(subject0[subject0 > 0]))
    assert all(hasattr(r, "name") for r in prof.index)  # Regions, as the tutorial's shortname() needs
    # the average and top-N as options
    avg = f.get_profile(hoc1_left(env), max_rows=15).data
    assert len(avg) == 15 and avg.iloc[0, 0] == expected[14].max()
    with pytest.raises(InvalidInputError):
        f.get_profile(hoc1_left(env), max_rows=0)
    with pytest.raises(NotFoundError, match="200 elements"):
        f[200]
    # cached: a second feature object reads the average from disk, not the zip
    from atlascope.features.from_configuration import _connectivity  # noqa: F401

    g = type(f.base)(f.anchor, f.files, repository=f.repository, decoder=f.decoder, cohort=f.cohort)
    n1 = env.server.count(zip_path)
    np.testing.assert_allclose(g.data.to_numpy(), expected)
    assert env.server.count(zip_path) == n1
    ax = f.plot(hoc1_left(env), kind="bar", rot=50, width=0.7)  # the tutorial's keywords, to pandas
    assert len(ax.patches) == 15
    assert ax.patches[0].get_width() == pytest.approx(0.7)
    assert ax.get_xticklabels()[0].get_rotation() == pytest.approx(50)


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
    prof = sc.get_profile("L_lateraloccipital", max_rows=5).data["L_lateraloccipital"]
    i = labels.index("L_lateraloccipital")
    row = pd.Series(src[:, i], index=labels).sort_values(ascending=False, kind="stable")
    assert [r.name for r in prof.index] == list(row.index[:5])
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
