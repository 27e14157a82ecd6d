"""A siibra-python ROI script runs after ``import atlascope as siibra`` (names and call shapes)."""

from __future__ import annotations

import numpy as np

import atlascope as siibra


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
