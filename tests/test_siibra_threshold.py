"""lower_threshold=k % keeps voxels of exactly k %, for points and volumes alike (issue 12 finding)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

import atlascope as siibra
from atlascope.analysis.sparse import kept_by_threshold
from atlascope.volumes.providers import NiftiProvider


def test_percentages_stored_and_compared_so_k_percent_is_kept(tmp_path):
    arr = np.arange(1, 101, dtype=np.int16).reshape(10, 10, 1)
    path = tmp_path / "percent.nii.gz"
    nib.save(nib.Nifti1Image(arr, np.eye(4)), path)
    stored = np.asanyarray(NiftiProvider(path, scale=0.01).fetch().dataobj)
    assert stored.dtype == np.float32
    for k in range(1, 101):
        kept = kept_by_threshold(stored, k / 100)
        np.testing.assert_array_equal(kept, arr >= k, err_msg=f"threshold {k} %")


@pytest.fixture(scope="module")
def five_percent_voxel():
    pmaps = siibra.get_map("julich fsl", "mni152", maptype="statistical")
    idx = pmaps.sparse_index
    hits = np.flatnonzero(idx.values == np.float32(0.05))
    assert len(hits), "the FSL maps hold voxels of exactly 5 %"
    entry = int(hits[0])
    row = int(np.searchsorted(idx.indptr, entry, side="right") - 1)
    flat = int(idx.voxels[row])
    column = int(idx.columns[entry])
    ijk = np.unravel_index(flat, idx.shape)
    mm = (idx.affine @ [*ijk, 1])[:3]
    return pmaps, ijk, mm, pmaps.columns[column][0]


def test_points_and_volumes_keep_exactly_k_percent(five_percent_voxel):
    pmaps, ijk, mm, region = five_percent_voxel
    point = siibra.Point(mm, pmaps.space)
    mask = np.zeros(pmaps.shape, np.uint8)
    mask[tuple(ijk)] = 1
    vol = siibra.volumes.from_array(mask, pmaps.affine, pmaps.space, "one voxel")
    for item in (point, vol):
        at = pmaps.assign(item, lower_threshold=0.05, minsize_voxel=0)
        assert region in {r.name for r in at["region"]}, type(item).__name__
        above = pmaps.assign(item, lower_threshold=0.0501, minsize_voxel=0)
        assert region not in {r.name for r in above["region"]}, type(item).__name__
