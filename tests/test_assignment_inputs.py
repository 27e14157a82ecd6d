"""Input handling of Map.assign: binary masks on other grids, kernel points with a threshold,
parameter validation, spec narrowing of get_map, and a damaged cached maximum-probability map."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest

import atlascope
from atlascope import maps, volumes
from atlascope.errors import InvalidInputError, NotFoundError

AFF2 = np.diag([2.0, 2.0, 2.0, 1.0])
AFF2[:3, 3] = -20.0


def _box_map(value: float = 0.8):
    data = np.zeros((20, 20, 20), np.float32)
    data[5:12, 5:12, 5:12] = value
    other = np.zeros_like(data)
    other[12:16, 5:12, 5:12] = 0.4
    return maps.from_nifti(
        [nib.Nifti1Image(data, AFF2), nib.Nifti1Image(other, AFF2)], ["box left", "box right"], "mni152"
    )


def test_binary_float_mask_is_resampled_like_a_label_image():
    m = _box_map()
    aff1 = np.eye(4)
    aff1[:3, 3] = -12.3  # 1 mm grid whose edge voxels straddle the map grid: linear != nearest
    mask = np.zeros((20, 20, 20), np.float32)
    mask[3:13, 3:13, 3:13] = 1.0
    as_float = m.assign(volumes.from_nifti(nib.Nifti1Image(mask, aff1), "mni152"))
    as_uint8 = m.assign(volumes.from_nifti(nib.Nifti1Image(mask.astype(np.uint8), aff1), "mni152"))
    cols = ["intersection over union", "map containedness", "input containedness", "map weighted mean"]
    assert len(as_float) == len(as_uint8) > 0
    np.testing.assert_allclose(as_float[cols].to_numpy(float), as_uint8[cols].to_numpy(float))
    assert as_float["centroid"].tolist() == as_uint8["centroid"].tolist()


def test_threshold_on_kernel_points_filters_map_values_only():
    m = _box_map(0.8)
    border = AFF2 @ np.array([5, 8, 8, 1.0])  # on the box's face
    p0 = m.assign(atlascope.Point(border[:3], "mni152", sigma_mm=6))
    p5 = m.assign(atlascope.Point(border[:3], "mni152", sigma_mm=6), lower_threshold=0.5)
    left0 = p0[p0["region"].astype(str) == "box left"].iloc[0]
    left5 = p5[p5["region"].astype(str) == "box left"].iloc[0]
    # every value of "box left" (0.8) is above 0.5: nothing changes for it
    assert left5["map weighted mean"] == pytest.approx(left0["map weighted mean"])
    assert left5["intersection over union"] == pytest.approx(left0["intersection over union"])
    assert "box right" not in set(p5["region"].astype(str))  # its values (0.4) are below the threshold


@pytest.mark.parametrize(
    "kwargs",
    [
        {"minsize_voxel": "a"},
        {"minsize_voxel": -1},
        {"minsize_voxel": 1.5},
        {"lower_threshold": "a"},
        {"lower_threshold": float("nan")},
        {"lower_threshold": -0.1},
    ],
)
def test_assign_rejects_bad_parameters(kwargs):
    m = _box_map()
    with pytest.raises(InvalidInputError):
        m.assign(atlascope.Point((-8, -8, -8), "mni152"), **kwargs)


def test_locations_reject_bad_values():
    with pytest.raises(InvalidInputError, match="number of mm"):
        atlascope.Point((0, 0, 0), "mni152", sigma_mm="abc")
    with pytest.raises(InvalidInputError, match=">= 0"):
        atlascope.PointCloud([(0, 0, 0)], "mni152", sigma_mm=-3)
    with pytest.raises(InvalidInputError, match="one per point"):
        atlascope.PointCloud([(0, 0, 0)], "mni152", sigma_mm=[1, 2])
    with pytest.raises(InvalidInputError, match="whole numbers"):
        atlascope.PointCloud([(0, 0, 0)], "mni152", labels=[np.nan])
    vol = volumes.from_nifti(nib.Nifti1Image(np.ones((4, 4, 4), np.float32), AFF2), "mni152")
    with pytest.raises(InvalidInputError, match="positive integer"):
        vol.draw_samples(1.5)


def test_get_map_spec_that_matches_nothing_is_an_error():
    from atlascope.core.parcellation import Parcellation
    from atlascope.core.registry import Registry
    from atlascope.core.tree import regions_from_names

    reg = Registry()
    space = reg.add_space(atlascope.get_space("mni152"))
    parc = reg.add_parcellation(
        Parcellation("t/p", "test parcellation", "test", regions_from_names(["a", "b"]))
    )
    img = nib.Nifti1Image(np.ones((4, 4, 4), np.float32), AFF2)
    for key in ("t/map-157regions", "t/map-175regions"):
        m = maps.from_nifti([img, img], ["a", "b"], space, parcellation=parc)
        m.id = key
        reg.add_map(m)
    assert reg.get_map("test", "mni152", "statistical", spec="175").id == "t/map-175regions"
    with pytest.raises(NotFoundError, match="map-157regions"):
        reg.get_map("test", "mni152", "statistical", spec="nonsense words")


def test_damaged_cached_max_probability_map_is_rebuilt(tmp_path, monkeypatch):
    from atlascope.volumes.derived import MaxProbabilityProvider
    from atlascope.volumes.providers import NiftiProvider

    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
    prob = np.zeros((6, 6, 6, 2), np.uint8)
    prob[:3, ..., 0] = 60
    prob[3:, ..., 1] = 80
    src = tmp_path / "prob.nii.gz"
    nib.save(nib.Nifti1Image(prob, AFF2), src)
    mpm = MaxProbabilityProvider(NiftiProvider(src), threshold=25)
    first = np.asarray(mpm.fetch().dataobj)
    np.testing.assert_array_equal(np.unique(first), [1, 2])
    cached = next((tmp_path / "cache" / "derived").glob("maxprob-*.nii.gz"))
    raw = cached.read_bytes()
    cached.write_bytes(raw[: len(raw) // 2])  # a truncated body (the header still parses)
    again = np.asarray(mpm.fetch().dataobj)
    np.testing.assert_array_equal(again, first)
    with gzip.open(cached) as fh:  # the cache file was rewritten whole
        assert len(fh.read()) > 0


def test_validated_volumes_are_not_checked_twice_and_give_the_same_table():
    # from_nifti validates once (the Volume remembers it); a Volume wrapping a raw image is checked
    # at assignment: both give the same table, NaN voxels being background either way
    from atlascope.volumes.volume import volume_from_image

    m = _box_map()
    data = np.zeros((20, 20, 20), np.float32)
    data[4:10, 4:10, 4:10] = np.linspace(0.1, 1.0, 216, dtype=np.float32).reshape(6, 6, 6)
    raw = data.copy()
    raw[0, 0, 0] = np.nan
    checked = volumes.from_nifti(nib.Nifti1Image(raw, AFF2), "mni152")
    unchecked = volume_from_image(nib.Nifti1Image(raw, AFF2), "mni152", "raw")
    assert checked.validated and not unchecked.validated
    assert not volumes.from_nifti(nib.Nifti1Image(data, AFF2), "mni152", allow_zero=True).validated
    a, b = m.assign(checked), m.assign(unchecked)
    assert len(a) == len(b) > 0
    cols = ["correlation", "intersection over union", "map containedness", "input containedness"]
    np.testing.assert_array_equal(a[cols].to_numpy(float), b[cols].to_numpy(float))
    with pytest.raises(InvalidInputError, match="all zero"):
        m.assign(volume_from_image(nib.Nifti1Image(np.zeros_like(data), AFF2), "mni152", "zeros"))
