"""siibra-python's gallery examples that need only MNI152 data (siibra-python ``examples/``:
04_locations/000, 05_anatomical_assignment/001, 01_atlases_and_parcellations/005,
03_data_features/002), run with ``import atlascope as siibra``.

Adapted beyond the import line only where the offline pack lacks the example's data: the
Julich-Brain 2.9 maps are replaced by the FSL Jülich maps ("julich fsl"), warps to BigBrain and
feature queries are left out, and receptor densities are replaced by values per region. Each
example's checks are what its text says the reader should see.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from nilearn import plotting  # noqa: E402

import atlascope as siibra  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_employing_locations_of_interest():
    # 04_locations/000_employing_locations_of_interest.py
    point = siibra.Point((27.75, -32.0, 63.725), space="mni152")
    point_uncertain = siibra.Point((27.75, -32.0, 63.725), space="mni152", sigma_mm=3.0)
    assert point_uncertain.sigma == 3.0
    siibra.PointCloud([(27.75, -32.0, 63.725), (27.75, -32.0, 63.725)], space="mni152", sigma_mm=[0.0, 3.0])
    np.random.seed(0)
    ptset = siibra.PointCloud(
        np.array(
            [
                np.random.randn(10000) * 3 - 27.75,
                np.random.randn(10000) * 3 - 32.0,
                np.random.randn(10000) * 3 + 63.725,
            ]
        ).T,
        space="mni152",
    )
    box = ptset.boundingbox
    assert box.contains([ptset.centroid]).all()
    np.testing.assert_allclose(ptset.centroid, (-27.75, -32.0, 63.725), atol=0.2)
    kde_volume = siibra.volumes.from_pointcloud(ptset, target=siibra.get_template("mni152"))
    plotting.view_img(kde_volume.fetch())
    bbox = siibra.BoundingBox((-29.75, -33.0, 63.725), (-25.75, -30.0, 60.725), space="mni152")
    assert bbox.shape == pytest.approx((4.0, 3.0, 3.0))
    inside = ptset.intersection(bbox)
    assert inside is not None and 0 < len(inside) < len(ptset)
    assert point.intersection(bbox) is None


def test_assigning_brain_regions_to_coordinates():
    # 05_anatomical_assignment/001_coordinates.py
    with siibra.QUIET:
        julich_pmaps = siibra.get_map(parcellation="julich fsl", space="mni152", maptype="statistical")
    point = siibra.Point((27.75, -32.0, 63.725), space="mni152")
    with siibra.QUIET:
        assignments = julich_pmaps.assign(point)
    top = assignments.sort_values(by=["map value"], ascending=False)
    assert "right" in str(top.iloc[0]["region"])  # "located in PostCG of the right hemisphere"
    point_uncertain = siibra.Point((27.75, -32.0, 63.725), space="mni152", sigma_mm=3.0)
    with siibra.QUIET:
        assignments = julich_pmaps.assign(point_uncertain)
    likely = assignments.query("`input containedness` >= 0.5").dropna(axis=1)
    assert len(likely)
    for _index, assignment in assignments[assignments["input containedness"] >= 0.5].iterrows():
        pmap = julich_pmaps.fetch(region=assignment["region"])
        plotting.plot_stat_map(pmap, cut_coords=tuple(point), title=str(assignment["region"]))


def test_spatial_properties_of_brain_regions():
    # 01_atlases_and_parcellations/005_brain_region_spatialprops.py
    space = siibra.spaces["mni152"]
    v1_left = siibra.get_region("julich fsl", "v1 left")
    props = v1_left.spatial_props(space)
    centroid = props[0].centroid
    assert isinstance(centroid, siibra.Point) and centroid.space is not None
    assert centroid.coordinate[0] < 0  # left hemisphere
    mask = v1_left.get_regional_mask(space)
    plotting.plot_roi(mask.fetch(), title=f"Mask of {v1_left.name} in {space.name}")
    centroids = v1_left.compute_centroids(space)
    assert len(centroids) == len(props)


def test_colorizing_a_map():
    # 03_data_features/002_colorize_map.py (one number per region instead of receptor densities)
    jubrain = siibra.parcellations["julich fsl"]
    mapping = {r: float(i) for i, r in enumerate(jubrain.find("V1"), start=1)}
    colorized_map = siibra.get_map(jubrain, "mni152", maptype=siibra.MapType.LABELLED).colorize(mapping)
    values = np.asanyarray(colorized_map.fetch().dataobj)
    assert set(np.unique(values)) - {0.0} <= set(mapping.values())
    plotting.plot_stat_map(colorized_map.fetch(), cmap="viridis", title="values per region")
