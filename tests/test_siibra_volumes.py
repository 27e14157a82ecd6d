"""siibra-python's volume helpers on the offline pack: voi/resolution fetches, merge, intersection,
point evaluation, boxes, spatial properties and connected components."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

import atlascope as siibra
from atlascope.errors import InvalidInputError

MNI = "mni152"


def _blobs() -> siibra.Volume:
    arr = np.zeros((20, 20, 20), np.float32)
    arr[2:5, 2:5, 2:5] = 1.0  # 27 voxels
    arr[10:12, 10:12, 10:12] = 2.0  # 8 voxels
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-20, -20, -20]
    return siibra.volumes.from_array(arr, affine, MNI, name="blobs")


def test_voi_fetch_crops_template():
    # siibra's test_voi_fetching: a 56 x 55 x 56 mm box of the 1 mm template gives 57 x 56 x 57 voxels
    tpl = siibra.get_template(MNI)
    full = tpl.fetch()
    box = siibra.BoundingBox((-10, -10, -10), (46, 45, 46), MNI)
    sub = tpl.fetch(voi=box)
    assert sub.shape == (57, 56, 57)
    # the crop's voxels are the template's voxels at the same mm positions
    ijk0 = np.round(np.linalg.inv(full.affine) @ sub.affine @ [0, 0, 0, 1])[:3].astype(int)
    np.testing.assert_array_equal(
        np.asanyarray(sub.dataobj), np.asanyarray(full.dataobj)[ijk0[0] : ijk0[0] + 57, ijk0[1] : ijk0[1] + 56, ijk0[2] : ijk0[2] + 57]
    )
    with pytest.raises(InvalidInputError, match="outside"):
        tpl.fetch(voi=siibra.BoundingBox((500, 500, 500), (510, 510, 510), MNI))


def test_fetch_resolution_and_unknown_keywords():
    v = _blobs()
    native = v.fetch(resolution_mm=2)
    assert native.shape == (20, 20, 20)
    coarse = v.fetch(resolution_mm=4)
    np.testing.assert_allclose(np.linalg.norm(coarse.affine[:3, :3], axis=0), 4)
    assert coarse.shape == (10, 10, 10)
    with pytest.raises(InvalidInputError, match="resolution_mm"):
        v.fetch(resolution_mm=0)
    with pytest.raises(InvalidInputError, match="does not know"):
        v.fetch(colour="red")
    with pytest.raises(InvalidInputError, match="NIfTI"):
        v.fetch(format="neuroglancer/precomputed")


def test_spatial_props_components_and_boxes():
    v = _blobs()
    props = v.compute_spatial_props()
    assert [p.nvoxels for p in props] == [27, 8]
    assert props[0].volume == pytest.approx(27 * 8.0)  # mm³ at 2 mm voxels
    np.testing.assert_allclose(props[0].centroid.coordinate, (-14, -14, -14))
    comps = list(v.fetch_connected_components())
    assert [int(np.asanyarray(img.dataobj).sum()) for _k, img in comps] == [27, 8]
    box = v.get_boundingbox()
    np.testing.assert_allclose(box.minpoint, (-16, -16, -16))
    np.testing.assert_allclose(box.maxpoint, (2, 2, 2))
    whole = v.get_boundingbox(clip=False)
    np.testing.assert_allclose(whole.maxpoint, (18, 18, 18))


def test_evaluate_points_and_intersections():
    v = _blobs()
    pts = siibra.PointCloud([(-14, -14, -14), (2, 2, 2), (4, 4, 4), (300, 0, 0)], MNI)
    np.testing.assert_array_equal(v.evaluate_points(pts), [1, 2, 0, 0])
    assert v.intersection(pts).as_list() == [(-14, -14, -14), (2, 2, 2)]
    assert pts.intersection(v).as_list() == [(-14, -14, -14), (2, 2, 2)]
    assert siibra.Point((4, 4, 4), MNI).intersection(v) is None
    box = siibra.BoundingBox((-1, -1, -1), (3, 3, 3), MNI)
    cut = box.intersection(v)
    assert int(np.asanyarray(cut.fetch().dataobj).astype(bool).sum()) == 8
    assert v.intersection(siibra.BoundingBox((10, 10, 10), (12, 12, 12), MNI)) is None
    other = siibra.volumes.from_array(
        (np.asanyarray(v.fetch().dataobj) == 2).astype(np.uint8), v.fetch().affine, MNI, "big blob"
    )
    both = v.intersection(other)
    assert int(np.asanyarray(both.fetch().dataobj).sum()) == 8


def test_merge_and_from_file(tmp_path):
    v = _blobs()
    arr = np.asanyarray(v.fetch().dataobj)
    a = siibra.volumes.from_array((arr == 1).astype(np.uint8), v.fetch().affine, MNI, "a")
    b = siibra.volumes.from_array((arr == 2).astype(np.uint8), v.fetch().affine, MNI, "b")
    labelled = np.asanyarray(siibra.volumes.merge([a, b], labels=[5, 7]).fetch().dataobj)
    assert sorted(np.unique(labelled).tolist()) == [0, 5, 7] and (labelled == 7).sum() == 8
    maxed = np.asanyarray(siibra.volumes.merge([a, b]).fetch().dataobj)
    assert maxed.sum() == 35
    with pytest.raises(InvalidInputError, match="one per volume"):
        siibra.volumes.merge([a, b], labels=[1])
    path = tmp_path / "blobs.nii.gz"
    nib.save(v.fetch(), path)
    again = siibra.volumes.from_file(str(path), MNI)
    np.testing.assert_array_equal(np.asanyarray(again.fetch().dataobj), arr)


def test_centroid_of_a_ring_lies_on_the_ring():
    arr = np.zeros((21, 21, 3), np.uint8)
    yy, xx = np.mgrid[:21, :21]
    ring = (np.hypot(xx - 10, yy - 10) <= 9) & (np.hypot(xx - 10, yy - 10) >= 7)
    arr[ring, 1] = 1
    v = siibra.volumes.from_array(arr, np.eye(4), MNI, "ring")
    (prop,) = v.compute_spatial_props()
    ijk = np.round(prop.centroid.coordinate).astype(int)
    assert arr[tuple(ijk)] == 1  # the centre of mass (10, 10, 1) is the empty middle
    assert np.hypot(ijk[0] - 10, ijk[1] - 10) == pytest.approx(7, abs=0.5)
