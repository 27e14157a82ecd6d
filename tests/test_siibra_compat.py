"""A siibra-python ROI script runs after ``import atlascope as siibra`` (names and call shapes)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import atlascope as siibra
from atlascope.errors import ServiceUnavailableError
from shared_data import shared_path, shared_root


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
