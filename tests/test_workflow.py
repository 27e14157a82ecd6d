"""The main job on the offline pack: three Julich probability maps smoothed into one input, sampled,
clustered, turned into densities and assigned; and nilearn's example image through ``characterize``."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from nilearn import image

import atlascope
from atlascope import volumes
from atlascope.affines import nearest_voxel
from atlascope.workflow import Parameters, characterize, example_image_path

SOURCES = ["V1 left", "V1 right", "BA44 left"]
SPEC_COLUMNS = [
    "input structure",
    "centroid",
    "volume",
    "fragment",
    "region",
    "correlation",
    "intersection over union",
    "map value",
    "map weighted mean",
    "map containedness",
    "input weighted mean",
    "input containedness",
]


@pytest.fixture(scope="module")
def pmaps():
    return atlascope.get_map("julich fsl", "mni152", "statistical")


@pytest.fixture(scope="module")
def three_area_input(pmaps):
    ims = [pmaps.fetch(region=r) for r in SOURCES]
    combined = image.math_img("np.maximum(np.maximum(a, b), c)", a=ims[0], b=ims[1], c=ims[2])
    return image.smooth_img(combined, 10)


@pytest.mark.slow
def test_each_cluster_is_best_correlated_with_its_source_area(pmaps, three_area_input):
    sources = {atlascope.get_region("julich fsl", s) for s in SOURCES}
    vol = volumes.from_nifti(three_area_input, "mni152", name="V1 l/r + BA44 l, 10 mm")
    samples = vol.draw_samples(5000, e=5, sigma_mm=3, rng=np.random.default_rng(25))
    samples.find_clusters(min_fraction=1 / 300, max_fraction=1 / 2)
    labels = sorted(set(samples.labels.tolist()) - {-1})
    assert len(labels) >= 3
    inv = np.linalg.inv(three_area_input.affine)
    found = set()
    for lab in labels:
        pts = samples.coordinates[samples.labels == lab]
        # the area a cluster came from: the source map highest at the cluster's mean sample voxel
        ijk = np.rint((inv @ np.r_[pts.mean(0), 1.0])[:3]).astype(int)
        origin = max(SOURCES, key=lambda s: float(np.asanyarray(pmaps.fetch(region=s).dataobj)[tuple(ijk)]))
        kde = volumes.from_pointcloud(samples, label=lab, target=vol)
        df = pmaps.assign(kde)
        best = df.sort_values("correlation", ascending=False).iloc[0]
        assert best["region"] is atlascope.get_region("julich fsl", origin), (
            lab,
            str(best["region"]),
            origin,
        )
        found.add(best["region"])
    assert found == sources


@pytest.mark.slow
def test_characterize_example_image():
    p = Parameters(samples=2000)
    kw = {"method": "sampling", "threshold": 3.1, "two_sided": True, "atlases": None}
    res = characterize(example_image_path(), parameters=p, **kw)
    assert res.method == "sampling"
    assert len(res.samples) == 4000  # the positive and the negative part, 2000 each
    # every sample lies where |t| > 3.1, none in the background
    img = nib.load(example_image_path())
    ijk = nearest_voxel(res.samples.coordinates, img.affine)
    assert np.all(np.abs(np.asanyarray(img.dataobj)[tuple(ijk.T)]) > 3.1)
    # cluster densities live on the map's grid
    shape, affine = res.map.grid
    some = next(iter(res.cluster_maps.values())).fetch()
    assert some.shape == tuple(shape) and np.allclose(some.affine, affine)
    assert len(res.clusters) >= 1
    assert set(res.clusters["cluster"]) == set(res.samples.labels.tolist()) - {-1}
    df = res.cluster_assignments
    assert len(df) > 0
    assert list(df.columns) == ["cluster"] + [c for c in SPEC_COLUMNS if c != "fragment"]
    assert set(df["cluster"]) <= set(res.clusters["cluster"])
    for col in ("intersection over union", "map containedness", "input containedness"):
        assert df[col].between(0, 1).all()
    assert df["correlation"].between(-1, 1).all()
    assert df["map value"].between(0, 1).all()
    assert len(res.peaks) >= 1
    peaks = res.peak_assignments
    assert {"input structure", "region", "map value"} <= set(peaks.columns)
    assert set(res.timings) >= {"samples, clusters and densities", "peaks"}
    assert res.peak_values is not None and len(res.peak_values) == len(res.peaks)
    # repeatable with the same seed
    again = characterize(example_image_path(), parameters=p, **kw)
    np.testing.assert_array_equal(again.samples.coordinates, res.samples.coordinates)
