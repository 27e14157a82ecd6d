"""siibra-python's object tables, region and map helpers, on the offline pack (siibra's documented meaning)."""

from __future__ import annotations

import numpy as np
import pytest

import atlascope as siibra
from atlascope.errors import NotFoundError


# ------------------------------------------------------------------ tables
def test_tables_index_iterate_and_call():
    mni = siibra.spaces["mni152"]
    assert mni is siibra.get_space("mni152")
    assert siibra.parcellations["julich"] is siibra.get_parcellation("julich")
    assert list(siibra.spaces) == siibra.spaces()  # callable for backwards compatibility
    assert siibra.spaces[0] is siibra.spaces()[0]
    assert getattr(siibra.spaces, mni.name.upper().replace(" ", "_")) is mni
    assert "mni152" in siibra.spaces and "no such space" not in siibra.spaces
    assert len(siibra.maps) == len(siibra.list_maps()) > 0
    assert all(isinstance(m, siibra.Map) for m in siibra.maps)
    assert siibra.maps.from_nifti is not None  # still the atlascope.maps subpackage
    with pytest.raises(NotFoundError, match="out of range"):
        siibra.spaces[99]


def test_maptype_enum_selects_maps():
    stat = siibra.get_map("julich fsl", "mni152", maptype=siibra.MapType.STATISTICAL)
    lab = siibra.get_map("julich fsl", "mni152", maptype=siibra.MapType.LABELLED)
    assert stat.maptype == "statistical" and lab.maptype == "labelled"


def test_find_regions_parents_only():
    found = siibra.find_regions("hOc1")
    assert found and all(r.matches("hOc1") for r in found)
    assert not any(a in found for r in found for a in r.ancestors)
    every = siibra.find_regions("hOc1", parents_only=False)
    assert len(every) > len(found)


# ----------------------------------------------------------------- regions
@pytest.fixture(scope="module")
def v1_left():
    return siibra.get_region("julich fsl", "hOc1 left")


def test_region_maps_masks_and_spaces(v1_left):
    assert v1_left.mapped_in_space("mni152")
    assert not v1_left.mapped_in_space("colin27")
    assert [s.shortname for s in v1_left.supported_spaces] == ["MNI152 6th gen FSL"]
    pmap = v1_left.get_regional_map("mni152", siibra.MapType.STATISTICAL).fetch()
    arr = np.asanyarray(pmap.dataobj)
    assert 0 < arr.max() <= 1 and arr.min() >= 0
    mask = np.asanyarray(v1_left.get_regional_mask("mni152", "statistical", threshold=0.5).fetch().dataobj)
    np.testing.assert_array_equal(mask.astype(bool), arr > 0.5)
    with pytest.raises(NotFoundError, match="no labelled map in space"):
        v1_left.get_regional_map("colin27")


def test_centroids_lie_inside_each_component(v1_left):
    mask_img = v1_left.get_regional_mask("mni152").fetch()
    mask = np.asanyarray(mask_img.dataobj).astype(bool)
    cents = v1_left.compute_centroids("mni152")
    props = v1_left.spatial_props("mni152")
    assert len(cents) == len(props) >= 1
    assert sum(p.nvoxels for p in props) == mask.sum()
    assert sum(p.volume for p in props) == pytest.approx(mask.sum() * abs(np.linalg.det(mask_img.affine[:3, :3])))
    ijk = np.round(np.c_[cents.coordinates, np.ones(len(cents))] @ np.linalg.inv(mask_img.affine).T)[:, :3]
    assert mask[tuple(ijk.astype(int).T)].all()
    box = v1_left.get_boundingbox("mni152")
    assert box.contains(cents.coordinates).all()


def test_parent_region_centroids_inside():
    # a parent made of two hemispheres: one centroid per component, each inside the union mask
    v1 = siibra.get_region("julich fsl", "hOc1")
    whole = np.asanyarray(v1.get_regional_mask("mni152").fetch().dataobj).astype(bool)
    props = v1.spatial_props("mni152")
    img = v1.get_regional_mask("mni152").fetch()
    for p in props:
        ijk = np.round(np.linalg.inv(img.affine) @ [*p.centroid.coordinate, 1])[:3].astype(int)
        assert whole[tuple(ijk)]


def test_includes_contains_tree_and_find(v1_left, capsys):
    parent = v1_left.parent
    assert parent.includes(v1_left) and not v1_left.includes(parent)
    assert v1_left in parent and "hOc1 left" in parent
    assert siibra.Point((-9, -85, 4), "mni152") in v1_left
    assert siibra.Point((9, -85, 4), "mni152") not in v1_left
    text = parent.tree2str()
    assert text.splitlines()[0] == parent.name and v1_left.name in text
    parent.render_tree()
    assert capsys.readouterr().out.strip() == text
    assert v1_left in parent.find("left")


def test_region_assign_locations(v1_left):
    inside = v1_left.assign(siibra.Point((-9, -85, 4), "mni152"))
    assert len(inside) == 1 and inside["region"].iloc[0] is v1_left and inside["map value"].iloc[0] > 0
    assert len(v1_left.assign(siibra.Point((9, -85, 4), "mni152"))) == 0
    assert v1_left.assign(v1_left.parent) == "contained"


# -------------------------------------------------------------------- maps
@pytest.fixture(scope="module")
def pmaps():
    return siibra.get_map("julich fsl", "mni152", maptype="statistical")


@pytest.fixture(scope="module")
def lmap():
    return siibra.get_map("julich fsl", "mni152", maptype="labelled")


def test_statistical_fetch_index_is_one_region(pmaps):
    i = pmaps.get_index("hOc1 left")
    img = pmaps.fetch(index=i.volume)
    assert img.shape == pmaps.shape and np.allclose(img.affine, pmaps.affine)
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), np.asanyarray(pmaps.fetch(region="hOc1 left").dataobj))
    np.testing.assert_array_equal(np.asanyarray(pmaps.fetch(index=i).dataobj), np.asanyarray(img.dataobj))
    assert set(pmaps.find_indices("hOc1").values()) == {
        "GM Visual cortex V1 BA17 left",
        "GM Visual cortex V1 BA17 right",
    }
    with pytest.raises(siibra.errors.AmbiguousNameError, match="find_indices"):
        pmaps.get_index("hOc1")
    with pytest.raises(siibra.errors.InvalidInputError, match="out of range"):
        pmaps.fetch(index=len(pmaps.columns))
    with pytest.raises(siibra.errors.InvalidInputError, match="fragment"):
        pmaps.fetch(region="hOc1 left", fragment="left")
    first = next(pmaps.fetch_iter())
    np.testing.assert_array_equal(np.asanyarray(first.dataobj), np.asanyarray(pmaps.fetch(index=0).dataobj))


def test_labelled_map_labels_volume_and_colorize(lmap):
    labels = lmap.labels
    whole = np.asanyarray(lmap.fetch().dataobj)
    assert set(np.unique(whole).tolist()) - {0} <= set(labels)
    assert len(list(lmap.fetch_iter())) == len(lmap.volumes)
    i = lmap.get_index("hOc1 left")
    assert i.label in labels
    vol = lmap.get_volume(region="hOc1 left")
    mask = np.asanyarray(vol.fetch().dataobj).astype(bool)
    painted = np.asanyarray(lmap.colorize({"hOc1 left": 3.5, "hOc2": -1.0}).fetch().dataobj)
    assert (painted[mask] == 3.5).all()
    hoc2 = np.asanyarray(lmap.fetch(region="hOc2").dataobj).astype(bool)
    assert (painted[hoc2] == -1.0).all() and (painted[~(mask | hoc2)] == 0).all()
    with pytest.raises(siibra.errors.InvalidInputError, match="numbers"):
        lmap.colorize({"hOc1 left": "high"})
    cmap = lmap.get_colormap()
    rgb = lmap.get_region("hOc1 left").rgb
    if rgb is not None:
        np.testing.assert_allclose(cmap(i.label)[:3], np.asarray(rgb[:3]) / 255)
    assert cmap.N == max(labels) + 1


def test_map_centroids_samples_and_template(lmap, pmaps):
    cents = lmap.compute_centroids()
    mask = np.asanyarray(lmap.fetch(region="hOc1 left").dataobj).astype(bool)
    c = cents["GM Visual cortex V1 BA17 left"]
    ijk = np.round(np.c_[c.coordinates, np.ones(len(c))] @ np.linalg.inv(lmap.affine).T)[:, :3].astype(int)
    assert mask[tuple(ijk.T)].all()
    whole = lmap.compute_centroids(split_components=False)["GM Visual cortex V1 BA17 left"]
    assert len(whole) == 1 <= len(c)
    pts = pmaps.sample_locations("hOc1 left", 50, rng=1)
    assert len(pts) == 50
    vals = pmaps.get_volume(region="hOc1 left").evaluate_points(pts)
    assert (vals > 0).all()
    tpl = pmaps.get_resampled_template().fetch()
    assert tpl.shape == pmaps.shape and np.allclose(tpl.affine, pmaps.affine)
    assert np.asanyarray(tpl.dataobj).max() > 0


def test_fetch_fragment_of_a_two_fragment_map():
    import nibabel as nib

    from atlascope.maps import Map, MapIndex
    from atlascope.volumes.volume import volume_from_image

    parc = siibra.get_parcellation("julich fsl")
    left = np.zeros((6, 6, 6), np.int16)
    left[:3, :3, :3] = 1
    right = np.zeros((6, 6, 6), np.int16)
    right[3:, 3:, 3:] = 1
    vols = [volume_from_image(nib.Nifti1Image(x, np.eye(4)), "mni152", n) for x, n in ((left, "l"), (right, "r"))]
    m = Map(
        "test/fragments",
        "two fragments",
        siibra.get_space("mni152"),
        parc,
        "labelled",
        vols,
        {"GM Visual cortex V1 BA17": [MapIndex(0, 1, fragment="left"), MapIndex(1, 1, fragment="right")]},
    )
    np.testing.assert_array_equal(np.asanyarray(m.fetch(fragment="left").dataobj), left)
    np.testing.assert_array_equal(np.asanyarray(m.fetch(region="hOc1", fragment="right").dataobj), right)
    np.testing.assert_array_equal(np.asanyarray(m.fetch(region="hOc1").dataobj), left | right)
    assert len(m.find_indices("hOc1")) == 2
    with pytest.raises(siibra.errors.InvalidInputError, match="left, right"):
        m.fetch(fragment="middle")
