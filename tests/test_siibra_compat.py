"""A siibra-python ROI script runs after ``import atlascope as siibra`` (names and call shapes)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import atlascope as siibra
from atlascope.errors import ServiceUnavailableError
from shared_data import shared_path, shared_root

pytest_plugins = ["httpserver"]


def test_siibra_names_exist():
    for name in (
        "get_map",
        "get_region",
        "get_space",
        "get_parcellation",
        "get_template",
        "QUIET",
        "VERBOSE",
        "Point",
        "PointCloud",
        "BoundingBox",
        "volumes",
        "features",
        "use_configuration",
    ):
        assert hasattr(siibra, name), name
    assert siibra.features.molecular.ReceptorDensityFingerprint.__name__ == "ReceptorDensityFingerprint"
    assert siibra.features.molecular.GeneExpressions.__name__ == "GeneExpressions"
    assert siibra.features.cellular.LayerwiseCellDensity.__name__ == "LayerwiseCellDensity"
    assert siibra.features.connectivity.StreamlineCounts.__name__ == "StreamlineCounts"


def test_fig3_script_shape_runs():
    pmaps = siibra.get_map(parcellation="julich fsl", space="mni152", maptype="statistical")
    tpl = siibra.get_template("mni152").fetch()
    assert tpl.shape == (193, 229, 193)  # ICBM 2009c, the space "mni152" names
    img = pmaps.fetch(region="Visual cortex V1 BA17 left")
    volume = siibra.volumes.from_nifti(img, space="mni152", name="V1 left")
    np.random.seed(25)
    samples = volume.draw_samples(2000, e=5, sigma_mm=3)
    np.random.seed(25)
    again = volume.draw_samples(2000, e=5, sigma_mm=3)
    np.testing.assert_array_equal(samples.coordinates, again.coordinates)  # the global RNG is honoured
    samples.find_clusters(min_fraction=1 / 100, max_fraction=1 / 2)
    labels = sorted(set(samples.labels.tolist()) - {-1})
    assert labels
    with siibra.QUIET:
        clustermap = siibra.volumes.from_pointcloud(samples, label=labels[0], target=volume)
        df = pmaps.assign(clustermap)
        peaks = volume.find_peaks(mindist=5, sigma_mm=0)
        dfp = pmaps.assign(peaks)
    assert str(df.sort_values("correlation").iloc[-1]["region"]) == "GM Visual cortex V1 BA17 left"
    assert str(dfp.iloc[0]["region"]) == "GM Visual cortex V1 BA17 left"


# --------------------------------------------------------------------------- the tutorial's feature code
def tutorial_feature_code() -> str:
    """The feature section of the seed tutorial, verbatim: from ``def shortname`` to the final
    ``plt.tight_layout()`` of the four-panel figure (helpers, region selection, figure loop)."""
    root = shared_root()
    if root is None:
        pytest.skip("../shared is absent (the seed tutorial lives in ../shared/seed)")
    seeds = sorted((root / "seed").glob("000_*.txt"))
    if not seeds:
        pytest.skip("the seed tutorial is absent from ../shared/seed")
    text = seeds[0].read_text(encoding="utf-8")
    start = text.index("def shortname(region):")
    tail = 'plt.suptitle("")\nplt.tight_layout()'
    end = text.index(tail, start) + len(tail)
    return text[start:end]


def run_tutorial(code: str) -> dict:
    """Execute ``code`` with the tutorial's imports, ``siibra`` being atlascope."""
    import re

    import matplotlib.pyplot as plt
    import pandas as pd

    ns = {"re": re, "np": np, "pd": pd, "plt": plt, "siibra": siibra}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # the tutorial's "\s" regex literal
        warnings.simplefilter("ignore", DeprecationWarning)
        exec(compile(code, "seed-tutorial", "exec"), ns)
    return ns


def helpers_only(code: str) -> str:
    """The tutorial's function definitions (everything before ``selected_region = ...``), verbatim."""
    return code[: code.index("selected_region = ")]


@pytest.fixture
def offline_pack(monkeypatch):
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    monkeypatch.delenv("ATLASCOPE_MIRROR", raising=False)


def test_tutorial_feature_helpers_on_offline_pack(offline_pack):
    import matplotlib.pyplot as plt
    import pandas as pd

    code = tutorial_feature_code()
    ns = run_tutorial(helpers_only(code))
    region = siibra.get_region("julich fsl", "V1 left")
    fig, axs = plt.subplots(1, 4, figsize=(14, 4))
    ns["plot_receptors"](region, axs[0])
    ns["plot_celldensities"](region, axs[1])
    src = pd.read_csv(shared_path("receptors-zilles2018", "V1_fp.tsv"), sep="\t").set_index("receptor")
    # the receptor panel shows Zilles' V1 means (AMPA 496) with their SDs as error bars
    heights = [p.get_height() for p in axs[0].patches]
    assert heights == list(src["density (mean)"])
    assert axs[0].patches and "α1" in [t.get_text() for t in axs[0].get_xticklabels()]
    assert axs[1].patches  # von Economo OC densities (homologous area)
    # the connectivity panel: the offline pack has Desikan-Killiany connectivity, not FSL areas
    dk = siibra.get_region("desikan", "ctx-pericalcarine left")
    ns["plot_connectivity"](dk, axs[2])
    assert len(axs[2].patches) == 15
    # genes stay a live Allen query: offline, a clear error naming the service
    with pytest.raises(ServiceUnavailableError, match="Allen"):
        ns["plot_gene_expressions"](region, axs[3], ["gabarapl1", "gabarapl2", "maoa", "tac1"])
    plt.close(fig)
    # the filter_features idiom keeps the pack's features (r.assign(region) of their anchors)
    fts = ns["filter_features"](siibra.features.get(region, "ReceptorDensityFingerprint"), region)
    assert fts and fts[0].data.loc["AMPA", "mean"] == 496.0 and fts[0].data.loc["AMPA", "std"] == 274.0


@pytest.fixture
def mirror_catalogue(tmp_path, http_server_factory, monkeypatch):
    """The catalogue's feature entries with real-format stand-in files on a 127.0.0.1 mirror, the
    Allen API answers in the recorded layout, and the global registry swapped for the test one
    (so the tutorial's ``siibra.get_region("julich 3.0.3", ...)`` and ``features.get`` see it)."""
    import atlascope.core.registry as registry_mod
    from atlascope.core.registry import REGISTRY
    from atlascope.features import genes as genes_mod
    from atlascope.maps.map import Map, MapIndex
    from atlascope.volumes import NiftiProvider, Volume
    from feature_fixtures import HOC1_LEFT, abagen_coordinates, serve_allen
    from features_env import make_env, mirror_env

    coords = abagen_coordinates()
    if coords is None:
        pytest.skip("abagen is not installed (its package data holds the real AHBA sample coordinates)")
    shared = shared_path()
    server = http_server_factory()
    env = make_env(shared, tmp_path / "mirror", server)
    pmap = next(
        (shared / "julich-brain-2.4" / "Area hOc1 (V1, 17, CalcS)" / "2.4").glob("Area-hOc1_l_*MNI152ASYM2009C*.nii.gz")
    )
    space = REGISTRY.get_space("ICBM 2009c")
    env.registry.add_space(space)
    env.registry.add_map(
        Map(
            "test/jb303-hoc1-left",
            "Julich-Brain 3.0.3 hOc1 left (v2.4 pmap)",
            space,
            env.jb303,
            "statistical",
            [Volume(NiftiProvider(pmap), space, "hOc1 left")],
            {HOC1_LEFT: [MapIndex(volume=0)]},
        )
    )
    serve_allen(server, coords, [["GABARAPL1", "GABARAPL2", "MAOA", "TAC1"]], 2)
    monkeypatch.setenv("ATLASCOPE_ALLEN_API", server.url + "/api/v2")
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(genes_mod, "PAGE_SIZE", 2)
    monkeypatch.setattr(registry_mod, "REGISTRY", env.registry)
    monkeypatch.setattr(siibra, "REGISTRY", env.registry)
    with mirror_env(server.url):
        yield env


def test_tutorial_feature_code_verbatim_on_mirror(mirror_catalogue):
    import matplotlib.pyplot as plt

    env = mirror_catalogue
    ns = run_tutorial(tutorial_feature_code())  # helpers, selected_region, the four-panel figure
    region = ns["selected_region"]
    assert region.name == "Area hOc1 (V1, 17, CalcS) left" and region.parcellation is env.jb303
    axs = ns["axs"]
    assert len(axs) == 4 and all(ax.has_data() for ax in axs)
    # receptors: the catalogue's V1 fingerprint (a stand-in file with Zilles' real V1 values)
    fp = ns["filter_features"](siibra.features.get(region, "ReceptorDensityFingerprint"), region)[0]
    assert env.receptors[fp.file] == "V1"
    assert fp.data.loc["AMPA", "mean"] == 496.0 and fp.data.loc["AMPA", "std"] == 274.0
    assert [p.get_height() for p in axs[0].patches] == list(fp.data["mean"])
    # connectivity: subject 000's row of hOc1 left, every connection > 0, the first 15 drawn
    conn = siibra.features.get(region, "StreamlineCounts")[0]
    conndata = conn[0].get_profile(region).data
    assert (conndata.iloc[:, 0] > 0).all() and len(axs[2].patches) == 15
    assert [p.get_height() for p in axs[2].patches] == list(conndata.iloc[:15, 0])
    plt.close(ns["fig"])
