"""A resampled input's assignment does not depend on floating-point rounding of the resampling
(issue 12: 3 mm inputs on the 1 mm Jülich maps; docs/differences.md "resampled inputs")."""

from __future__ import annotations

import os

import nibabel as nib
import nilearn
import numpy as np
import pytest

import atlascope as siibra
from atlascope.volumes.resampling import resample_to_grid

T_MAP = os.path.join(os.path.dirname(nilearn.__file__), "datasets", "data", "image_10426.nii.gz")
METRICS = ["intersection over union", "map containedness", "input containedness"]


@pytest.fixture(scope="module")
def pmaps():
    return siibra.get_map("julich fsl", "mni152", maptype="statistical")


@pytest.fixture(scope="module")
def cluster_3mm():
    """The positive clusters of nilearn's 3 mm t-map (t > 3), as a 3 mm image."""
    if not os.path.exists(T_MAP):
        pytest.skip("nilearn's bundled image_10426.nii.gz is absent")
    img = nib.load(T_MAP)
    t = np.asanyarray(img.dataobj).astype(np.float32)
    return nib.Nifti1Image(np.where(t > 3, t, 0).astype(np.float32), img.affine)


def _table(pmaps, img):
    with siibra.QUIET:
        df = pmaps.assign(siibra.volumes.from_nifti(img, "mni152", "clusters"))
    df = df.assign(region=df["region"].astype(str))
    return df.set_index(["input structure", "region"])[METRICS].sort_index()


def test_padding_the_input_grid_changes_nothing(pmaps, cluster_3mm):
    # the same image with 3 zero voxels (9 mm) more on each side: the resampled box starts elsewhere
    pad = 3
    arr = np.pad(np.asanyarray(cluster_3mm.dataobj), pad)
    shift = np.eye(4)
    shift[:3, 3] = -pad
    padded = nib.Nifti1Image(arr, cluster_3mm.affine @ shift)
    a, b = _table(pmaps, cluster_3mm), _table(pmaps, padded)
    assert len(a) and list(a.index) == list(b.index)
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=0, atol=1e-9)


def test_support_is_the_exact_interpolants_support(pmaps, cluster_3mm):
    # siibra's path: resample the whole image onto the whole map grid; voxels whose value is rounding
    # noise (the exact interpolant is 0 there) must not count as input
    full = resample_to_grid(np.asanyarray(cluster_3mm.dataobj), cluster_3mm.affine, pmaps.shape, pmaps.affine)
    top = float(np.asanyarray(cluster_3mm.dataobj).max())
    noise = (full > 0) & (full <= 1e-5 * top)
    exact = nib.Nifti1Image(np.where(full > 1e-5 * top, full, 0).astype(np.float32), pmaps.affine)
    a, b = _table(pmaps, cluster_3mm), _table(pmaps, exact)
    assert list(a.index) == list(b.index)
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-5, atol=1e-6)
    if noise.any():  # what counting the noise would do (siibra): larger inputs, other numbers
        counted = nib.Nifti1Image(np.where(full > 0, full, 0).astype(np.float32), pmaps.affine)
        c = _table(pmaps, counted)
        assert not np.allclose(a.reindex(c.index).to_numpy(float), c.to_numpy(float), atol=1e-6)


def test_small_real_values_of_a_smooth_input_are_input(pmaps):
    # a KDE-like 3 mm map (a Gaussian of sigma 6 mm at the left lateral geniculate body, cut at
    # 1e-12 x max): its tails are far below 1e-5 x max but real; only voxels where the exact linear
    # interpolant is 0 (the resampled mask of positive voxels is 0 there) are not input
    shape, affine = (
        (61, 73, 61),
        np.array([[3.0, 0, 0, -90], [0, 3.0, 0, -126], [0, 0, 3.0, -72], [0, 0, 0, 1]]),
    )
    ijk = np.indices(shape).reshape(3, -1).T
    mm = ijk * 3.0 + affine[:3, 3]
    g = np.exp(-0.5 * (np.linalg.norm(mm - (-22.0, -26.0, -6.0), axis=1) / 6.0) ** 2).reshape(shape)
    data = np.where(g >= 1e-12, g, 0).astype(np.float32)
    img = nib.Nifti1Image(data, affine)
    full = resample_to_grid(data, affine, pmaps.shape, pmaps.affine)
    weight = resample_to_grid((data > 0).astype(np.float32), affine, pmaps.shape, pmaps.affine, labels=False)
    exact = np.where((full > 0) & (weight > 1e-6), full, 0).astype(np.float32)
    assert ((exact > 0) & (exact <= 1e-5)).sum() > 1000  # the real tail the test is about
    a, b = _table(pmaps, img), _table(pmaps, nib.Nifti1Image(exact, pmaps.affine))
    assert list(a.index) == list(b.index)
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-5, atol=1e-6)
